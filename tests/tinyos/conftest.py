"""Helpers for the tinyos OS and boot tests: machine configurations written as
Nix files, evaluated and built with the real Nix, booted with the real QEMU."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nixvms.nix import TINYOS_MANIFEST_PREFIX, tinyos_manifest

REPO = Path(__file__).resolve().parents[2]
TINYOS = REPO / "nixvms" / "tinyos"
# Where `nixvms setup` wrote the manifest of Debian files (nixvms passes it
# to tinyos as <nixvms-tinyos-debs>; so does run_nix).
MANIFEST = tinyos_manifest()


@dataclass
class NixResult:
    code: int
    stdout: str
    stderr: str


def run_nix(*args: str, timeout: float = 600, manifest: bool = True) -> NixResult:
    command = list(args)
    if manifest and command[0] != "nix-store":
        command[1:1] = ["-I", f"{TINYOS_MANIFEST_PREFIX}={MANIFEST}"]
    proc = subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout)
    return NixResult(proc.returncode, proc.stdout, proc.stderr)


@dataclass
class Machine:
    """One tinyos machine configuration, as a Nix file evaluating to
    eval-config.nix's result (`config`, `options`, `pkgs`)."""

    path: Path
    tinyos: Path = TINYOS

    def instantiate(self, attr: str = "config.system.build.vm") -> str:
        res = run_nix("nix-instantiate", str(self.path), "-A", attr)
        assert res.code == 0, res.stderr
        return res.stdout.strip().splitlines()[-1]

    def value(self, attr: str) -> Any:
        res = run_nix("nix-instantiate", "--eval", "--strict", "--json", str(self.path), "-A", attr)
        assert res.code == 0, res.stderr
        return json.loads(res.stdout)

    def error(self, attr: str = "config.system.build.vm") -> str:
        res = run_nix("nix-instantiate", str(self.path), "-A", attr)
        assert res.code != 0, f"expected {attr} to fail, got {res.stdout}"
        return res.stderr

    def build(self, attr: str = "config.system.build.vm") -> Path:
        link = self.path.with_suffix("." + attr.replace(".", "-"))
        res = run_nix("nix-build", str(self.path), "-A", attr, "-o", str(link))
        assert res.code == 0, res.stderr
        return link


@dataclass
class Machines:
    root: Path
    tinyos: Path = TINYOS

    def write(self, name: str, module: str, *, vm: bool = True) -> Machine:
        """A machine from one module's Nix text (an attribute set or a function)."""
        qemu_vm = f"{self.tinyos}/nixos/modules/virtualisation/qemu-vm.nix" if vm else ""
        (self.root / f"{name}-module.nix").write_text(module)
        path = self.root / f"{name}.nix"
        path.write_text(
            f"import {self.tinyos}/nixos/lib/eval-config.nix {{\n"
            f"  modules = [ {qemu_vm} ./{name}-module.nix ];\n"
            "}\n"
        )
        return Machine(path, self.tinyos)


@pytest.fixture(scope="session")
def debs_ready() -> None:
    if not MANIFEST.exists():
        pytest.fail(f"{MANIFEST} is missing: run scripts/setup (as root) first")


@pytest.fixture
def machines(tmp_path: Path, debs_ready: None) -> Machines:
    return Machines(tmp_path)


# ---- booting ---------------------------------------------------------------


@dataclass
class VM:
    """A running VM (its run-<host>-vm script), console captured to a file."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.monotonic)

    def console(self) -> str:
        return self.log.read_bytes().decode("utf-8", "replace")

    def wait_for(self, text: str, timeout: float = 90) -> float:
        """Seconds from start until `text` appeared on the console."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.console():
                return time.monotonic() - self.started
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(
            f"{self.name}: {text!r} not on the console after {timeout}s"
            f" (qemu exit {self.proc.poll()}):\n{self.console()[-3000:]}"
        )

    def wait_exit(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout=timeout)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@dataclass
class Launcher:
    root: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_vm(self, vm: Path, name: str, env: dict[str, str] | None = None) -> VM:
        workdir = self.root / f"{name}-run"
        workdir.mkdir(exist_ok=True)
        log = self.root / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(vm / "bin" / f"run-{name}-vm")],
                cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})}, start_new_session=True,
            )
        self.procs.append(proc)
        return VM(name, proc, log)

    def start_switch(self, name: str) -> Path:
        """A vde_switch hub in the foreground; its stdin is kept open (it
        exits on EOF there)."""
        assert shutil.which("vde_switch"), "vde_switch not installed (apt-get install vde2)"
        sock = self.root / f"{name}.sock"
        proc = subprocess.Popen(
            ["vde_switch", "--sock", str(sock), "--hub"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.procs.append(proc)
        deadline = time.monotonic() + 10
        while not (sock / "ctl").exists():
            assert proc.poll() is None, "vde_switch exited"
            assert time.monotonic() < deadline, "vde_switch did not create its socket"
            time.sleep(0.05)
        return sock

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            _stop(proc)
            if proc.stdin:
                proc.stdin.close()


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    assert shutil.which("qemu-system-x86_64"), "qemu-system-x86_64 not installed"
    launch = Launcher(tmp_path)
    try:
        yield launch
    finally:
        launch.stop_all()


# Module-scoped versions: a network booted once and read by several tests.


@pytest.fixture(scope="module")
def module_machines(tmp_path_factory: pytest.TempPathFactory, debs_ready: None) -> Machines:
    return Machines(tmp_path_factory.mktemp("machines"))


@pytest.fixture(scope="module")
def module_launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    assert shutil.which("qemu-system-x86_64"), "qemu-system-x86_64 not installed"
    launch = Launcher(tmp_path_factory.mktemp("vms"))
    try:
        yield launch
    finally:
        launch.stop_all()


def vlan_nics(number: int, vlans: list[int]) -> str:
    """Nix text: the QEMU options of one NIC per VLAN (eth1, eth2, ...) with
    the test network's MAC 52:54:00:12:vv:nn, as nixvms's network module adds them."""
    opts = []
    for k, vlan in enumerate(vlans, start=1):
        mac = f"52:54:00:12:{vlan:02x}:{number:02x}"
        opts.append(f'"-device virtio-net-pci,netdev=vlan{k},mac={mac}"')
        opts.append(f"''-netdev vde,id=vlan{k},sock=\"$QEMU_VDE_SOCKET_{vlan}\"''")
    return "virtualisation.qemu.options = [ " + " ".join(opts) + " ];"
