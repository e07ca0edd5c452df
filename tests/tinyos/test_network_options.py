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


def test_a_sit_with_udp_encapsulation_is_refused(machines: Machines) -> None:
    m = machines.write("m", """{ networking.sits.s = { remote = "10.0.0.1";
      encapsulation = { type = "fou"; port = 9001; }; }; }""")
    assert "networking.sits.s.encapsulation: tinyos cannot" in m.error()


def test_a_macvlan_mode_is_refused(machines: Machines) -> None:
    m = machines.write(
        "m", '{ networking.macvlans.mv = { interface = "eth1"; mode = "bridge"; }; }')
    assert "networking.macvlans.mv.mode: tinyos cannot set a mode" in m.error()


def test_a_tun_virtual_interface_is_refused(machines: Machines) -> None:
    m = machines.write("m", "{ networking.interfaces.tun0.virtual = true; }")
    assert "networking.interfaces.tun0.virtualType: tinyos cannot make a tun device" in m.error()


def test_a_virtual_interface_named_tap_is_a_tap_as_in_nixos(machines: Machines) -> None:
    m = machines.write("m", "{ networking.interfaces.tap0.virtual = true; }")
    assert m.value("config.networking.interfaces.tap0.virtualType") == "tap"
    assert "tun" in m.value("config.boot.kernelModules")


def test_deprecated_bond_options_warn_as_nixos(machines: Machines) -> None:
    m = machines.write("m", """{ networking.bonds.bond0 = {
      interfaces = [ "eth1" ]; miimon = 100; }; }""")
    assert m.value("config.warnings") == ["bond0.miimon is deprecated, use bond0.driverOptions"]
    assert "bonding" in m.value("config.boot.kernelModules")


def test_autoLoadConntrackHelpers_is_nixos_assertion_on_a_kernel_from_6(machines: Machines) -> None:
    m = machines.write("m", "{ networking.firewall.autoLoadConntrackHelpers = true; }")
    assert "conntrack helper autoloading has been removed from kernel 6.0 and newer" in m.error()


def test_vsftpd_local_users_are_refused_without_pam(machines: Machines) -> None:
    m = machines.write("m", "{ services.vsftpd = { enable = true; localUsers = true; }; }")
    assert "services.vsftpd.localUsers: tinyos cannot" in m.error()


def test_vsftpd_anonymous_user_is_ftp_with_its_home_as_nixos(machines: Machines) -> None:
    m = machines.write("m", "{ services.vsftpd = { enable = true; anonymousUser = true; }; }")
    assert m.value("config.users.users.ftp.uid") == 8
    assert m.value("config.users.users.ftp.home") == "/home/ftp/"
    assert "d /home/ftp/ 0555 ftp ftp - -" in m.value("config.systemd.tmpfiles.rules")


def test_a_tap_for_another_owner_than_root_is_refused(machines: Machines) -> None:
    m = machines.write("m", """{ networking.interfaces.tap0 = {
      virtual = true; virtualOwner = "alice"; }; }""")
    assert "networking.interfaces.tap0.virtualOwner: tinyos cannot" in m.error()


def test_a_link_matching_on_a_key_udev_alone_knows_is_refused(machines: Machines) -> None:
    m = machines.write("m", """{ systemd.network.links."10-x" = {
      matchConfig.Path = "pci-0000:00:03.0"; linkConfig.MTUBytes = "1400"; }; }""")
    assert "systemd.network.links.10-x.matchConfig.Path: tinyos cannot" in m.error()


def test_a_link_is_written_as_its_link_file(machines: Machines) -> None:
    m = machines.write("m", """{ systemd.network.links."50-foo" = {
      matchConfig = { Name = "foo"; Driver = "dummy"; }; linkConfig.MTUBytes = "1442"; }; }""")
    text = m.value('config.environment.etc."systemd/network/50-foo.link".text')
    assert text == "[Match]\nDriver=dummy\nName=foo\n\n[Link]\nMTUBytes=1442\n"


def test_supportedLocales_default_has_C_and_the_default_locale_as_nixos(machines: Machines) -> None:
    m = machines.write("m", '{ i18n.extraLocaleSettings.LC_TIME = "de_DE.UTF-8"; }')
    assert m.value("config.i18n.supportedLocales") == [
        "C.UTF-8/UTF-8", "en_US.UTF-8/UTF-8", "de_DE.UTF-8/UTF-8"]
    assert m.value("config.environment.sessionVariables.LC_TIME") == "de_DE.UTF-8"


def test_all_locales_are_refused(machines: Machines) -> None:
    m = machines.write("m", '{ i18n.supportedLocales = [ "all" ]; }')
    assert "glibcLocales: tinyos cannot compile all locales" in m.error()


def test_tempAddresses_sets_the_default_use_tempaddr_sysctl_as_nixos(machines: Machines) -> None:
    m = machines.write("m", '{ networking.tempAddresses = "enabled"; }')
    assert m.value('config.boot.kernel.sysctl."net.ipv6.conf.default.use_tempaddr"') == "1"


def test_enableIPv6_false_disables_ipv6_in_the_kernel_as_nixos(machines: Machines) -> None:
    m = machines.write("m", "{ networking.enableIPv6 = false; }")
    sysctl = m.value("config.boot.kernel.sysctl")
    assert sysctl["net.ipv6.conf.all.disable_ipv6"] is True
    assert sysctl["net.ipv6.conf.default.disable_ipv6"] is True
    assert sysctl["net.ipv6.conf.default.use_tempaddr"] == "0"


def test_a_temporary_address_without_ipv6_is_nixos_assertion(machines: Machines) -> None:
    m = machines.write("m", """{ networking.enableIPv6 = false;
      networking.interfaces.eth1.tempAddress = "enabled"; }""")
    assert "Temporary addresses are only needed when IPv6 is enabled." in m.error()
