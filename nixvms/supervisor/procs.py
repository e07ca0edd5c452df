"""Processes: started so that they never outlive their parent, stopped whole.

Every switch and VM is started in its own session (so its process group holds
everything it starts) with Linux's parent-death signal set to SIGKILL: when
the process that started it dies, even by `kill -9`, the kernel kills it.
The parent-death signal follows the *thread* that forked: start processes from
a thread that lives as long as they should (the supervisor uses its main
thread).

A pid alone can be reused; a recorded process is (pid, start time), the start
time in clock ticks since boot as /proc/<pid>/stat gives it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

PR_SET_PDEATHSIG = 1

try:
    _libc: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - every Linux libc has prctl
    _libc = None


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks since boot), or None if gone."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def alive(pid: int, started: int | None = None) -> bool:
    """Whether the process runs (a zombie does not) and, given its start time,
    is the same process as the one recorded."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X", "x"):
        return False
    return started is None or int(fields[19]) == started


@dataclass(frozen=True)
class ProcessRecord:
    """A process as the state file records it."""

    pid: int
    start_time: int
    command: tuple[str, ...]
    started_at: float  # wall clock (time.time())

    def alive(self) -> bool:
        return alive(self.pid, self.start_time)

    @classmethod
    def of(cls, pid: int, command: tuple[str, ...], started_at: float) -> ProcessRecord | None:
        """The record of a running process (None when it is gone)."""
        started = start_time(pid)
        return cls(pid, started, command, started_at) if started is not None else None


def group_members(pgid: int) -> list[int]:
    """The running processes whose process group is pgid."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields and fields[0] not in ("Z", "X", "x") and int(fields[2]) == pgid:
                members.append(int(entry))
    return members


def environment_says(pid: int, name: str, value: str) -> bool:
    """Whether the process's environment has name=value (its own record of
    what it belongs to: a VM's NIX_DISK_IMAGE, say)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"{name}={value}".encode() in environ.split(b"\0")


def _child_setup(parent: int, new_session: bool = True) -> Callable[[], None]:
    def setup() -> None:
        if new_session:
            os.setsid()
        if _libc is not None:
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return setup


def spawn(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | os.PathLike[str] | None,
    stdin: int | IO[bytes] | None,
    output: IO[bytes],
    pass_fds: Sequence[int] = (),
    new_session: bool = True,
) -> subprocess.Popen[bytes]:
    """Start a process that dies with this process, in its own session unless
    new_session is False (then a Ctrl-C at the terminal reaches it too)."""
    return subprocess.Popen(
        list(command),
        env=dict(env),
        cwd=cwd,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        pass_fds=tuple(pass_fds),
        preexec_fn=_child_setup(os.getpid(), new_session),  # the one way to set PDEATHSIG
    )


def signal_group(pid: int, sig: int) -> None:
    """Send sig to the process's group (it leads its own session) and to itself."""
    for target in (-pid, pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(target, sig)


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop_processes(
    processes: Sequence[subprocess.Popen[bytes]], timeout: float
) -> list[subprocess.Popen[bytes]]:
    """SIGTERM every process's group, wait up to timeout, SIGKILL what is left.

    Returns the processes that had to be killed."""
    for proc in processes:
        if proc.poll() is None:
            signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(p.poll() is None for p in processes):
        time.sleep(0.05)
    killed = [p for p in processes if p.poll() is None]
    for proc in processes:
        # Also reaches what is left of the group after its leader stopped.
        signal_group(proc.pid, signal.SIGKILL)
    for proc in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    return killed


def describe_status(returncode: int) -> str:
    """'exit status 1' or 'killed by SIGKILL'."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"
