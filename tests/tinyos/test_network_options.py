"""networking options evaluated as NixOS evaluates them (no VM): the
read-only FQDN, NixOS's NAT assertions, and the values tinyos refuses with
one line (useNetworkd, rstp) instead of ignoring them. Their runtime
effects are test_router.py's."""

from __future__ import annotations

import pytest

from tests.tinyos.conftest import Machines

pytestmark = pytest.mark.nix


def test_fqdn_is_hostName_dot_domain(machines: Machines) -> None:
    m = machines.write("m", '{ networking.hostName = "web"; networking.domain = "example.org"; }')
    assert m.value("config.networking.fqdn") == "web.example.org"


def test_fqdn_without_domain_is_nixos_error(machines: Machines) -> None:
    err = machines.write("m", '{ networking.hostName = "web"; }').error("config.networking.fqdn")
    assert "The FQDN is required but cannot be determined" in err


def test_fqdn_is_read_only(machines: Machines) -> None:
    err = machines.write("m", '{ networking.fqdn = "a.b"; }').error("config.networking.fqdn")
    assert "read-only" in err


def test_useNetworkd_true_is_refused_with_one_line(machines: Machines) -> None:
    err = machines.write("m", "{ networking.useNetworkd = true; }").error()
    assert "networking.useNetworkd: tinyos cannot" in err


def test_a_bridge_with_rstp_is_refused(machines: Machines) -> None:
    m = machines.write(
        "m", '{ networking.bridges.br0 = { interfaces = [ "eth1" ]; rstp = true; }; }')
    assert "networking.bridges.br0.rstp: tinyos cannot" in m.error()


def test_forwardPorts_without_externalInterface_is_nixos_assertion(machines: Machines) -> None:
    m = machines.write("m", """{ networking.nat = { enable = true;
      forwardPorts = [ { sourcePort = 80; destination = "10.0.0.2:80"; } ]; }; }""")
    assert "networking.nat.forwardPorts requires networking.nat.externalInterface" in m.error()


def test_nat_extraCommands_with_nftables_is_nixos_assertion(machines: Machines) -> None:
    m = machines.write("m", """{ networking.nftables.enable = true;
      networking.nat = { enable = true; extraCommands = "true"; }; }""")
    assert "extraCommands is incompatible with the nftables based nat module" in m.error()


def test_nat_sets_forwarding_sysctls_as_nixos(machines: Machines) -> None:
    m = machines.write("m", "{ networking.nat.enable = true; networking.nat.enableIPv6 = true; }")
    sysctl = m.value("config.boot.kernel.sysctl")
    assert sysctl["net.ipv4.conf.all.forwarding"] is True
    assert sysctl["net.ipv4.conf.default.forwarding"] is True
    assert sysctl["net.ipv6.conf.all.forwarding"] is True
    assert sysctl["net.ipv6.conf.all.accept_ra"] == 2


def test_nginx_defaultListen_with_ssl_is_refused(machines: Machines) -> None:
    m = machines.write("m", """{ services.nginx.enable = true;
      services.nginx.defaultListen = [ { addr = "0.0.0.0"; ssl = true; } ]; }""")
    assert "services.nginx.defaultListen: tinyos cannot" in m.error()
