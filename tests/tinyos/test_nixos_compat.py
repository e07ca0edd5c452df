"""What a network file sees of tinyos is what it would see of NixOS, through
real evaluations: nixpkgs' lib names and string functions, NixOS's platform
options and their precedence, its errors for unknown options, wrong types and
unsupported platforms, and the idioms' options and defaults."""

from __future__ import annotations

import json

import pytest

from tests.tinyos.conftest import REPO, TINYOS, Machine, Machines, run_nix

pytestmark = pytest.mark.nix

STUB = REPO / "tests" / "tinyos" / "data" / "nixpkgs-lib.nix"
EXAMPLES = REPO / "examples"


def eval_json(expr: str) -> object:
    res = run_nix("nix-instantiate", "--eval", "--strict", "--json", "-E", expr)
    assert res.code == 0, res.stderr
    return json.loads(res.stdout)


def with_nixpkgs_lib(machines: Machines, name: str, module: str) -> Machine:
    """A machine evaluated with a lib that has only nixpkgs' exported names."""
    (machines.root / f"{name}-module.nix").write_text(module)
    path = machines.root / f"{name}.nix"
    path.write_text(
        f"import {TINYOS}/nixos/lib/eval-config.nix {{\n"
        f"  specialArgs.lib = import {STUB} (import {TINYOS}/lib);\n"
        f"  modules = [ {TINYOS}/nixos/modules/virtualisation/qemu-vm.nix ./{name}-module.nix\n"
        # nixvms's network module declares deployment.targetHost (nixops's option)
        "    ({ lib, ... }: { options.deployment.targetHost = lib.mkOption"
        " { type = lib.types.nullOr lib.types.str; default = null; }; }) ];\n"
        "}\n"
    )
    return Machine(path)


# --- point 5: valid under nixpkgs' lib --------------------------------------

KITCHEN_SINK = """{ pkgs, lib, ... }: {
  users.users.alice = { isNormalUser = true; extraGroups = [ "wheel" ]; };
  users.users.svc = { isSystemUser = true; group = "svc"; };
  users.groups.svc = { };
  users.groups.wheel = { };
  services.openssh.enable = true;
  services.httpd.enable = true;
  services.nginx.enable = true;
  services.nginx.virtualHosts.a.locations."/".return = "200 ok";
  networking.firewall.interfaces.eth1.allowedTCPPorts = [ 80 ];
  systemd.services.job = { script = "true"; startAt = "daily"; };
  fileSystems."/data" = { device = "/dev/vdb"; autoFormat = true; fsType = "ext4"; };
  virtualisation.emptyDiskImages = [ 16 ];
  boot.kernel.sysctl."vm.swappiness" = 10;
  time.timeZone = "Europe/Amsterdam";
  services.getty.autologinUser = "alice";
  environment.systemPackages = [ pkgs.curl ];
}
"""


def test_tinyos_modules_use_only_names_nixpkgs_lib_exports(machines: Machines) -> None:
    m = with_nixpkgs_lib(machines, "sink", KITCHEN_SINK)
    assert m.instantiate().endswith(".drv")


def test_the_lib_stub_catches_a_name_nixpkgs_does_not_export(machines: Machines) -> None:
    m = with_nixpkgs_lib(
        machines, "bad",
        "{ lib, ... }: { networking.hostName = lib.findFirstIndex (x: true) 0 [ ]; }")
    assert "findFirstIndex" in m.error("config.networking.hostName")


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.nix")))
def test_examples_evaluate_with_nixpkgs_lib_names(machines: Machines, example: str) -> None:
    network = EXAMPLES / example
    names = eval_json(f"builtins.filter (n: n != \"defaults\" && n != \"network\" && n != \"meta\")"
                      f" (builtins.attrNames (import {network}))")
    assert isinstance(names, list)
    for name in names:
        m = with_nixpkgs_lib(machines, f"ex-{name}", f"(import {network}).{name}")
        assert m.instantiate().endswith(".drv"), name


@pytest.mark.parametrize(("arg", "quoted"), [
    ("/root", "/root"),
    ("a-b_c.d:e@f%g+h,i", "a-b_c.d:e@f%g+h,i"),
    ("", "''"),
    ("two words", "'two words'"),
    ("it's", "'it'\\''s'"),
    ("$HOME", "'$HOME'"),
])
def test_escapeShellArg_gives_nixpkgs_output(arg: str, quoted: str) -> None:
    assert eval_json(f"(import {TINYOS}/lib).escapeShellArg {json.dumps(arg)}") == quoted


# --- point 4: platforms -----------------------------------------------------

@pytest.mark.parametrize(("module", "system"), [
    ('{ nixpkgs.hostPlatform = "i686-linux"; }', "i686-linux"),
    ('{ nixpkgs.hostPlatform.system = "i686-linux"; }', "i686-linux"),
    ('{ nixpkgs.hostPlatform = "i686-linux"; nixpkgs.system = "x86_64-linux"; }', "i686-linux"),
    ('{ nixpkgs.hostPlatform = "x86_64-linux"; nixpkgs.localSystem.system = "i686-linux"; }',
     "x86_64-linux"),
    ('{ nixpkgs.localSystem.system = "i686-linux"; }', "i686-linux"),
    ('{ nixpkgs.localSystem.config = "i686-unknown-linux-gnu"; }', "i686-linux"),
    ('{ nixpkgs.system = "i686-linux"; }', "i686-linux"),
    ('{ nixpkgs.hostPlatform = "i686-linux"; nixpkgs.buildPlatform = "x86_64-linux"; }',
     "i686-linux"),
    ("{ }", "x86_64-linux"),
])
def test_platform_precedence_is_nixos(machines: Machines, module: str, system: str) -> None:
    m = machines.write("m", module)
    assert m.value("pkgs.stdenv.hostPlatform.system") == system
    assert m.value("config.nixpkgs.hostPlatform.system" if "hostPlatform" in module
                   else "config.nixpkgs.localSystem.system") == system


def test_hostPlatform_machine_builds_for_its_platform(machines: Machines) -> None:
    m = machines.write("m", '{ nixpkgs.hostPlatform = "i686-linux"; }')
    top = m.build("config.system.build.toplevel")
    assert (top / "system").read_text() == "i686-linux"


def test_unsupported_platform_is_one_error_naming_machine_platform_and_supported(
    machines: Machines,
) -> None:
    m = machines.write(
        "m", '{ networking.hostName = "alpha"; nixpkgs.hostPlatform = "aarch64-linux"; }')
    err = m.error()
    line = next(ln for ln in err.splitlines() if "unsupported platform" in ln)
    assert 'machine "alpha"' in line
    assert '"aarch64-linux"' in line and "nixpkgs.hostPlatform" in line
    assert "i686-linux, x86_64-linux" in line


# --- point 6: errors as NixOS gives them ------------------------------------

def test_unknown_option_is_nixos_error_plus_one_tinyos_line(machines: Machines) -> None:
    err = machines.write("m", "{ services.postgresql.enable = true; }").error()
    lines = err.splitlines()
    first = next(i for i, ln in enumerate(lines) if "does not exist" in ln)
    assert "The option `services.postgresql' does not exist." in lines[first]
    tinyos = [ln for ln in lines if "this is tinyos" in ln]
    assert len(tinyos) == 1
    assert "-I nixpkgs=" in tinyos[0] and "firewall" in tinyos[0]


def test_wrong_type_names_option_type_and_file(machines: Machines) -> None:
    err = machines.write("m", '{ networking.firewall.allowedTCPPorts = [ "http" ]; }').error()
    assert "networking.firewall.allowedTCPPorts" in err
    assert "is not of type" in err
    assert "m-module.nix" in err


def test_empty_hostName_gives_system_name_unnamed(machines: Machines) -> None:
    m = machines.write("m", '{ networking.hostName = ""; }')
    assert m.value("config.system.name") == "unnamed"
    assert (m.build() / "bin" / "run-unnamed-vm").exists()


def test_primary_addresses_are_declared_as_nixos_declares_them(machines: Machines) -> None:
    m = machines.write("m", '{ networking.primaryIPAddress = "192.168.1.1";'
                            ' networking.primaryIPv6Address = "2001:db8:1::1"; }')
    assert m.value("config.networking.primaryIPAddress") == "192.168.1.1"
    assert m.value("config.networking.primaryIPv6Address") == "2001:db8:1::1"
    assert machines.write("d", "{ }").value("config.networking.primaryIPAddress") == ""


def test_virtualisation_interfaces_and_vlans_default_as_nixos(machines: Machines) -> None:
    named = machines.write("m", "{ virtualisation.interfaces.enp1s0.vlan = 2; }")
    assert named.value("config.virtualisation.vlans") == []
    assert named.value("config.virtualisation.allInterfaces") == {
        "enp1s0": {"name": "enp1s0", "vlan": 2, "assignIP": False}}
    plain = machines.write("p", "{ }")
    assert plain.value("config.virtualisation.vlans") == [1]
    assert plain.value("config.virtualisation.allInterfaces.eth1") == {
        "name": "eth1", "vlan": 1, "assignIP": True}


# --- the firewall's options and defaults ------------------------------------

def test_firewall_defaults_are_nixos(machines: Machines) -> None:
    fw = machines.write("m", "{ }").value("config.networking.firewall")
    assert fw["enable"] is True
    assert fw["allowPing"] is True
    assert fw["rejectPackets"] is False
    assert fw["logRefusedConnections"] is True
    assert fw["allowedTCPPorts"] == []
    assert fw["trustedInterfaces"] == ["lo"]


def test_openssh_opens_its_ports_and_httpd_nginx_open_none(machines: Machines) -> None:
    m = machines.write("m", "{ services.openssh = { enable = true; ports = [ 22 2222 ]; };"
                            " services.httpd.enable = true; services.nginx.enable = true; }")
    assert m.value("config.networking.firewall.allowedTCPPorts") == [22, 2222]
    closed = machines.write("c", "{ services.openssh = { enable = true; openFirewall = false; }; }")
    assert closed.value("config.networking.firewall.allowedTCPPorts") == []


def test_allowed_ports_are_sorted_and_unique_as_nixos_applies_them(machines: Machines) -> None:
    m = machines.write("m", "{ networking.firewall.allowedTCPPorts = [ 443 80 443 ]; }")
    assert m.value("config.networking.firewall.allowedTCPPorts") == [80, 443]


def test_a_disabled_firewall_loads_no_rules(machines: Machines) -> None:
    m = machines.write("m", "{ networking.firewall.enable = false; }")
    assert "firewall" not in m.value("config.system.activationScripts")
    assert "nf_tables" not in m.value("config.boot.kernelModules")


def test_the_default_backend_is_iptables_as_in_nixos(machines: Machines) -> None:
    m = machines.write("m", "{ }")
    assert m.value("config.networking.firewall.backend") == "iptables"
    assert "firewall" in m.value("config.systemd.services")
    assert "nftables" not in m.value("config.systemd.services")


def test_nftables_enable_selects_the_nftables_backend_and_unit(machines: Machines) -> None:
    m = machines.write("m", "{ networking.nftables.enable = true; }")
    assert m.value("config.networking.firewall.backend") == "nftables"
    assert "nftables" in m.value("config.systemd.services")
    assert "firewall" not in m.value("config.systemd.services")


def test_extraCommands_with_nftables_is_nixos_error(machines: Machines) -> None:
    m = machines.write("m", "{ networking.nftables.enable = true;"
                            ' networking.firewall.extraCommands = "iptables -A INPUT -j ACCEPT"; }')
    err = m.error("config.system.build.toplevel")
    assert "extraCommands is incompatible with the nftables based firewall" in err


def test_modulesPath_profiles_import(machines: Machines) -> None:
    m = machines.write("m", """{ modulesPath, ... }: {
      imports = [ (modulesPath + "/profiles/qemu-guest.nix") (modulesPath + "/profiles/minimal.nix")
                  (modulesPath + "/installer/scan/not-detected.nix") ];
    }""")
    assert "virtio_net" in m.value("config.boot.initrd.availableKernelModules")


def test_unsupported_OnCalendar_is_an_error_naming_the_timer(machines: Machines) -> None:
    m = machines.write("m", """{
      systemd.services.x.script = "true";
      systemd.timers.x = {
        wantedBy = [ "timers.target" ];
        timerConfig.OnCalendar = "Mon *-*-1 00:00";
      };
    }""")
    assert "systemd.timers.x.timerConfig: OnCalendar" in m.error("config.system.build.toplevel")


def test_unknown_time_zone_fails_the_build(machines: Machines) -> None:
    m = machines.write("m", '{ time.timeZone = "Mars/Olympus_Mons"; }')
    res = run_nix("nix-build", str(m.path), "-A", "config.system.build.toplevel", "--no-out-link")
    assert res.code != 0
    assert "no zone Mars/Olympus_Mons" in res.stderr


def test_unknown_option_inside_a_submodule_also_says_tinyos(machines: Machines) -> None:
    m = machines.write(
        "m", "{ services.nginx.enable = true; services.nginx.virtualHosts.x.http3 = true; }")
    err = m.error()
    assert "The option `services.nginx.virtualHosts.x.http3' does not exist." in err
    assert len([ln for ln in err.splitlines() if "this is tinyos" in ln]) == 1


def test_user_packages_are_in_the_users_profile(machines: Machines) -> None:
    # users-groups.nix: /etc/profiles/per-user/<name>, as NixOS makes it
    m = machines.write("m", "{ pkgs, ... }: { users.users.alice = { isNormalUser = true;"
                            " packages = [ pkgs.lynx ]; initialPassword = \"x\"; }; }")
    top = m.build("config.system.build.toplevel")
    assert (top / "etc" / "profiles" / "per-user" / "alice" / "bin" / "lynx").exists()
    assert not (top / "sw" / "bin" / "lynx").exists()
