"""Shaped links: a wirefilter between a machine's NIC and its VLAN's switch.

A VLAN is shaped when some machine on it declares virtualisation.vlanLinks
for it (nix/vlan-links.nix, facts.LinkSettings). Then every machine's link to
that VLAN runs through its own pieces, all vde2's:

    QEMU's NIC -> vde_switch  <sockets>/link<N>-<vlan>   the machine's side
               -> wirefilter -v SIDE:VLAN -M <sockets>/link<N>-<vlan>.wf
               -> the VLAN's vde_switch

so its delay, loss, duplication, bandwidth and MTU change at run time through
the wirefilter's management socket (wirefilter.py), and a partition moves
wirefilters' VLAN ends to one hub per group (the first group keeps the VLAN's
own switch). A VLAN nobody shapes keeps its NICs on its switch directly, as
before: nothing is added where nothing is asked for.

Which direction: a link's settings apply from the machine towards the VLAN
(wirefilter.py says why).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import procs, wirefilter
from .errors import LinkError, StartError, UsageError
from .facts import MachineFacts
from .machines import DEFAULT_STOP_TIMEOUT, Switch
from .spec import NetworkSpec
from .statedir import open_private, remove_path
from .text import tail_lines
from .wirefilter import Shape

WIREFILTER_TIMEOUT = 10.0


def hub_name(vlan: int, group: int) -> str:
    """The socket name of a partitioned VLAN's hub for a group (2nd on), in the
    socket directory: the same on every host, so cables can join them."""
    return f"part{vlan}-{group}"


@dataclass(frozen=True)
class LinkView:
    """What `nixvms link` and the driver are told of one link."""

    machine: str
    vlan: int
    settings: Mapping[str, str]  # wirefilter.Shape.describe(): the ones not zero
    group: int  # 0: on its VLAN's switch; i: in the i-th group of a partition (1-based)

    def to_data(self) -> dict[str, object]:
        return {"machine": self.machine, "vlan": self.vlan, "settings": dict(self.settings),
                "group": self.group}


class Link:
    """One machine's shaped link to one VLAN: its side's switch and its wirefilter."""

    def __init__(self, machine: MachineFacts, vlan: int, spec_dir: Path, log_dir: Path,
                 programs: tuple[str, str], shape: Shape) -> None:
        self.machine = machine.name
        self.vlan = vlan
        self.vde_switch, self.program = programs
        base = f"link{machine.number}-{vlan}"
        self.side = Switch(vlan, None, self.vde_switch,
                           socket=spec_dir / base, log=log_dir / f"{machine.name}.{base}.log",
                           label=f"machine {machine.name}'s side of VLAN {vlan}")
        self.management = spec_dir / f"{base}.wf"
        self.log = log_dir / f"{machine.name}.{base}.wirefilter.log"
        self.shape = shape
        self.process: subprocess.Popen[bytes] | None = None
        self.target: Path | None = None
        self.reported_dead = False

    @property
    def who(self) -> str:
        return f"{self.machine}:{self.vlan}"

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, target: Path) -> None:
        """Its side's switch (if not running) and a wirefilter onto `target`."""
        if not self.side.is_running():
            self.side.start()
        self._start_filter(target)

    def replug(self, target: Path) -> None:
        """Its VLAN end onto another switch (a partition's hub, or back)."""
        if target != self.target or not self.is_running():
            self._stop_filter(0)
            self._start_filter(target)

    def _start_filter(self, target: Path) -> None:
        found = shutil.which(self.program)
        if found is None:
            raise StartError(f"{self.program} is not installed (it comes with vde2); it "
                             f"shapes link {self.who}")
        remove_path(self.management)
        command = wirefilter.argv(found, self.side.socket, target, self.management)
        fd = open_private(self.log)
        with os.fdopen(fd, "wb") as output:
            # -v reads commands on stdin and ends at its end: a pipe we hold
            self.process = procs.spawn(command, env=os.environ, cwd=None,
                                       stdin=subprocess.PIPE, output=output)
        self.target = target
        self.reported_dead = False
        deadline = time.monotonic() + WIREFILTER_TIMEOUT
        while not _answers(self.management):
            if self.process.poll() is not None:
                lines = " | ".join(tail_lines(self.log, 5))
                raise StartError(f"the wirefilter of link {self.who} stopped at start "
                                 f"({procs.describe_status(self.process.returncode)}): "
                                 f"{lines}")
            if time.monotonic() > deadline:
                self._stop_filter(0)
                raise StartError(f"the wirefilter of link {self.who} made no management "
                                 f"socket within {WIREFILTER_TIMEOUT:.0f} s")
            time.sleep(0.02)
        self.apply(self.shape)

    def apply(self, shape: Shape) -> None:
        with wirefilter.ManagementClient(self.management, f"link {self.who}") as client:
            client.run(wirefilter.commands(shape))
        self.shape = shape

    def _stop_filter(self, timeout: float) -> None:
        if self.process is not None:
            procs.stop_processes([self.process], timeout)
            if self.process.stdin:
                with contextlib.suppress(OSError):
                    self.process.stdin.close()
            self.process = None
        remove_path(self.management)

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        self._stop_filter(timeout)
        self.side.stop(timeout)


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


def declared_shapes(spec: NetworkSpec) -> dict[tuple[str, int], Shape]:
    """Each declared link's shape at start; UsageError naming the machine and
    option for a value that cannot be read or a VLAN the machine is not on."""
    shapes: dict[tuple[str, int], Shape] = {}
    for machine in spec.machines:
        for declared in machine.links:
            where = f'machine {machine.name}: virtualisation.vlanLinks."{declared.vlan}"'
            if declared.vlan not in machine.vlans:
                raise UsageError(f"{where}: the machine is not on VLAN {declared.vlan} "
                                 f"(its virtualisation.vlans: "
                                 f"{', '.join(map(str, machine.vlans)) or 'none'})")
            try:
                shapes[machine.name, declared.vlan] = wirefilter.updated(Shape(),
                                                                         declared.given())
            except UsageError as error:
                raise UsageError(f"{where}: {error.message}") from None
    return shapes


class Links:
    """Every shaped link of a running network, and its partitions."""

    def __init__(self, spec: NetworkSpec, sockets: Path, logs: Path,
                 switches: Mapping[int, Switch], vde_switch: str = "vde_switch",
                 program: str = "wirefilter") -> None:
        self.sockets = sockets
        self.logs = logs
        self.switches = switches
        self.programs = (vde_switch, program)
        self.links: dict[tuple[str, int], Link] = {}
        self.hubs: dict[int, list[Switch]] = {}    # a partitioned VLAN's group hubs (2nd on)
        self.groups: dict[tuple[str, int], int] = {}  # (machine, vlan) -> its group, 0: none
        self.spec = spec
        self.plan(spec)

    def plan(self, spec: NetworkSpec) -> None:
        """Links for a network (its first start, or a new build of it): every
        machine on a VLAN someone shapes; a link already running keeps running."""
        shapes = declared_shapes(spec)
        shaped = {vlan for _, vlan in shapes}
        self.spec = spec
        for machine in spec.machines:
            for vlan in machine.vlans:
                if vlan in shaped and (machine.name, vlan) not in self.links:
                    self.links[machine.name, vlan] = Link(
                        machine, vlan, self.sockets, self.logs, self.programs,
                        shapes.get((machine.name, vlan), Shape()))

    def vde_sockets(self, machine: MachineFacts) -> dict[int, Path]:
        """Where each of the machine's NICs plugs in: its link's side, or the VLAN's switch."""
        out = {v: s.socket for v, s in self.switches.items()}
        for vlan in machine.vlans:
            link = self.links.get((machine.name, vlan))
            if link is not None:
                out[vlan] = link.side.socket
        return out

    def _target(self, name: str, vlan: int) -> Path:
        group = self.groups.get((name, vlan), 0)
        if group > 1:
            return self.hubs[vlan][group - 2].socket
        return self.switches[vlan].socket

    def start(self, names: Iterable[str]) -> None:
        """The links of machines about to start (the VLANs' switches run)."""
        for name in names:
            for (machine, vlan), link in self.links.items():
                if machine == name and not link.is_running():
                    link.start(self._target(machine, vlan))

    def find(self, name: str, vlan: int | None) -> list[Link]:
        """The machine's shaped links (to one VLAN, or all); LinkError if none."""
        machine = self.spec.machine(name)
        if vlan is not None and vlan not in machine.vlans:
            raise UsageError(f"machine {machine.name} is not on VLAN {vlan} (its VLANs: "
                             f"{', '.join(map(str, machine.vlans)) or 'none'})")
        found = [link for (m, v), link in self.links.items()
                 if m == machine.name and vlan in (None, v)]
        if not found:
            which = f"VLAN {vlan}" if vlan is not None else "any VLAN"
            raise LinkError(
                f"machine {machine.name}'s link to {which} has no wirefilter: declare "
                f'virtualisation.vlanLinks."{vlan if vlan is not None else "<vlan>"}" = {{ }}; '
                "in a machine on that VLAN (every link of a VLAN someone declares is shaped)")
        return found

    def set(self, name: str, vlan: int | None, settings: Mapping[str, str]) -> list[LinkView]:
        """Change the named settings of the machine's link(s); the links as they are now."""
        found = self.find(name, vlan)
        planned = [(link, wirefilter.updated(link.shape, settings)) for link in found]
        for link, shape in planned:
            if link.is_running():
                link.apply(shape)
            else:  # applied when it starts
                link.shape = shape
        return [self.view(link) for link in found]

    def view(self, link: Link) -> LinkView:
        return LinkView(link.machine, link.vlan, link.shape.describe(),
                        self.groups.get((link.machine, link.vlan), 0))

    def partition(self, groups: Sequence[Sequence[str]]) -> list[int]:
        """Cut every machine of a group from every machine of another, on each
        VLAN machines of two groups share; the VLANs cut. Each such VLAN must be
        shaped and every machine on it named: a hub cannot cut one pair and keep
        another, so the groups say where every machine goes."""
        if len(groups) < 2:
            raise UsageError("a partition needs at least two groups of machines")
        member: dict[str, int] = {}
        for index, group in enumerate(groups, 1):
            if not group:
                raise UsageError(f"group {index} of the partition names no machine")
            for name in group:
                real = self.spec.machine(name).name
                if real in member:
                    raise UsageError(f"machine {real} is in two groups of the partition")
                member[real] = index
        vlans = sorted({v for v in self.spec.vlans if len({
            member[m.name] for m in self.spec.machines
            if v in m.vlans and m.name in member}) > 1})
        if not vlans:
            raise UsageError("the groups share no VLAN: there is nothing to cut")
        for vlan in vlans:
            on = [m.name for m in self.spec.machines if vlan in m.vlans]
            unnamed = [n for n in on if n not in member]
            if unnamed:
                raise UsageError(f"machine {unnamed[0]} is on VLAN {vlan} but in no group of "
                                 "the partition; name every machine of the VLAN")
            unshaped = [n for n in on if (n, vlan) not in self.links]
            if unshaped:
                raise LinkError(f"VLAN {vlan} has no wirefilters to partition: declare "
                                f'virtualisation.vlanLinks."{vlan}" = {{ }}; in a machine '
                                "on it")
        self.heal()
        for vlan in vlans:
            used = sorted({member[m.name] for m in self.spec.machines if vlan in m.vlans})
            renumber = {g: i for i, g in enumerate(used, 1)}
            hubs = []
            for index in range(2, len(used) + 1):
                base = hub_name(vlan, index)
                hub = Switch(vlan, None, self.programs[0], socket=self.sockets / base,
                             log=self.logs / f"{base}.log",
                             label=f"group {index}'s switch of VLAN {vlan}")
                hub.start()
                hubs.append(hub)
            self.hubs[vlan] = hubs
            for m in self.spec.machines:
                if vlan in m.vlans:
                    self.groups[m.name, vlan] = renumber[member[m.name]]
                    link = self.links[m.name, vlan]
                    if link.is_running():
                        link.replug(self._target(m.name, vlan))
        return vlans

    def hubs_of(self, vlan: int, names: Iterable[str]) -> dict[int, Path]:
        """The hubs (by group, 2nd on) where the named machines are on a
        partitioned VLAN: what another host's cables join for them."""
        groups = {self.groups.get((n, vlan), 0) for n in names}
        return {g: self.hubs[vlan][g - 2].socket for g in sorted(groups) if g > 1}

    def heal(self) -> list[int]:
        """Undo a partition: every link back on its VLAN's switch; the VLANs healed."""
        healed = sorted(self.hubs)
        self.groups.clear()
        for (name, vlan), link in self.links.items():
            if vlan in self.hubs and link.is_running():
                link.replug(self._target(name, vlan))
        for hubs in self.hubs.values():
            for hub in hubs:
                hub.stop(0)
        self.hubs.clear()
        return healed

    def dead(self) -> list[str]:
        """One line for each wirefilter that stopped by itself since last asked."""
        lines = []
        for link in self.links.values():
            if link.process is not None and link.process.poll() is not None \
                    and not link.reported_dead:
                link.reported_dead = True
                lines.append(f"the wirefilter of link {link.who} stopped "
                             f"({procs.describe_status(link.process.returncode or 0)}); "
                             f"the machine is cut from VLAN {link.vlan}; see {link.log}")
        return lines

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        for link in self.links.values():
            link.stop(timeout)
        for hubs in self.hubs.values():
            for hub in hubs:
                hub.stop(timeout)
        self.hubs.clear()
