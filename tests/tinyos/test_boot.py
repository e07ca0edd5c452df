"""tinyos boots for real under QEMU (TCG): login prompt, services on the
console, the run-<host>-vm environment contract, power-off, and two machines
on one vde_switch that reach each other by name."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.tinyos.conftest import Launcher, Machines

pytestmark = [pytest.mark.nix, pytest.mark.vm]

BOOT_TIMEOUT = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_one_machine_boots_and_honours_the_contract(
    machines: Machines, launcher: Launcher, tmp_path: Path
) -> None:
    vm = machines.write("solo", """{ pkgs, ... }: {
      networking.hostName = "solo";
      virtualisation.graphics = false;
      # the host forward reaches the guest through eth0: open the port, as on NixOS
      networking.firewall.allowedTCPPorts = [ 8080 ];
      environment.etc."www/index.html".text = "served by solo";
      systemd.services.greeter = {
        wantedBy = [ "multi-user.target" ];
        description = "Greeter";
        serviceConfig.Type = "oneshot";
        script = ''
          echo "greetings from $(hostname), cpus=$(nproc)"
          cat /proc/cmdline
        '';
      };
      systemd.services.web = {
        wantedBy = [ "multi-user.target" ];
        after = [ "greeter.service" ];
        script = "exec httpd -f -p 8080 -h /etc/www";
      };
    }""").build()

    port = free_port()
    disk = tmp_path / "disks" / "solo-disk.qcow2"
    disk.parent.mkdir()
    tmpdir = tmp_path / "vmtmp"
    tmpdir.mkdir()
    run = launcher.start_vm(vm, "solo", env={
        "QEMU_OPTS": "-smp 2",
        "QEMU_NET_OPTS": f"hostfwd=tcp:127.0.0.1:{port}-:8080",
        "QEMU_KERNEL_PARAMS": "tinyos.marker=42",
        "NIX_DISK_IMAGE": str(disk),
        "TMPDIR": str(tmpdir),
        "USE_TMPDIR": "1",
    })
    seconds = run.wait_for("solo login:", BOOT_TIMEOUT)
    print(f"solo reached login in {seconds:.1f}s")
    console = run.console()
    assert "greeter: greetings from solo, cpus=2" in console  # QEMU_OPTS came last
    assert "tinyos.marker=42" in console  # QEMU_KERNEL_PARAMS
    assert "[  OK  ] Finished Greeter." in console
    assert console.index("Finished Greeter") < console.index("Started web.service")
    assert "disk: /dev/vda mounted on /var/lib" in console
    assert disk.exists()  # NIX_DISK_IMAGE created where asked
    assert (tmpdir / "xchg").is_dir()  # TMPDIR + USE_TMPDIR used as is
    assert "udhcpc: eth0: 10.0.2.15/24" in console
    # QEMU_NET_OPTS: the host forward reaches the guest's httpd
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=30) as resp:
        assert resp.read() == b"served by solo"


def test_the_vm_script_makes_its_disk_ext4_labelled_nixos_on_the_host(
        machines: Machines, tmp_path: Path) -> None:
    # as NixOS's createEmptyFilesystemImage; a QEMU that exits at once stands
    # in for the boot, which only this script's first part is about
    vm = machines.write("disky", """{
      networking.hostName = "disky";
      virtualisation.graphics = false;
      virtualisation.diskSize = 64;
    }""").build()
    fake = tmp_path / "bin"
    fake.mkdir()
    for qemu in ("qemu-system-x86_64", "qemu-system-i386"):
        (fake / qemu).write_text("#!/bin/sh\nexit 0\n")
        (fake / qemu).chmod(0o755)
    disk, vmtmp = tmp_path / "disky.qcow2", tmp_path / "vmtmp"
    vmtmp.mkdir()
    made = subprocess.run(
        [str(vm / "bin" / "run-disky-vm")], capture_output=True, text=True, check=False,
        env=dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}", NIX_DISK_IMAGE=str(disk),
                 TMPDIR=str(vmtmp), USE_TMPDIR="1"))
    assert made.returncode == 0, made.stderr
    raw = tmp_path / "disky.raw"
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(disk), str(raw)],
                   check=True)
    dumpe2fs = shutil.which("dumpe2fs", path=f"{os.environ['PATH']}:/usr/sbin:/sbin")
    assert dumpe2fs is not None
    header = subprocess.run([dumpe2fs, "-h", str(raw)], capture_output=True, text=True,
                            check=True).stdout
    assert re.search(r"^Filesystem volume name:\s+nixos$", header, re.M)
    assert "has_journal" in header and "extent" in header  # ext4, not ext2
    fields = dict(re.findall(r"^(Block count|Block size):\s+(\d+)$", header, re.M))
    assert int(fields["Block count"]) * int(fields["Block size"]) == 64 << 20  # diskSize
    assert list(vmtmp.iterdir()) == [vmtmp / "xchg"]  # the raw image made on the way is gone


def test_poweroff_stops_qemu_and_the_disk_persists(machines: Machines, launcher: Launcher) -> None:
    vm = machines.write("offy", """{
      networking.hostName = "offy";
      virtualisation.graphics = false;
      systemd.services.stopper = {
        wantedBy = [ "multi-user.target" ];
        script = ''
          if [ -e /var/lib/booted-before ]; then echo second-boot; else echo first-boot; fi
          touch /var/lib/booted-before
          sleep 1
          poweroff
        '';
      };
    }""").build()
    first = launcher.start_vm(vm, "offy")
    first.wait_for("stopper: first-boot", BOOT_TIMEOUT)
    assert first.wait_exit(60) == 0
    assert "reboot: Power down" in first.console()
    assert (launcher.root / "offy-run" / "offy.qcow2").exists()  # ./<host>.qcow2 by default

    second = launcher.start_vm(vm, "offy")
    second.wait_for("stopper: second-boot", BOOT_TIMEOUT)
    assert second.wait_exit(60) == 0


def test_two_machines_on_one_switch_ping_by_name(machines: Machines, launcher: Launcher) -> None:
    def machine(name: str, number: int, other: str) -> Path:
        return machines.write(name, f"""{{
          networking.hostName = "{name}";
          virtualisation.graphics = false;
          virtualisation.diskImage = null;
          networking.interfaces.eth1.ipv4.addresses =
            [ {{ address = "192.168.1.{number}"; prefixLength = 24; }} ];
          networking.extraHosts = ''
            192.168.1.1 alpha
            192.168.1.2 beta
          '';
          virtualisation.qemu.options = [
            "-device virtio-net-pci,netdev=vlan1,mac=52:54:00:12:01:0{number}"
            ''-netdev vde,id=vlan1,sock="$QEMU_VDE_SOCKET_1"''
          ];
          systemd.services.pinger = {{
            wantedBy = [ "multi-user.target" ];
            script = ''
              for i in $(seq 60); do
                if ping -c 1 -W 1 {other} > /dev/null; then
                  echo "reached {other} at $(ping -c 1 {other} | head -n 1)"; exit 0
                fi
                sleep 1
              done
              echo "could not reach {other}"
            '';
          }};
        }}""").build()

    alpha, beta = machine("alpha", 1, "beta"), machine("beta", 2, "alpha")
    sock = launcher.start_switch("vlan1")
    env = {"QEMU_VDE_SOCKET_1": str(sock)}
    a = launcher.start_vm(alpha, "alpha", env)
    b = launcher.start_vm(beta, "beta", env)
    print(f"alpha login after {a.wait_for('alpha login:', BOOT_TIMEOUT):.1f}s,"
          f" beta after {b.wait_for('beta login:', BOOT_TIMEOUT):.1f}s")
    a.wait_for("pinger: reached beta at PING beta (192.168.1.2)", 60)
    b.wait_for("pinger: reached alpha at PING alpha (192.168.1.1)", 60)


def test_hostPlatform_machines_of_both_systems_boot(
    machines: Machines, launcher: Launcher
) -> None:
    runs = {}
    for name, platform in (("p32", "i686-linux"), ("p64", "x86_64-linux")):
        vm = machines.write(name, f"""{{ pkgs, ... }}: {{
          networking.hostName = "{name}";
          nixpkgs.hostPlatform = "{platform}";
          virtualisation.graphics = false;
          virtualisation.diskImage = null;
          systemd.services.arch = {{
            wantedBy = [ "multi-user.target" ];
            serviceConfig.Type = "oneshot";
            path = [ pkgs.iptables ];
            script = ''
              echo machine=$(uname -m)
              echo "firewall: $(iptables -S nixos-fw | head -1)"
            '';
          }};
        }}""").build()
        runs[name] = launcher.start_vm(vm, name)
    runs["p32"].wait_for("arch: machine=i686", BOOT_TIMEOUT)
    runs["p64"].wait_for("arch: machine=x86_64", BOOT_TIMEOUT)
    # the firewall (on by default, iptables as in NixOS) is loaded on both kernels
    for run in runs.values():
        run.wait_for("arch: firewall: -N nixos-fw", 30)


def test_machines_named_by_system_name_start_including_an_empty_hostName(
    machines: Machines, launcher: Launcher
) -> None:
    # NixOS: run-${system.name}-vm; system.name is "unnamed" for an empty hostName
    unnamed = machines.write("nameless", """{
      networking.hostName = "";
      virtualisation.graphics = false;
      virtualisation.diskImage = null;
    }""").build()
    custom = machines.write("custom", """{
      networking.hostName = "host";
      system.name = "custom";
      virtualisation.graphics = false;
      virtualisation.diskImage = null;
    }""").build()
    a = launcher.start_vm(unnamed, "unnamed")
    b = launcher.start_vm(custom, "custom")
    a.wait_for("tinyos: unnamed reached multi-user.target", BOOT_TIMEOUT)
    b.wait_for("tinyos: custom reached multi-user.target", BOOT_TIMEOUT)
    b.wait_for("host login:", 30)
