"""What runs: the running network's state file, its one owner and one loader.

The supervisor is the only writer (`save`, atomic: a temporary file renamed
over <state>/state.json, so a reader or a kill never sees half of one);
everyone else — nixvms's commands, run-vms, the test driver — reads it with
`load`, which returns None for a file that is missing, truncated, of another
version or kind, or garbage. Processes are recorded as (pid, start time,
command), so a recorded pid is taken for ours only while it still is
(procs.ProcessRecord.alive).
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import typedjson
from .launch import StartRequest
from .machines import HostForward
from .procs import ProcessRecord
from .statedir import RunDir, is_locked, write_private

VERSION = 2
KIND = "RunState"
# A supervisor saves its first state within a second of taking the lock;
# a reader that comes in between waits this long for it (load_started).
FIRST_SAVE_WAIT = 5.0


class Phase(enum.Enum):
    """Where a machine is in its life."""

    STARTING = "starting"   # QEMU runs; not ready yet
    RUNNING = "running"     # ready: login prompt seen (and ssh answers, where enabled)
    STOPPED = "stopped"     # not running, as asked (or never started)
    DEAD = "dead"           # QEMU exited without being asked to
    UNREACHABLE = "unreachable"  # on another host whose ssh session was lost (remote.py)

    @property
    def up(self) -> bool:
        """Whether the machine's QEMU runs (or should)."""
        return self in (Phase.STARTING, Phase.RUNNING)


@dataclass(frozen=True)
class MachineState:
    """One machine as the supervisor last saw it."""

    vm: str                                   # the VM store path it runs (or last ran)
    phase: Phase = Phase.STOPPED
    process: ProcessRecord | None = None      # its VM script, while up
    ready_after: float | None = None          # seconds from start to ready
    exit_status: int | None = None            # when dead
    ssh_port: int | None = None               # the host port forwarded to its ssh, while up
    forwards: tuple[HostForward, ...] = ()    # --forward's, while up
    disk_vm: str | None = None                # the VM store path its disk was made by
    last_ssh_port: int | None = None          # its ssh port when it last ran: asked for again
    stage: str = ""                           # how far it booted (boot.py), while starting
    restored: str = ""                        # what its last start restored instead of booting


@dataclass(frozen=True)
class SwitchState:
    """The vde_switch of one VLAN."""

    vlan: int
    process: ProcessRecord | None
    running: bool


@dataclass(frozen=True)
class RunState:
    """The running (or last run) network of one state directory."""

    network: str                              # the network directory's store path
    supervisor: ProcessRecord
    request: StartRequest                     # how it was started: restarts reuse it
    sockets: str                              # the socket directory (statedir.RunDir)
    switches: tuple[SwitchState, ...] = ()
    machines: Mapping[str, MachineState] = field(default_factory=dict)
    # True from the supervisor's first save until it has started what it was
    # asked to: its machines' phases are not yet what it will make them, so a
    # second `up` must not plan a converge from them.
    launching: bool = False

    def machine(self, name: str) -> MachineState | None:
        return self.machines.get(name)

    def supervisor_alive(self, run_dir: RunDir) -> bool:
        """Whether the supervisor that wrote this still runs (the same process,
        holding the state directory's lock)."""
        return self.supervisor.alive() and is_locked(run_dir)

    def up(self, name: str) -> bool:
        machine = self.machines.get(name)
        return machine is not None and machine.phase.up


def load(run_dir: RunDir) -> RunState | None:
    """The state file's record, or None when there is none that can be trusted."""
    try:
        raw = json.loads(run_dir.state_file.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(raw, dict) or raw.get("kind") != KIND or raw.get("version") != VERSION:
        return None
    return typedjson.from_data(RunState, raw.get("data"))


def load_started(run_dir: RunDir, timeout: float = FIRST_SAVE_WAIT) -> RunState | None:
    """load(), waiting up to `timeout` for a supervisor that holds the lock
    but has not saved its first state yet, so that a network in its first
    instant is not taken for one whose state file is missing."""
    deadline = time.monotonic() + timeout
    state = load(run_dir)
    while (state is None and not run_dir.state_file.exists() and is_locked(run_dir)
           and time.monotonic() < deadline):
        time.sleep(0.05)
        state = load(run_dir)
    return state


def save(run_dir: RunDir, state: RunState) -> None:
    """Write the state file atomically (0600)."""
    text = json.dumps({"kind": KIND, "version": VERSION, "data": typedjson.to_data(state)},
                      indent=2, sort_keys=True)
    write_private(run_dir.state_file, text + "\n")
