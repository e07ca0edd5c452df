"""bin/run-vms run for real (bash, vde_switch) against stand-in VM scripts.

A stand-in honours the VM script contract the way a test needs: it prints
its environment to stdout (so to the machine's log), creates its disk image
as NixOS's script does, starts a child (to check that process groups are
stopped whole) and waits. The end-to-end test with real QEMU lives elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nixvms.network import Machine, Network
from nixvms.render import render_run_vms

pytestmark = pytest.mark.skipif(
    shutil.which("vde_switch") is None or shutil.which("setsid") is None,
    reason="needs vde_switch (vde2) and setsid (util-linux)",
)

STANDIN = r"""#!/usr/bin/env bash
echo "TMPDIR=$TMPDIR"
echo "USE_TMPDIR=$USE_TMPDIR"
echo "NIX_DISK_IMAGE=$NIX_DISK_IMAGE"
echo "QEMU_NET_OPTS=$QEMU_NET_OPTS"
echo "QEMU_OPTS=$QEMU_OPTS"
echo "QEMU_VDE_SOCKET_1=${QEMU_VDE_SOCKET_1:-}"
echo "QEMU_VDE_SOCKET_2=${QEMU_VDE_SOCKET_2:-}"
echo "PWD=$PWD"
if [ -e "$NIX_DISK_IMAGE" ]; then echo "DISK=old"; else echo "DISK=new"; : >"$NIX_DISK_IMAGE"; fi
read -r line || echo "STDIN=eof"
"""

SLEEPER = 'sleep 1000 &\necho "CHILD=$!"\necho "VM=$$"\nwait\n'


def is_alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X", "x")


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


@dataclass
class Net:
    """A rendered run-vms over stand-in VMs, and a short state directory."""

    root: Path
    state: Path
    script: Path
    names: list[str]
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items()
            if not k.startswith(("QEMU_", "NIXVMS_")) and k not in ("DISPLAY", "WAYLAND_DISPLAY")
        }
        env["NIXVMS_STOP_TIMEOUT"] = "3"
        env.update(extra)
        return env

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(self.script), "--state-dir", str(self.state), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=self.env(**env),
            cwd=self.root,
            check=False,
        )

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """run-vms in the foreground, its output to files out and err."""
        proc = subprocess.Popen(
            ["bash", str(self.script), "--state-dir", str(self.state), *args],
            stdout=(self.root / "out").open("w"),
            stderr=(self.root / "err").open("w"),
            text=True,
            env=self.env(**env),
            cwd=self.root,
        )
        self.procs.append(proc)
        return proc

    def out(self) -> str:
        return (self.root / "out").read_text()

    def err(self) -> str:
        return (self.root / "err").read_text()

    def log(self, name: str) -> str:
        path = self.state / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def log_value(self, name: str, key: str) -> str:
        match = re.search(rf"^{key}=(.*)$", self.log(name), re.MULTILINE)
        assert match, f"{key} not in {name}'s log: {self.log(name)!r}"
        return match.group(1)

    def wait_running(self) -> None:
        wait_until(
            lambda: (
                all("CHILD=" in self.log(n) for n in self.names)
                and (self.root / "out").exists()
                and "Ctrl-C stops the network" in self.out()
            ),
            what="the network to run",
        )

    def pidfile_pids(self) -> dict[str, int]:
        pids = {}
        for f in (self.state / "run-vms.d").glob("*.pid"):
            pids[f.stem] = int(f.read_text().split()[0])
        return pids

    def all_pids(self) -> list[int]:
        """Every process of the network: VMs, their children, switches."""
        pids = [p for k, p in self.pidfile_pids().items() if k != "run-vms"]
        for name in self.names:
            if "CHILD=" in self.log(name):
                pids.append(int(self.log_value(name, "CHILD")))
        return pids

    def ports(self) -> dict[str, int]:
        lines = (self.state / "run-vms.d" / "ports").read_text().splitlines()
        return {line.split()[0]: int(line.split()[1]) for line in lines}


def make_standin(root: Path, name: str, body: str) -> str:
    vm = root / f"vm {name}'s"
    (vm / "bin").mkdir(parents=True, exist_ok=True)
    script = vm / "bin" / f"run-{name}-vm"
    script.write_text(STANDIN + body)
    script.chmod(0o755)
    return str(vm)


def make_net(
    root: Path,
    state: Path,
    machines: dict[str, tuple[int, ...]],
    bodies: dict[str, str] | None = None,
    targets: dict[str, str] | None = None,
    ssh_key: str | None = None,
    vde_switch: str = "vde_switch",
    vm_roots: dict[str, Path] | None = None,
) -> Net:
    """run-vms for these machines (name -> VLANs); stand-ins live under root
    unless vm_roots names another directory for a machine."""
    bodies = bodies or {}
    targets = targets or {}
    vm_roots = vm_roots or {}
    network = Network(
        tuple(
            Machine(
                name=name,
                number=i,
                system="x86_64-linux",
                host_name=name,
                target_host=targets.get(name),
                vlans=vlans,
                vm=make_standin(vm_roots.get(name, root), name, bodies.get(name, SLEEPER)),
            )
            for i, (name, vlans) in enumerate(sorted(machines.items()), start=1)
        )
    )
    script = root / "run-vms"
    script.write_text(render_run_vms(network, ssh_key=ssh_key, vde_switch=vde_switch))
    script.chmod(0o755)
    return Net(root=root, state=state, script=script, names=sorted(machines))


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: unix socket paths have at most 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="rv-"))
    yield path
    # Never leave a process behind, even when a test failed half-way.
    for f in path.glob("**/run-vms.d/*.pid"):
        try:
            pid_text, start = f.read_text().split()
            pid = int(pid_text)
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (OSError, ValueError):
            continue
        if stat.rsplit(")", 1)[1].split()[19] != start:
            continue  # not the process that was recorded
        targets = (pid,) if f.name == "run-vms.pid" else (-pid, pid)
        for target in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(target, signal.SIGKILL)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def net(tmp_path: Path, short_dir: Path) -> Iterator[Net]:
    n = make_net(
        tmp_path,
        short_dir / "st ate",
        {"alpha": (1,), "beta": (1, 2)},
        targets={"alpha": "alpha.example.net"},
        ssh_key=str(tmp_path / "key dir" / "id_ed25519"),
    )
    yield n
    for proc in n.procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def stop(net: Net, proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


def test_switches_answer_on_their_control_sockets(net: Net) -> None:
    proc = net.start()
    net.wait_running()
    for vlan in (1, 2):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(net.state / f"vde{vlan}.ctl" / "ctl"))
    assert stop(net, proc) == 0


def test_each_vm_gets_the_contract_environment_and_its_output_goes_to_its_log(
    net: Net,
) -> None:
    proc = net.start()
    net.wait_running()
    ports = net.ports()
    for name in net.names:
        home = net.state / name
        assert net.log_value(name, "TMPDIR") == str(home)
        assert net.log_value(name, "USE_TMPDIR") == "1"
        assert net.log_value(name, "PWD") == str(home)
        assert net.log_value(name, "NIX_DISK_IMAGE") == str(home / f"{name}.qcow2")
        assert net.log_value(name, "QEMU_VDE_SOCKET_1") == str(net.state / "vde1.ctl")
        assert net.log_value(name, "QEMU_NET_OPTS") == f"hostfwd=tcp:127.0.0.1:{ports[name]}-:22"
        assert net.log_value(name, "STDIN") == "eof"
    assert net.log_value("beta", "QEMU_VDE_SOCKET_2") == str(net.state / "vde2.ctl")
    assert stop(net, proc) == 0


def test_ssh_config_has_an_entry_per_machine_and_target_host(net: Net) -> None:
    proc = net.start()
    net.wait_running()
    ports = net.ports()
    assert len(set(ports.values())) == 2
    config = (net.state / "ssh_config").read_text()
    key = net.root / "key dir" / "id_ed25519"
    for name, hosts in (("alpha", "alpha alpha.example.net"), ("beta", "beta")):
        entry = config.split(f"\nHost {hosts}\n", 1)[1].split("\nHost ", 1)[0]
        assert "  HostName 127.0.0.1\n" in entry
        assert f"  Port {ports[name]}\n" in entry
        assert "  User root\n" in entry
        assert f'  IdentityFile "{key}"\n' in entry
        assert "  StrictHostKeyChecking no\n" in entry
        assert "  UserKnownHostsFile /dev/null\n" in entry
        assert "  LogLevel ERROR\n" in entry
    assert stop(net, proc) == 0


def test_ssh_config_names_no_identity_file_without_a_key(tmp_path: Path, short_dir: Path) -> None:
    n = make_net(tmp_path, short_dir / "s", {"solo": (1,)})
    result = n.run("--detach")
    assert result.returncode == 0, result.stderr
    assert "IdentityFile" not in (n.state / "ssh_config").read_text()
    assert n.run("--stop").returncode == 0


def test_table_lists_machine_ip_port_target_and_log(net: Net) -> None:
    proc = net.start()
    net.wait_running()
    ports = net.ports()
    lines = net.out().splitlines()
    assert lines[0].split() == ["MACHINE", "IP", "SSH", "TARGETHOST", "LOG"]
    assert lines[1].split(None, 4) == [
        "alpha",
        "192.168.1.1",
        str(ports["alpha"]),
        "alpha.example.net",
        str(net.state / "alpha.log"),
    ]
    assert lines[2].split(None, 4) == [
        "beta",
        "192.168.1.2",
        str(ports["beta"]),
        "-",
        str(net.state / "beta.log"),
    ]
    assert stop(net, proc) == 0


def test_sigterm_leaves_no_process_of_the_network_alive(net: Net) -> None:
    proc = net.start()
    net.wait_running()
    pids = net.all_pids()
    assert len(pids) == 6  # 2 VMs, their 2 children, 2 switches
    assert all(is_alive(p) for p in pids)
    assert stop(net, proc) == 0
    assert [p for p in pids if is_alive(p)] == []
    assert net.pidfile_pids() == {}
    assert not (net.state / "vde1.ctl").exists()
    assert not (net.state / "ssh_config").exists()


def test_sigint_stops_the_network_like_ctrl_c(net: Net) -> None:
    proc = net.start()
    net.wait_running()
    pids = net.all_pids()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    assert [p for p in pids if is_alive(p)] == []


def test_a_vm_that_ignores_sigterm_is_killed(tmp_path: Path, short_dir: Path) -> None:
    n = make_net(
        tmp_path,
        short_dir / "s",
        {"stubborn": (1,)},
        bodies={"stubborn": "trap '' TERM\n" + SLEEPER},
    )
    proc = n.start(NIXVMS_STOP_TIMEOUT="1")
    n.wait_running()
    pids = n.all_pids()
    assert stop(n, proc) == 0
    assert [p for p in pids if is_alive(p)] == []
    assert "did not stop within 1s; killing it" in n.err()


def test_a_dying_vm_stops_the_rest_and_exits_nonzero_naming_it(
    tmp_path: Path, short_dir: Path
) -> None:
    n = make_net(
        tmp_path,
        short_dir / "s",
        {"good": (1,), "bad": (1,)},
        bodies={"bad": 'echo "CHILD=$$"\nsleep 1\necho "kernel panic"\nexit 3\n'},
    )
    proc = n.start()
    wait_until(lambda: "CHILD=" in n.log("good"), what="good to start")
    pids = n.all_pids()
    assert proc.wait(timeout=30) == 1
    err = n.err()
    assert f"machine bad stopped (exit status 3); its log: {n.state / 'bad.log'}" in err
    assert "kernel panic" in err
    assert [p for p in pids if is_alive(p)] == []


def test_detach_leaves_the_network_running_and_stop_stops_it(net: Net) -> None:
    result = net.run("--detach")
    assert result.returncode == 0, result.stderr
    assert "--stop" in result.stdout
    pids = net.all_pids()
    assert len(pids) == 6
    assert all(is_alive(p) for p in pids)
    stopped = net.run("--stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped 2 VM(s) and 2 switch(es)" in stopped.stderr
    assert not (net.state / "ssh_config").exists()
    assert [p for p in pids if is_alive(p)] == []
    assert net.pidfile_pids() == {}


def test_stop_with_nothing_running_says_so(net: Net) -> None:
    result = net.run("--stop")
    assert result.returncode == 0
    assert "nothing" in result.stderr


def test_stop_asks_a_foreground_run_vms_to_stop(net: Net) -> None:
    proc = net.start()
    net.wait_running()
    pids = net.all_pids()
    stopped = net.run("--stop")
    assert stopped.returncode == 0, stopped.stderr
    assert proc.wait(timeout=30) == 0
    assert [p for p in pids if is_alive(p)] == []


def test_start_is_refused_while_the_network_runs(net: Net) -> None:
    assert net.run("--detach").returncode == 0
    again = net.run("--detach")
    assert again.returncode == 1
    assert "already running" in again.stderr and "--stop" in again.stderr
    assert net.run("--stop").returncode == 0


def test_stop_cleans_up_after_a_killed_run_vms(net: Net) -> None:
    proc = net.start()
    net.wait_running()
    pids = net.all_pids()
    proc.kill()
    proc.wait()
    assert all(is_alive(p) for p in pids)
    assert net.run("--stop").returncode == 0
    assert [p for p in pids if is_alive(p)] == []


def test_stale_disk_is_reported_naming_the_machine_and_fresh(
    tmp_path: Path, short_dir: Path
) -> None:
    state = short_dir / "s"
    first = make_net(tmp_path / "v1", state, {"a": (1,), "b": (1,)})
    assert first.run("--detach").returncode == 0
    assert first.run("--stop").returncode == 0
    assert (state / "a" / "vm-path").read_text() == f"{tmp_path / 'v1'}/vm a's\n"
    # A rebuild changed a's VM only.
    second = make_net(
        tmp_path / "v2", state, {"a": (1,), "b": (1,)}, vm_roots={"b": tmp_path / "v1"}
    )
    result = second.run("--detach")
    assert result.returncode == 0, result.stderr
    assert "warning: machine a: its disk" in result.stderr
    assert "--fresh=a" in result.stderr
    assert "machine b" not in result.stderr
    assert second.log_value("a", "DISK") == "old"
    assert second.run("--stop").returncode == 0


def test_fresh_starts_the_machine_from_a_new_disk(tmp_path: Path, short_dir: Path) -> None:
    state = short_dir / "s"
    first = make_net(tmp_path / "v1", state, {"a": (1,)})
    assert first.run("--detach").returncode == 0
    assert first.run("--stop").returncode == 0
    second = make_net(tmp_path / "v2", state, {"a": (1,)})
    result = second.run("--detach", "--fresh=a")
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    assert "machine a: starting from a new disk" in result.stderr
    assert second.log_value("a", "DISK") == "new"
    assert (state / "a" / "vm-path").read_text() == f"{tmp_path / 'v2'}/vm a's\n"
    assert second.run("--stop").returncode == 0
    again = second.run("--detach")
    assert "warning" not in again.stderr
    assert second.log_value("a", "DISK") == "old"
    assert second.run("--stop").returncode == 0


def test_qemu_opts_pass_through_with_the_accelerator(net: Net) -> None:
    result = net.run("--detach", QEMU_OPTS="-m 512", NIXVMS_ACCEL="tcg", DISPLAY=":0")
    assert result.returncode == 0, result.stderr
    assert net.log_value("alpha", "QEMU_OPTS") == "-m 512 -machine accel=tcg"
    assert result.stderr.count("acceleration: tcg") == 1
    assert net.run("--stop").returncode == 0


def test_without_a_display_vms_run_nographic(net: Net) -> None:
    result = net.run("--detach", QEMU_OPTS="-m 512")
    assert result.returncode == 0, result.stderr
    assert net.log_value("alpha", "QEMU_OPTS") == "-nographic -m 512"
    assert net.run("--stop").returncode == 0


def test_without_an_accelerator_qemu_opts_are_untouched(net: Net) -> None:
    result = net.run("--detach", QEMU_OPTS="-m 512", QEMU_NET_OPTS="restrict=on", DISPLAY=":0")
    assert result.returncode == 0, result.stderr
    assert net.log_value("alpha", "QEMU_OPTS") == "-m 512"
    port = net.ports()["alpha"]
    assert (
        net.log_value("alpha", "QEMU_NET_OPTS") == f"hostfwd=tcp:127.0.0.1:{port}-:22,restrict=on"
    )
    assert result.stderr.count("acceleration:") == 1
    assert net.run("--stop").returncode == 0


def test_ssh_port_skips_a_port_in_use(net: Net) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        base = busy.getsockname()[1]
        result = net.run("--detach", NIXVMS_SSH_PORT_BASE=str(base))
        assert result.returncode == 0, result.stderr
        ports = sorted(net.ports().values())
        assert base < ports[0] < ports[1]
    assert net.run("--stop").returncode == 0


def test_missing_vm_script_is_an_error_naming_the_machine(net: Net) -> None:
    shutil.rmtree(net.root / "vm beta's")
    result = net.run("--detach")
    assert result.returncode == 1
    assert "machine beta: its VM script" in result.stderr
    assert net.pidfile_pids() == {}


def test_a_switch_that_fails_to_start_is_reported(tmp_path: Path, short_dir: Path) -> None:
    fake = tmp_path / "fake_switch"
    fake.write_text("#!/bin/sh\necho 'cannot open socket' >&2\nexit 1\n")
    fake.chmod(0o755)
    n = make_net(tmp_path, short_dir / "s", {"a": (1,)}, vde_switch=str(fake))
    result = n.run()
    assert result.returncode == 1
    assert "the switch of VLAN 1 stopped at start" in result.stderr
    assert "cannot open socket" in result.stderr
    assert n.log("a") == ""
    assert n.pidfile_pids() == {}


def test_state_dir_too_long_for_unix_sockets_is_an_error(net: Net) -> None:
    net.state = net.state / ("x" * 100)
    result = net.run("--detach")
    assert result.returncode == 1
    assert "too long" in result.stderr


def test_default_state_dir_is_vms_state_in_the_current_directory(
    tmp_path: Path, short_dir: Path
) -> None:
    n = make_net(tmp_path, short_dir, {"a": (1,)})
    env = n.env()
    result = subprocess.run(
        ["bash", str(n.script), "--detach"],
        cwd=short_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (short_dir / "vms-state" / "ssh_config").exists()
    assert (short_dir / "vms-state" / "a.log").exists()
    stopped = subprocess.run(
        ["bash", str(n.script), "--stop"],
        cwd=short_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped 1 VM(s)" in stopped.stderr


def test_detach_reports_a_vm_that_fails_at_start(tmp_path: Path, short_dir: Path) -> None:
    n = make_net(
        tmp_path,
        short_dir / "s",
        {"good": (1,), "bad": (1,)},
        bodies={"bad": 'echo "could not bind port" >&2\nexit 1\n'},
    )
    result = n.run("--detach")
    assert result.returncode == 1
    assert "machine bad stopped (exit status 1)" in result.stderr
    assert "could not bind port" in result.stderr
    pids = n.all_pids()
    assert [p for p in pids if is_alive(p)] == []
    assert n.pidfile_pids() == {}


def test_a_dying_switch_stops_the_network_naming_its_vlan(net: Net) -> None:
    proc = net.start()
    net.wait_running()
    pids = net.all_pids()
    os.kill(net.pidfile_pids()["vde2"], signal.SIGKILL)
    assert proc.wait(timeout=30) == 1
    assert "the switch of VLAN 2 stopped" in net.err()
    assert [p for p in pids if is_alive(p)] == []


def test_a_network_without_vlans_starts_no_switch(tmp_path: Path, short_dir: Path) -> None:
    n = make_net(tmp_path, short_dir / "s", {"lonely": ()})
    result = n.run("--detach")
    assert result.returncode == 0, result.stderr
    assert list(n.pidfile_pids()) == ["vm-lonely"]
    assert n.log_value("lonely", "QEMU_VDE_SOCKET_1") == ""
    assert result.stdout.splitlines()[1].split()[:2] == ["lonely", "-"]
    assert n.run("--stop").returncode == 0


def test_a_vm_dying_at_once_is_noticed_in_the_foreground(tmp_path: Path, short_dir: Path) -> None:
    n = make_net(tmp_path, short_dir / "s", {"good": (1,), "bad": (1,)}, bodies={"bad": "exit 4\n"})
    proc = n.start()
    assert proc.wait(timeout=30) == 1
    assert "machine bad stopped (exit status 4)" in n.err()
    assert [p for p in n.all_pids() if is_alive(p)] == []
