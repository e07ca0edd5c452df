"""The running network's commands, with real QEMU under TCG and real vde_switch:
nixvms up/run, status, ssh, stop, start, destroy, logs, console.

One project is built once per module; each test that changes what runs
starts its own network from its own state directory, and every test checks
at its end that no qemu or vde_switch of its network is left.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nixvms.supervisor import accel, recovery, runstate, statedir
from nixvms.supervisor.runstate import MachineState, RunState
from tests.conftest import BIN, LOCAL_STATE, REPO, Run, nixvms, write
from tests.terminal import Terminal

pytestmark = [pytest.mark.nix, pytest.mark.vm]

NETWORK = """\
{
  defaults = { ... }: { services.openssh.enable = true; };
  server = { ... }: {
    deployment.targetHost = "server.example.net";
    networking.firewall.enable = false;
  };
  client = { lib, ... }: { services.openssh.enable = lib.mkForce false; };
}
"""

BROKEN = """\
{
  good = { ... }: { };
  # Its kernel finds no init: it panics and QEMU (-no-reboot) exits.
  broken = { ... }: {
    boot.kernelParams = [ "panic=1" "rdinit=/nonexistent" "init=/nonexistent" ];
  };
}
"""


def up(project: Path, state: Path, *args: str) -> Run:
    return nixvms("up", "--detach", "--state-dir", str(state.parent), *args, cwd=project)


def run(project: Path, state: Path, command: str, *args: str) -> Run:
    return nixvms(command, "--state-dir", str(state.parent), *args, cwd=project)


def state_file(state: Path) -> RunState:
    data = runstate.load(statedir.prepare(state, create=False))
    assert data is not None, f"no state file in {state}"
    return data


def machine_record(state: Path, name: str) -> MachineState:
    record = state_file(state).machine(name)
    assert record is not None
    return record


def machine_pid(state: Path, name: str) -> int | None:
    process = machine_record(state, name).process
    return process.pid if process is not None else None


def processes_of(*marks: str) -> list[int]:
    """Live qemu and vde_switch processes whose command line names a mark
    (a state or socket directory)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if status in ("Z", "X") or not ("qemu" in cmdline or "vde_switch" in cmdline):
            continue
        if any(mark in cmdline for mark in marks):
            found.append(int(pid))
    return found


def marks(state: Path) -> tuple[str, str]:
    return str(state), state_file(state).sockets


def wait_gone(*mark: str, timeout: float = 30) -> list[int]:
    deadline = time.monotonic() + timeout
    while processes_of(*mark) and time.monotonic() < deadline:
        time.sleep(0.2)
    return processes_of(*mark)


def short_state(tag: str) -> Path:
    """A short project state directory's run/: where the running network's files go
    (the commands are given its parent as --state-dir)."""
    return Path(tempfile.mkdtemp(prefix=f"lc-{tag}-")) / "run"


def kill_network(state: Path) -> None:
    """Whatever a failed test left: SIGKILL its supervisor (the rest follows)."""
    with contextlib.suppress(OSError, AssertionError):
        os.kill(state_file(state).supervisor.pid, signal.SIGKILL)


def in_terminal(command: list[str], *, cwd: Path, answer: bytes, timeout: float = 60) -> str:
    """Run a command on a pseudo-terminal, type `answer` at its first prompt
    (a line ending in "]: "), and return all it printed."""
    term = Terminal(command, cwd)
    try:
        if term.until(b"]: ", timeout):
            term.write(answer)
        term.until(b"\0never\0", timeout)  # until it ends
        return term.seen.decode(errors="replace")
    finally:
        term.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def guest_forward() -> int:
    """The host port of the server's virtualisation.forwardPorts entry."""
    return free_port()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("lifecycle") / "project"
    write(directory / "network.nix", NETWORK)
    built = nixvms("build", cwd=directory)
    assert built.code == 0, built.stderr
    return directory


@pytest.fixture(scope="module")
def forwarding_project(tmp_path_factory: pytest.TempPathFactory, guest_forward: int) -> Path:
    """The project of the shared network: its server also has a
    virtualisation.forwardPorts entry (a fixed host port: one network at a time)."""
    directory = tmp_path_factory.mktemp("lifecycle") / "forwarding"
    forward = (f'{{ from = "host"; host.address = "127.0.0.1"; host.port = {guest_forward}; '
               "guest.port = 22; }")
    write(directory / "network.nix", NETWORK.replace(
        "networking.firewall.enable = false;",
        f"networking.firewall.enable = false;\n    virtualisation.forwardPorts = [ {forward} ];"))
    built = nixvms("build", cwd=directory)
    assert built.code == 0, built.stderr
    return directory


@pytest.fixture
def state() -> Iterator[Path]:
    path = short_state("t")
    yield path
    kill_network(path)
    shutil.rmtree(path.parent, ignore_errors=True)


# The tests whose subject is what happens once a network runs (stop, start,
# destroy, kills, signals, concurrent ups), not how it boots, start it from a
# copy of a seed state directory whose machines have ready snapshots: `up
# --from-snapshot` restores them (about 1.5 s) where a boot of this network
# took 20-60 s in CI, and these tests started it 15 times. The copy also
# holds the seed's build records, so their builds are no-ops.
RESTORE = "--from-snapshot"


@pytest.fixture(scope="module")
def seed(project: Path) -> Iterator[Path]:
    """A stopped network of `project` whose machines have ready snapshots."""
    path = short_state("seed")
    try:
        result = up(project, path, RESTORE)
        assert result.code == 0, result.stderr
        assert run(project, path, "stop").code == 0
        assert wait_gone(*marks(path)) == []
        assert all((path / m / "ready.json").exists() for m in ("client", "server"))
        yield path
    finally:
        kill_network(path)
        shutil.rmtree(path.parent, ignore_errors=True)


def copy_seed(seed: Path, state: Path) -> Path:
    """`state` holding a copy of the seed (records, ssh keys, disks with their
    ready snapshots)."""
    shutil.copytree(seed.parent, state.parent, symlinks=True, dirs_exist_ok=True)
    return state


@pytest.fixture
def seeded(seed: Path, state: Path) -> Path:
    return copy_seed(seed, state)


@pytest.fixture(scope="module")
def forward_port() -> int:
    """The host port of the shared network's --forward."""
    return free_port()


@pytest.fixture(scope="module")
def running(forwarding_project: Path, forward_port: int) -> Iterator[tuple[Path, Run, float]]:
    """One network shared by the tests that only read it."""
    path = short_state("shared")
    started = time.monotonic()
    result = up(forwarding_project, path, "--forward", f"server:{forward_port}:22")
    took = time.monotonic() - started
    assert result.code == 0, result.stderr
    yield path, result, took
    nixvms("stop", "--state-dir", str(path.parent), cwd=forwarding_project)
    kill_network(path)
    shutil.rmtree(path.parent, ignore_errors=True)


# --- up --------------------------------------------------------------------------


def test_up_detach_returns_only_when_every_machine_is_ready(
        project: Path, running: tuple[Path, Run, float]) -> None:
    state, result, took = running
    times = dict(re.findall(r"^(\w+) ready in (\d+\.\d) s$", result.stdout, re.MULTILINE))
    assert set(times) == {"client", "server"}, result.stdout
    # Then the table: every machine running.
    assert re.search(r"^client\s+running\s+192\.168\.1\.1\s", result.stdout, re.MULTILINE)
    assert re.search(r"^server\s+running\s+192\.168\.1\.2\s", result.stdout, re.MULTILINE)
    assert took < 120
    # Ready means: the login prompt, and the ssh server answering where there is one.
    assert "login:" in (state / "client.log").read_text(errors="replace")
    assert nixvms("ssh", "--state-dir", str(state.parent), "server", "--", "true",
                  cwd=project).code == 0


def test_auto_acceleration_probes_the_machines_own_kernel(
        running: tuple[Path, Run, float]) -> None:
    _, result, _ = running
    said = re.search(r"^acceleration: (.*)$", result.stderr, re.MULTILINE)
    assert said is not None
    if accel.probe_kvm() is None:
        # where the firmware probe runs under KVM (some build machines, whose
        # kernels then hang), only the machines' own kernel decides; where it
        # fails (QEMU aborts on others), the kernel is not probed
        assert "kernel" in said.group(1), said.group(1)
    else:
        assert said.group(1).startswith("TCG (") and "kernel" not in said.group(1), said.group(1)


def test_the_kernel_probe_sees_a_kernel_reach_its_panic(forwarding_project: Path) -> None:
    kernel = forwarding_project / "result" / "vms" / "server" / "system" / "kernel"
    qemu = shutil.which("qemu-system-x86_64")
    assert qemu is not None
    assert accel.probe_kernel(qemu, str(kernel), timeout=120, accel="tcg") is None


def test_the_kernel_probe_fails_on_what_is_no_kernel(tmp_path: Path) -> None:
    qemu = shutil.which("qemu-system-x86_64")
    assert qemu is not None
    (tmp_path / "kernel").write_bytes(b"not a kernel")
    answer = accel.probe_kernel(qemu, str(tmp_path / "kernel"), timeout=30, accel="tcg")
    assert answer is not None and answer.startswith("a probe kernel failed under TCG")


def test_up_says_the_chosen_acceleration_once(running: tuple[Path, Run, float]) -> None:
    _, result, _ = running
    assert len(re.findall(r"^acceleration: ", result.stderr, re.MULTILINE)) == 1


def test_up_fails_naming_a_machine_that_never_comes_up(
        tmp_path: Path, state: Path) -> None:
    broken = tmp_path / "broken"
    write(broken / "network.nix", BROKEN)
    result = nixvms("up", "--detach", "--timeout", "90", "--state-dir", str(state.parent),
                    cwd=broken)
    assert result.code == 1
    assert "error: machines that did not come up: broken (died: exit status" in result.stderr
    assert "broken's last console lines:" in result.stderr
    assert "Rebooting in 1 seconds" in result.stderr  # the console's own last words
    assert "good ready in" in result.stdout
    assert "Traceback" not in result.stderr
    run(broken, state, "stop")
    assert wait_gone(*marks(state)) == []


def test_the_state_dir_is_0700_and_everything_in_it_is_the_users_alone(
        running: tuple[Path, Run, float]) -> None:
    state, _, _ = running
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    found = list(state.rglob("*"))
    assert any(p.name == "server.qcow2" for p in found)  # made by QEMU's qemu-img
    for path in found:
        if not path.is_symlink():
            assert stat.S_IMODE(path.lstat().st_mode) & 0o077 == 0, path


# --- status ----------------------------------------------------------------------


def test_status_shows_state_ips_ports_forwards_pid_and_uptime(
        project: Path, running: tuple[Path, Run, float], forward_port: int,
        guest_forward: int) -> None:
    state, _, _ = running
    result = run(project, state, "status")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "running from" in lines[0]
    header = lines[1].split()
    assert header == ["MACHINE", "STATE", "IP", "SSH", "FORWARDS", "PID", "UPTIME", "DISK"]
    rows = {line.split()[0]: line.split() for line in lines[2:4]}
    server = machine_record(state, "server")
    assert rows["server"][1] == "running"
    assert rows["server"][2] == "192.168.1.2"
    assert rows["server"][3] == str(server.ssh_port)
    assert rows["server"][4] == (f"127.0.0.1:{forward_port}->22,"
                                 f"127.0.0.1:{guest_forward}->22")
    assert rows["server"][5] == str(machine_pid(state, "server"))
    assert re.fullmatch(r"\d+", rows["server"][6])
    assert rows["client"][2] == "192.168.1.1"


def test_status_from_a_subdirectory_finds_the_project(tmp_path: Path) -> None:
    project = tmp_path / "p"
    write(project / "network.nix", "{ solo = { ... }: { }; }\n")
    (project / "deep" / "er").mkdir(parents=True)
    result = nixvms("status", cwd=project / "deep" / "er")
    assert result.code == 0, result.stderr
    assert result.stdout.startswith(f"no network is running from {project}/.nixvms/run")


# --- ssh -------------------------------------------------------------------------


def test_ssh_by_name_runs_the_command_and_returns_its_exit_status(
        project: Path, running: tuple[Path, Run, float]) -> None:
    state, _, _ = running
    result = run(project, state, "ssh", "server", "--", "hostname; exit 7")
    assert result.code == 7
    assert result.stdout.strip() == "server"


def test_hostile_control_requests_leave_the_real_network_running(
        project: Path, running: tuple[Path, Run, float]) -> None:
    """The fuzz run (test_control_fuzz.py) with stand-ins, here against real QEMU."""
    from tests.test_control_fuzz import malformed

    state, _, _ = running
    control = statedir.prepare(state, create=False).control_socket
    rng = random.Random(7)
    for _ in range(300):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(control))
            with contextlib.suppress(OSError):
                s.sendall(malformed(rng))
                s.shutdown(socket.SHUT_WR)
            s.recv(65536)
    assert run(project, state, "ssh", "server", "--", "true").code == 0
    assert "running" in run(project, state, "status").stdout


def test_ssh_passes_everything_after_the_machine_to_ssh(
        project: Path, running: tuple[Path, Run, float]) -> None:
    state, _, _ = running
    refused = run(project, state, "ssh", "server", "-oBatchMode=yes", "--", "false")
    assert refused.code == 1, refused.stderr  # false's status: ssh ran it, -o went to ssh
    passed = run(project, state, "ssh", "server", "-oBatchMode=yes", "-q", "--", "echo ok")
    assert (passed.code, passed.stdout) == (0, "ok\n"), passed.stderr


def test_ssh_options_before_the_machine_are_nixvms_s_and_unknown_ones_refused(
        project: Path, running: tuple[Path, Run, float]) -> None:
    state, _, _ = running
    result = run(project, state, "ssh", "-oBatchMode=yes", "server", "--", "true")
    assert result.code == 2
    assert "No such option" in result.stderr and "Traceback" not in result.stderr


def test_ssh_by_target_host_reaches_the_same_machine(
        project: Path, running: tuple[Path, Run, float]) -> None:
    state, _, _ = running
    result = run(project, state, "ssh", "server.example.net", "--", "hostname")
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == "server"


def test_ssh_to_a_machine_without_openssh_says_which_option(
        project: Path, running: tuple[Path, Run, float]) -> None:
    state, _, _ = running
    result = run(project, state, "ssh", "client")
    assert result.code == 2
    assert result.stderr.splitlines() == [
        "error: machine client runs no ssh server: set services.openssh.enable = true; in "
        "its configuration (or use `nixvms console client`)"]


def test_forwards_are_bound_on_127_0_0_1_only(
        running: tuple[Path, Run, float], forward_port: int, guest_forward: int) -> None:
    state, _, _ = running
    listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True,
                               check=True).stdout
    ports = [forward_port, guest_forward] + [int(str(machine_record(state, m).ssh_port))
                                             for m in ("client", "server")]
    for port in ports:
        local = [line.split()[3] for line in listening.splitlines()
                 if line.split()[3].rsplit(":", 1)[1] == str(port)]
        assert local == [f"127.0.0.1:{port}"], (port, local)


# --- logs and console -------------------------------------------------------------


def test_logs_strip_terminal_control_sequences_and_keep_the_raw_log(
        project: Path, running: tuple[Path, Run, float]) -> None:
    state, _, _ = running
    # What SeaBIOS and full-screen programs write: clear screen, no line wrap.
    escapes = r"printf '\033[2J\033[?7lescaped-\033[1mline\033[0m\r\n' >/dev/console"
    assert run(project, state, "ssh", "server", "--", escapes).code == 0
    time.sleep(1)
    raw = (state / "server.log").read_bytes()
    assert b"\x1b[2J\x1b[?7lescaped-\x1b[1mline" in raw  # the raw log keeps them
    result = run(project, state, "logs", "server")
    assert result.code == 0
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    assert "escaped-line\n" in result.stdout
    assert "server login:" in result.stdout
    last = run(project, state, "logs", "server", "-n", "3")
    assert len(last.stdout.splitlines()) == 3


def test_logs_follow_prints_what_the_console_shows_next(
        project: Path, running: tuple[Path, Run, float]) -> None:
    state, _, _ = running
    follow = subprocess.Popen(
        [str(BIN / "nixvms"), "logs", "--state-dir", str(state.parent), "server", "-F", "-n", "0"],
        cwd=project, stdout=subprocess.PIPE)
    try:
        # The follower starts at the log's end only once it has loaded: a line
        # written before that is not "next". Write until one shows, each a
        # second or two apart (a loaded machine may take seconds to start it).
        deadline = time.monotonic() + 30
        seen = b""
        assert follow.stdout is not None
        fd = follow.stdout.fileno()
        os.set_blocking(fd, False)
        while b"marker-42" not in seen and time.monotonic() < deadline:
            time.sleep(1)
            assert run(project, state, "ssh", "server", "--",
                       "echo marker-$((6*7)) >/dev/console").code == 0
            for _ in range(5):
                time.sleep(0.2)
                with contextlib.suppress(BlockingIOError):
                    seen += os.read(fd, 65536)
        assert b"marker-42" in seen
    finally:
        follow.send_signal(signal.SIGINT)
        follow.wait(timeout=10)


def test_console_attaches_under_a_terminal_and_detaches_with_ctrl_bracket(
        project: Path, running: tuple[Path, Run, float]) -> None:
    state, _, _ = running
    term = Terminal([str(BIN / "nixvms"), "console", "--state-dir", str(state.parent),
                     "server"], project)
    try:
        assert term.until(b"press Ctrl-] to detach", 20), term.seen
        term.write(b"\r")
        assert term.until(b"server login:", 20), term.seen
        term.write(b"\x1d")
        assert term.until(b"detached from server's console", 20), term.seen
        assert term.wait() == 0
    finally:
        term.close()


def test_up_with_a_forward_on_a_taken_port_is_one_error_and_disturbs_nothing(
        project: Path, running: tuple[Path, Run, float], forward_port: int,
        state: Path) -> None:
    other, _, _ = running
    before = state_file(other)
    result = up(project, state, "--forward", f"server:{forward_port}:22")
    assert result.code == 1
    assert f"port {forward_port} on 127.0.0.1 is already in use" in result.stderr
    assert processes_of(str(state)) == []
    assert state_file(other).machines == before.machines


def test_up_of_a_running_unchanged_network_does_nothing_and_exits_0(
        forwarding_project: Path, running: tuple[Path, Run, float]) -> None:
    state, _, _ = running
    before = state_file(state)
    result = up(forwarding_project, state)
    assert result.code == 0, result.stderr
    assert "nothing changed" in result.stderr
    assert state_file(state).machines == before.machines


def test_stop_of_one_machine_leaves_the_other_running_and_start_restarts_it(
        project: Path, seeded: Path) -> None:
    state = seeded
    assert up(project, state, RESTORE).code == 0
    server_pid = machine_pid(state, "server")
    client_pid = machine_pid(state, "client")
    stopped = run(project, state, "stop", "client")
    assert stopped.code == 0, stopped.stderr
    assert "stopped client" in stopped.stderr
    assert machine_record(state, "client").phase.value == "stopped"
    assert machine_pid(state, "server") == server_pid
    assert not Path(f"/proc/{client_pid}").exists()
    status = run(project, state, "status").stdout
    assert re.search(r"^client\s+stopped", status, re.MULTILINE)
    started = run(project, state, "start", "client")
    assert started.code == 0, started.stderr
    assert re.search(r"^client ready in \d+\.\d s$", started.stdout, re.MULTILINE)
    assert machine_record(state, "client").phase.value == "running"
    assert run(project, state, "stop").code == 0
    assert wait_gone(*marks(state)) == []


def test_stop_of_all_leaves_no_process_and_the_next_up_works(
        project: Path, seeded: Path) -> None:
    state = seeded
    assert up(project, state, RESTORE).code == 0
    mark = marks(state)
    assert processes_of(*mark)
    result = run(project, state, "stop")
    assert result.code == 0, result.stderr
    assert "the network is down" in result.stderr
    assert wait_gone(*mark) == []
    again = run(project, state, "stop")  # nothing to do: no error
    assert again.code == 0
    assert again.stderr.splitlines() == [
        f"no network is running from {state}; nothing to stop"]
    assert up(project, state, RESTORE).code == 0
    assert run(project, state, "stop").code == 0


def test_start_after_the_network_stopped_starts_only_the_named_machines(
        project: Path, seeded: Path) -> None:
    state = seeded
    assert up(project, state, RESTORE).code == 0
    assert run(project, state, "stop").code == 0
    started = run(project, state, "start", "server")
    assert started.code == 0, started.stderr
    assert re.search(r"^server ready in \d+\.\d s$", started.stdout, re.MULTILINE)
    assert machine_record(state, "server").phase.value == "running"
    assert machine_record(state, "client").phase.value == "stopped"
    assert run(project, state, "ssh", "server", "--", "true").code == 0
    assert run(project, state, "stop").code == 0
    assert wait_gone(*marks(state)) == []


def test_destroy_stops_and_deletes_disks_and_run_state_saying_what(
        project: Path, seeded: Path) -> None:
    state = seeded
    assert up(project, state, RESTORE).code == 0
    mark = marks(state)
    one = run(project, state, "destroy", "client")
    assert one.code == 0, one.stderr
    assert one.stderr.splitlines()[-1].startswith(f"destroyed client of {state}: stopped")
    assert not (state / "client").exists()
    assert (state / "server" / "server.qcow2").exists()
    assert machine_record(state, "server").phase.value == "running"
    everything = run(project, state, "destroy")  # no terminal: it does not ask
    assert everything.code == 0, everything.stderr
    assert len(everything.stderr.splitlines()) == 1, everything.stderr
    assert not state.exists()
    assert wait_gone(*mark) == []
    again = run(project, state, "destroy")
    assert (again.code, again.stderr.strip()) == (0, f"nothing to destroy in {state}")
    status = run(project, state, "status")
    assert status.code == 0 and "no network is running" in status.stdout


def test_destroy_on_a_terminal_asks_first_and_no_keeps_everything(
        project: Path, seeded: Path) -> None:
    state = seeded
    assert up(project, state, RESTORE).code == 0
    refused = in_terminal([str(BIN / "nixvms"), "destroy", "--state-dir", str(state.parent)],
                          cwd=project, answer=b"n\n")
    assert "Stop every machine of the network" in refused and "nothing destroyed" in refused
    assert (state / "server" / "server.qcow2").exists()
    accepted = in_terminal([str(BIN / "nixvms"), "destroy", "--state-dir", str(state.parent)],
                           cwd=project, answer=b"y\n")
    assert "destroyed every machine" in accepted
    assert not state.exists()


def test_a_vm_killed_is_reported_dead_while_the_others_keep_running(
        project: Path, seeded: Path) -> None:
    state = seeded
    assert up(project, state, RESTORE).code == 0
    client = machine_pid(state, "client")
    assert client is not None
    os.kill(client, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while machine_record(state, "client").phase.value != "dead" and time.monotonic() < deadline:
        time.sleep(0.2)
    status = run(project, state, "status").stdout
    assert re.search(r"^client\s+dead \(killed by SIGKILL\)", status, re.MULTILINE), status
    assert re.search(r"^server\s+running", status, re.MULTILINE)
    assert run(project, state, "ssh", "server", "--", "true").code == 0
    log = (state / "supervisor.log").read_text()
    assert '"event": "died", "machine": "client"' in log
    assert run(project, state, "stop").code == 0


def test_a_disk_from_an_older_build_is_said_at_up_and_in_status_and_fresh_remakes_it(
        tmp_path: Path, state: Path) -> None:
    project = tmp_path / "stale"
    write(project / "network.nix", "{ solo = { ... }: { }; }\n")
    assert up(project, state).code == 0
    assert run(project, state, "stop").code == 0
    write(project / "network.nix",
          '{ solo = { ... }: { environment.etc."motd".text = "changed"; }; }\n')
    again = up(project, state, "--keep-disks")  # without it, a new disk (below)
    assert again.code == 0, again.stderr
    assert "warning: solo: its disk was made by an older build" in again.stderr
    assert "--fresh solo" in again.stderr
    status = run(project, state, "status")
    assert re.search(r"^solo\s.*older build$", status.stdout, re.MULTILINE), status.stdout
    assert "disks from an older build: solo" in status.stdout
    assert run(project, state, "stop").code == 0
    fresh = up(project, state, "--fresh", "solo")
    assert fresh.code == 0, fresh.stderr
    assert "solo: starting from a new disk" in fresh.stderr
    assert "older build" not in run(project, state, "status").stdout
    assert run(project, state, "stop").code == 0


# --- teardown paths -----------------------------------------------------------------


def foreground_up(project: Path, state: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [str(BIN / "nixvms"), "up", RESTORE, "--state-dir", str(state.parent)], cwd=project,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if runstate.load(statedir.prepare(state, create=False)) is not None and all(
                machine_record(state, m).phase.value == "running" for m in ("client", "server")):
            return proc
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError("the network did not come up")


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "sighup"])
def test_a_signal_to_foreground_up_stops_everything_and_the_next_up_works(
        project: Path, seeded: Path, how: str) -> None:
    state = seeded
    proc = foreground_up(project, state)
    mark = marks(state)
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends its foreground group
    else:
        proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGHUP)
    proc.wait(timeout=60)
    assert wait_gone(*mark) == []
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
    assert up(project, state, RESTORE).code == 0
    assert run(project, state, "stop").code == 0


def test_kill_9_of_the_supervisor_leaves_no_vm_and_the_next_up_works(
        project: Path, seeded: Path) -> None:
    state = seeded
    assert up(project, state, RESTORE).code == 0
    mark = marks(state)
    os.kill(state_file(state).supervisor.pid, signal.SIGKILL)
    assert wait_gone(*mark, timeout=15) == []
    status = run(project, state, "status")
    assert "not running" in status.stdout
    assert up(project, state, RESTORE).code == 0
    assert run(project, state, "stop").code == 0


# --- concurrency --------------------------------------------------------------------


def test_two_ups_on_one_state_dir_at_the_same_instant_leave_exactly_one_network(
        project: Path, seeded: Path) -> None:
    state = seeded
    command = [str(BIN / "nixvms"), "up", "--detach", RESTORE, "--state-dir", str(state.parent)]
    procs = [subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.communicate()[1]) for p in procs]
    # One starts the network. The other finds it starting (refused: already
    # running) or, reaching it once launched, converges to it: nothing changed.
    assert 0 in [code for code, _ in results], results
    for code, err in results:
        assert code == 0 or (code == 1 and "already running" in err), results
    assert len(recovery.find(statedir.prepare(state, create=False)).supervisors) == 1
    assert (state / "ssh_config").exists()
    assert run(project, state, "ssh", "server", "--", "true").code == 0
    assert run(project, state, "stop").code == 0
    assert wait_gone(*marks(state)) == []


def test_two_networks_from_two_directories_started_at_once_both_come_up(
        project: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(project, other, ignore=LOCAL_STATE)
    assert nixvms("build", cwd=other).code == 0
    states = [short_state("a"), short_state("b")]
    try:
        procs = [subprocess.Popen(
            [str(BIN / "nixvms"), "up", "--detach", "--state-dir", str(s.parent)], cwd=d,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for d, s in ((project, states[0]), (other, states[1]))]
        results = [(p.wait(timeout=300), p.communicate()[1]) for p in procs]
        assert [code for code, _ in results] == [0, 0], results
        ports = {int(str(machine_record(s, m).ssh_port)) for s in states
                 for m in ("client", "server")}
        assert len(ports) == 4
        for d, s in ((project, states[0]), (other, states[1])):
            assert run(d, s, "ssh", "server", "--", "true").code == 0
    finally:
        for d, s in ((project, states[0]), (other, states[1])):
            run(d, s, "stop")
            kill_network(s)
            shutil.rmtree(s.parent, ignore_errors=True)


# --- state directories ---------------------------------------------------------------


def test_a_state_dir_with_a_quote_a_space_and_a_command_in_its_name_works(
        project: Path, seed: Path, tmp_path: Path) -> None:
    state = copy_seed(seed, tmp_path / "it's a $(touch pwned) dir" / "run")
    try:
        result = up(project, state, RESTORE)
        assert result.code == 0, result.stderr
        assert run(project, state, "ssh", "server", "--", "true").code == 0
        assert (state / "server" / "server.qcow2").exists()
        assert not (project / "pwned").exists() and not (tmp_path / "pwned").exists()
        assert run(project, state, "stop").code == 0
    finally:
        kill_network(state)


def test_the_default_state_dir_is_the_projects_whatever_the_working_directory(
        tmp_path: Path) -> None:
    project = tmp_path / "proj"
    write(project / "network.nix", "{ solo = { ... }: { }; }\n")
    (project / "sub").mkdir()
    try:
        result = nixvms("up", "--detach", cwd=project)
        assert result.code == 0, result.stderr
        assert (project / ".nixvms" / "run" / "state.json").exists()
        status = nixvms("status", cwd=project / "sub")
        assert status.code == 0 and "running from" in status.stdout
        outside = nixvms("status", "-f", str(project / "network.nix"), cwd=tmp_path)
        assert outside.code == 0
        assert nixvms("stop", cwd=project / "sub").code == 0
    finally:
        kill_network(project / ".nixvms" / "run")


# --- the walk-throughs -----------------------------------------------------------------


def test_init_up_ssh_stop_is_the_first_walk_through(tmp_path: Path) -> None:
    project = tmp_path / "first"
    assert nixvms("init", str(project), cwd=tmp_path).code == 0
    try:
        assert nixvms("up", "--detach", cwd=project).code == 0
        assert nixvms("status", cwd=project).code == 0
        ssh = nixvms("ssh", "server", "--", "hostname", cwd=project)
        assert ssh.code == 0, ssh.stderr
        assert ssh.stdout.strip() == "server"
        assert nixvms("stop", cwd=project).code == 0
    finally:
        kill_network(project / ".nixvms" / "run")


def test_the_manual_network_comes_up_and_answers_over_ssh(tmp_path: Path) -> None:
    project = tmp_path / "manual"
    project.mkdir()
    shutil.copy(REPO / "examples" / "network.nix", project / "network.nix")
    try:
        result = nixvms("up", "--detach", cwd=project)
        assert result.code == 0, result.stderr
        assert nixvms("ssh", "test1", "--", "uname -m", cwd=project).stdout.strip() in (
            "i686", "i586", "i386")
        assert nixvms("ssh", "test2", "--", "uname -m", cwd=project).stdout.strip() == "x86_64"
        assert nixvms("stop", cwd=project).code == 0
    finally:
        kill_network(project / ".nixvms" / "run")
