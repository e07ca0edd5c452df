"""The commands over a running network: start it, ask it, stop it, read it.

Everything here is what `run-vms` and nixvms's commands (up, status, ssh,
stop, start, destroy, logs, console) do; they print, this module raises
SupervisorError subclasses and calls back with events.

Starting: the caller's process takes the state directory's lock, then
starts the supervisor (the network directory's own copy, so a network runs
the supervisor it was built with) as a child that inherits the lock and a
pipe for events; it reads events until the machines are ready. Detached,
the supervisor runs in a session of its own and outlives the caller; in the
foreground it dies with the caller.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import converge as converging
from . import procs, recovery, runstate
from .errors import (
    AlreadyRunning,
    NotReady,
    NotRunning,
    StartError,
    StateDamaged,
    SupervisorError,
    UsageError,
)
from .facts import Forward
from .launch import StartRequest
from .machines import HostForward
from .recovery import Found
from .runstate import MachineState, Phase, RunState
from .spec import NetworkSpec, load_network
from .statedir import RunDir, StateLock, is_locked, open_private, prepare, remove_path
from .supervisor import error_kind
from .text import tail_lines

DEFAULT_TIMEOUT = 120.0
NOT_READY_LINES = 20

Event = dict[str, Any]
OnEvent = Callable[[Event], None]


# --- the supervisor program ------------------------------------------------------


def supervisor_main(network: str) -> tuple[str, Path]:
    """(python, __main__.py) that run the network directory's own supervisor,
    or this one where the directory has none."""
    lib = Path(network) / "lib"
    main = lib / "nixvms_supervisor" / "__main__.py"
    if not main.exists():
        main = Path(__file__).resolve().parent / "__main__.py"
    python = lib / "python3"
    return (str(python) if os.access(python, os.X_OK) else sys.executable), main


@dataclass
class Started:
    """A supervisor that was started, and what its machines did so far."""

    process: subprocess.Popen[bytes]
    events: int  # the read end of its event pipe (-1 once closed)
    run_dir: RunDir
    ready: dict[str, float]

    def follow(self, on_event: OnEvent) -> int:
        """Pass on events until the supervisor exits; its exit status."""
        with os.fdopen(self.events, "rb") as pipe:
            self.events = -1
            for line in pipe:
                event = _parse(line)
                if event:
                    on_event(event)
        return self.process.wait()

    def close(self) -> None:
        if self.events >= 0:
            os.close(self.events)
            self.events = -1

    def stop(self, timeout: float = 30.0) -> int:
        """Ask the supervisor to stop everything (SIGTERM) and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def _parse(line: bytes) -> Event | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def start(request: StartRequest, *, detach: bool, timeout: float,
          on_event: OnEvent) -> Started:
    """Start the supervisor for the request's network and wait until the
    machines it starts are ready; NotReady names those that are not, within
    timeout."""
    spec = load_network(request.network)
    names = [m.name for m in spec.select(list(request.machines))]
    run_dir = prepare(request.run_dir)
    lock = StateLock(run_dir)
    read_fd, write_fd = os.pipe()
    python, main = supervisor_main(spec.path)
    command = [python, "-I", str(main), "--serve", request.to_json(),
               "--lock-fd", str(lock.fd), "--report-fd", str(write_fd)]
    try:
        log_fd = open_private(run_dir.supervisor_log, append=True)
        with os.fdopen(log_fd, "ab") as log:
            if detach:
                process: subprocess.Popen[bytes] = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    pass_fds=(lock.fd, write_fd), start_new_session=True,
                )
            else:
                process = procs.spawn(command, env=os.environ, cwd=None, stdin=None,
                                      output=log, pass_fds=(lock.fd, write_fd),
                                      new_session=False)
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
        lock.release()
    started = Started(process=process, events=read_fd, run_dir=run_dir, ready={})
    try:
        _wait_ready(started, names, timeout, on_event)
    except NotReady:
        # Detached, the machines that came up keep running (status and logs
        # show the others); in the foreground nobody would be left to stop them.
        if not detach:
            started.stop()
        started.close()
        raise
    except BaseException:  # interrupted, or the supervisor failed: nothing stays
        started.stop()
        started.close()
        raise
    return started


def _wait_ready(started: Started, names: list[str], timeout: float, on_event: OnEvent) -> None:
    deadline = time.monotonic() + timeout
    pending = set(names)
    dead: dict[str, str] = {}
    buffer = b""
    launched = False
    while pending or not launched:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        readable, _, _ = select.select([started.events], [], [], min(remaining, 1.0))
        if not readable:
            continue
        chunk = os.read(started.events, 65536)
        if not chunk:
            code = started.process.wait()
            raise StartError(
                f"the supervisor stopped while starting the network ({procs.describe_status(code)})"
                f"; its output: {started.run_dir.supervisor_log}"
            )
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            event = _parse(line)
            if event is None:
                continue
            kind = event.get("event")
            if kind == "error":
                started.process.wait()
                raise error_kind(str(event.get("kind")))(str(event.get("message")))
            if kind == "started":
                launched = True
            machine = str(event.get("machine", ""))
            if kind == "ready":
                started.ready[machine] = float(event.get("after", 0))
                pending.discard(machine)
            elif kind == "died" and machine in pending:
                dead[machine] = str(event.get("status"))
                pending.discard(machine)
            on_event(event)
    if pending or dead:
        run_dir = started.run_dir
        details = [(n, tail_lines(run_dir.console_log(n), NOT_READY_LINES))
                   for n in sorted(pending | set(dead))]
        parts = [f"{n} (died: {dead[n]})" for n in sorted(dead)]
        if pending:
            parts += [f"{n} (not ready after {timeout:g} s)" for n in sorted(pending)]
        raise NotReady("machines that did not come up: " + ", ".join(parts),
                       sorted(pending | set(dead)), details)


# --- what runs -------------------------------------------------------------------


@dataclass(frozen=True)
class MachineStatus:
    name: str
    state: str                 # running, starting, stopped, dead
    exit_status: int | None
    pid: int | None
    uptime: float | None
    ips: tuple[tuple[int, str], ...]      # (VLAN, IP)
    ssh_port: int | None
    forwards: tuple[HostForward, ...]
    guest_forwards: tuple[Forward, ...]
    openssh: bool
    target_host: str | None
    stale_disk: bool
    disk_vm: str | None
    ready_after: float | None
    host: str = ""  # the VM host it runs on ("": this one; placement.py)


@dataclass(frozen=True)
class NetworkStatus:
    state_dir: Path
    network: str
    running: bool
    supervisor_pid: int | None
    accel: str | None
    ssh_config: Path
    machines: tuple[MachineStatus, ...]
    spec: NetworkSpec


@dataclass(frozen=True)
class Opened:
    """A state directory, what its state file says, and the network it names."""

    run_dir: RunDir
    state: RunState
    spec: NetworkSpec

    @property
    def supervisor_alive(self) -> bool:
        return self.state.supervisor_alive(self.run_dir)

    def record(self, name: str) -> MachineState | None:
        return self.state.machine(name)


def not_running(opened: Opened, name: str) -> NotRunning:
    """Why a command cannot reach machine `name`: stopped, or its host lost."""
    record = opened.record(name)
    if record is not None and record.phase is Phase.UNREACHABLE:
        host = next((p.host for p in opened.state.request.remote if name in p.machines), None)
        where = f"its host {host.name} ({host.ssh})" if host else "its host"
        return NotRunning(f"machine {name} is unreachable: the ssh connection to {where} "
                          "was lost (`nixvms stop`, then `nixvms up`, starts it again)")
    phase = record.phase.value if record is not None else "stopped"
    return NotRunning(f"machine {name} is not running ({phase}); start it with "
                      f"`nixvms start {name}`")


def open_state_dir(state_dir: str | os.PathLike[str]) -> RunDir:
    path = Path(state_dir)
    if not path.is_dir():
        raise NotRunning(f"no network has run from {path} (no such directory)",
                         nothing_ran=True)
    return prepare(path, create=False)


def open_run(state_dir: str | os.PathLike[str]) -> Opened:
    """The running (or last run) network of a state directory; NotRunning if none."""
    run_dir = open_state_dir(state_dir)
    state = runstate.load_started(run_dir)
    if state is None:
        found = recovery.find(run_dir)
        if found.pids:
            raise StateDamaged(
                f"a network runs from {run_dir.path} but {_damaged(run_dir)} "
                f"({found.describe()}); `nixvms stop` stops it")
        if run_dir.state_file.exists():
            raise NotRunning(f"no network runs from {run_dir.path} ({_damaged(run_dir)}); "
                             "start one with `nixvms up`")
        raise NotRunning(f"no network has run from {run_dir.path} (no state file there); "
                         "start one with `nixvms up`", nothing_ran=True)
    return Opened(run_dir, state, load_network(state.network))


def status(state_dir: str | os.PathLike[str], latest: str | None = None,
           machines: Sequence[str] = ()) -> NetworkStatus:
    """What runs from the state directory. `latest`: the newest network
    directory of the project (ignored when it is none); a disk made by another
    build is stale."""
    opened = open_run(state_dir)
    spec, run_dir = opened.spec, opened.run_dir
    newest = spec
    if latest:
        with contextlib.suppress(SupervisorError):
            newest = load_network(latest)
    alive = opened.supervisor_alive
    now = time.time()
    rows = []
    placed = {n: p.host.name for p in opened.state.request.remote for n in p.machines}
    for m in spec.select(list(machines)):
        r = opened.record(m.name) or MachineState(vm=m.vm)
        phase = r.phase if (alive or not r.phase.up) else Phase.STOPPED
        running = phase.up
        try:
            current_vm = newest.machine(m.name).vm
        except UsageError:
            current_vm = m.vm
        disk_exists = (run_dir.machine_dir(m.name) / m.disk_name).exists()
        rows.append(MachineStatus(
            name=m.name,
            state=phase.value,
            exit_status=r.exit_status if phase is Phase.DEAD else None,
            pid=r.process.pid if running and r.process else None,
            uptime=now - r.process.started_at if running and r.process else None,
            ips=tuple((a.vlan, a.ip) for a in m.addresses),
            ssh_port=r.ssh_port if running else None,
            forwards=r.forwards if running else (),
            guest_forwards=m.forward_ports,
            openssh=m.openssh,
            target_host=m.target_host,
            stale_disk=disk_exists and r.disk_vm != current_vm,
            disk_vm=r.disk_vm,
            ready_after=r.ready_after,
            host=placed.get(m.name, ""),
        ))
    return NetworkStatus(
        state_dir=run_dir.path, network=spec.path, running=alive,
        supervisor_pid=opened.state.supervisor.pid if alive else None,
        accel=opened.state.request.accel, ssh_config=run_dir.ssh_config,
        machines=tuple(rows), spec=spec,
    )


# --- asking the supervisor -------------------------------------------------------


def request(run_dir: RunDir, message: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    """One request on the supervisor's control socket; NotRunning if none answers."""
    path = str(run_dir.control_socket)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(path)
            s.sendall(json.dumps(message).encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
        except OSError as error:
            raise NotRunning(f"no network is running from {run_dir.path}") from error
    answer = _parse(reply)
    if answer is None:
        raise NotRunning(f"the supervisor of {run_dir.path} did not answer")
    if not answer.get("ok"):
        raise error_kind(str(answer.get("kind")))(str(answer.get("error")))
    return answer


@dataclass(frozen=True)
class Stopped:
    machines: tuple[str, ...]
    everything: bool
    running: bool = True          # False: nothing was running (nothing to do)
    recovered: Found | None = None  # the state file was damaged: what was found and stopped
    left: tuple[str, ...] = ()    # a line per VM host whose machines could not be stopped


def _damaged(run_dir: RunDir) -> str:
    """Why the state file cannot be used: missing, or unreadable."""
    return ("its state file is missing" if not run_dir.state_file.exists()
            else "its state file cannot be read")


def stop(state_dir: str | os.PathLike[str], machines: Sequence[str] = (),
         timeout: float = 60.0) -> Stopped:
    """Stop the named machines (all, and the supervisor, when none named).
    Nothing running is no error (Stopped.running is False); a network whose
    state file is damaged is found by its processes and stopped whole."""
    path = Path(state_dir)
    if not path.is_dir():
        if machines:
            raise NotRunning(f"no network has run from {path} (no such directory)")
        return Stopped((), True, running=False)
    run_dir = prepare(path, create=False)
    state = runstate.load_started(run_dir)
    if state is None:
        found = recovery.find(run_dir)
        if not found.pids:
            if machines:
                raise NotRunning(f"no network runs from {run_dir.path} ({_damaged(run_dir)})")
            return Stopped((), True, running=False)
        if machines:
            raise StateDamaged(
                f"the network running from {run_dir.path} cannot stop single machines: "
                f"{_damaged(run_dir)} ({found.describe()}); `nixvms stop` stops it whole")
        with contextlib.suppress(SupervisorError):
            request(run_dir, {"op": "stop", "machines": []}, timeout)
        left = recovery.stop(run_dir, earlier=found)
        if left.pids:
            raise StateDamaged(f"{_damaged(run_dir)} and these processes of the network "
                               f"running from {run_dir.path} could not be stopped: "
                               f"{left.describe()}")
        return Stopped((), True, recovered=found)
    spec = load_network(state.network)
    names = [spec.machine(n).name for n in machines]
    if not state.supervisor_alive(run_dir):
        if names:
            raise NotRunning(f"no network is running from {run_dir.path}")
        return Stopped((), True, running=False)
    answer = request(run_dir, {"op": "stop", "machines": names}, timeout)
    if not names:
        deadline = time.monotonic() + timeout
        while state.supervisor.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
    return Stopped(tuple(answer.get("stopped") or ()), not names,
                   left=tuple(str(line) for line in answer.get("left") or ()))


def start_machines(state_dir: str | os.PathLike[str], machines: Sequence[str],
                   fresh: Sequence[str], *, timeout: float,
                   on_event: OnEvent, ready: Sequence[str] = ()) -> dict[str, float]:
    """Start stopped machines of the recorded network, with the settings it was
    first started with; returns their ready times. ready: machines restored
    from their ready snapshots (or booted anew and snapshotted)."""
    opened = open_run(state_dir)
    spec = opened.spec
    names = [spec.machine(n).name for n in machines]
    fresh_names = [spec.machine(n).name for n in fresh]
    ready_names = [spec.machine(n).name for n in ready]
    answer = None
    if opened.supervisor_alive:
        try:
            answer = request(opened.run_dir, {"op": "start", "machines": names,
                                              "fresh": fresh_names, "ready": ready_names},
                             timeout=max(60.0, timeout))
        except NotRunning:
            # it was ending, its last machine stopped a moment ago (the
            # driver's shutdown()): once its lock is free, a new one starts
            deadline = time.monotonic() + 30.0
            while is_locked(opened.run_dir) and time.monotonic() < deadline:
                time.sleep(0.05)
    if answer is None:
        restart = opened.state.request.but(machines=names, fresh=fresh_names,
                                           ready=ready_names)
        started = start(restart, detach=True, timeout=timeout, on_event=on_event)
        started.close()
        return started.ready
    wanted = list(answer.get("started") or [])
    return wait_ready(opened.run_dir, wanted, timeout, on_event)


def running_plan(state_dir: str | os.PathLike[str], network: str,
                 only: Sequence[str] = ()) -> tuple[converging.Step, ...] | None:
    """What converging the running network to `network` would do (converge.py);
    None when no network runs from the state directory."""
    path = Path(state_dir)
    if not path.is_dir():
        return None
    run_dir = prepare(path, create=False)
    state = runstate.load(run_dir)
    if state is None:
        if is_locked(run_dir):
            # A supervisor that has not written its state yet (just started)
            # or whose state file is gone: either way not one to plan against.
            raise AlreadyRunning(_starting(run_dir))
        if recovery.find(run_dir).pids:
            open_run(path)  # says that the state file is damaged, and how to stop it
        return None
    if not state.supervisor_alive(run_dir):
        return None
    if state.launching:
        raise AlreadyRunning(_starting(run_dir))
    placed = {n: p.host.name for p in state.request.remote for n in p.machines}
    current = {name: converging.Running(m.vm, m.phase.up, placed.get(name, ""))
               for name, m in state.machines.items()}
    spec = load_network(network)
    return converging.plan(current, spec, [spec.machine(n).name for n in only])


def _starting(run_dir: RunDir) -> str:
    return (f"a network is already running from {run_dir.path} and is still starting; "
            "`nixvms status` shows it, and `nixvms up` once it is up converges it")


@dataclass(frozen=True)
class Converged:
    steps: tuple[converging.Step, ...]
    ready: dict[str, float]


def converge(state_dir: str | os.PathLike[str], network: str, *, only: Sequence[str] = (),
             fresh: Sequence[str] = (), keep_disks: bool, timeout: float,
             on_event: OnEvent) -> Converged:
    """Take the running network to `network` (a new build of it) and wait until
    the machines it (re)started are ready."""
    opened = open_run(state_dir)
    if not opened.supervisor_alive:
        raise NotRunning(f"no network is running from {opened.run_dir.path}")
    answer = request(opened.run_dir, {"op": "converge", "network": network,
                                      "machines": list(only), "fresh": list(fresh),
                                      "keep_disks": keep_disks})
    steps = tuple(converging.Step(str(m), converging.Action(str(a)), str(r))
                  for m, a, r in answer.get("steps") or [])
    started = [str(n) for n in answer.get("started") or []]
    return Converged(steps, wait_ready(opened.run_dir, started, timeout, on_event))


def wait_ready(run_dir: RunDir, names: list[str], timeout: float,
               on_event: OnEvent) -> dict[str, float]:
    """Wait (reading the state file) until the machines are ready."""
    deadline = time.monotonic() + timeout
    ready: dict[str, float] = {}
    dead: dict[str, str] = {}
    pending = set(names)
    while pending and time.monotonic() < deadline:
        state = runstate.load(run_dir)
        for name in sorted(pending):
            r = state.machine(name) if state is not None else None
            if r is None:
                continue
            if r.phase is Phase.RUNNING:
                ready[name] = r.ready_after or 0.0
                pending.discard(name)
                on_event({"event": "ready", "machine": name, "after": ready[name],
                          "restored": r.restored})
            elif r.phase is Phase.DEAD:
                dead[name] = procs.describe_status(r.exit_status or 0)
                pending.discard(name)
        time.sleep(0.2)
    if pending or dead:
        parts = [f"{n} (died: {dead[n]})" for n in sorted(dead)]
        parts += [f"{n} (not ready after {timeout:g} s)" for n in sorted(pending)]
        details = [(n, tail_lines(run_dir.console_log(n), NOT_READY_LINES))
                   for n in sorted(pending | set(dead))]
        raise NotReady("machines that did not come up: " + ", ".join(parts),
                       sorted(pending | set(dead)), details)
    return ready


def destroy(state_dir: str | os.PathLike[str], machines: Sequence[str] = (),
            timeout: float = 60.0) -> list[Path]:
    """Stop the named machines (all when none named), delete their disks and
    run state; returns what was removed ([] when there was nothing). The
    state directory's handles (state file, lock, control socket) are removed
    only once no process of the network runs."""
    path = Path(state_dir)
    if not path.is_dir():
        if machines:
            raise NotRunning(f"no network has run from {path} (no such directory)")
        return []
    run_dir = prepare(path, create=False)
    state = runstate.load_started(run_dir)
    spec: NetworkSpec | None = None
    if state is None:
        if machines:
            raise NotRunning(f"no network has run from {run_dir.path} ({_damaged(run_dir)})")
        stop(run_dir.path, (), timeout)  # finds and stops a network that lost its state
        names = sorted(p.name for p in run_dir.path.iterdir()
                       if p.is_dir() and not p.is_symlink())
    else:
        spec = load_network(state.network)
        names = [spec.machine(n).name for n in machines] or list(spec.names)
        stop(run_dir.path, machines, timeout)
    removed: list[Path] = []
    for name in names:
        for item in (run_dir.machine_dir(name), run_dir.console_log(name),
                     run_dir.output_log(name), run_dir.driver_log(name),
                     *run_dir.machine_sockets(name)):
            if remove_path(item):
                removed.append(item)
    everything = not machines
    if everything:
        left = recovery.find(run_dir)
        if left.pids or (state is not None and state.supervisor_alive(run_dir)):
            raise StateDamaged(f"processes of the network running from {run_dir.path} "
                               f"are still running ({left.describe()}); its lock, state and "
                               "control socket are kept so that `nixvms stop` can reach them")
        # Only what the supervisor makes: a state directory may hold other files.
        vlans = spec.vlans if spec is not None else ()
        ours = [run_dir.state_file, run_dir.ssh_config, run_dir.supervisor_log,
                run_dir.control_socket, run_dir.lock_file,
                *(run_dir.switch_log(v) for v in vlans),
                *(run_dir.switch_socket(v) for v in vlans),
                *run_dir.path.glob("vde*.log"), *run_dir.sockets.glob("vde*.ctl"),
                *run_dir.path.glob(f".{run_dir.state_file.name}.*"),
                *run_dir.path.glob(f".{run_dir.ssh_config.name}.*")]
        for item in dict.fromkeys(ours):
            if remove_path(item):
                removed.append(item)
        if run_dir.sockets != run_dir.path:
            with contextlib.suppress(OSError):
                run_dir.sockets.rmdir()
        with contextlib.suppress(OSError):
            run_dir.path.rmdir()  # when nothing else is left in it
            removed.append(run_dir.path)
    return removed
