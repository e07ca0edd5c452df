"""Commands and files on running machines through their backdoor: `exec`, `cp`.

The test instrumentation's backdoor (backdoor.py) reaches every machine as
root without ssh or a network, so `nixvms exec` and `nixvms cp` work on
machines without openssh, as the test driver does. QEMU serves one client
per backdoor socket: while a test driver holds a machine's, these wait.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import transfer
from .backdoor import Backdoor, BackdoorClosed, BackdoorError, Sink
from .client import Opened, not_running, open_run
from .errors import NotRunning, UsageError
from .transfer import Copied

CONNECT_TIMEOUT = 60.0


def choose(opened: Opened, on: Sequence[str]) -> list[str]:
    """The running machines `--on` names (names, targetHosts, @tags, comma lists);
    all running ones when none."""
    running = [m.name for m in opened.spec.machines if opened.state.up(m.name)]
    if not on:
        return running
    chosen: list[str] = []
    for item in (part for spec in on for part in spec.split(",") if part):
        if item.startswith("@"):
            tagged = [m.name for m in opened.spec.machines if item[1:] in m.tags]
            if not tagged:
                raise UsageError(f"--on {item}: no machine has the tag {item[1:]!r} "
                                 "(deployment.tags)")
            chosen += tagged
        else:
            chosen.append(opened.spec.machine(item).name)
    stopped = [name for name in dict.fromkeys(chosen) if name not in running]
    if stopped:
        raise not_running(opened, stopped[0])
    return list(dict.fromkeys(chosen))


@contextlib.contextmanager
def backdoor(opened: Opened, name: str) -> Iterator[Backdoor]:
    """A connected backdoor of a running machine."""
    if not opened.supervisor_alive or not opened.state.up(name):
        raise not_running(opened, name)
    door = Backdoor(opened.run_dir.shell_socket(name), name, lambda message: None)
    try:
        door.connect(CONNECT_TIMEOUT, lambda: opened.state.supervisor_alive(opened.run_dir),
                     lambda: f"machine {name} stopped")
    except BackdoorError as error:
        raise NotRunning(f"machine {name}: its backdoor does not answer ({error.message}); "
                         "does it import the test instrumentation?") from None
    try:
        yield door
    finally:
        door.close()


class _Lines:
    """A sink that hands on complete lines as they arrive."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.partial = b""

    def write(self, data: bytes) -> int:
        self.partial += data
        *lines, self.partial = self.partial.split(b"\n")
        for line in lines:
            self.emit(line.decode(errors="replace"))
        return len(data)

    def close(self) -> None:
        if self.partial:
            self.emit(self.partial.decode(errors="replace"))
            self.partial = b""


@dataclass(frozen=True)
class Outcome:
    machine: str
    status: int | None   # None: it could not be run
    error: str = ""


def execute(state_dir: str, on: Sequence[str], command: str, timeout: float | None,
            emit: Callable[[str, str], None]) -> list[Outcome]:
    """Run `command` on the chosen machines at once; each output line is
    emitted as (machine, line) as it comes. One outcome per machine."""
    opened = open_run(state_dir)
    names = choose(opened, on)
    if not names:
        raise NotRunning(f"no machine is running from {opened.run_dir.path}")
    outcomes: dict[str, Outcome] = {}
    lock = threading.Lock()

    def one(name: str) -> None:
        def line(text: str) -> None:
            with lock:
                emit(name, text)

        sink = _Lines(line)
        try:
            with backdoor(opened, name) as door:
                status, _ = door.run(command, timeout, sink)
            outcomes[name] = Outcome(name, status)
        except (BackdoorClosed, BackdoorError, NotRunning) as error:
            outcomes[name] = Outcome(name, None, error.message)
        finally:
            sink.close()

    threads = [threading.Thread(target=one, args=(name,), daemon=True) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [outcomes[name] for name in names]


def _side(text: str) -> tuple[str | None, str]:
    """MACHINE:PATH -> (machine, path); a local path -> (None, path). A path
    with a slash before any colon is local (./a:b)."""
    colon = text.find(":")
    if colon > 0 and "/" not in text[:colon]:
        return text[:colon], text[colon + 1:]
    return None, text


def copy(state_dir: str, source: str, destination: str, *, recursive: bool) -> tuple[str, Copied]:
    """`nixvms cp SOURCE DEST`: one side MACHINE:PATH, the other a local path."""
    (src_machine, src_path), (dst_machine, dst_path) = _side(source), _side(destination)
    if (src_machine is None) == (dst_machine is None):
        raise UsageError("give one side as MACHINE:PATH and the other as a local path "
                         "(e.g. nixvms cp ./file web:/tmp/)")
    opened = open_run(state_dir)
    name = opened.spec.machine(src_machine or dst_machine or "").name
    remote = src_path if src_machine else dst_path
    if not remote.startswith("/"):
        raise UsageError(f"{remote!r}: give the machine's side as an absolute path")
    with backdoor(opened, name) as door:
        def run(command: str, timeout: float | None,
                sink: Sink | None) -> tuple[int, bytes]:
            return door.run(command, timeout, sink)

        if src_machine:
            return name, transfer.from_machine(run, src_path, Path(dst_path),
                                               recursive=recursive)
        target = dst_path
        if target.endswith("/"):
            target += Path(src_path).name
        return name, transfer.to_machine(run, door.put, Path(src_path), target,
                                         recursive=recursive)
