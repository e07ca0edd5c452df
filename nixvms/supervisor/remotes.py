"""The supervisor's machines on other hosts: which host runs which, their
phases as the hosts' events say, and stopping or starting them there.

A machine placed on another host is started, stopped and watched by that
host's supervisor (remote.py); the supervisor here keeps its record (a
MachineRun with no process of its own) and relays requests naming it to the
host's control socket, forwarded here (hostreach.py).

Standard library only: the supervisor is copied into the network directory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import UsageError
from .facts import MachineFacts
from .links import Links
from .placement import Placement, default_state_dir, network_there
from .procs import ProcessRecord
from .remote import STOP_TIMEOUT, RemoteHost, send_network
from .runstate import Phase
from .snapshotting import MachineRun
from .spec import NetworkSpec
from .statedir import RunDir


class Remotes:
    """Every other host's session, cables and reach, and its machines' records."""

    def __init__(self, placements: Sequence[Placement], spec: NetworkSpec,
                 switches: Mapping[int, Path], run_dir: RunDir, accel: str = "") -> None:
        self.accel = accel  # asked for: every host's too ("": each probes its own)
        self.hosts = [RemoteHost(p, spec.path, sorted({
            v for m in spec.machines if m.name in p.machines for v in m.vlans}),
            dict(switches), run_dir, accel) for p in placements]
        self.placed = {m: p.host.name for p in placements for m in p.machines}
        self.run_dir = run_dir
        self.switches = dict(switches)
        self.network = spec.path
        self.local_run_dir = Path(run_dir.path)

    def of(self, name: str) -> RemoteHost | None:
        return next((h for h in self.hosts if name in h.placement.machines), None)

    def session_record(self, name: str) -> ProcessRecord | None:
        host = self.of(name)
        return host.session_record() if host is not None else None

    def any_running(self) -> bool:
        return any(h.is_running() for h in self.hosts)

    def start(self, runs: Mapping[str, MachineRun], ssh_port: Callable[[str], int],
              start_switch: Callable[[int], None]) -> None:
        """Each host's supervisor, the switches here their cables plug into, and
        a port here for each machine's ssh (forwarded there once it is ready)."""
        for host in self.hosts:
            for name in host.placement.machines:
                if runs[name].vm.machine.openssh:
                    port = ssh_port(name)
                    host.local_ports[name] = port
                    runs[name].vm.ssh_port = runs[name].last_ssh_port = port
        for host in self.hosts:
            for cable in host.cables:
                start_switch(cable.vlan)
            host.start()
            for name in host.placement.machines:
                runs[name].phase = Phase.STARTING

    def poll(self, runs: Mapping[str, MachineRun]) -> list[dict[str, Any]]:
        """The hosts' events, their machines' records updated by them."""
        events: list[dict[str, Any]] = []
        for host in self.hosts:
            for event in host.poll():
                run = runs.get(str(event.get("machine")))
                if run is not None and event.get("event") == "ready":
                    run.phase = Phase.RUNNING
                    after = event.get("after")
                    run.ready_after = float(after) if isinstance(after, (int, float)) \
                        else None
                elif run is not None and event.get("event") == "died":
                    run.phase = Phase.UNREACHABLE if event.get("unreachable") else Phase.DEAD
                events.append(event)
        return events

    def relay(self, op: str, names: Sequence[str], runs: Mapping[str, MachineRun],
              **fields: Any) -> list[str]:
        """Stop or start machines on their hosts (a request to each host's
        supervisor); the names it did. SupervisorError naming the host when it
        cannot be asked."""
        done: list[str] = []
        for host in self.hosts:
            mine = [n for n in names if n in host.placement.machines]
            if not mine:
                continue
            answer = host.reach.request({"op": op, "machines": mine, **fields})
            said = [str(n) for n in answer.get("stopped" if op == "stop" else "started") or ()]
            for name in said:
                if op == "stop":
                    runs[name].phase = Phase.STOPPED
                    host.reach.unreach(name)
                else:
                    runs[name].phase = Phase.STARTING
            done += said
        return done

    def placements(self) -> tuple[Placement, ...]:
        """Where the machines run now (StartRequest.remote, after moves)."""
        return tuple(h.placement for h in self.hosts if h.placement.machines)

    def check_moves(self, moves: Sequence[MachineFacts]) -> None:
        """UsageError, before anything moves, for a machine moving to a host whose
        session was lost (its supervisor there is not ours to reach)."""
        lost = {h.host.name for h in self.hosts if h.process is not None
                and not h.is_running()}
        for machine in moves:
            if machine.vm_host is not None and machine.vm_host.name in lost:
                raise UsageError(
                    f"machine {machine.name} moves to host {machine.vm_host.name}, whose "
                    "connection was lost: stop the network (`nixvms stop`) and "
                    "`nixvms up` again to start it there")

    def move(self, moves: Sequence[MachineFacts], runs: Mapping[str, MachineRun],
             ssh_port: Callable[[str], int], start_switch: Callable[[int], None],
             network: str) -> list[str]:
        """Machines (stopped) placed where their deployment.vmHost now says: off
        their old host's placement, onto their new host's (with a cable for
        each VLAN of theirs it had none for), or here. A host that ran none of
        the network gets its supervisor started there for them (as `up` does),
        which starts them (the names returned); a host left with none has its
        supervisor stopped."""
        self.network = network
        fresh: list[RemoteHost] = []
        for machine in moves:
            old = self.of(machine.name)
            if old is not None:
                old.placement = dataclasses.replace(old.placement, machines=tuple(
                    n for n in old.placement.machines if n != machine.name))
                old.local_ports.pop(machine.name, None)
                self.placed.pop(machine.name, None)
            if machine.vm_host is None:
                continue
            new = next((h for h in self.hosts if h.host.name == machine.vm_host.name), None)
            if new is None:
                vm_host = machine.vm_host
                new = RemoteHost(Placement(vm_host, (), vm_host.state_dir or default_state_dir(
                    self.local_run_dir, vm_host.name)), network, (), self.switches,
                                 self.run_dir, self.accel)
                self.hosts.append(new)
                fresh.append(new)
            new.placement = dataclasses.replace(
                new.placement, machines=(*new.placement.machines, machine.name))
            self.placed[machine.name] = new.host.name
            cabled = {c.vlan for c in new.cables}
            for vlan in machine.vlans:
                if vlan not in cabled:
                    start_switch(vlan)
                    new.cables.append(new.cable(vlan, self.run_dir.switch_socket(vlan)))
            if machine.openssh:
                new.local_ports[machine.name] = ssh_port(machine.name)
                runs[machine.name].vm.ssh_port = new.local_ports[machine.name]
        self._end_idle()
        started: list[str] = []
        for host in fresh:
            host.start()
            for name in host.placement.machines:
                runs[name].phase = Phase.STARTING
                started.append(name)
        return started

    def forget(self, names: Sequence[str]) -> None:
        """Machines removed from the network (stopped): off their hosts' placements."""
        for host in self.hosts:
            if any(n in host.placement.machines for n in names):
                host.placement = dataclasses.replace(host.placement, machines=tuple(
                    n for n in host.placement.machines if n not in names))
            for name in names:
                host.local_ports.pop(name, None)
        for name in names:
            self.placed.pop(name, None)
        self._end_idle()

    def _end_idle(self) -> None:
        """A host that runs none of the network now: its supervisor and cables
        end (a machine placed there again starts them anew, as move does)."""
        for host in [h for h in self.hosts if not h.placement.machines]:
            host.stop(STOP_TIMEOUT)
            self.hosts.remove(host)

    def keep_ports(self, runs: Mapping[str, MachineRun]) -> None:
        """Each placed machine's ssh port here on its record (a new build's record
        of it starts without one)."""
        for host in self.hosts:
            for name, port in host.local_ports.items():
                runs[name].vm.ssh_port = runs[name].last_ssh_port = port

    def update(self, network: str, names: Sequence[str], runs: Mapping[str, MachineRun],
               fresh: Sequence[str], keep_disks: bool) -> list[str]:
        """The machines (stopped, or never started) of a new build of the network
        started on their hosts from it: the network directory sent there and
        the host's supervisor converged to its copy (run-vms there started from
        the old copy knows only the old VMs). The names started."""
        self.network = network
        started: list[str] = []
        for host in self.hosts:
            mine = [n for n in names if n in host.placement.machines]
            if not mine or not host.is_running():
                continue
            send_network(host.placement, network)
            host.spec_path = network
            host.network = network_there(host.placement.state_dir, network)
            answer = host.reach.request({
                "op": "converge", "network": host.network, "machines": mine,
                "fresh": [n for n in fresh if n in mine], "keep_disks": keep_disks})
            for name in answer.get("started") or ():
                runs[str(name)].phase = Phase.STARTING
                started.append(str(name))
        return started

    def partition(self, groups: Sequence[Sequence[str]], links: Links,
                  vlans: Sequence[int]) -> None:
        """A partition (made here by links.py) made on every host with machines on
        a VLAN it cuts: that host's supervisor moves its links onto its own
        hubs, and a cable joins each of its hubs to ours (the VLAN's cable
        joins the first group), so a group spanning hosts stays one."""
        for host in self.hosts:
            on = [v for v in vlans if any((n, v) in links.groups
                                          for n in host.placement.machines)]
            if not on:
                continue
            host.reach.request({"op": "partition", "groups": [list(g) for g in groups]})
            host.partitioned = True
            for vlan in on:
                for group, hub in links.hubs_of(vlan, host.placement.machines).items():
                    host.join_hub(vlan, group, hub)

    def heal(self) -> None:
        """Undo partition(): the hubs' cables stopped, each host healed."""
        for host in self.hosts:
            host.part_hubs()
            if host.partitioned and host.is_running():
                host.partitioned = False
                host.reach.request({"op": "heal"})

    def stop_all(self, runs: Mapping[str, MachineRun], timeout: float) -> list[str]:
        """Every host's machines stopped: a line for each host where that could
        not be done (its machines then stay unreachable)."""
        left = []
        for host in self.hosts:
            line = host.stop(timeout)
            for name in host.placement.machines:
                if line is None or runs[name].phase is not Phase.UNREACHABLE:
                    runs[name].phase = Phase.STOPPED
            if line is not None:
                left.append(line)
        return left

