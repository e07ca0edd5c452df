"""A routed network of tinyos machines doing what NixOS's would
(nixos/modules/services/networking/nat*.nix, tasks/network-interfaces.nix):
four machines on three VLANs, booted once under TCG.

- client (VLAN 1): an 802.1Q VLAN (networking.vlans) and a 6in4 tunnel
  (networking.sits) with router6, static
  routes to VLAN 2 via router and to VLAN 3 via router6
  (networking.interfaces.eth1.ipv4.routes, ipv6.routes, one with options
  and one of type local), defaultGateway with an interface, a metric and a
  source, defaultGateway6 with a source, a page on
  port 80 that the routers forward to, and an address of its own from
  router6's advertised prefix (SLAAC) with a temporary one preferred
  (networking.tempAddresses' default), and on its VLAN device SLAAC
  addresses with tempAddress = "enabled" (temporary, not preferred);
- router (VLANs 1, 2): networking.nat with the iptables backend (the
  firewall's extraCommands), internalInterfaces, forwardPorts with
  loopbackIPs, dmzHost, extraStopCommands, and IPv6 NAT (enableIPv6,
  internalIPv6s); the FTP
  connection-tracking helper (networking.firewall.connectionTrackingModules);
- router6 (VLANs 1, 3): networking.nat with networking.nftables.enable
  (the table ip nixos-nat), internalIPs, externalIP, forwardPorts, and IPv6
  NAT to externalIPv6 (the table ip6 nixos-nat); a
  macvlan (networking.macvlans); a bond (networking.bonds) of two more
  NICs on VLAN 2, which the server pings; a tap device (networking.interfaces.<i>.virtual); and
  services.radvd (debugLevel 1) advertising a prefix on VLAN 1 and one on
  VLAN 42;
- server (VLANs 2, 3): its VLAN 2 NIC in the bridge br0 (networking.bridges)
  with the address on br0, `python3 -m http.server` serving JSON over IPv4
  and IPv6 (on VLAN 2 and, what router6's IPv6 NAT brings, VLAN 3); no
  route back to VLAN 1, so only NAT makes replies reach the client; and
  services.vsftpd's anonymous FTP, which the client fetches a file from
  through router's NAT (as nixpkgs' nat test does).

Each machine's services print what they saw on the console; each test
reads one of those lines."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.tinyos.conftest import VM, Launcher, Machines, vlan_nics

pytestmark = [pytest.mark.nix, pytest.mark.vm]

BOOT_TIMEOUT = 240

COMMON = """
  virtualisation.graphics = false;
  virtualisation.diskImage = null;
  virtualisation.memorySize = 256;
"""

CLIENT = r"""{ pkgs, lib, ... }: {
  networking.hostName = "client";
  networking.interfaces.eth1 = {
    ipv4.addresses = [ { address = "192.168.1.1"; prefixLength = 24; } ];
    ipv6.addresses = [ { address = "2001:db8:1::1"; prefixLength = 64; } ];
    ipv4.routes = [
      { address = "192.168.2.0"; prefixLength = 24; via = "192.168.1.2"; }
      { address = "192.168.3.0"; prefixLength = 24; via = "192.168.1.3"; options.metric = "7"; }
    ];
    ipv6.routes = [
      { address = "2001:db8:2::"; prefixLength = 64; via = "2001:db8:1::2"; }
      # VLAN 3 over IPv6 through router6 (its IPv6 NAT)
      { address = "2001:db8:3::"; prefixLength = 64; via = "2001:db8:1::3";
        options = { metric = "7"; mtu = "1400"; }; }
      # every address of 2001:db8:77::/64 is the client's own
      { address = "2001:db8:77::"; prefixLength = 64; type = "local"; }
    ];
  };
  networking.defaultGateway = {
    address = "192.168.1.2"; interface = "eth1"; metric = 9; source = "192.168.1.1";
  };
  # VLAN 42 tagged on eth1, shared with router6
  networking.vlans.tagged = { id = 42; interface = "eth1"; };
  networking.interfaces.tagged.ipv4.addresses = [ { address = "10.42.0.1"; prefixLength = 24; } ];
  # router6 advertises 2001:db8:42::/64 on VLAN 42: temporary addresses
  # made there, not preferred (eth1 keeps tempAddresses' "default")
  networking.interfaces.tagged.tempAddress = "enabled";
  # a 6in4 tunnel to router6 (protocol 41 let in)
  networking.sits.sit6 = { remote = "192.168.1.3"; local = "192.168.1.1"; dev = "eth1"; ttl = 64; };
  networking.interfaces.sit6.ipv6.addresses = [ { address = "fc00::1"; prefixLength = 64; } ];
  networking.firewall.extraCommands = "iptables -A nixos-fw -p 41 -j nixos-fw-accept";
  # metric 5: before the default route router6's advertisements add (1024)
  networking.defaultGateway6 = {
    address = "2001:db8:1::2"; interface = "eth1"; metric = 5; source = "2001:db8:1::1";
  };
  networking.firewall.allowedTCPPorts = [ 80 ];
  environment.etc."www/index.html".text = "page of client";
  # nginx: its vhost listens where defaultListen says, and redirects
  services.nginx = {
    enable = true;
    defaultListen = [ { addr = "127.0.0.1"; port = 8081; } ];
    virtualHosts.old.globalRedirect = "new.example.org";
    # an upstream group: the page service (busybox httpd on port 80)
    upstreams.pages.servers."127.0.0.1:80" = { };
    virtualHosts.proxied = {
      listen = [ { addr = "127.0.0.1"; port = 8082; } ];
      locations."/".proxyPass = "http://pages";
    };
  };
  systemd.services.page = {
    wantedBy = [ "multi-user.target" ];
    script = "exec httpd -f -p 80 -h /etc/www";
  };
  systemd.services.fetch = {
    wantedBy = [ "multi-user.target" ];
    path = [ pkgs.curl pkgs.jq ];
    script = ''
      # a login's locale (i18n.defaultLocale, NixOS's default), usable by
      # Debian's glibc: Python's setlocale finds it
      set_locale='import locale; print(locale.setlocale(locale.LC_ALL, ""))'
      py=${lib.getExe pkgs.python3}
      echo "locale: $(. /etc/profile; echo "$LANG" $($py -c "$set_locale" 2>&1))"
      echo "routes: $(ip route show 192.168.3.0/24)"
      echo "routes6: $(ip -6 route show default dev eth1)"
      echo "routes6-static: $(ip -6 route show 2001:db8:2::/64)"
      # (iproute2's ip: busybox's shows no proto, table or mtu)
      ip2=${pkgs.iproute2}/bin/ip
      echo "routes6-options: $($ip2 -6 route show 2001:db8:3::/64)"
      ping -c 1 -W 2 2001:db8:77::9 >/dev/null && r=reached || r=lost
      echo "routes6-local: $($ip2 -6 route show table all 2001:db8:77::/64) $r"
      echo "gateway4: $(ip route show default dev eth1)"
      echo "gateway4-host: $($ip2 route show 192.168.1.2)"
      echo "gateway6-host: $($ip2 -6 route show 2001:db8:1::2)"
      for i in $(seq 60); do
        r=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' 'http://127.0.0.1:8081/a/b?c') \
          && [ "''${r%% *}" != 000 ] && break
        sleep 1
      done
      echo "redirect: $r"
      echo "upstream: $(curl -s --max-time 5 http://127.0.0.1:8082/)"
      echo "vlan-config: $(grep '^tagged ' /proc/net/vlan/config | tr -s ' ')"
      for i in $(seq 60); do ping -c 1 -W 2 10.42.0.3 >/dev/null 2>&1 && break; sleep 1; done
      ping -c 1 -W 2 10.42.0.3 >/dev/null && echo "vlan-ping: reached" || echo "vlan-ping: lost"
      ping -c 1 -W 2 192.168.1.13 >/dev/null && r=reached || r=lost
      echo "macvlan-ping: $r"
      for i in $(seq 30); do ping -c 1 -W 2 fc00::3 >/dev/null 2>&1 && break; sleep 1; done
      ping -c 1 -W 2 fc00::3 >/dev/null && r=reached || r=lost
      echo "sit-ping: $r"
      fetch() { # label url [curl options]
        label=$1 url=$2
        shift 2
        for i in $(seq 120); do
          if msg=$(curl -sf --max-time 5 "$@" "$url" | jq -r .msg) && [ -n "$msg" ]; then
            echo "fetched: $label $msg"; return
          fi
          sleep 2
        done
        echo "fetched: $label nothing"
      }
      fetch via-router http://192.168.2.4:8000/data.json
      for i in $(seq 60); do
        r=$(curl -sf --max-time 10 ftp://192.168.2.4/hello.txt) && break
        sleep 2
      done
      echo "ftp: $r"
      fetch via-router6 http://192.168.3.4:8000/data.json
      # from the static address (SLAAC's temporary one would be preferred)
      fetch via-router-ipv6 'http://[2001:db8:2::4]:8001/data.json' --interface 2001:db8:1::1
      fetch via-router6-ipv6 'http://[2001:db8:3::4]:8002/data.json' --interface 2001:db8:1::1
    '';
  };
  # the address SLAAC gives eth1 from router6's advertised prefix, and the
  # default route the advertisement brings
  systemd.services.autoconf = {
    wantedBy = [ "multi-user.target" ];
    # /proc/net/if_inet6: address (32 hex digits), ifindex, prefix length,
    # scope, flags (IFA_F_TEMPORARY: 01), name
    script = ''
      addrs() { # 1: temporary addresses, 0: the others
        awk -v t="$1" '$6 == "eth1" && $1 ~ /^20010db8000600/ \
          && ($5 ~ /[13579bdf]$/) == t { print $1 }' /proc/net/if_inet6
      }
      for i in $(seq 120); do
        a=$(addrs 0)
        [ -n "$a" ] && break
        sleep 1
      done
      echo "slaac: $a"
      # networking.tempAddresses ("default"): a temporary address beside it
      for i in $(seq 30); do
        t=$(addrs 1 | wc -l)
        [ "$t" -gt 0 ] && break
        sleep 1
      done
      echo "temporary: $t"
      for i in $(seq 60); do
        r=$(ip -6 route show default dev eth1 | grep 'via fe80') && break
        sleep 1
      done
      echo "ra-default: $r"
      # an interface's global addresses once out of duplicate address
      # detection: the temporary ones ("temporary") or the others ("-temporary")
      global() { ${pkgs.iproute2}/bin/ip -o -6 addr show dev "$1" scope global -tentative "$2" \
        | awk '{ print $4 }' | cut -d/ -f1 | xargs; }
      source6() { # the source address of a packet to $1
        ${pkgs.iproute2}/bin/ip -6 route get "$1" | grep -o 'src [0-9a-f:]*' | cut -d' ' -f2
      }
      for i in $(seq 60); do t=$(global eth1 temporary); [ -n "$t" ] && break; sleep 1; done
      echo "eth1-temporary: $t"
      echo "eth1-source: $(source6 2001:db8:6::99)"
      for i in $(seq 120); do
        s=$(global tagged -temporary) t=$(global tagged temporary)
        [ -n "$s" ] && [ -n "$t" ] && break
        sleep 1
      done
      echo "tagged-slaac: $s"
      echo "tagged-temporary: $t"
      echo "tagged-source: $(source6 2001:db8:42::99)"
    '';
  };
""" + COMMON + "}"

ROUTER = r"""{ pkgs, ... }: {
  networking.hostName = "router";
  networking.interfaces.eth1.ipv4.addresses = [ { address = "192.168.1.2"; prefixLength = 24; } ];
  networking.interfaces.eth1.ipv6.addresses = [ { address = "2001:db8:1::2"; prefixLength = 64; } ];
  networking.interfaces.eth2.ipv4.addresses = [ { address = "192.168.2.2"; prefixLength = 24; } ];
  networking.interfaces.eth2.ipv6.addresses = [ { address = "2001:db8:2::2"; prefixLength = 64; } ];
  networking.nat = {
    enable = true;
    enableIPv6 = true;
    internalInterfaces = [ "eth1" ];
    internalIPv6s = [ "2001:db8:1::/64" ];
    externalInterface = "eth2";
    forwardPorts = [
      { sourcePort = 8080; destination = "192.168.1.1:80"; loopbackIPs = [ "192.168.2.2" ]; }
    ];
    dmzHost = "192.168.1.1";
    # run whenever the NAT rules are flushed: at the firewall's start
    # (before they are set up) and stop; "0": no nixos-nat chain hooked then
    extraStopCommands = ''
      echo "$(iptables -w -t nat -S POSTROUTING | grep -c nixos-nat-post)" >> /run/nat-stop
    '';
  };
  networking.firewall.connectionTrackingModules = [ "ftp" ];
  systemd.services.facts = {
    wantedBy = [ "multi-user.target" ];
    after = [ "firewall.service" ];
    path = [ pkgs.iptables pkgs.curl ];
    script = ''
      echo "forwarding: $(sysctl -n net.ipv4.conf.all.forwarding)"
      echo "forwarding6: $(sysctl -n net.ipv6.conf.all.forwarding)"
      echo "nat-post: $(iptables -w -t nat -S nixos-nat-post | grep -c MASQUERADE)"
      echo "nat-stop: $(cat /run/nat-stop | xargs)"
      echo "conntrack-helper: $(ls -d /sys/module/nf_conntrack_ftp)"
      # loopbackIPs: the router's own connection to 192.168.2.2:8080
      for i in $(seq 120); do
        page=$(curl -sf --max-time 5 http://192.168.2.2:8080/) && break
        sleep 2
      done
      echo "loopback: $page"
    '';
  };
""" + COMMON + "}"

ROUTER6 = r"""{ pkgs, lib, ... }: {
  networking.hostName = "router6";
  # two more NICs on VLAN 2 (eth3, eth4), the slaves of bond0, router6's
  # only interface there (one interface per VLAN: no ARP answered from
  # another, which the reverse path filter would drop)
  imports = [ { virtualisation.qemu.options = lib.mkAfter [
    "-device virtio-net-pci,netdev=slave1,mac=52:54:00:12:02:33"
    ''-netdev vde,id=slave1,sock="$QEMU_VDE_SOCKET_2"''
    "-device virtio-net-pci,netdev=slave2,mac=52:54:00:12:02:34"
    ''-netdev vde,id=slave2,sock="$QEMU_VDE_SOCKET_2"''
    # eth5, which systemd.network.links renames lan5
    "-device virtio-net-pci,netdev=linked,mac=52:54:00:12:03:35"
    ''-netdev vde,id=linked,sock="$QEMU_VDE_SOCKET_3"''
  ]; } ];
  # the first link matching a device is the only one applied; Name= is no
  # [Match] key of a .link file (udevd ignores it): 05-dummy matches no NIC
  systemd.network.links."05-dummy" = {
    matchConfig = { Name = "lan5"; Driver = "dummy"; };
    linkConfig.MTUBytes = "1000";
  };
  systemd.network.links."10-lan5" = {
    matchConfig = { MACAddress = "52:54:00:12:03:35"; Driver = "virtio_net"; };
    linkConfig = { Name = "lan5"; MTUBytes = "1442"; };
  };
  systemd.network.links."20-late" = {
    matchConfig.OriginalName = "eth5";
    linkConfig.MTUBytes = "1300";
  };
  networking.interfaces.lan5.useDHCP = false;
  networking.bonds.bond0 = {
    interfaces = [ "eth3" "eth4" ];
    driverOptions = { mode = "active-backup"; miimon = "100"; };
  };
  networking.interfaces.bond0.ipv4.addresses = [ { address = "192.168.2.13"; prefixLength = 24; } ];
  # a tap device as nixpkgs' tests declare one
  networking.interfaces.tap0 = {
    virtual = true;
    mtu = 1342;
    macAddress = "02:de:ad:be:ef:01";
    ipv4.addresses = [ { address = "10.88.0.1"; prefixLength = 24; } ];
  };
  networking.nftables.enable = true;
  networking.interfaces.eth1.ipv4.addresses = [ { address = "192.168.1.3"; prefixLength = 24; } ];
  networking.interfaces.eth1.ipv6.addresses = [ { address = "2001:db8:1::3"; prefixLength = 64; } ];
  networking.interfaces.eth2.ipv4.addresses = [ { address = "192.168.3.3"; prefixLength = 24; } ];
  networking.interfaces.eth2.ipv6.addresses = [
    { address = "2001:db8:3::33"; prefixLength = 64; }
  ];
  networking.vlans.tagged = { id = 42; interface = "eth1"; };
  networking.interfaces.tagged.ipv4.addresses = [ { address = "10.42.0.3"; prefixLength = 24; } ];
  # a macvlan device on eth1 with an address of its own
  networking.macvlans.mv.interface = "eth1";
  networking.sits.sit6 = { remote = "192.168.1.1"; local = "192.168.1.3"; dev = "eth1"; };
  networking.interfaces.sit6.ipv6.addresses = [ { address = "fc00::3"; prefixLength = 64; } ];
  networking.firewall.extraInputRules = "meta l4proto 41 accept";
  networking.interfaces.mv.ipv4.addresses = [ { address = "192.168.1.13"; prefixLength = 32; } ];
  networking.nat = {
    enable = true;
    internalIPs = [ "192.168.1.0/24" ];
    externalInterface = "eth2";
    externalIP = "192.168.3.3";
    forwardPorts = [ { sourcePort = 8080; destination = "192.168.1.1:80"; } ];
    enableIPv6 = true;
    internalIPv6s = [ "2001:db8:1::/64" ];
    externalIPv6 = "2001:db8:3::33";
  };
  # a router that advertises itself as the default router forwards IPv6
  boot.kernel.sysctl."net.ipv6.conf.all.forwarding" = true;
  services.radvd = {
    enable = true;
    debugLevel = 1;
    config = ''
      interface eth1 {
        AdvSendAdvert on;
        MinRtrAdvInterval 3;
        MaxRtrAdvInterval 10;
        prefix 2001:db8:6::/64 { };
      };
      # no router lifetime: a prefix for SLAAC, no default route
      interface tagged {
        AdvSendAdvert on;
        MinRtrAdvInterval 3;
        MaxRtrAdvInterval 10;
        AdvDefaultLifetime 0;
        prefix 2001:db8:42::/64 { };
      };
    '';
  };
  systemd.services.facts = {
    wantedBy = [ "multi-user.target" ];
    after = [ "nftables.service" ];
    path = [ pkgs.nftables ];
    script = ''
      echo "forwarding: $(sysctl -n net.ipv4.conf.all.forwarding)"
      echo "nat-table: $(nft list tables | grep -c 'ip nixos-nat')"
      echo "nat-snat: $(nft list table ip nixos-nat | grep -c 'snat to 192.168.3.3')"
      echo "nat6-snat: $(nft list table ip6 nixos-nat | grep -c 'snat to 2001:db8:3::33')"
      mv=$(ip -o -4 addr show dev mv | grep -o '192.168.1.13/32')
      echo "mv-device: $(cd /sys/class/net/mv && ls -d lower_*) $mv"
      echo "link-device: $(cat /sys/class/net/lan5/mtu) $(cat /sys/class/net/lan5/address)"
      b=/sys/class/net/bond0/bonding
      echo "bond-device: $(cat $b/mode) miimon $(cat $b/miimon) slaves $(cat $b/slaves)"
      t=/sys/class/net/tap0
      echo "tap-device: flags $(cat $t/tun_flags) mtu $(cat $t/mtu) $(cat $t/address)" \
        "$(ip -o -4 addr show dev tap0 | grep -o '10.88.0.1/24')"

    '';
  };
""" + COMMON + "}"

SERVER = r"""{ pkgs, lib, ... }: {
  networking.hostName = "server";
  networking.bridges.br0.interfaces = [ "eth1" ];
  networking.interfaces.br0.ipv4.addresses = [ { address = "192.168.2.4"; prefixLength = 24; } ];
  networking.interfaces.br0.ipv6.addresses = [ { address = "2001:db8:2::4"; prefixLength = 64; } ];
  networking.interfaces.eth2.ipv4.addresses = [ { address = "192.168.3.4"; prefixLength = 24; } ];
  networking.interfaces.eth2.ipv6.addresses = [ { address = "2001:db8:3::4"; prefixLength = 64; } ];
  networking.firewall.allowedTCPPorts = [ 8000 8001 8002 21 ];
  # anonymous FTP; its passive data ports opened in the firewall
  services.vsftpd = {
    enable = true;
    anonymousUser = true;
    extraConfig = "pasv_min_port=51000\npasv_max_port=51009";
  };
  networking.firewall.allowedTCPPortRanges = [ { from = 51000; to = 51009; } ];
  systemd.services.ftp-file = {
    wantedBy = [ "multi-user.target" ];
    before = [ "vsftpd.service" ];
    serviceConfig.Type = "oneshot";
    script = "echo hello-over-ftp > /home/ftp/hello.txt && chmod 644 /home/ftp/hello.txt";
  };
  environment.etc."www/data.json".text = builtins.toJSON { msg = "hello-from-server"; };
  systemd.services.serve = {
    wantedBy = [ "multi-user.target" ];
    environment.PYTHONUNBUFFERED = "1";
    # its log (on the console, as "serve: ...") names each request's peer:
    # "<address> - - [...] \"GET ...\""
    script = ''
      cd /etc/www
      exec ${lib.getExe pkgs.python3} -m http.server 8000
    '';
  };
  systemd.services.serve6 = {
    wantedBy = [ "multi-user.target" ];
    environment.PYTHONUNBUFFERED = "1";
    script = ''
      cd /etc/www
      exec ${lib.getExe pkgs.python3} -m http.server --bind :: 8001
    '';
  };
  # what router6's IPv6 NAT brings from VLAN 1
  systemd.services.serve6ext = {
    wantedBy = [ "multi-user.target" ];
    environment.PYTHONUNBUFFERED = "1";
    script = ''
      cd /etc/www
      exec ${lib.getExe pkgs.python3} -m http.server --bind :: 8002
    '';
  };
  systemd.services.forwarded = {
    wantedBy = [ "multi-user.target" ];
    path = [ pkgs.curl ];
    script = ''
      echo "bridge: eth1 master $(basename $(readlink /sys/class/net/eth1/master))"
      forwarded() { # label url
        for i in $(seq 120); do
          page=$(curl -sf --max-time 5 "$2") && { echo "forwarded: $1 $page"; return; }
          sleep 2
        done
        echo "forwarded: $1 nothing"
      }
      for i in $(seq 30); do ping -c 1 -W 2 192.168.2.13 >/dev/null 2>&1 && break; sleep 1; done
      ping -c 1 -W 2 192.168.2.13 >/dev/null && r=reached || r=lost
      echo "bond-ping: $r"
      forwarded router http://192.168.2.2:8080/
      forwarded router6 http://192.168.3.3:8080/
      # networking.nat.dmzHost: any other port of router's external address
      forwarded dmz http://192.168.2.2:80/
    '';
  };
""" + COMMON.replace("256", "640") + "}"


@dataclass
class RoutedNetwork:
    vms: dict[str, VM]

    def said(self, machine: str, what: str) -> str:
        console = self.vms[machine].console()
        # "<unit>: <what>: ..." lines; a login prompt may come first on the line
        found = re.search(rf"(?:^|: ){re.escape(what)}:? (.*)", console, re.M)
        assert found, f"{machine}: no {what!r} line:\n{console[-3000:]}"
        return found.group(1).strip()

    def served_to(self, unit: str = "serve") -> list[str]:
        return re.findall(rf"{unit}: (\S+) - - ", self.vms["server"].console())


@pytest.fixture(scope="module")
def network(module_machines: Machines, module_launcher: Launcher) -> Iterator[RoutedNetwork]:
    machines = {"client": (CLIENT, 1, [1]), "router": (ROUTER, 2, [1, 2]),
                "router6": (ROUTER6, 3, [1, 3]), "server": (SERVER, 4, [2, 3])}
    built = {}
    for name, (text, number, vlans) in machines.items():
        module = text[: text.rstrip().rfind("}")] + vlan_nics(number, vlans) + "\n}\n"
        built[name] = module_machines.write(name, module).build()
    env = {f"QEMU_VDE_SOCKET_{v}": str(module_launcher.start_switch(f"vlan{v}"))
           for v in (1, 2, 3)}
    vms = {name: module_launcher.start_vm(vm, name, env) for name, vm in built.items()}
    for name, vm in vms.items():
        vm.wait_for(f"{name} login:", BOOT_TIMEOUT)
    vms["client"].wait_for("fetched: via-router6", 300)
    vms["server"].wait_for("forwarded: dmz", 300)
    vms["client"].wait_for("fetched: via-router-ipv6", 300)
    vms["client"].wait_for("fetched: via-router6-ipv6", 300)
    vms["client"].wait_for("ra-default:", 300)
    vms["client"].wait_for("tagged-source:", 300)
    vms["router"].wait_for("loopback:", 300)
    yield RoutedNetwork(vms)


def test_the_client_reaches_the_server_through_the_iptables_nat(network: RoutedNetwork) -> None:
    assert network.said("client", "fetched: via-router") == "hello-from-server"


def test_the_client_reaches_the_server_through_the_nftables_nat(network: RoutedNetwork) -> None:
    assert network.said("client", "fetched: via-router6") == "hello-from-server"


def test_the_server_sees_the_routers_addresses_not_the_clients(network: RoutedNetwork) -> None:
    peers = set(network.served_to())
    assert {"192.168.2.2", "192.168.3.3"} <= peers
    assert "192.168.1.1" not in peers


def test_nat_turns_on_ip_forwarding(network: RoutedNetwork) -> None:
    assert network.said("router", "forwarding") == "1"
    assert network.said("router6", "forwarding") == "1"


def test_iptables_nat_masquerades_in_nixos_nat_post(network: RoutedNetwork) -> None:
    assert network.said("router", "nat-post") == "1"


def test_nftables_nat_is_the_table_nixos_nat(network: RoutedNetwork) -> None:
    assert network.said("router6", "nat-table") == "1"


def test_forwardPorts_reach_the_internal_machine_with_iptables(network: RoutedNetwork) -> None:
    assert network.said("server", "forwarded: router") == "page of client"


def test_forwardPorts_reach_the_internal_machine_with_nftables(network: RoutedNetwork) -> None:
    assert network.said("server", "forwarded: router6") == "page of client"


def test_ipv4_routes_are_installed_with_their_options(network: RoutedNetwork) -> None:
    route = network.said("client", "routes")
    assert "via 192.168.1.3 dev eth1" in route and "metric 7" in route


def test_defaultGateway6_is_the_ipv6_default_route(network: RoutedNetwork) -> None:
    assert network.said("client", "routes6").startswith("default via 2001:db8:1::2")


def test_nginx_vhosts_listen_on_defaultListen_and_globalRedirect_keeps_the_path(
    network: RoutedNetwork,
) -> None:
    assert network.said("client", "redirect") == "301 http://new.example.org/a/b?c"


def test_a_bridge_member_is_enslaved_to_its_bridge(network: RoutedNetwork) -> None:
    assert network.said("server", "forwarded: bridge") == "eth1 master br0"


def test_defaultGateway_has_its_metric_and_source(network: RoutedNetwork) -> None:
    route = network.said("client", "gateway4")
    assert route.startswith("default via 192.168.1.2")
    assert "src 192.168.1.1" in route and "metric 9" in route


def test_ipv6_routes_are_installed(network: RoutedNetwork) -> None:
    route = network.said("client", "routes6-static")
    assert route.startswith("2001:db8:2::/64 via 2001:db8:1::2 dev eth1")


def test_ipv6_nat_masquerades_the_internal_ipv6_range(network: RoutedNetwork) -> None:
    assert network.said("client", "fetched: via-router-ipv6") == "hello-from-server"
    assert network.served_to("serve6") and set(network.served_to("serve6")) == {"2001:db8:2::2"}


def test_nat_enableIPv6_turns_on_ipv6_forwarding(network: RoutedNetwork) -> None:
    assert network.said("router", "forwarding6") == "1"


def test_externalIP_snats_to_that_address(network: RoutedNetwork) -> None:
    assert network.said("router6", "nat-snat") == "1"
    assert "192.168.3.3" in network.served_to()


def test_dmzHost_receives_what_no_forwarded_port_matches(network: RoutedNetwork) -> None:
    assert network.said("server", "forwarded: dmz") == "page of client"


def test_loopbackIPs_forward_the_routers_own_connections(network: RoutedNetwork) -> None:
    assert network.said("router", "loopback") == "page of client"


def test_defaultGateway_interface_adds_a_host_route_to_the_gateway_on_it(
        network: RoutedNetwork) -> None:
    assert network.said("client", "gateway4-host") == \
        "192.168.1.2 dev eth1 proto static scope link metric 9"


def test_defaultGateway6_interface_adds_a_host_route_to_the_gateway_on_it(
        network: RoutedNetwork) -> None:
    assert network.said("client", "gateway6-host").startswith(
        "2001:db8:1::2 dev eth1 proto static metric 5")


def test_defaultGateway6_source_is_the_default_routes_source(network: RoutedNetwork) -> None:
    route = network.said("client", "routes6")
    assert route.startswith("default via 2001:db8:1::2") and "src 2001:db8:1::1 " in route


def test_ipv6_route_options_are_set_on_the_route(network: RoutedNetwork) -> None:
    route = network.said("client", "routes6-options")
    assert route.startswith("2001:db8:3::/64 via 2001:db8:1::3 dev eth1 proto static")
    assert "metric 7" in route and "mtu 1400" in route


def test_an_ipv6_route_of_type_local_makes_its_prefix_the_machines_own(
        network: RoutedNetwork) -> None:
    route = network.said("client", "routes6-local")
    assert route.startswith("local 2001:db8:77::/64 dev eth1 table local proto static")
    assert route.endswith(" reached")


def test_externalIPv6_snats_to_that_address(network: RoutedNetwork) -> None:
    assert network.said("router6", "nat6-snat") == "1"
    assert network.said("client", "fetched: via-router6-ipv6") == "hello-from-server"
    assert set(network.served_to("serve6ext")) == {"2001:db8:3::33"}


def test_nat_extraStopCommands_run_when_the_firewall_flushes_the_nat_rules(
        network: RoutedNetwork) -> None:
    # once, at the firewall's start, after the flush and before the set-up
    assert network.said("router", "nat-stop") == "0"


def test_radvd_debugLevel_makes_radvd_log_its_debug_messages(network: RoutedNetwork) -> None:
    console = network.vms["router6"].console()
    # debug level 1's messages (radvd logs nothing of them at 0, NixOS's default)
    assert re.search(r"config file, /nix/store/\S+-radvd\.conf, syntax ok", console)
    assert "polling for" in console


def eui64(mac: str) -> str:
    """The interface identifier SLAAC makes of a MAC address (RFC 4291)."""
    b = [int(x, 16) for x in mac.split(":")]
    b = [b[0] ^ 2, *b[1:3], 0xFF, 0xFE, *b[3:]]
    return ":".join(f"{b[i] << 8 | b[i + 1]:x}" for i in range(0, 8, 2))


def test_radvd_gives_the_client_an_address_from_the_advertised_prefix(
    network: RoutedNetwork,
) -> None:
    # the client's eth1 is 52:54:00:12:01:01 (vlan_nics)
    address = ipaddress.IPv6Address(int(network.said("client", "slaac"), 16))
    assert address == ipaddress.IPv6Address(f"2001:db8:6::{eui64('52:54:00:12:01:01')}")


def test_radvd_advertises_router6_as_a_default_router(network: RoutedNetwork) -> None:
    route = network.said("client", "ra-default")
    assert route.startswith(f"default via fe80::{eui64('52:54:00:12:01:03')}")


def test_nginx_upstreams_are_proxy_targets(network: RoutedNetwork) -> None:
    assert network.said("client", "upstream") == "page of client"


def test_a_vlan_device_tags_its_traffic_on_its_interface(network: RoutedNetwork) -> None:
    assert network.said("client", "vlan-config") == "tagged | 42 | eth1"
    assert network.said("client", "vlan-ping") == "reached"


def test_tempAddresses_default_adds_a_temporary_address_to_slaac(network: RoutedNetwork) -> None:
    assert network.said("client", "temporary") == "1"


def test_tempAddresses_default_makes_the_temporary_address_the_source(
        network: RoutedNetwork) -> None:
    temporary = network.said("client", "eth1-temporary")
    assert ipaddress.IPv6Address(temporary) in ipaddress.IPv6Network("2001:db8:6::/64")
    assert network.said("client", "eth1-source") == temporary


def test_an_interfaces_tempAddress_enabled_makes_a_temporary_address_not_the_source(
        network: RoutedNetwork) -> None:
    # the VLAN device has eth1's MAC, 52:54:00:12:01:01
    slaac = network.said("client", "tagged-slaac")
    assert ipaddress.IPv6Address(slaac) == \
        ipaddress.IPv6Address(f"2001:db8:42::{eui64('52:54:00:12:01:01')}")
    temporary = network.said("client", "tagged-temporary")
    assert ipaddress.IPv6Address(temporary) in ipaddress.IPv6Network("2001:db8:42::/64")
    assert network.said("client", "tagged-source") == slaac


def test_a_macvlan_device_has_its_own_address_on_its_interface(network: RoutedNetwork) -> None:
    assert network.said("router6", "mv-device") == "lower_eth1 192.168.1.13/32"
    assert network.said("client", "macvlan-ping") == "reached"


def test_a_sit_tunnel_carries_ipv6_between_its_endpoints(network: RoutedNetwork) -> None:
    assert network.said("client", "sit-ping") == "reached"


def test_a_bond_enslaves_its_interfaces_with_its_driverOptions(network: RoutedNetwork) -> None:
    assert network.said("router6", "bond-device") == "active-backup 1 miimon 100 slaves eth3 eth4"


def test_a_bond_carries_its_address_traffic(network: RoutedNetwork) -> None:
    assert network.said("server", "bond-ping") == "reached"


def test_a_virtual_interface_is_a_tap_device_with_its_mtu_mac_and_address(
        network: RoutedNetwork) -> None:
    # tun_flags 0x1802: IFF_TAP | IFF_NO_PI | IFF_PERSIST, as ip tuntap add mode tap makes it
    assert network.said("router6", "tap-device") == \
        "flags 0x1802 mtu 1342 02:de:ad:be:ef:01 10.88.0.1/24"


def test_anonymous_ftp_from_vsftpd_reaches_the_client_through_nat(network: RoutedNetwork) -> None:
    assert network.said("client", "ftp") == "hello-over-ftp"


def test_connectionTrackingModules_load_the_conntrack_helpers(network: RoutedNetwork) -> None:
    assert network.said("router", "conntrack-helper") == "/sys/module/nf_conntrack_ftp"


def test_the_first_matching_systemd_network_link_renames_and_sets_the_mtu(
        network: RoutedNetwork) -> None:
    assert network.said("router6", "link-device") == "1442 52:54:00:12:03:35"


def test_the_default_locale_is_a_logins_LANG_and_is_installed(network: RoutedNetwork) -> None:
    assert network.said("client", "locale") == "en_US.UTF-8 en_US.UTF-8"
