"""What the supervisor does with snapshots (snapshots.py says what they are):
starting a machine from one, taking a machine's ready snapshot once it is
ready, and the control requests snapshot-save, -restore and -delete.

`SnapshotOps` is a part of the Supervisor (supervisor.py), kept here so that
each file stays one job; `MachineRun` is what the supervisor tracks of a
machine. Standard library only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import snapshots
from .errors import SupervisorError
from .machines import VM, HostForward
from .runstate import Phase
from .snapshots import CannotSnapshot, ShellProbe, Snapshot, SnapshotError, Target
from .spec import NetworkSpec
from .statedir import RunDir, remove_path

BACKDOOR_TIMEOUT = 120.0  # seconds after its login prompt a machine's backdoor has to answer
READY = "its ready snapshot"

Report = Callable[[dict[str, Any]], None]


@dataclass
class MachineRun:
    """What the supervisor tracks of one machine."""

    vm: VM
    phase: Phase = Phase.STOPPED
    exit_status: int | None = None
    ready_after: float | None = None
    disk_vm: str | None = None
    last_ssh_port: int | None = None
    forwards: list[HostForward] = field(default_factory=list)
    restore: tuple[str, str] | None = None  # (tag, what) loaded before it runs
    restored: str = ""                      # what its last start restored
    ready_wanted: bool = False              # take its ready snapshot once ready
    probe: ShellProbe | None = None         # its backdoor, asked meanwhile


class SnapshotOps:
    """The Supervisor's snapshot work (it inherits this)."""

    spec: NetworkSpec
    run_dir: RunDir
    runs: dict[str, MachineRun]
    report: Report

    def save(self) -> None:
        raise NotImplementedError

    def stop_machines(self, names: list[str]) -> list[str]:
        raise NotImplementedError

    def start_machines(self, names: list[str], fresh: set[str], ready: set[str] | None = None,
                       snapshot: Snapshot | None = None) -> list[str]:
        raise NotImplementedError

    def _plan_start(self, run: MachineRun, fresh: bool, ready: bool,
                    snapshot: Snapshot | None) -> bool:
        """How the machine starts: from a snapshot (loaded before it runs), or
        booted; whether from a new disk."""
        vm, name = run.vm, run.vm.name
        run.restore, run.restored, run.ready_wanted, run.probe = None, "", False, None
        vm.console_prefix = None
        if snapshot is not None and name in snapshot.machines:
            run.restore = (snapshot.machines[name].tag, f"snapshot {snapshot.name!r}")
        elif ready:
            tag = snapshots.ready_tag(self.run_dir, name, vm.machine.vm, vm.disk)
            if tag is not None:
                run.restore = (tag, READY)
                vm.console_prefix = snapshots.ready_console(self.run_dir, name)
            else:  # booted from a new disk, as a first boot: its snapshot is of that
                remove_path(snapshots.ready_path(self.run_dir, name))
                fresh, run.ready_wanted = True, True
        vm.paused_start = run.restore is not None
        return fresh

    def _target(self, run: MachineRun) -> Target:
        vm = run.vm
        return Target(vm.name, vm.qemu(), vm.disk, vm.machine.vm, vm.shell_socket)

    def _load_snapshots(self, runs: list[MachineRun]) -> None:
        """Machines started paused: load their snapshots, let them run, set
        their clocks; a ready snapshot that cannot be loaded boots the machine
        instead, another snapshot stops it (SnapshotError)."""
        failed: list[str] = []
        loaded: list[MachineRun] = []
        for run in runs:
            vm = run.vm
            assert run.restore is not None
            tag, what = run.restore
            try:
                snapshots.wait_qmp(vm.qemu(), vm.is_running)
                snapshots.load_tag(vm.qemu(), tag)
                vm.qemu().execute("cont")
            except SupervisorError as error:
                self.stop_machines([vm.name])
                if what == READY:
                    self.report({"event": "warning", "message":
                                 f"{vm.name}: its ready snapshot could not be loaded "
                                 f"({error.message}); booting it from a new disk"})
                    remove_path(snapshots.ready_path(self.run_dir, vm.name))
                    self.start_machines([vm.name], {vm.name}, {vm.name})
                else:
                    failed.append(f"{vm.name}: {error.message}")
                continue
            run.restored = what
            loaded.append(run)
        unset = snapshots.after_restore([self._target(r) for r in loaded])
        events = []
        for run in loaded:
            run.phase = Phase.RUNNING
            run.ready_after = round(time.monotonic() - run.vm.started_monotonic, 1)
            events.append({"event": "ready", "machine": run.vm.name, "after": run.ready_after,
                           "restored": run.restored, "ssh_port": run.vm.ssh_port})
        self.save()
        for event in events:
            self.report(event)
        self._warn_clock(unset)
        if failed:
            raise SnapshotError("not restored: " + "; ".join(failed))

    def _warn_clock(self, names: list[str]) -> None:
        for name in names:
            self.report({"event": "warning", "machine": name, "clock_unset": True, "message":
                         f"{name}: its clock was not set after the restore (its backdoor "
                         "root shell did not answer); it is the snapshot's time"})

    def _ready_saved(self, run: MachineRun) -> bool:
        """Whether a ready machine is done with its ready snapshot: taken once
        its backdoor answers (or given up on, said once)."""
        if not run.ready_wanted:
            return True
        vm = run.vm
        if not vm.qmp_socket.exists():  # not QEMU (a stand-in VM script): nothing to save
            run.ready_wanted = False
            return True
        if run.probe is None:
            run.probe = ShellProbe(vm.shell_socket, BACKDOOR_TIMEOUT)
        if not run.probe.answered():
            if not run.probe.expired:
                return False
            self.report({"event": "warning", "message":
                         f"{vm.name}: no ready snapshot taken: its backdoor root shell did "
                         f"not answer within {BACKDOOR_TIMEOUT:g} s of its login prompt"})
        else:
            run.probe.close()
            try:
                size = snapshots.save_tag(vm.qemu(), vm.disk, snapshots.READY_TAG)
                snapshots.keep_console(vm.log, snapshots.ready_console(self.run_dir, vm.name))
                snapshots.write_ready(self.run_dir, vm.name, snapshots.ReadySnapshot(
                    vm=vm.machine.vm, tag=snapshots.READY_TAG, taken_at=time.time(),
                    size=size))
                self.report({"event": "info", "message":
                             f"{vm.name}: saved its ready snapshot "
                             f"({snapshots.human_size(size)}); the next run restores it"})
            except CannotSnapshot as error:
                self.report({"event": "warning", "message": f"{error.message}; it boots "
                             "instead of being restored"})
            except SupervisorError as error:
                self.report({"event": "warning", "message": f"{vm.name}: no ready snapshot "
                             f"taken: {error.message}"})
        run.probe, run.ready_wanted = None, False
        return True

    # --- snapshots ------------------------------------------------------------
    def snapshot_save(self, name: str, machines: list[str]) -> dict[str, Any]:
        names = machines or [n for n, r in self.runs.items() if r.phase.up]
        if not names:
            raise SnapshotError("no machine is running: there is nothing to snapshot")
        waiting = [n for n in names if self.runs[n].phase is not Phase.RUNNING]
        if waiting:
            raise SnapshotError(f"not ready (or not running): {', '.join(waiting)}; a "
                                "snapshot is of ready machines")
        previous = snapshots.load(self.run_dir, name)
        keep = {m: e for m, e in previous.machines.items() if m not in names} \
            if machines and previous is not None else {}
        snap = snapshots.save_all(self.run_dir, name, [self._target(self.runs[n])
                                                       for n in names], keep)
        return {"ok": True, "name": name, "machines": sorted(snap.machines),
                "size": snap.size}

    def snapshot_restore(self, name: str, machines: list[str]) -> dict[str, Any]:
        snap = snapshots.find(self.run_dir, name)
        names = machines or list(snap.machines)
        absent = [n for n in names if n not in snap.machines]
        if absent:
            raise SnapshotError(f"snapshot {name!r} has no machine {absent[0]} (it has "
                                f"{', '.join(sorted(snap.machines))})")
        refused = snapshots.refusals(snap, {m.name: m.vm for m in self.spec.machines})
        names = [n for n in names if n not in refused]
        self.stop_machines([n for n in names if self.runs[n].phase is Phase.STARTING])
        running = [self.runs[n] for n in names if self.runs[n].phase is Phase.RUNNING]
        unset = snapshots.restore_running(snap, [self._target(r) for r in running])
        for run in running:
            run.restored = f"snapshot {name!r}"
        others = [] if machines else [n for n, r in self.runs.items()
                                      if r.phase.up and n not in snap.machines]
        self.stop_machines(others)
        self._warn_clock(unset)
        self.start_machines([n for n in names if not self.runs[n].phase.up], set(),
                            snapshot=snap)
        self.save()
        return {"ok": True, "restored": names, "stopped": others,
                "refused": [refused[n] for n in sorted(refused)], "clock_unset": unset}

    def snapshot_delete(self, name: str) -> dict[str, Any]:
        running = {n: r.vm.qemu() for n, r in self.runs.items() if r.phase.up}
        disks = {n: r.vm.disk for n, r in self.runs.items()}
        snap = snapshots.delete(self.run_dir, name, running, disks)
        return {"ok": True, "deleted": name, "machines": sorted(snap.machines)}

