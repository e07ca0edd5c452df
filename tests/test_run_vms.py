"""result/bin/run-vms (the launcher and the supervisor) run for real, with
real vde_switch, against stand-in VM scripts.

A stand-in honours the VM script contract the way a test needs: it prints
its environment to its output (<state>/<m>.out), writes a login prompt to
the serial console log QEMU would write (the chardev's logfile, an fd named
in QEMU_OPTS), creates its disk image as NixOS's script does, starts a child
(to check that process groups are stopped whole) and waits. The same
behaviours with real QEMU are in test_lifecycle.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nixvms.render import render_launcher
from nixvms.supervisor import runstate, statedir
from nixvms.supervisor.runstate import MachineState, Phase, RunState

REPO = Path(__file__).resolve().parent.parent
SUPERVISOR = REPO / "nixvms" / "supervisor"

pytestmark = [
    pytest.mark.processes,
    pytest.mark.skipif(shutil.which("vde_switch") is None, reason="needs vde_switch (vde2)"),
]

STANDIN = r"""#!/usr/bin/env bash
fd=$(printf '%s\n' "$QEMU_OPTS" | sed -n 's|.*logfile=/dev/fd/\([0-9]*\).*|\1|p')
console=/dev/fd/$fd
echo "TMPDIR=$TMPDIR"
echo "USE_TMPDIR=$USE_TMPDIR"
echo "NIX_DISK_IMAGE=$NIX_DISK_IMAGE"
echo "QEMU_NET_OPTS=$QEMU_NET_OPTS"
echo "QEMU_OPTS=$QEMU_OPTS"
echo "QEMU_KERNEL_PARAMS=$QEMU_KERNEL_PARAMS"
echo "QEMU_VDE_SOCKET_1=${QEMU_VDE_SOCKET_1:-}"
echo "QEMU_VDE_SOCKET_2=${QEMU_VDE_SOCKET_2:-}"
echo "PWD=$PWD"
if [ -e "$NIX_DISK_IMAGE" ]; then echo "DISK=old"; else echo "DISK=new"; : >"$NIX_DISK_IMAGE"; fi
read -r line || echo "STDIN=eof"
printf '\033[2J\033[?7lSeaBIOS booting\r\n' >>"$console"
"""

LOGIN = 'echo "$(basename "$TMPDIR") login:" >>"$console"\n'
SLEEPER = LOGIN + 'sleep 1000 &\necho "CHILD=$!"\necho "VM=$$"\nwait\n'


def is_alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper does not count)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat_line.rsplit(")", 1)[1].split()[0] not in ("Z", "X", "x")


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


def make_standin(root: Path, name: str, body: str) -> str:
    vm = root / f"vm {name}'s"
    (vm / "bin").mkdir(parents=True, exist_ok=True)
    script = vm / "bin" / f"run-{name}-vm"
    script.write_text(STANDIN + body)
    script.chmod(0o755)
    return str(vm)


def make_network_dir(root: Path, machines: dict[str, tuple[int, ...]], *,
                     bodies: dict[str, str] | None = None,
                     targets: dict[str, str] | None = None,
                     ssh_key: str | None = None, state_dir: str | None = None) -> Path:
    """A network directory as network-dir.nix makes it, over stand-ins."""
    bodies = bodies or {}
    targets = targets or {}
    net = root / "net"
    (net / "bin").mkdir(parents=True)
    (net / "bin" / "run-vms").write_text(render_launcher("run-vms"))
    (net / "bin" / "run-vms").chmod(0o755)
    (net / "bin" / "nixos-run-vms").symlink_to("run-vms")
    lib = net / "lib" / "nixvms_supervisor"
    lib.mkdir(parents=True)
    for source in SUPERVISOR.glob("*.py"):
        shutil.copy(source, lib / source.name)
    data: dict[str, object] = {
        "machines": [
            {
                "name": name, "number": i, "hostName": name,
                "targetHost": targets.get(name),
                "vm": make_standin(root, name, bodies.get(name, SLEEPER)),
                "vlans": list(vlans),
                "addresses": [{"vlan": v, "interface": f"eth{k}", "ip": f"192.168.{v}.{i}"}
                              for k, v in enumerate(vlans, start=1)],
            }
            for i, (name, vlans) in enumerate(sorted(machines.items()), start=1)
        ],
        "vlans": sorted({v for vlans in machines.values() for v in vlans}),
    }
    if ssh_key:
        data["sshKey"] = ssh_key
    if state_dir:
        data["stateDir"] = state_dir
    (net / "network.json").write_text(json.dumps(data))
    return net


@dataclass
class Net:
    root: Path
    state: Path
    directory: Path
    names: list[str]
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def script(self) -> Path:
        return self.directory / "bin" / "run-vms"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QEMU_", "NIXVMS_"))}
        env["NIXVMS_STOP_TIMEOUT"] = "3"
        env["NIXVMS_ACCEL"] = "tcg"
        env.update(extra)
        return env

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.script), "--state-dir", str(self.state.parent), *args],
            capture_output=True, text=True, timeout=90, env=self.env(**env),
            cwd=self.root, check=False,
        )

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """run-vms in the foreground; its stderr goes to the file err."""
        proc = subprocess.Popen(
            [str(self.script), "--state-dir", str(self.state.parent), *args],
            stdout=subprocess.DEVNULL, stderr=(self.root / "err").open("w"), text=True,
            env=self.env(**env), cwd=self.root,
        )
        self.procs.append(proc)
        return proc

    def err(self) -> str:
        return (self.root / "err").read_text()

    def out(self, name: str) -> str:
        path = self.state / f"{name}.out"
        return path.read_text() if path.exists() else ""

    def value(self, name: str, key: str) -> str:
        match = re.search(rf"^{key}=(.*)$", self.out(name), re.MULTILINE)
        assert match, f"{key} not in {name}'s output: {self.out(name)!r}"
        return match.group(1)

    def state_file(self) -> RunState:
        state = runstate.load(statedir.prepare(self.state, create=False))
        assert state is not None, "no state file"
        return state

    def machine(self, name: str) -> MachineState:
        record = self.state_file().machine(name)
        assert record is not None
        return record

    def wait_ready(self) -> None:
        wait_until(lambda: (self.root / "err").exists()
                   and "Ctrl-C stops the network" in self.err(), what="the network to run")

    def all_pids(self) -> list[int]:
        """Every process of the network: supervisor, VMs, their children, switches."""
        data = self.state_file()
        pids = [data.supervisor.pid]
        pids += [s.process.pid for s in data.switches if s.process]
        for name in self.names:
            process = self.machine(name).process
            if process is not None:
                pids.append(process.pid)
            if "CHILD=" in self.out(name):
                pids.append(int(self.value(name, "CHILD")))
        return pids

    def ports(self) -> dict[str, int]:
        return {n: int(str(self.machine(n).ssh_port)) for n in self.names}


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="rv-"))
    yield path
    kill_recorded(path)
    shutil.rmtree(path, ignore_errors=True)


def kill_recorded(path: Path) -> None:
    """Never leave a process behind, even when a test failed half-way."""
    for state_file in path.glob("**/state.json"):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
            data = json.loads(state_file.read_text())["data"]
            pids = [data["supervisor"]["pid"]]
            pids += [(s.get("process") or {}).get("pid") for s in data.get("switches", [])]
            pids += [(m.get("process") or {}).get("pid")
                     for m in data.get("machines", {}).values()]
            for pid in pids:
                if isinstance(pid, int) and pid > 1:
                    for target in (-pid, pid):
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.kill(target, signal.SIGKILL)


def make_net(root: Path, state: Path, machines: dict[str, tuple[int, ...]],
             **kwargs: object) -> Net:
    """A network over stand-ins whose project state directory is `state` (run-vms's
    --state-dir): its running files are in state/run, Net.state."""
    directory = make_network_dir(root, machines, **kwargs)  # type: ignore[arg-type]
    return Net(root=root, state=state / "run", directory=directory, names=sorted(machines))


@pytest.fixture
def net(tmp_path: Path, short_dir: Path) -> Iterator[Net]:
    n = make_net(tmp_path, short_dir / "st ate", {"alpha": (1,), "beta": (1, 2)},
                 targets={"alpha": "alpha.example.net"},
                 ssh_key=str(tmp_path / "key dir" / "id_ed25519"))
    yield n
    for proc in n.procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout=30)


def test_switches_answer_on_their_control_sockets(net: Net) -> None:
    proc = net.start()
    net.wait_ready()
    sockets = Path(net.state_file().sockets)
    for vlan in ("1", "2"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(sockets / f"vde{vlan}.ctl" / "ctl"))
    assert stop(proc) in (0, 130)


def test_each_vm_gets_the_contract_environment(net: Net) -> None:
    proc = net.start(QEMU_KERNEL_PARAMS="quiet", QEMU_OPTS="-m 64")
    net.wait_ready()
    ports = net.ports()
    sockets = Path(net.state_file().sockets)
    for name in net.names:
        home = net.state / name
        assert net.value(name, "TMPDIR") == str(home)
        assert net.value(name, "USE_TMPDIR") == "1"
        assert net.value(name, "PWD") == str(home)
        assert net.value(name, "NIX_DISK_IMAGE") == str(home / f"{name}.qcow2")
        assert net.value(name, "QEMU_VDE_SOCKET_1") == str(sockets / "vde1.ctl")
        assert net.value(name, "QEMU_NET_OPTS") == f"hostfwd=tcp:127.0.0.1:{ports[name]}-:22"
        # TCG's own parameter first (accel.TCG_KERNEL_PARAMS), the user's after
        assert net.value(name, "QEMU_KERNEL_PARAMS") == "norandmaps quiet"
        assert net.value(name, "QEMU_OPTS").endswith("-machine accel=tcg -m 64")
        assert net.value(name, "STDIN") == "eof"
    assert net.value("beta", "QEMU_VDE_SOCKET_2") == str(sockets / "vde2.ctl")
    stop(proc)


def test_every_vm_gets_console_backdoor_and_monitor_sockets(net: Net) -> None:
    proc = net.start()
    net.wait_ready()
    sockets = Path(net.state_file().sockets)
    opts = net.value("alpha", "QEMU_OPTS")
    assert f"path={sockets}/alpha.console,server=on,wait=off,logfile=/dev/fd/" in opts
    assert "-serial chardev:nixvms-console" in opts
    assert "-device virtio-serial,ioeventfd=off -device virtconsole,chardev=shell" in opts
    assert f"-chardev socket,id=shell,path={sockets}/alpha.shell,server=on,wait=off" in opts
    assert f"-monitor unix:{sockets}/alpha.monitor,server=on,wait=off" in opts
    stop(proc)


def test_sockets_of_a_state_dir_with_a_space_go_to_a_short_private_directory(
        net: Net) -> None:
    proc = net.start()
    net.wait_ready()
    sockets = Path(net.state_file().sockets)
    assert " " in str(net.state)
    assert sockets.parent == Path(tempfile.gettempdir()) / f"nixvms-{os.geteuid()}"
    assert stat.S_IMODE(sockets.stat().st_mode) == 0o700
    stop(proc)


def test_ssh_config_has_an_entry_per_machine_and_target_host(net: Net) -> None:
    proc = net.start()
    net.wait_ready()
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
    stop(proc)


def test_ready_lines_name_each_machine(net: Net) -> None:
    proc = net.start()
    net.wait_ready()
    assert re.search(r"run-vms: alpha ready in \d+\.\d s", net.err())
    assert re.search(r"run-vms: beta ready in \d+\.\d s", net.err())
    stop(proc)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_to_run_vms_leaves_no_process_of_the_network(net: Net, sig: int) -> None:
    proc = net.start()
    net.wait_ready()
    pids = net.all_pids()
    assert len(pids) == 7  # supervisor, 2 VMs, their 2 children, 2 switches
    assert all(is_alive(p) for p in pids)
    stop(proc, sig)
    wait_until(lambda: not any(is_alive(p) for p in pids), what="every process to stop")
    assert not (net.state / "ssh_config").exists()
    assert net.run("--detach").returncode == 0  # nothing stops the next start
    assert net.run("--stop").returncode == 0


def test_kill_9_of_the_supervisor_kills_its_vms_and_switches(net: Net) -> None:
    assert net.run("--detach").returncode == 0
    pids = net.all_pids()
    state = net.state_file()
    vms_and_switches = [p.pid for n in net.names if (p := net.machine(n).process)]
    vms_and_switches += [s.process.pid for s in state.switches if s.process]
    os.kill(pids[0], signal.SIGKILL)
    wait_until(lambda: not any(is_alive(p) for p in vms_and_switches),
               what="the VMs and switches to die with their supervisor")
    assert net.run("--detach").returncode == 0, "the next start works"
    # ... and has killed what the stand-ins had started beside themselves.
    assert [p for p in pids if is_alive(p) and p not in net.all_pids()] == []
    assert net.run("--stop").returncode == 0


def test_a_vm_that_ignores_sigterm_is_killed(tmp_path: Path, short_dir: Path) -> None:
    n = make_net(tmp_path, short_dir / "s", {"stubborn": (1,)},
                 bodies={"stubborn": "trap '' TERM\n" + SLEEPER})
    assert n.run("--detach", NIXVMS_STOP_TIMEOUT="1").returncode == 0
    pids = n.all_pids()
    started = time.monotonic()
    assert n.run("--stop").returncode == 0
    assert time.monotonic() - started < 15
    assert [p for p in pids if is_alive(p)] == []


def test_a_dying_vm_is_reported_and_the_others_keep_running(
        tmp_path: Path, short_dir: Path) -> None:
    n = make_net(tmp_path, short_dir / "s", {"good": (1,), "bad": (1,)},
                 bodies={"bad": LOGIN + 'sleep 2\necho "kernel panic" >>"$console"\nexit 3\n'})
    proc = n.start()
    n.wait_ready()
    wait_until(lambda: "bad died" in n.err(), what="the death to be reported")
    assert "run-vms: bad died (exit status 3); its last console lines:" in n.err()
    assert "  | kernel panic" in n.err()
    assert proc.poll() is None
    assert n.machine("good").phase is Phase.RUNNING
    assert n.machine("bad").phase is Phase.DEAD
    assert n.machine("bad").exit_status == 3
    stop(proc)


def test_detach_leaves_the_network_running_and_stop_stops_it(net: Net) -> None:
    result = net.run("--detach")
    assert result.returncode == 0, result.stderr
    assert "running in the background" in result.stderr
    pids = net.all_pids()
    assert all(is_alive(p) for p in pids)
    result = net.run("--stop")
    assert result.returncode == 0, result.stderr
    assert "stopped alpha, beta" in result.stderr
    assert [p for p in pids if is_alive(p)] == []


def test_the_table_lists_every_machine_running_with_its_ports_and_forwards(net: Net) -> None:
    result = net.run("--detach", "--forward", "beta:18081:80")
    assert result.returncode == 0, result.stderr
    ports = net.ports()
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["MACHINE", "STATE", "IP", "SSH", "FORWARDS", "PID", "UPTIME", "DISK"]
    assert rows[1][:5] == ["alpha", "running", "192.168.1.1", str(ports["alpha"]), "-"]
    assert rows[2][:5] == ["beta", "running", "v1:192.168.1.2,v2:192.168.2.2",
                           str(ports["beta"]), "127.0.0.1:18081->80"]
    net.run("--stop")


def test_stop_with_nothing_running_says_so_and_exits_0(net: Net) -> None:
    result = net.run("--stop")
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        f"run-vms: no network is running from {net.state}; nothing to stop"]


def test_a_second_stop_has_nothing_to_do_and_exits_0(net: Net) -> None:
    assert net.run("--detach").returncode == 0
    assert net.run("--stop").returncode == 0
    again = net.run("--stop")
    assert again.returncode == 0
    assert again.stderr.splitlines() == [
        f"run-vms: no network is running from {net.state}; nothing to stop"]


def test_a_garbage_state_file_does_not_orphan_the_network(net: Net) -> None:
    assert net.run("--detach").returncode == 0
    pids = net.all_pids()
    (net.state / "state.json").write_text("garbage")
    status = net.run("--status")
    assert status.returncode == 1
    assert "its state file cannot be read" in status.stderr
    assert f"supervisor {pids[0]}" in status.stderr
    assert "already running" in net.run("--detach").stderr  # the lock still guards it
    stopped = net.run("--stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "was damaged; stopped the network's processes" in stopped.stderr
    assert [p for p in pids if is_alive(p)] == []
    assert net.run("--detach").returncode == 0, "the next start works"
    net.run("--stop")


def test_a_deleted_state_file_does_not_orphan_the_network(net: Net) -> None:
    assert net.run("--detach").returncode == 0
    pids = net.all_pids()
    (net.state / "state.json").unlink()
    status = net.run("--status")
    assert status.returncode == 1 and "its state file is missing" in status.stderr
    assert net.run("--stop").returncode == 0
    assert [p for p in pids if is_alive(p)] == []


def test_a_stale_record_never_signals_a_stranger_that_reuses_the_pid(net: Net) -> None:
    """A state file left from a crash names pids; the next start must not kill
    whatever runs under those numbers now (here: a process of its own group)."""
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        assert net.run("--detach").returncode == 0
        state = net.state_file()
        supervisor = state.supervisor
        os.kill(supervisor.pid, signal.SIGKILL)
        wait_until(lambda: not is_alive(supervisor.pid), what="the supervisor to die")
        # The crash's record, pointed at the stranger (as if its pid were reused).
        forged = dataclasses.replace(
            state, machines={name: dataclasses.replace(
                m, process=dataclasses.replace(m.process, pid=stranger.pid)
                if m.process else None) for name, m in state.machines.items()})
        runstate.save(statedir.prepare(net.state), forged)
        assert net.run("--detach").returncode == 0
        assert stranger.poll() is None, "the stranger was signalled"
        net.run("--stop")
    finally:
        stranger.kill()
        stranger.wait()


def test_start_is_refused_while_the_network_runs(net: Net) -> None:
    assert net.run("--detach").returncode == 0
    before = net.state_file()
    result = net.run("--detach")
    assert result.returncode == 1
    assert "a network is already running from" in result.stderr
    assert "nixvms stop" in result.stderr
    assert net.state_file() == before
    net.run("--stop")


def test_two_starts_at_the_same_instant_leave_exactly_one_network(net: Net) -> None:
    procs = [subprocess.Popen([str(net.script), "--state-dir", str(net.state.parent), "--detach"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=net.env(), cwd=net.root) for _ in range(2)]
    results = [(p.wait(timeout=60), p.communicate()[1]) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, err in results if code == 1)
    assert "already running" in loser
    pids = net.all_pids()
    assert all(is_alive(p) for p in pids)
    assert (net.state / "ssh_config").exists()
    assert net.run("--stop").returncode == 0
    assert [p for p in pids if is_alive(p)] == []


def test_stale_disk_is_reported_naming_the_machine_and_fresh(
        tmp_path: Path, short_dir: Path) -> None:
    n = make_net(tmp_path, short_dir / "s", {"solo": (1,)})
    assert n.run("--detach").returncode == 0
    assert n.run("--stop").returncode == 0
    state = n.state_file()
    older = dataclasses.replace(state.machines["solo"], disk_vm="/nix/store/older-vm")
    runstate.save(statedir.prepare(n.state),
                  dataclasses.replace(state, machines={**state.machines, "solo": older}))
    result = n.run("--detach")
    assert result.returncode == 0, result.stderr
    assert "solo: its disk was made by an older build (/nix/store/older-vm)" in result.stderr
    assert "--fresh solo" in result.stderr
    n.run("--stop")


def test_fresh_starts_the_machine_from_a_new_disk(tmp_path: Path, short_dir: Path) -> None:
    n = make_net(tmp_path, short_dir / "s", {"solo": (1,)})
    assert n.run("--detach").returncode == 0
    assert n.value("solo", "DISK") == "new"
    n.run("--stop")
    assert n.run("--detach").returncode == 0
    assert n.value("solo", "DISK") == "old"
    n.run("--stop")
    result = n.run("--detach", "--fresh", "solo")
    assert result.returncode == 0, result.stderr
    assert "solo: starting from a new disk" in result.stderr
    assert n.value("solo", "DISK") == "new"
    n.run("--stop")


def test_state_dir_and_its_files_are_private(net: Net) -> None:
    assert net.run("--detach").returncode == 0
    assert stat.S_IMODE(net.state.stat().st_mode) == 0o700
    for path in net.state.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    net.run("--stop")


def test_a_symlink_planted_in_the_state_dir_is_refused(net: Net, tmp_path: Path) -> None:
    net.state.mkdir(parents=True)
    target = tmp_path / "elsewhere"
    (net.state / "alpha.log").symlink_to(target)
    result = net.run("--detach")
    assert result.returncode == 1
    assert "alpha.log is a symlink" in result.stderr
    assert not target.exists()
    assert len(result.stderr.strip().splitlines()) <= 2


def test_a_state_dir_owned_by_another_user_is_refused(net: Net) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a directory to another user")
    net.state.mkdir(parents=True)
    os.chown(net.state, 65534, 65534)
    result = net.run("--detach")
    assert result.returncode == 1
    assert "belongs to uid 65534, not to you" in result.stderr


def test_a_state_dir_with_a_quote_a_space_and_a_command_works(
        tmp_path: Path, short_dir: Path) -> None:
    n = make_net(tmp_path, short_dir / "it's a $(touch pwned) dir", {"solo": (1,)})
    result = n.run("--detach")
    assert result.returncode == 0, result.stderr
    assert n.value("solo", "NIX_DISK_IMAGE") == str(n.state / "solo" / "solo.qcow2")
    assert "login:" in (n.state / "solo.log").read_text()
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
    n.run("--stop")


def test_missing_vm_script_is_an_error_naming_the_machine(net: Net) -> None:
    vm = json.loads((net.directory / "network.json").read_text())["machines"][0]["vm"]
    (Path(vm) / "bin" / "run-alpha-vm").unlink()
    result = net.run("--detach")
    assert result.returncode == 1
    assert "machine alpha: its VM script" in result.stderr
    assert "is missing or not executable" in result.stderr


def test_ports_that_run_out_are_one_error_before_anything_starts(net: Net) -> None:
    result = net.run("--detach", NIXVMS_SSH_PORT_BASE="65535")
    assert result.returncode == 1
    assert "ssh forward(s) from 65535 up to 65535" in result.stderr
    assert not any(net.state.glob("*.out"))


def test_ssh_port_skips_a_port_in_use(net: Net) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        assert net.run("--detach", NIXVMS_SSH_PORT_BASE=str(taken)).returncode == 0
        assert taken not in net.ports().values()
    net.run("--stop")


def test_a_port_taken_between_choice_and_bind_is_chosen_again(
        tmp_path: Path, short_dir: Path) -> None:
    # The first start fails as QEMU does when another program took its port.
    taken = ('if [ ! -e "$TMPDIR/tried" ]; then : >"$TMPDIR/tried"; echo "qemu: -netdev user: '
             'Could not set up host forwarding rule \'$QEMU_NET_OPTS\'"; exit 1; fi\n')
    n = make_net(tmp_path, short_dir / "s", {"solo": (1,)}, bodies={"solo": taken + SLEEPER})
    result = n.run("--detach")
    assert result.returncode == 0, result.stderr
    assert "solo ready in" in result.stderr
    assert (n.state / "solo" / "tried").exists()
    n.run("--stop")


def test_forward_reaches_the_vm_as_a_hostfwd_on_127_0_0_1(net: Net) -> None:
    result = net.run("--detach", "--forward", "beta:18080:80")
    assert result.returncode == 0, result.stderr
    assert "hostfwd=tcp:127.0.0.1:18080-:80" in net.value("beta", "QEMU_NET_OPTS")
    net.run("--stop")


@pytest.mark.parametrize("bad, message", [
    (["--forward", "beta:80"], "is not MACHINE:HOSTPORT:GUESTPORT"),
    (["--forward", "beta:99999:80"], "99999 is not a port number"),
    (["--forward", "gamma:8080:80"], "there is no machine named 'gamma'"),
    (["gamma"], "there is no machine named 'gamma'"),
    (["--timeout", "soon"], "invalid float value"),
])
def test_bad_input_is_one_error_line(net: Net, bad: list[str], message: str) -> None:
    result = net.run("--detach", *bad)
    assert result.returncode in (1, 2)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_network_without_vlans_starts_no_switch(tmp_path: Path, short_dir: Path) -> None:
    n = make_net(tmp_path, short_dir / "s", {"alone": ()})
    assert n.run("--detach").returncode == 0
    assert n.state_file().switches == ()
    n.run("--stop")


def test_nixos_run_vms_is_the_same_program(net: Net) -> None:
    result = subprocess.run([str(net.directory / "bin" / "nixos-run-vms"), "--help"],
                            capture_output=True, text=True, check=False, timeout=30)
    assert result.returncode == 0
    assert "--state-dir" in result.stdout


def test_a_second_test_run_is_refused_while_another_owns_the_network(
        net: Net, tmp_path: Path) -> None:
    """Two test runs on one project: the second is refused clearly, and its
    end does not stop the network the first is still using."""
    from nixvms.supervisor.driver import Driver
    from nixvms.supervisor.machine import MachineError

    script = tmp_path / "hold.py"
    script.write_text("start_all()\nimport time\ntime.sleep(120)\n")
    first = subprocess.Popen(
        [sys.executable, "-c", "import sys; from nixvms.supervisor.driver_main import main; "
         "sys.exit(main(sys.argv[2:], network=sys.argv[1]))", str(net.directory),
         "--state-dir", str(net.state.parent), str(script)],
        env=net.env(), cwd=net.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: (net.state / "state.json").exists()
                   and all(net.machine(n).phase is Phase.RUNNING for n in net.names),
                   timeout=60, what="the first run's machines")
        supervisor = net.state_file().supervisor.pid
        second = Driver(net.directory, net.state, stream=None)
        with pytest.raises(MachineError, match=rf"another test run \(pid {first.pid}\) is "
                           "using the network"):
            second.start_all()
        second.close()
        assert is_alive(supervisor), "the refused run stopped the other's network"
    finally:
        first.terminate()
        first.wait(timeout=60)
    wait_until(lambda: not is_alive(supervisor), what="the first run to stop its network")
