"""A running network found without its state file.

The state file can be deleted, truncated or overwritten while the network
runs. The processes still say whose they are: the supervisor holds the state
directory's lock file open (and was started with --serve), each VM script and
what it starts run with TMPDIR set to its machine's directory inside the
state directory, and each switch was started with its socket inside the
network's socket directory. So `status`, `stop` and `destroy` keep control
of a network whose state file is gone (client.py), and never take a stranger
for one of ours: every process found is matched by what it says of itself,
not by a recorded number.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import procs
from .statedir import RunDir

if TYPE_CHECKING:  # runstate imports launch, which the state file needs: types only
    from .runstate import RunState

STOP_WAIT = 10.0


@dataclass(frozen=True)
class Found:
    """The processes of the network running from one state directory."""

    supervisors: tuple[int, ...]
    vms: tuple[int, ...]        # VM scripts, QEMU and whatever they started
    switches: tuple[int, ...]
    # (pid, start time) of each, as found: a later look tells the same process
    # from a stranger that took its number.
    identities: tuple[tuple[int, int], ...] = ()

    def still_running(self) -> tuple[int, ...]:
        """Those of the processes found that still run (the same processes)."""
        return tuple(pid for pid, started in self.identities if procs.alive(pid, started))

    @property
    def pids(self) -> tuple[int, ...]:
        return self.supervisors + self.vms + self.switches

    def describe(self) -> str:
        parts = [f"{what} {', '.join(map(str, pids))}" for what, pids in (
            ("supervisor", self.supervisors), ("VM processes", self.vms),
            ("switches", self.switches)) if pids]
        return "; ".join(parts) or "no process"


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _holds(pid: int, path: Path) -> bool:
    """Whether the process has `path` open."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                return True
    return False


def _environment(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
    return {key: value for key, _, value in pairs}


def find(run_dir: RunDir) -> Found:
    """The network's processes, by what each says of itself."""
    me = os.getpid()
    supervisors, vms, switches = [], [], []
    switch_prefix = str(run_dir.sockets / "vde")
    machine_prefix = str(run_dir.path) + os.sep
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        if not procs.alive(pid):
            continue
        cmdline = _cmdline(pid)
        if "--serve" in cmdline and _holds(pid, run_dir.lock_file):
            supervisors.append(pid)
        elif "--sock" in cmdline and any(a.startswith(switch_prefix) for a in cmdline):
            switches.append(pid)
        elif _environment(pid).get("TMPDIR", "").startswith(machine_prefix):
            vms.append(pid)  # the VM script set it: a VM script, QEMU, or their children
    identities = tuple((pid, started) for pid in supervisors + vms + switches
                       if (started := procs.start_time(pid)) is not None)
    return Found(tuple(supervisors), tuple(vms), tuple(switches), identities)


def stop(run_dir: RunDir, timeout: float = STOP_WAIT, earlier: Found | None = None) -> Found:
    """Stop what `find` finds: the supervisor first (it stops the rest), then
    anything left, TERM then KILL. `earlier` is what a caller found before it
    asked the supervisor to stop: a supervisor that has released its lock is no
    longer found but is still exiting, and is waited for (or killed) too.
    Returns what is still running (nothing, or processes that could not be
    signalled)."""
    found = find(run_dir)
    for pid in found.supervisors:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)

    def remaining(now: Found) -> tuple[int, ...]:
        return tuple(dict.fromkeys(now.pids + (earlier.still_running() if earlier else ())))

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (
            any(procs.alive(p) for p in found.supervisors)
            or (earlier is not None and set(earlier.supervisors) & set(earlier.still_running()))):
        time.sleep(0.05)
    left = find(run_dir)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = remaining(left)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        wait_until = time.monotonic() + (timeout / 2 if sig == signal.SIGTERM else 5)
        while time.monotonic() < wait_until and any(procs.alive(p) for p in pids):
            time.sleep(0.05)
        left = find(run_dir)
        if not remaining(left):
            break
    return left


def reap_leftovers(previous: RunState, run_dir: RunDir) -> None:
    """Kill what is left of the process groups a previous supervisor recorded.

    Its VMs and switches died with it (parent-death signal), but what a VM
    script started beside QEMU would not. A recorded group is signalled only
    where it is still ours: its leader is the recorded process (pid and start
    time), or, the leader gone, only the members whose environment names this
    state directory's machine (a VM script's TMPDIR), never a stranger that
    reuses the pid. We hold the state directory's lock: no supervisor runs
    from here."""
    for name, machine in previous.machines.items():
        record = machine.process
        if record is None or record.pid <= 1:
            continue
        if record.alive():
            procs.signal_group(record.pid, signal.SIGKILL)
            continue
        marker = str(run_dir.machine_dir(name))
        for pid in procs.group_members(record.pid):
            if procs.environment_says(pid, "TMPDIR", marker):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
    for switch in previous.switches:
        if switch.process is not None and switch.process.alive():
            procs.signal_group(switch.process.pid, signal.SIGKILL)
