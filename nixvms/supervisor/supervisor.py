"""The supervisor: one process that owns a running network.

It holds the state directory's lock for as long as it runs, starts the
switches and VMs (machines.py), watches them (readiness, deaths), records
everything in the state file, and answers requests on its control socket.
It stops everything on SIGTERM, SIGINT or SIGHUP, or when asked to stop all;
it exits by itself when no VM is left running. If it is killed outright, the
kernel kills its switches and VMs (parent-death signal) and drops its lock.

Control socket (<sockets>/control): one JSON object per line in, one per line
out. {"op": "status"} -> {"ok": true, "pid": ...};
{"op": "stop", "machines": [...]} (none named: all, then the supervisor
exits) -> {"ok": true, "stopped": [...]}; {"op": "start", "machines": [...],
"fresh": [...]} -> {"ok": true, "started": [...]}; on failure {"ok": false,
"error": "...", "kind": "<error class>"}.

Events (`report`): JSON lines on a pipe to whoever started it (`up` prints
them): {"event": "ready", "machine", "after"}, {"event": "died", "machine",
"status", "lines"}, {"event": "warning"|"info", "message"}, {"event":
"started", "machines"}, {"event": "error", "message", "kind"}.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import capacity, errors, procs, recovery, runstate, snapshots
from . import converge as converging
from .control import ControlServer
from .errors import PortError, StartError, SupervisorError, UsageError
from .launch import StartRequest, check_forwards
from .links import Links
from .machines import VM, HostForward, Switch, VMOptions
from .ports import PortLock, choose_port, choose_ports, port_free, stable_port
from .remotes import Remotes
from .runstate import MachineState, Phase, RunState, SwitchState
from .snapshots import Snapshot
from .snapshotting import MachineRun, SnapshotOps
from .spec import NetworkSpec, load_network
from .sshconfig import ssh_config_text
from .statedir import RunDir, StateLock, remove_path, write_private
from .text import tail_lines

# How often the supervisor looks: a machine is reported ready within about
# READY_POLL of the moment its condition holds (issue 28, point 4).
READY_POLL = 0.1
# sshd is probed from multi-user.target on (sshd is wanted by it, and the
# guest's network is up): where it answers before the login prompt, the
# prompt makes the machine ready at once.
SSH_PROBE_STAGES = ("multi-user", "login")
BIND_TIMEOUT = 30.0
FORWARD_RETRIES = 3
DEATH_LINES = 10

Report = Callable[[dict[str, Any]], None]


class Supervisor(SnapshotOps):
    def __init__(self, spec: NetworkSpec, run_dir: RunDir, lock: StateLock,
                 request: StartRequest, report: Report) -> None:
        self.spec = spec
        self.run_dir = run_dir
        self.lock = lock
        self.request = request
        self.report = report
        self.switches = {v: Switch(v, run_dir, request.vde_switch) for v in spec.vlans}
        self.links = Links(spec, run_dir.sockets, run_dir.path, self.switches,
                           request.vde_switch)
        self.vm_options = VMOptions(accel=request.accel, qemu_opts=request.qemu_opts,
                                    net_opts=request.net_opts,
                                    kernel_params=request.kernel_params)
        self.runs: dict[str, MachineRun] = {}
        self.remotes = Remotes(request.remote, spec,
                               {v: s.socket for v, s in self.switches.items()}, run_dir,
                               request.hosts_accel)
        self.placed = self.remotes.placed
        self.left: list[str] = []  # what stop_all could not stop (on other hosts)
        for machine in spec.machines:
            vm = VM(machine, run_dir, vde_sockets=self.links.vde_sockets(machine),
                    options=self.vm_options)
            self.runs[machine.name] = MachineRun(vm=vm)
        self.started_at = time.time()
        self.stopping = False
        self.exit_code = 0
        self.launching = True  # until run() has started what the request names
        previous = runstate.load(run_dir)
        if previous is not None:
            for name, recorded in previous.machines.items():
                if name in self.runs:
                    self.runs[name].disk_vm = recorded.disk_vm
                    self.runs[name].last_ssh_port = recorded.last_ssh_port
            recovery.reap_leftovers(previous, run_dir)
        me = os.getpid()
        self.record = procs.ProcessRecord.of(me, tuple(sys.argv), self.started_at) or \
            procs.ProcessRecord(me, 0, tuple(sys.argv), self.started_at)

    # --- the state file -------------------------------------------------------
    def state(self) -> RunState:
        machines = {}
        for name, run in self.runs.items():
            vm = run.vm
            # a machine on another host: its host's ssh session is its process here
            placed = name in self.placed
            up = run.phase.up and (vm.process is not None or placed)
            machines[name] = MachineState(
                vm=vm.machine.vm,
                phase=run.phase,
                process=procs.ProcessRecord.of(vm.process.pid, vm.command, vm.started_at)
                if up and vm.process else self.remotes.session_record(name) if up else None,
                ready_after=run.ready_after,
                exit_status=run.exit_status,
                ssh_port=vm.ssh_port if up else None,
                forwards=tuple(run.forwards) if up else (),
                disk_vm=run.disk_vm,
                last_ssh_port=run.last_ssh_port,
                stage=("ready" if run.phase is Phase.RUNNING else vm.boot.stage)
                if up else "",
                restored=run.restored,
            )
        switches = tuple(
            SwitchState(vlan=v, running=s.is_running(),
                        process=procs.ProcessRecord.of(s.process.pid, s.command, s.started_at)
                        if s.process else None)
            for v, s in self.switches.items())
        return RunState(network=self.spec.path, supervisor=self.record, request=self.request,
                        sockets=str(self.run_dir.sockets), switches=switches,
                        machines=machines, launching=self.launching)

    def save(self) -> None:
        runstate.save(self.run_dir, self.state())
        ports = {n: r.vm.ssh_port for n, r in self.runs.items()
                 if r.vm.ssh_port and r.phase.up}
        write_private(self.run_dir.ssh_config, ssh_config_text(self.run_dir, self.spec, ports))

    # --- starting -------------------------------------------------------------
    def _check_forwards(self, names: list[str]) -> None:
        for f in self.request.forwards:
            self.spec.machine(f.machine)
        # the forwards of the machines about to start, as every start request's
        # are checked (the others are bound by their running QEMU)
        check_forwards(self.spec, names, [f for f in self.request.forwards
                                          if f.machine in names])
        for m in self.spec.machines:
            if m.name not in names:
                continue
            for g in m.forward_ports:
                if not port_free(g.host_port):
                    raise PortError(
                        f"machine {m.name}: virtualisation.forwardPorts host port "
                        f"{g.host_port} is already in use")

    def _warn_open_forwards(self, names: list[str]) -> None:
        for m in self.spec.machines:
            for g in m.forward_ports if m.name in names else ():
                if g.host_address in ("", "0.0.0.0"):
                    self.report({"event": "warning", "message":
                                 f"{m.name}: virtualisation.forwardPorts binds port "
                                 f"{g.host_port} on every address of this host; set its "
                                 'host.address = "127.0.0.1" to keep it local'})

    def _prepare_disk(self, run: MachineRun, fresh: bool) -> None:
        vm = run.vm
        if run.restore is not None:
            run.disk_vm = vm.machine.vm  # the snapshot is of this build (checked)
            return
        if fresh and remove_path(vm.disk):
            self.report({"event": "info",
                         "message": f"{vm.name}: starting from a new disk (deleted {vm.disk})"})
        if vm.disk.exists() and run.disk_vm != vm.machine.vm:
            made = run.disk_vm or "an unknown build"
            if self.request.keep_disks:
                self.report({"event": "warning", "message":
                             f"{vm.name}: its disk was made by an older build ({made}); "
                             f"state from it may break the machine: --fresh {vm.name} "
                             "starts it from a new disk"})
            else:
                remove_path(vm.disk)
                self.report({"event": "info", "message":
                             f"{vm.name}: starting from a new disk (its disk was made by "
                             f"another build, {made}; --keep-disks keeps it)"})
        if not vm.disk.exists():
            run.disk_vm = vm.machine.vm

    def start_machines(self, names: list[str], fresh: set[str], ready: set[str] | None = None,
                       snapshot: Snapshot | None = None) -> list[str]:
        """Start the named machines (switches first); returns those started.
        ready: machines restored from their ready snapshots (or booted and
        snapshotted); snapshot: the network's snapshot they start from."""
        there = self.remotes.relay("start", [n for n in names if n in self.placed
                                             and not self.runs[n].phase.up], self.runs,
                                   fresh=sorted(fresh & set(names)))
        to_start = [n for n in names if not self.runs[n].phase.up and n not in self.placed]
        if not to_start:
            return there
        self._check_forwards(to_start)
        capacity.check_memory([self.runs[n].vm.machine for n in to_start],
                              capacity.available_kib())
        self._warn_open_forwards(to_start)
        with PortLock():
            taken = {r.vm.ssh_port for r in self.runs.values() if r.vm.ssh_port and r.phase.up}
            taken |= {f.host_port for f in self.request.forwards}
            ports = {}
            for name in to_start:  # all chosen before anything starts
                ports[name] = self._ssh_port(name, taken)
                taken.add(ports[name])
            for switch in self.switches.values():
                if not switch.is_running():
                    switch.start()
            self.links.start(to_start)
            for name in to_start:
                run = self.runs[name]
                anew = self._plan_start(run, name in fresh, name in (ready or ()), snapshot)
                self._prepare_disk(run, anew)
                self._start_vm(run, ports[name])
            self._wait_bound([self.runs[n] for n in to_start])
        self.save()
        self._load_snapshots([self.runs[n] for n in to_start if self.runs[n].restore])
        return there + to_start

    def _ssh_port(self, name: str, taken: set[int]) -> int:
        """The port it had last time, else the project's stable one for it, else
        the first free one: a copied ssh_config entry stays right."""
        base = self.request.ssh_port_base
        last = self.runs[name].last_ssh_port
        preferred = ([last] if last else []) + [
            stable_port(base, str(self.run_dir.path), name)]
        return choose_port(preferred, base, taken)

    def _start_vm(self, run: MachineRun, port: int) -> None:
        vm = run.vm
        vm.ssh_port = port
        run.last_ssh_port = port
        run.forwards = [HostForward(f.host_port, f.guest_port)
                        for f in self.request.forwards if f.machine == vm.name]
        vm.forwards = tuple(run.forwards)
        vm.start()
        run.phase = Phase.STARTING
        run.exit_status = None
        run.ready_after = None

    def _wait_bound(self, runs: list[MachineRun]) -> None:
        """Hold the port lock until QEMU has bound every forward (or died);
        a port someone else took meanwhile is chosen again."""
        deadline = time.monotonic() + BIND_TIMEOUT
        retries = {r.vm.name: 0 for r in runs}
        pending = list(runs)
        while pending and time.monotonic() < deadline:
            for run in list(pending):
                vm = run.vm
                ports = [f.host_port for f in vm.all_forwards()]
                if not vm.is_running():
                    pending.remove(run)
                    out = "\n".join(tail_lines(vm.output, 5))
                    if "host forwarding rule" in out and retries[vm.name] < FORWARD_RETRIES:
                        retries[vm.name] += 1
                        in_use = {r.vm.ssh_port for r in self.runs.values() if r.vm.ssh_port}
                        vm.wait()
                        self._start_vm(run, choose_ports(self.request.ssh_port_base, 1,
                                                         in_use)[0])
                        pending.append(run)
                elif not any(port_free(p) for p in ports) or _has_output(vm.log):
                    # QEMU binds its forwards before the guest runs: once the
                    # console shows anything, they are bound.
                    pending.remove(run)
            time.sleep(0.05)

    # --- watching -------------------------------------------------------------
    def poll(self) -> list[dict[str, Any]]:
        """Check every machine once; the events of what changed (to be
        reported once the state file says so)."""
        events: list[dict[str, Any]] = []
        for name, run in self.runs.items():
            vm = run.vm
            if not run.phase.up or name in self.placed:  # placed: its host's events say
                continue
            code = vm.returncode
            if code is not None:
                run.phase = Phase.DEAD
                run.exit_status = code
                events.append({"event": "died", "machine": name,
                               "status": procs.describe_status(code),
                               "lines": vm.last_lines(DEATH_LINES) or tail_lines(vm.output, 5)})
                continue
            if run.phase is Phase.STARTING and vm.boot.read():
                events.append({"event": "stage", "machine": name, "stage": vm.boot.stage,
                               "after": round(time.monotonic() - vm.started_monotonic, 1),
                               "line": vm.boot.last_line})
            if run.phase is Phase.STARTING and self._ready(run) and self._ready_saved(run):
                run.phase = Phase.RUNNING
                run.ready_after = round(time.monotonic() - vm.started_monotonic, 1)
                events.append({"event": "ready", "machine": name, "after": run.ready_after,
                               "ssh_port": vm.ssh_port})
        for vlan, switch in self.switches.items():
            if switch.process is not None and not switch.is_running() and not self.stopping:
                code = switch.process.returncode
                events.append({"event": "warning", "message":
                               f"the switch of VLAN {vlan} stopped "
                               f"({procs.describe_status(code or 0)}); see {switch.log}"})
                switch.process = None
        if not self.stopping:
            events += [{"event": "warning", "message": line} for line in self.links.dead()]
        events += self.remotes.poll(self.runs)
        return events

    def _ready(self, run: MachineRun) -> bool:
        return machine_ready(run, time.monotonic())

    def any_running(self) -> bool:
        return any(r.phase.up for n, r in self.runs.items() if n not in self.placed) or \
            self.remotes.any_running()

    def start_remote(self) -> None:
        """The machines on other hosts (remotes.py)."""
        with PortLock():
            taken = {r.vm.ssh_port for r in self.runs.values() if r.vm.ssh_port}

            def port(name: str) -> int:
                taken.add(chosen := self._ssh_port(name, taken))
                return chosen

            self.remotes.start(self.runs, port, self._start_switch)

    def _start_switch(self, vlan: int) -> None:
        if not self.switches[vlan].is_running():
            self.switches[vlan].start()

    # --- converging -----------------------------------------------------------
    def converge(self, spec: NetworkSpec, fresh: set[str], keep_disks: bool,
                 only: list[str]) -> tuple[list[converging.Step], list[str]]:
        """Take the network (the machines in `only`, or all) to a new build of
        it (converge.py): the steps, and the machines started."""
        current = {n: converging.Running(r.vm.machine.vm, r.phase.up, self._host_of(n, spec))
                   for n, r in self.runs.items()}
        steps = list(converging.plan(current, spec, only))
        for name in fresh:
            spec.machine(name)
        for step in steps:  # a new machine placed on another host goes there as a move
            machine = spec.machine(step.machine) \
                if step.action is converging.Action.NEW else None
            # (run-vms --here serves its machines here, wherever they are placed)
            if machine is not None and machine.vm_host is not None and not self.request.served:
                self.runs[machine.name] = MachineRun(vm=VM(
                    machine, self.run_dir, vde_sockets={}, options=self.vm_options))
        moves = [spec.machine(s.machine) for s in steps if s.action is converging.Action.MOVE
                 or (s.action is converging.Action.NEW and s.machine in self.runs)]
        started: list[str] = []
        if moves:  # stopped where they ran; placed where they go (remotes.py)
            self.remotes.check_moves(moves)
            self.stop_machines([m.name for m in moves])
            with PortLock():
                started = self.remotes.move(moves, self.runs,
                                            lambda n: self._ssh_port(n, set()),
                                            self._start_switch, spec.path)
            self.request = dataclasses.replace(self.request, remote=self.remotes.placements())
        self.stop_machines([s.machine for s in steps
                            if s.action in (converging.Action.RESTART,
                                            converging.Action.REMOVE)])
        removed = [s.machine for s in steps if s.action is converging.Action.REMOVE]
        if any(n in self.placed for n in removed):
            self.remotes.forget(removed)
            self.request = dataclasses.replace(self.request, remote=self.remotes.placements())
        self.request = dataclasses.replace(self.request, network=spec.path,
                                           keep_disks=keep_disks)
        for vlan in spec.vlans:
            if vlan not in self.switches:
                self.switches[vlan] = Switch(vlan, self.run_dir, self.request.vde_switch)
        self.links.plan(spec)
        for step in steps:
            old = self.runs.get(step.machine)
            if step.action is converging.Action.REMOVE:
                del self.runs[step.machine]
                continue
            if only and step.machine not in only and old is not None:
                continue  # not named: as it was, on its own build
            machine = spec.machine(step.machine)
            vde = self.links.vde_sockets(machine)
            vm = VM(machine, self.run_dir, vde_sockets=vde, options=self.vm_options)
            if old is None:
                self.runs[step.machine] = MachineRun(vm=vm)
            elif old.phase.up:  # unchanged and running: the same process
                old.vm.machine, old.vm.vde_sockets = vm.machine, vde
            else:
                old.vm = vm
        self.spec = spec
        to_start = [s.machine for s in steps if s.action in (
            converging.Action.NEW, converging.Action.RESTART, converging.Action.START,
            converging.Action.MOVE)]
        self.remotes.keep_ports(self.runs)
        # on their hosts, from the new build sent there (remotes.py)
        there = self.remotes.update(spec.path, [n for n in to_start if n in self.placed
                                                and not self.runs[n].phase.up],
                                    self.runs, sorted(fresh), keep_disks)
        started += there + self.start_machines(to_start, fresh)
        self.save()
        return steps, started

    def _host_of(self, name: str, spec: NetworkSpec) -> str:
        """Where the machine runs, as converge.py names hosts. A supervisor
        serving another's machines (run-vms --here) runs them here, wherever
        the network file places them: for it they never move."""
        if self.request.served:
            placed = {m.name: m.vm_host.name for m in spec.machines if m.vm_host}
            return placed.get(name, "")
        return self.placed.get(name, "")

    # --- stopping -------------------------------------------------------------
    def stop_machines(self, names: list[str]) -> list[str]:
        there = self.remotes.relay("stop", [n for n in names if n in self.placed
                                            and self.runs[n].phase.up], self.runs)
        runs = [self.runs[n] for n in names if self.runs[n].phase.up and n not in self.placed]
        for run in runs:
            # QEMU's own quit first (it closes its disk images); the group's
            # TERM then reaches whatever the VM script started beside it.
            if run.vm.is_running() and self.request.stop_timeout > 0:
                run.vm.qemu().quit(timeout=min(2.0, self.request.stop_timeout))
        procs.stop_processes([r.vm.process for r in runs if r.vm.process],
                             self.request.stop_timeout)
        for run in runs:
            run.phase = Phase.STOPPED
            run.exit_status = None
            for sock in run.vm.sockets():
                remove_path(sock)
        self.save()
        return there + [r.vm.name for r in runs]

    def stop_all(self) -> None:
        self.stopping = True
        self.left = self.remotes.stop_all(self.runs, self.request.stop_timeout)
        for line in self.left:
            self.report({"event": "warning", "message": line})
        self.stop_machines(list(self.runs))
        self.links.stop(self.request.stop_timeout)
        for switch in self.switches.values():
            switch.stop(self.request.stop_timeout)
        self.save()

    # --- control requests -----------------------------------------------------
    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one request (control.py has checked its shape)."""
        op = request.get("op")
        try:
            if op == "status":
                return {"ok": True, "pid": os.getpid()}
            if op == "stop":
                names = [self.spec.machine(n).name for n in request.get("machines") or []]
                if not names:
                    running = [n for n, r in self.runs.items() if r.phase.up]
                    self.stop_all()
                    return {"ok": True, "stopped": running, "all": True, "left": self.left}
                return {"ok": True, "stopped": self.stop_machines(names)}
            if op == "start":
                names = [self.spec.machine(n).name for n in request.get("machines") or []]
                fresh = {self.spec.machine(n).name for n in request.get("fresh") or []}
                ready = {self.spec.machine(n).name for n in request.get("ready") or []}
                return {"ok": True, "started": self.start_machines(names or list(self.runs),
                                                                   fresh, ready)}
            if op == "converge":
                spec = load_network(request["network"])
                fresh = {spec.machine(n).name for n in request.get("fresh") or []}
                only = [spec.machine(n).name for n in request.get("machines") or []]
                steps, started = self.converge(spec, fresh, bool(request.get("keep_disks")),
                                               only)
                return {"ok": True, "started": started, "steps": [
                    [s.machine, s.action.value, s.reason] for s in steps]}
            if op == "link" and self.spec.machine(str(request["machine"])).name in self.placed:
                # its link runs on its host: shaped there, by its supervisor
                host = self.remotes.of(self.spec.machine(str(request["machine"])).name)
                assert host is not None
                return host.reach.request(request)
            if op == "link":
                vlan = request.get("vlan")
                views = self.links.set(str(request["machine"]),
                                       vlan if isinstance(vlan, int) else None,
                                       request.get("settings") or {})
                return {"ok": True, "links": [v.to_data() for v in views]}
            if op == "partition":
                vlans = self.links.partition(request["groups"])
                try:  # the same on the other hosts, their groups joined to ours
                    self.remotes.partition(request["groups"], self.links, vlans)
                except SupervisorError:
                    with contextlib.suppress(SupervisorError):
                        self.remotes.heal()
                    self.links.heal()
                    raise
                return {"ok": True, "vlans": vlans}
            if op == "heal":
                self.remotes.heal()
                return {"ok": True, "vlans": self.links.heal()}
            if isinstance(op, str) and op.startswith("snapshot-"):
                name = snapshots.check_name(str(request.get("name") or snapshots.DEFAULT_NAME))
                names = [self.spec.machine(n).name for n in request.get("machines") or []]
                if op == "snapshot-save":
                    return self.snapshot_save(name, names)
                if op == "snapshot-restore":
                    return self.snapshot_restore(name, names)
                return self.snapshot_delete(name)
            raise UsageError(f"unknown request {op!r}")
        except SupervisorError as error:
            return {"ok": False, "error": error.message, "kind": type(error).__name__}

    # --- the main loop --------------------------------------------------------
    def run(self) -> int:
        """Start what the request names, then supervise until told to stop."""
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        got: list[int] = []

        def on_signal(signum: int, frame: object) -> None:
            got.append(signum)

        previous = signal.set_wakeup_fd(wake_w.fileno())
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, on_signal)
        sel = selectors.DefaultSelector()
        control = ControlServer(self.run_dir.control_socket, sel, self.handle)
        try:
            control.listen()
            names = [m.name for m in self.spec.select(list(self.request.machines))]
            self.save()
            try:
                snap = snapshots.find(self.run_dir, self.request.snapshot) \
                    if self.request.snapshot else None
                self.start_machines([n for n in names if n not in self.placed],
                                    set(self.request.fresh), set(self.request.ready), snap)
                self.start_remote()
                self.launching = False
                self.save()
            except SupervisorError as error:
                self.report({"event": "error", "message": error.message,
                             "kind": type(error).__name__})
                self.exit_code = error.exit_code
                return self.exit_code
            self.report({"event": "started", "machines": names})
            sel.register(wake_r, selectors.EVENT_READ)
            while not self.stopping:
                events = self.poll()
                if events:
                    self.save()
                    for event in events:
                        self.report(event)
                if got:
                    self.report({"event": "info", "message":
                                 f"got {signal.Signals(got[0]).name}; stopping the network"})
                    break
                if not self.any_running() and not self.request.served:
                    if any(r.phase is Phase.DEAD for r in self.runs.values()):
                        self.exit_code = 1
                    break
                for key, _ in sel.select(READY_POLL):
                    if key.fileobj is wake_r:
                        with contextlib.suppress(OSError):
                            wake_r.recv(4096)
                    else:
                        control.ready(key)
                control.expire()
            return self.exit_code
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)
            self.stop_all()
            control.close()
            sel.close()
            remove_path(self.run_dir.ssh_config)
            signal.set_wakeup_fd(previous)
            wake_r.close()
            wake_w.close()
            self.lock.release()


def machine_ready(run: MachineRun, now: float) -> bool:
    """Whether a starting machine is ready: its login prompt (poll() has just
    read its console), and an SSH banner where openssh is on, whichever comes
    last. sshd is probed from multi-user on; an open probe connection is
    looked at on every turn (a banner is seen within READY_POLL of its
    arrival), a new one opened at most every vm.sshd.interval."""
    vm = run.vm
    if not vm.machine.openssh:
        return vm.boot.login_seen
    if vm.boot.stage in SSH_PROBE_STAGES:
        vm.sshd.look(vm.ssh_port, now)
    return vm.boot.login_seen and vm.sshd.answered


def _has_output(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def error_kind(name: str) -> type[SupervisorError]:
    """The error class an event or reply names (SupervisorError if unknown)."""
    found = getattr(errors, name, SupervisorError)
    return found if isinstance(found, type) and issubclass(found, SupervisorError) else \
        SupervisorError


__all__ = ["StartError", "Supervisor", "error_kind"]
