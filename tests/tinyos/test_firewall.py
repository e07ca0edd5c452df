"""tinyos's firewall refuses and admits what NixOS's would
(nixos/modules/services/networking/firewall.nix): three machines on two
VLANs, booted once under TCG; a probe machine tries each port and ping and
prints what happened, and each test reads one of those outcomes.

- server: the firewall as NixOS enables it by default (the iptables backend,
  firewall.service), with ports opened by allowedTCPPorts,
  allowedTCPPortRanges, interfaces.eth2, services.openssh (openFirewall
  defaults to true) and an iptables rule in extraCommands;
- strict: the nftables backend (networking.nftables.enable, nftables.service),
  rejectPackets, allowPing = false, trustedInterfaces = [ "eth2" ],
  logRefusedConnections, httpd enabled (which opens nothing) and sshd with
  openFirewall = false;
- probe: networking.firewall.enable = false, so everything reaches it.

Every port tried is served by a busybox httpd, so "dropped" and "refused"
are the firewall's doing, never a missing listener."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.tinyos.conftest import VM, Launcher, Machines, vlan_nics

pytestmark = [pytest.mark.nix, pytest.mark.vm]

BOOT_TIMEOUT = 180

# on every machine: a page on each of these ports (httpd -p), and IPv6 on eth1
LISTEN = [80, 81, 82, 83, 8001]

COMMON = """
  virtualisation.graphics = false;
  virtualisation.diskImage = null;
  virtualisation.memorySize = 256;
  networking.interfaces.eth1.ipv4.addresses =
    [ {{ address = "192.168.1.{n}"; prefixLength = 24; }} ];
  networking.interfaces.eth1.ipv6.addresses =
    [ {{ address = "2001:db8:1::{n}"; prefixLength = 64; }} ];
  networking.interfaces.eth2.ipv4.addresses =
    [ {{ address = "192.168.2.{n}"; prefixLength = 24; }} ];
  environment.etc."www/index.html".text = "page of {name}";
  systemd.services.units = {{
    wantedBy = [ "multi-user.target" ];
    after = [ "firewall.service" "nftables.service" ];
    serviceConfig.Type = "oneshot";
    script = ''
      fw=$(systemctl is-active firewall || true) nft=$(systemctl is-active nftables || true)
      echo "units: firewall=$fw nftables=$nft"
    '';
  }};
  systemd.services.pages = {{
    wantedBy = [ "multi-user.target" ];
    script = ''
      for p in {ports}; do httpd -f -p $p -h /etc/www & done
      wait
    '';
  }};
"""

SERVER = """{ ... }: {
  networking.hostName = "server";
  services.openssh.enable = true;
  networking.firewall.allowedTCPPorts = [ 80 ];
  networking.firewall.allowedTCPPortRanges = [ { from = 8000; to = 8001; } ];
  networking.firewall.interfaces.eth2.allowedTCPPorts = [ 81 ];
  networking.firewall.extraCommands =
    "iptables -A nixos-fw -p tcp --dport 83 -j nixos-fw-accept";
  # the reply to an outgoing connection is admitted (connection tracking)
  systemd.services.outgoing = {
    wantedBy = [ "multi-user.target" ];
    after = [ "pages.service" ];
    script = ''
      for i in $(seq 90); do
        if wget -q -O- http://192.168.1.1:82/ > /tmp/page 2>/dev/null; then
          echo "fetched from probe: $(cat /tmp/page)"; exit 0
        fi
        sleep 2
      done
      echo "could not fetch from probe"
    '';
  };
""" + COMMON + "}"

STRICT = """{ ... }: {
  networking.hostName = "strict";
  networking.nftables.enable = true;
  networking.firewall = {
    rejectPackets = true;
    allowPing = false;
    trustedInterfaces = [ "eth2" ];
    logRefusedConnections = true;
  };
  services.httpd.enable = true;
  services.openssh = { enable = true; openFirewall = false; };
  networking.firewall.extraInputRules = "tcp dport 83 accept";
  # the kernel log's record of a refused connection, once the probe made one
  systemd.services.refusals = {
    wantedBy = [ "multi-user.target" ];
    script = ''
      for i in $(seq 240); do
        line=$(dmesg | grep -m 1 "refused connection: ") && { echo "kernel: $line"; exit 0; }
        sleep 1
      done
      echo "no refused connection logged"
    '';
  };
""" + COMMON + "}"

# The probe: waits until both machines answer on a port that is open, then
# tries each (label, command) and prints "fw: <label> <outcome>".
PROBE = r"""{ pkgs, ... }: {
  networking.hostName = "probe";
  networking.firewall.enable = false;
  systemd.services.probe = {
    wantedBy = [ "multi-user.target" ];
    after = [ "pages.service" ];
    script = ''
      http() { # url: open, refused or dropped
        if timeout 6 wget -q -O /dev/null "$1" 2>/tmp/err; then echo open
        elif grep -q refused /tmp/err; then echo refused
        else echo dropped; fi
      }
      ssh_port() { # host
        out=$(timeout 6 nc "$1" 22 </dev/null 2>/tmp/err | head -c 4)
        if [ "$out" = SSH- ]; then echo open
        elif grep -q refused /tmp/err; then echo refused
        else echo dropped; fi
      }
      pings() { # ping arguments
        if ping -c 1 -W 3 "$@" >/dev/null 2>&1; then echo answered; else echo unanswered; fi
      }
      wait_open() {
        for i in $(seq 120); do [ "$(http "$1")" = open ] && return 0; sleep 1; done
        echo "fw: $1 never became reachable"
      }
      wait_open http://192.168.1.2/
      wait_open http://192.168.2.3:82/
      # IPv6 duplicate address detection takes a moment after boot
      for i in $(seq 30); do ping -6 -c 1 -W 1 2001:db8:1::2 >/dev/null 2>&1 && break; sleep 1; done
      for t in 192.168.1.2:80 192.168.1.2:83 192.168.1.3:83 \
               192.168.1.2:82 192.168.1.2:81 192.168.2.2:81 192.168.2.2:82 \
               192.168.1.2:8001 192.168.1.3:82 192.168.1.3:80 192.168.2.3:82; do
        echo "fw: tcp $t $(http http://$t/)"
      done
      echo "fw: tcp [2001:db8:1::2]:82 $(http 'http://[2001:db8:1::2]:82/')"
      echo "fw: tcp [2001:db8:1::2]:80 $(http 'http://[2001:db8:1::2]:80/')"
      echo "fw: ssh 192.168.1.2 $(ssh_port 192.168.1.2)"
      echo "fw: ssh 192.168.1.3 $(ssh_port 192.168.1.3)"
      echo "fw: ping 192.168.1.2 $(pings 192.168.1.2)"
      echo "fw: ping 192.168.1.3 $(pings 192.168.1.3)"
      echo "fw: ping 2001:db8:1::3 $(pings -6 2001:db8:1::3)"
      echo "fw: done"
    '';
  };
""" + COMMON + "}"


@dataclass
class FirewallNetwork:
    probe: VM
    server: VM
    strict: VM

    def outcome(self, what: str) -> str:
        found = re.search(rf"probe: fw: {re.escape(what)} (\S+)", self.probe.console())
        assert found, f"no outcome for {what!r}:\n{self.probe.console()[-3000:]}"
        return found.group(1)


@pytest.fixture(scope="module")
def network(module_machines: Machines, module_launcher: Launcher) -> Iterator[FirewallNetwork]:
    built = {}
    for name, text, number in (("probe", PROBE, 1), ("server", SERVER, 2), ("strict", STRICT, 3)):
        module = text.replace(COMMON, COMMON.format(
            n=number, name=name, ports=" ".join(map(str, LISTEN))))
        module = module[: module.rstrip().rfind("}")] + vlan_nics(number, [1, 2]) + "\n}\n"
        built[name] = module_machines.write(name, module).build()
    env = {f"QEMU_VDE_SOCKET_{v}": str(module_launcher.start_switch(f"vlan{v}")) for v in (1, 2)}
    vms = {name: module_launcher.start_vm(vm, name, env) for name, vm in built.items()}
    for name, vm in vms.items():
        vm.wait_for(f"{name} login:", BOOT_TIMEOUT)
    vms["probe"].wait_for("probe: fw: done", 300)
    yield FirewallNetwork(vms["probe"], vms["server"], vms["strict"])


# --- the default firewall (server) -----------------------------------------

def test_a_port_in_allowedTCPPorts_is_open(network: FirewallNetwork) -> None:
    assert network.outcome("tcp 192.168.1.2:80") == "open"


def test_a_port_nobody_opened_is_dropped(network: FirewallNetwork) -> None:
    assert network.outcome("tcp 192.168.1.2:82") == "dropped"


def test_a_port_in_allowedTCPPortRanges_is_open(network: FirewallNetwork) -> None:
    assert network.outcome("tcp 192.168.1.2:8001") == "open"


def test_an_interface_port_is_open_on_that_interface(network: FirewallNetwork) -> None:
    assert network.outcome("tcp 192.168.2.2:81") == "open"


def test_an_interface_port_is_closed_on_other_interfaces(network: FirewallNetwork) -> None:
    assert network.outcome("tcp 192.168.1.2:81") == "dropped"


def test_an_interface_entry_opens_only_its_ports(network: FirewallNetwork) -> None:
    assert network.outcome("tcp 192.168.2.2:82") == "dropped"


def test_openssh_opens_its_port_by_default(network: FirewallNetwork) -> None:
    assert network.outcome("ssh 192.168.1.2") == "open"


def test_ping_is_answered_by_default(network: FirewallNetwork) -> None:
    assert network.outcome("ping 192.168.1.2") == "answered"


def test_ipv6_follows_the_same_ports(network: FirewallNetwork) -> None:
    assert network.outcome("tcp [2001:db8:1::2]:80") == "open"
    assert network.outcome("tcp [2001:db8:1::2]:82") == "dropped"


def test_replies_to_outgoing_connections_are_admitted(network: FirewallNetwork) -> None:
    network.server.wait_for("outgoing: fetched from probe: page of probe", 120)


def test_dhcp_on_the_user_network_still_works(network: FirewallNetwork) -> None:
    assert "udhcpc: eth0: 10.0.2.15/24" in network.server.console()


def test_the_iptables_backend_is_firewall_service(network: FirewallNetwork) -> None:
    network.server.wait_for("units: ", 120)
    assert "units: firewall=active nftables=inactive" in network.server.console()


def test_iptables_extraCommands_open_a_port(network: FirewallNetwork) -> None:
    assert network.outcome("tcp 192.168.1.2:83") == "open"


# --- options that change the defaults (strict) ------------------------------

def test_the_nftables_backend_is_nftables_service(network: FirewallNetwork) -> None:
    network.strict.wait_for("units: ", 120)
    assert "units: firewall=inactive nftables=active" in network.strict.console()


def test_nftables_extraInputRules_open_a_port(network: FirewallNetwork) -> None:
    assert network.outcome("tcp 192.168.1.3:83") == "open"


def test_rejectPackets_refuses_instead_of_dropping(network: FirewallNetwork) -> None:
    assert network.outcome("tcp 192.168.1.3:82") == "refused"


def test_httpd_opens_no_port(network: FirewallNetwork) -> None:
    assert network.outcome("tcp 192.168.1.3:80") == "refused"


def test_openssh_with_openFirewall_false_stays_closed(network: FirewallNetwork) -> None:
    assert network.outcome("ssh 192.168.1.3") == "refused"


def test_a_trusted_interface_admits_everything(network: FirewallNetwork) -> None:
    assert network.outcome("tcp 192.168.2.3:82") == "open"


def test_allowPing_false_leaves_ping_unanswered(network: FirewallNetwork) -> None:
    assert network.outcome("ping 192.168.1.3") == "unanswered"


def test_icmpv6_echo_is_answered_even_without_allowPing(network: FirewallNetwork) -> None:
    assert network.outcome("ping 2001:db8:1::3") == "answered"


def test_logRefusedConnections_writes_the_kernel_log(network: FirewallNetwork) -> None:
    network.strict.wait_for("refusals: kernel: ", 120)
    assert "refused connection: " in network.strict.console()


# --- disabled ---------------------------------------------------------------

def test_a_disabled_firewall_admits_every_port(network: FirewallNetwork) -> None:
    # the probe (enable = false) served the server's fetch on port 82
    network.server.wait_for("outgoing: fetched from probe", 120)
