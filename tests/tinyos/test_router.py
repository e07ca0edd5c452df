"""A routed network of tinyos machines doing what NixOS's would
(nixos/modules/services/networking/nat*.nix, tasks/network-interfaces.nix):
four machines on three VLANs, booted once under TCG.

- client (VLAN 1): static routes to VLAN 2 via router and to VLAN 3 via
  router6 (networking.interfaces.eth1.ipv4.routes), defaultGateway6, a page
  on port 80 that the routers forward to;
- router (VLANs 1, 2): networking.nat with the iptables backend (the
  firewall's extraCommands), internalInterfaces, forwardPorts;
- router6 (VLANs 1, 3): networking.nat with networking.nftables.enable
  (the table ip nixos-nat), internalIPs, forwardPorts;
- server (VLANs 2, 3): its VLAN 2 NIC in the bridge br0 (networking.bridges)
  with the address on br0, `python3 -m http.server` serving JSON; no route
  back to VLAN 1, so only NAT makes replies reach the client.

Each machine's services print what they saw on the console; each test
reads one of those lines."""

from __future__ import annotations

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
  };
  networking.defaultGateway6 = { address = "2001:db8:1::2"; interface = "eth1"; };
  networking.firewall.allowedTCPPorts = [ 80 ];
  environment.etc."www/index.html".text = "page of client";
  # nginx: its vhost listens where defaultListen says, and redirects
  services.nginx = {
    enable = true;
    defaultListen = [ { addr = "127.0.0.1"; port = 8081; } ];
    virtualHosts.old.globalRedirect = "new.example.org";
  };
  systemd.services.page = {
    wantedBy = [ "multi-user.target" ];
    script = "exec httpd -f -p 80 -h /etc/www";
  };
  systemd.services.fetch = {
    wantedBy = [ "multi-user.target" ];
    path = [ pkgs.curl pkgs.jq ];
    script = ''
      echo "routes: $(ip route show 192.168.3.0/24)"
      echo "routes6: $(ip -6 route show default dev eth1)"
      for i in $(seq 60); do
        r=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' 'http://127.0.0.1:8081/a/b?c') \
          && [ "''${r%% *}" != 000 ] && break
        sleep 1
      done
      echo "redirect: $r"
      fetch() { # label url
        for i in $(seq 120); do
          if msg=$(curl -sf --max-time 5 "$2" | jq -r .msg) && [ -n "$msg" ]; then
            echo "fetched: $1 $msg"; return
          fi
          sleep 2
        done
        echo "fetched: $1 nothing"
      }
      fetch via-router http://192.168.2.4:8000/data.json
      fetch via-router6 http://192.168.3.4:8000/data.json
    '';
  };
""" + COMMON + "}"

ROUTER = r"""{ pkgs, ... }: {
  networking.hostName = "router";
  networking.interfaces.eth1.ipv4.addresses = [ { address = "192.168.1.2"; prefixLength = 24; } ];
  networking.interfaces.eth1.ipv6.addresses = [ { address = "2001:db8:1::2"; prefixLength = 64; } ];
  networking.interfaces.eth2.ipv4.addresses = [ { address = "192.168.2.2"; prefixLength = 24; } ];
  networking.nat = {
    enable = true;
    internalInterfaces = [ "eth1" ];
    externalInterface = "eth2";
    forwardPorts = [ { sourcePort = 8080; destination = "192.168.1.1:80"; } ];
  };
  systemd.services.facts = {
    wantedBy = [ "multi-user.target" ];
    after = [ "firewall.service" ];
    path = [ pkgs.iptables ];
    script = ''
      echo "forwarding: $(sysctl -n net.ipv4.conf.all.forwarding)"
      echo "nat-post: $(iptables -w -t nat -S nixos-nat-post | grep -c MASQUERADE)"
    '';
  };
""" + COMMON + "}"

ROUTER6 = r"""{ pkgs, ... }: {
  networking.hostName = "router6";
  networking.nftables.enable = true;
  networking.interfaces.eth1.ipv4.addresses = [ { address = "192.168.1.3"; prefixLength = 24; } ];
  networking.interfaces.eth2.ipv4.addresses = [ { address = "192.168.3.3"; prefixLength = 24; } ];
  networking.nat = {
    enable = true;
    internalIPs = [ "192.168.1.0/24" ];
    externalInterface = "eth2";
    forwardPorts = [ { sourcePort = 8080; destination = "192.168.1.1:80"; } ];
  };
  systemd.services.facts = {
    wantedBy = [ "multi-user.target" ];
    after = [ "nftables.service" ];
    path = [ pkgs.nftables ];
    script = ''
      echo "forwarding: $(sysctl -n net.ipv4.conf.all.forwarding)"
      echo "nat-table: $(nft list tables | grep -c 'ip nixos-nat')"
    '';
  };
""" + COMMON + "}"

SERVER = r"""{ pkgs, lib, ... }: {
  networking.hostName = "server";
  networking.bridges.br0.interfaces = [ "eth1" ];
  networking.interfaces.br0.ipv4.addresses = [ { address = "192.168.2.4"; prefixLength = 24; } ];
  networking.interfaces.eth2.ipv4.addresses = [ { address = "192.168.3.4"; prefixLength = 24; } ];
  networking.firewall.allowedTCPPorts = [ 8000 ];
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
      forwarded router http://192.168.2.2:8080/
      forwarded router6 http://192.168.3.3:8080/
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

    def served_to(self) -> list[str]:
        return re.findall(r"serve: (\S+) - - ", self.vms["server"].console())


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
    vms["server"].wait_for("forwarded: router6", 300)
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
