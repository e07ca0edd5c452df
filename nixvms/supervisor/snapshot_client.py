"""The front door of snapshots: save, restore, list and delete a running
network's snapshots (snapshots.py says what they are).

What runs is the supervisor's: saving and restoring go through its control
socket, so they never race a start or a stop. Restoring a network that no
longer runs (`nixvms stop`, a supervisor killed) starts its supervisor with
the machines loaded from the snapshot instead of booted; listing and deleting
need no supervisor. Like client.py, this raises SupervisorError subclasses
and prints nothing.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass

from . import snapshots
from .client import OnEvent, Opened, open_run, open_state_dir, request, start
from .errors import NotRunning
from .snapshots import Snapshot, SnapshotError
from .spec import load_network

# seconds a save or a restore may take, per machine (QEMU writes or reads its RAM)
PER_MACHINE = snapshots.SAVE_TIMEOUT


@dataclass(frozen=True)
class Saved:
    name: str
    machines: tuple[str, ...]
    size: int


@dataclass(frozen=True)
class Restored:
    name: str
    machines: tuple[str, ...]           # put back as the snapshot has them
    stopped: tuple[str, ...] = ()       # running, but not in the snapshot: stopped
    refused: tuple[str, ...] = ()       # why a machine was not restored (another build)
    clock_unset: tuple[str, ...] = ()   # restored, but their clocks could not be set
    started: bool = False               # no network ran: its supervisor was started


def _running(state_dir: str | os.PathLike[str], what: str) -> Opened:
    opened = open_run(state_dir)
    if not opened.supervisor_alive:
        raise NotRunning(f"no network is running from {opened.run_dir.path}: there is "
                         f"nothing to {what} (start it with `nixvms up`)")
    return opened


def save(state_dir: str | os.PathLike[str], name: str = snapshots.DEFAULT_NAME,
         machines: Sequence[str] = ()) -> Saved:
    """Save the running machines (or those named) as snapshot NAME."""
    snapshots.check_name(name)
    opened = _running(state_dir, "snapshot")
    names = [opened.spec.machine(n).name for n in machines]
    answer = request(opened.run_dir, {"op": "snapshot-save", "name": name,
                                      "machines": names},
                     timeout=PER_MACHINE * max(1, len(names or opened.spec.names)))
    return Saved(name, tuple(answer.get("machines") or ()), int(answer.get("size") or 0))


def restore(state_dir: str | os.PathLike[str], name: str = snapshots.DEFAULT_NAME,
            machines: Sequence[str] = (), *, network: str | None = None,
            timeout: float = 120.0, on_event: OnEvent = lambda event: None) -> Restored:
    """Put the machines (all of the snapshot's when none named) back as snapshot
    NAME has them. Where no network runs, its supervisor is started from the
    network directory `network` (default: the one that ran last) with them."""
    snapshots.check_name(name)
    opened = open_run(state_dir)
    snap = snapshots.find(opened.run_dir, name)
    if opened.supervisor_alive:
        names = [opened.spec.machine(n).name for n in machines]
        answer = request(opened.run_dir, {"op": "snapshot-restore", "name": name,
                                          "machines": names},
                         timeout=PER_MACHINE * max(1, len(names or snap.machines)))
        return Restored(name, _strings(answer, "restored"), _strings(answer, "stopped"),
                        _strings(answer, "refused"), _strings(answer, "clock_unset"))
    spec = load_network(network) if network else opened.spec
    names = [spec.machine(n).name for n in machines] or sorted(snap.machines)
    absent = [n for n in names if n not in snap.machines]
    if absent:
        raise SnapshotError(f"snapshot {name!r} has no machine {absent[0]} (it has "
                            f"{', '.join(sorted(snap.machines))})")
    refused = snapshots.refusals(snap, {m.name: m.vm for m in spec.machines})
    wanted = [n for n in names if n not in refused]
    if not wanted:
        return Restored(name, (), refused=tuple(refused[n] for n in sorted(refused)))
    previous = opened.state.request
    startup = previous.but(machines=wanted, snapshot=name)
    if spec.path != previous.network:
        startup = dataclasses.replace(startup, network=spec.path)
    clock_unset: list[str] = []

    def watch(event: dict[str, object]) -> None:
        if event.get("clock_unset"):
            clock_unset.append(str(event.get("machine")))
        on_event(event)

    started = start(startup, detach=True, timeout=timeout, on_event=watch)
    started.close()
    return Restored(name, tuple(wanted), refused=tuple(refused[n] for n in sorted(refused)),
                    clock_unset=tuple(clock_unset), started=True)


def _strings(answer: dict[str, object], key: str) -> tuple[str, ...]:
    found = answer.get(key)
    return tuple(str(item) for item in found) if isinstance(found, list) else ()


def listing(state_dir: str | os.PathLike[str]) -> list[Snapshot]:
    """The snapshots of the state directory, oldest first."""
    return snapshots.list_all(open_state_dir(state_dir))


def delete(state_dir: str | os.PathLike[str], name: str = snapshots.DEFAULT_NAME) -> Snapshot:
    """Delete snapshot NAME (its record and its tags in the machines' disks)."""
    snapshots.check_name(name)
    opened = open_run(state_dir)
    if opened.supervisor_alive:
        snap = snapshots.find(opened.run_dir, name)
        request(opened.run_dir, {"op": "snapshot-delete", "name": name},
                timeout=PER_MACHINE)
        return snap
    disks = {m.name: opened.run_dir.machine_dir(m.name) / m.disk_name
             for m in opened.spec.machines}
    return snapshots.delete(opened.run_dir, name, {}, disks)
