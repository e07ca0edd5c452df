"""tinyos as an OS, through real Nix: determinism, errors, and that options
land where NixOS puts them (/etc/hosts, service order, the VM script)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.tinyos.conftest import Machines, run_nix

pytestmark = pytest.mark.nix

BASIC = """{ pkgs, ... }: {
  networking.hostName = "alpha";
  virtualisation.graphics = false;
  virtualisation.memorySize = 256;
  networking.extraHosts = "192.168.1.2 beta";
  networking.interfaces.eth1.ipv4.addresses = [ { address = "192.168.1.1"; prefixLength = 24; } ];
}
"""


def test_same_config_same_drv_and_an_edit_changes_it(machines: Machines) -> None:
    first = machines.write("alpha", BASIC).instantiate()
    again = machines.write("alpha", BASIC).instantiate()
    assert first == again
    toplevel = machines.write("alpha", BASIC).instantiate("config.system.build.toplevel")

    edited = machines.write("alpha", BASIC.replace("memorySize = 256", "memorySize = 512"))
    assert edited.instantiate() != first
    # memory is a QEMU argument: the system itself is the same
    assert edited.instantiate("config.system.build.toplevel") == toplevel

    renamed = machines.write("alpha", BASIC.replace("192.168.1.2 beta", "192.168.1.3 beta"))
    assert renamed.instantiate("config.system.build.toplevel") != toplevel


def test_unsupported_system_names_the_supported_ones(machines: Machines) -> None:
    err = machines.write("m", '{ nixpkgs.system = "aarch64-linux"; }').error()
    assert 'unsupported platform "aarch64-linux"' in err
    assert "x86_64-linux" in err


def test_system_defaults_to_the_callers(machines: Machines) -> None:
    m = machines.write("m", "{ }")
    assert m.value("config.nixpkgs.system") == "x86_64-linux"
    assert m.value("pkgs.stdenv.hostPlatform.system") == "x86_64-linux"


def test_missing_manifest_is_one_clear_error(machines: Machines) -> None:
    m = machines.write("m", "{ }")
    res = run_nix("nix-instantiate", str(m.path), "-A", "config.system.build.vm",
                  manifest=False)
    assert res.code != 0
    assert "no manifest of Debian files" in res.stderr and "nixvms setup" in res.stderr


def test_undefined_option_is_an_error(machines: Machines) -> None:
    err = machines.write("m", "{ services.nonexistent.enable = true; }").error()
    assert "does not exist" in err
    assert "m-module.nix" in err


def test_hosts_and_etc_land_in_the_toplevel(machines: Machines) -> None:
    m = machines.write("alpha", BASIC.replace(
        "virtualisation.graphics = false;",
        'virtualisation.graphics = false; environment.etc."motd".text = "hello tinyos";'
        ' users.users.root.openssh.authorizedKeys.keys = [ "ssh-ed25519 AAAAkey test@host" ];',
    ))
    top = m.build("config.system.build.toplevel")
    hosts = (top / "etc" / "hosts").read_text().splitlines()
    assert hosts[:3] == ["127.0.0.1 localhost", "::1 localhost", "127.0.0.2 alpha"]
    assert hosts[-1] == "192.168.1.2 beta"
    assert (top / "etc" / "hostname").read_text() == "alpha\n"
    assert (top / "etc" / "motd").read_text() == "hello tinyos"
    assert "ssh-ed25519 AAAAkey test@host" in (
        top / "etc" / "ssh" / "authorized_keys.d" / "root").read_text()
    assert (top / "etc" / "passwd").read_text().startswith("root:x:0:0:")
    for name in ("kernel", "initrd", "init", "kernel-params", "system", "sw"):
        assert (top / name).exists(), name
    assert (top / "system").read_text() == "x86_64-linux"
    assert (top / "sw" / "bin" / "ping").exists()


def test_services_start_in_dependency_order(machines: Machines) -> None:
    m = machines.write("m", """{
      systemd.services = {
        web = { wantedBy = [ "multi-user.target" ]; after = [ "db.service" "network.target" ];
                requires = [ "db.service" ]; script = "true"; };
        db = { after = [ "setup.service" ]; wants = [ "helper.service" ]; script = "true"; };
        setup = { wantedBy = [ "multi-user.target" ]; before = [ "zzz.service" ];
                  serviceConfig.Type = "oneshot"; script = "true"; };
        zzz = { wantedBy = [ "multi-user.target" ]; script = "true"; };
        helper = { script = "true"; };
        unwanted = { script = "true"; };
        disabled = { enable = false; wantedBy = [ "multi-user.target" ]; script = "true"; };
      };
    }""")
    order = m.value("config.system.build.serviceOrder")
    # firewall.service, getty@tty1 and dbus.service: on by default, as in NixOS
    assert set(order) == {"web", "db", "setup", "zzz", "helper", "firewall", "getty@tty1", "dbus"}
    assert order.index("setup") < order.index("db") < order.index("web")
    assert order.index("setup") < order.index("zzz")


def test_service_cycle_is_an_error(machines: Machines) -> None:
    m = machines.write("m", """{
      systemd.services.a = { wantedBy = [ "multi-user.target" ]; after = [ "b.service" ]; };
      systemd.services.b = { wantedBy = [ "multi-user.target" ]; after = [ "a.service" ]; };
    }""")
    assert "ordering cycle" in m.error("config.system.build.toplevel")


def test_vm_script_follows_qemu_vm_nix(machines: Machines) -> None:
    m = machines.write("alpha", BASIC.replace("virtualisation.memorySize = 256;", """
      virtualisation.memorySize = 300;
      virtualisation.cores = 2;
      boot.kernelParams = [ "tinyos.test=1" ];
      virtualisation.qemu.options = [
        "-device virtio-net-pci,netdev=vlan1,mac=52:54:00:12:01:01"
        ''-netdev vde,id=vlan1,sock="$QEMU_VDE_SOCKET_1"''
      ];"""))
    vm = m.build()
    script = (vm / "bin" / "run-alpha-vm").read_text()
    assert script.startswith("#!/nix/store/")
    assert "-m 300" in script and "-smp 2" in script and "-nographic" in script
    # raw fragments, unquoted, as NixOS's qemu-vm.nix inserts them
    assert '-netdev vde,id=vlan1,sock="$QEMU_VDE_SOCKET_1"' in script
    assert '-netdev user,id=user.0,"$QEMU_NET_OPTS"' in script
    assert "$QEMU_KERNEL_PARAMS" in script
    lines = [ln.strip() for ln in script.splitlines()]
    assert lines[-2:] == ["$QEMU_OPTS \\", '"$@"']
    assert "tinyos.test=1" in (vm / "system" / "kernel-params").read_text()

    graphic = machines.write("alpha", BASIC.replace("virtualisation.graphics = false;", ""))
    assert "-nographic" not in (graphic.build() / "bin" / "run-alpha-vm").read_text()


def _drive(script: str, serial: str) -> tuple[Path, str]:
    """The image file and the line of the VM script's drive with that serial."""
    line, = [ln for ln in script.splitlines() if re.search(rf"serial={serial}\b(?!-)", ln)]
    return Path(re.findall(r"file=([^,]+)", line)[0]), line


def test_the_store_image_follows_the_state_disk_and_its_init_is_on_the_command_line(
        machines: Machines) -> None:
    vm = machines.write("alpha", BASIC).build()
    script = (vm / "bin" / "run-alpha-vm").read_text()
    toplevel = (vm / "system").resolve()
    assert f"init={toplevel}/init" in script
    image, store = _drive(script, "nix-store")
    assert "readonly=on" in store and image.name == "nix-store.img"
    # after the state disk: /dev/vda stays the disk image
    assert script.index("serial=root") < script.index("serial=nix-store")


def test_the_kernel_is_a_store_disk_of_its_own_shared_by_every_machine(
        machines: Machines) -> None:
    m = machines.write("alpha", BASIC)
    alpha = m.build()
    beta = machines.write("beta", BASIC.replace("alpha", "beta")).build()
    kernel = (alpha / "system" / "kernel").resolve().parent
    # stage 1 mounts that disk on the kernel's store path
    assert m.value("config.boot.initrd.tinyosStorePathDevices") == {"nix-store-1": str(kernel)}
    image, line = _drive((alpha / "bin" / "run-alpha-vm").read_text(), "nix-store-1")
    assert "readonly=on" in line and image.exists()
    assert _drive((beta / "bin" / "run-beta-vm").read_text(), "nix-store-1")[0] == image
    # the machine's own store image holds the kernel's path only as the empty
    # directory the kernel's disk is mounted on (erofs' own dump tool reads it)
    store, _ = _drive((alpha / "bin" / "run-alpha-vm").read_text(), "nix-store")
    dump = m.build("pkgs.buildPackages.erofs-utils") / "bin" / "dump.erofs"

    def entry(path: str, img: Path) -> str:
        res = subprocess.run([dump, f"--path={path}", img], capture_output=True, text=True)
        return res.stdout + res.stderr

    assert entry(f"/{kernel.name}", store).startswith(f"File : /{kernel.name}\n")
    assert "read inode failed" in entry(f"/{kernel.name}/lib", store)
    assert entry("/lib/modules", image).startswith("File : /lib/modules\n")


def test_without_the_store_image_the_initrd_holds_the_store(machines: Machines) -> None:
    off = "  virtualisation.useNixStoreImage = false;\n}\n"
    m = machines.write("alpha", BASIC.replace("}\n", off))
    assert m.value("config.boot.initrd.tinyosStoreDevice") is None
    script = (m.build() / "bin" / "run-alpha-vm").read_text()
    assert "serial=nix-store" not in script and " init=" not in script


def test_kernel_modules(machines: Machines) -> None:
    ok = machines.write("m", '{ boot.kernelModules = [ "tun" ]; }')
    closure = ok.build("config.system.build.modulesClosure")
    (load,) = closure.glob("lib/modules/*/tinyos-load")
    loaded = load.read_text().split()
    # qemu-vm.nix's virtio drivers first (boot.initrd.kernelModules), then boot.kernelModules
    assert loaded[:4] == ["virtio_pci", "virtio_net", "virtio_blk", "virtio_rng"]
    assert "tun" in loaded and "9p" not in loaded  # 9p: optional, absent from the cloud kernel
    assert list(closure.glob("lib/modules/*/kernel/drivers/net/tun.ko"))

    missing = machines.write("m2", '{ boot.kernelModules = [ "no_such_module" ]; }')
    res = run_nix("nix-build", str(missing.path), "-A", "config.system.build.modulesClosure",
                  "--no-out-link")
    assert res.code != 0
    assert "kernel module no_such_module not found" in res.stderr



@pytest.mark.parametrize(("alias", "package"), [
    ("nginxMainline", "nginx"), ("nginxStable", "nginx"),
    ("bashInteractive", "bash"), ("python311", "python3"),
])
def test_nixpkgs_aliases_name_the_same_packages(
    machines: Machines, alias: str, package: str
) -> None:
    m = machines.write("m", "{ }")
    assert m.value(f"pkgs.{alias}.drvPath") == m.value(f"pkgs.{package}.drvPath")
