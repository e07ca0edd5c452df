"""Converging a running network to a new build of it: the plan, and why.

`nixvms up` on a running network compares what runs (each machine's VM store
path in the run state) with what the network file now builds, as `colmena
apply` and `docker compose up` do, and acts per machine:

    unchanged, running   untouched (same process)
    unchanged, stopped   started
    its VM changed       restarted on the new VM (a fresh disk unless disks are kept)
    new                  started
    removed              stopped
    its VM host changed  stopped where it ran, started where deployment.vmHost says

The reason a changed machine gives is read from the two builds themselves:
the files of the system's /etc that differ (an /etc file is
environment.etc."NAME"; a unit file is systemd.services.NAME and the like),
and the kernel, initrd, packages or kernel parameters where those differ. It
names what changed, not every option that did: two builds that differ only
in what /etc and these parts do not show are "its system changed".
"""

from __future__ import annotations

import enum
import hashlib
import os
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .spec import NetworkSpec

MAX_NAMED = 4  # changed options named in one reason


class Action(enum.Enum):
    KEEP = "unchanged"
    START = "start"
    RESTART = "restart"
    NEW = "new"
    REMOVE = "remove"
    MOVE = "move"


@dataclass(frozen=True)
class Step:
    """What converging does to one machine, and why."""

    machine: str
    action: Action
    reason: str

    def line(self) -> str:
        return f"{self.machine}: {self.reason}"


@dataclass(frozen=True)
class Running:
    """What the plan needs of a machine as it runs now."""

    vm: str
    up: bool
    host: str = ""  # the VM host it runs on ("": here; placement.py)


def _where(host: str) -> str:
    return f"on host {host}" if host else "here"


def plan(current: Mapping[str, Running], new: NetworkSpec,
         only: Collection[str] = ()) -> tuple[Step, ...]:
    """The steps that take the machines in `current` to the network `new`,
    in the new network's order, then the removed machines. only: the machines
    to act on (none: all); the others are left as they are."""
    steps = []
    for machine in new.machines:
        now = current.get(machine.name)
        if only and machine.name not in only:
            steps.append(Step(machine.name, Action.KEEP, "not named: left as it is"))
        elif now is None:
            steps.append(Step(machine.name, Action.NEW, "new"))
        elif now.host != (host := machine.vm_host.name if machine.vm_host else ""):
            steps.append(Step(machine.name, Action.MOVE,
                              f"deployment.vmHost changed: stopping it {_where(now.host)}, "
                              f"starting it {_where(host)}"))
        elif now.vm != machine.vm:
            steps.append(Step(machine.name, Action.RESTART,
                              f"its system changed ({describe_change(now.vm, machine.vm)})"
                              + ("" if now.up else "; starting it")))
        elif not now.up:
            steps.append(Step(machine.name, Action.START, "unchanged, stopped: starting it"))
        else:
            steps.append(Step(machine.name, Action.KEEP, "unchanged"))
    names = set(new.names)
    steps += [Step(name, Action.REMOVE, "removed from the network: stopping it")
              for name in sorted(current) if name not in names and (not only or name in only)]
    return tuple(steps)


# --- what changed between two builds of a machine -----------------------------------

_PARTS = {  # a system's top-level entries, and the options that make them
    "kernel": "the kernel (boot.kernelPackages)",
    "kernel-params": "boot.kernelParams",
    "sw": "environment.systemPackages",
}
# Entries made from the rest of the system (tinyos's initrd holds all of it):
# named only when nothing above or in /etc explains the change.
_DERIVED = {"initrd": "the initrd (boot.initrd)", "init": "the init (activation)"}
_UNIT_KINDS = {".service": "services", ".socket": "sockets", ".timer": "timers",
               ".target": "targets", ".path": "paths", ".mount": "mounts"}


def _files(root: Path) -> dict[str, str]:
    """Relative path -> identity (a store path, or a digest of the content)."""
    found: dict[str, str] = {}
    if not root.is_dir():
        return found
    for directory, _dirs, files in os.walk(root, followlinks=True):
        for name in files:
            path = Path(directory) / name
            relative = str(path.relative_to(root))
            real = os.path.realpath(path)
            try:
                found[relative] = hashlib.sha256(Path(real).read_bytes()).hexdigest()
            except OSError:
                found[relative] = real
    return found


def _option(etc_path: str) -> str:
    if etc_path.startswith("systemd/system/"):
        unit = etc_path.removeprefix("systemd/system/").split("/")[0]
        stem, dot, suffix = unit.rpartition(".")
        kind = _UNIT_KINDS.get(f"{dot}{suffix}")
        if kind and stem:
            return f"systemd.{kind}.{stem}" if "@" not in stem else f"systemd.{kind}.\"{stem}\""
    return f'environment.etc."{etc_path}"'


def _differs(old: Path, new: Path) -> bool:
    if os.path.realpath(old) == os.path.realpath(new):
        return False
    if not old.exists() and not new.exists():
        return False
    try:
        return old.read_bytes() != new.read_bytes()
    except OSError:
        return True


def changed_options(old_vm: str, new_vm: str) -> Iterator[str]:
    """The options (or parts) whose result differs between two VMs' systems."""
    old, new = Path(old_vm) / "system", Path(new_vm) / "system"
    found = False
    for part, option in _PARTS.items():
        if _differs(old / part, new / part):
            found = True
            yield option
    before, after = _files(old / "etc"), _files(new / "etc")
    seen = set()
    for path in sorted(before.keys() | after.keys()):
        if before.get(path) != after.get(path):
            option = _option(path)
            if option not in seen:
                seen.add(option)
                found = True
                yield option
    if not found:
        for part, option in _DERIVED.items():
            if _differs(old / part, new / part):
                yield option


def describe_change(old_vm: str, new_vm: str) -> str:
    names = []
    for option in changed_options(old_vm, new_vm):
        names.append(option)
        if len(names) > MAX_NAMED:
            break
    if not names:
        return "outside what /etc and the kernel show"
    shown = ", ".join(names[:MAX_NAMED])
    return shown + (", and more" if len(names) > MAX_NAMED else "")
