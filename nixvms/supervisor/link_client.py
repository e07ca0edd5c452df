"""The front door of link behaviour: shape a link, partition, heal (links.py runs them).

`nixvms link` and the test driver come through here; each call is one
request on the running supervisor's control socket. Like client.py, this
raises SupervisorError subclasses and prints nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import wirefilter
from .client import open_run, request
from .errors import NotRunning, UsageError
from .statedir import RunDir

TIMEOUT = 30.0


@dataclass(frozen=True)
class LinkState:
    machine: str
    vlan: int
    settings: Mapping[str, str]  # the ones not zero, as written (wirefilter.Shape.describe)
    group: int  # 0: not partitioned; else its group

    def describe(self) -> str:
        shown = ", ".join(f"{k} {v}" for k, v in self.settings.items()) or "no shaping"
        where = f"; partition group {self.group}" if self.group else ""
        return f"{self.machine}:{self.vlan}: {shown}{where}"


def parse_target(text: str) -> tuple[str, int | None]:
    """MACHINE or MACHINE:VLAN."""
    name, colon, vlan = text.partition(":")
    if not name:
        raise UsageError(f"{text!r} names no machine (write MACHINE or MACHINE:VLAN)")
    if not colon:
        return name, None
    if not vlan.isdigit() or not 1 <= int(vlan) <= 255:
        raise UsageError(f"{text!r}: the VLAN after ':' must be a number from 1 to 255")
    return name, int(vlan)


def check_settings(settings: Mapping[str, str]) -> None:
    """Every value readable (wirefilter.updated's errors), before anything is asked."""
    wirefilter.updated(wirefilter.Shape(delay_ms=wirefilter.MAX_DELAY_MS), settings)


def _running(state_dir: str | os.PathLike[str]) -> RunDir:
    opened = open_run(state_dir)
    if not opened.supervisor_alive:
        raise NotRunning(f"no network is running from {opened.run_dir.path}: there is no "
                         "link to shape (start it with `nixvms up`)")
    return opened.run_dir


def set_link(state_dir: str | os.PathLike[str], machine: str, vlan: int | None,
             settings: Mapping[str, str]) -> list[LinkState]:
    """Change the settings given of the machine's link to VLAN (all its shaped links
    when None); no settings: only say how they are."""
    check_settings(settings)
    answer = request(_running(state_dir), {"op": "link", "machine": machine, "vlan": vlan,
                                           "settings": dict(settings)}, TIMEOUT)
    return [LinkState(str(v["machine"]), int(v["vlan"]), dict(v["settings"]), int(v["group"]))
            for v in answer.get("links") or []]


def partition(state_dir: str | os.PathLike[str], groups: Sequence[Sequence[str]]) -> list[int]:
    """Cut each group from the others; the VLANs cut."""
    answer = request(_running(state_dir), {"op": "partition",
                                           "groups": [list(g) for g in groups]}, TIMEOUT)
    return [int(v) for v in answer.get("vlans") or []]


def heal(state_dir: str | os.PathLike[str]) -> list[int]:
    """Undo a partition; the VLANs joined again."""
    answer = request(_running(state_dir), {"op": "heal"}, TIMEOUT)
    return [int(v) for v in answer.get("vlans") or []]


# the driver's keyword names -> the settings' names (both spellings taken)
_KEYWORDS = {"loss_burst": "lossBurst"}


class LinkHandle:
    """machine.link(vlan) in a test script: set(delay="100ms", loss="5%"), show()."""

    def __init__(self, state_dir: str | os.PathLike[str], machine: str,
                 vlan: int | None) -> None:
        self.state_dir = state_dir
        self.machine = machine
        self.vlan = vlan

    def set(self, **settings: str | int | float) -> list[LinkState]:
        """Change the settings named (delay, jitter, loss, loss_burst, duplicate,
        bandwidth, mtu); a number for lossBurst and mtu may be given as one."""
        named = {_KEYWORDS.get(k, k): str(v) for k, v in settings.items()}
        return set_link(self.state_dir, self.machine, self.vlan, named)

    def show(self) -> list[LinkState]:
        return set_link(self.state_dir, self.machine, self.vlan, {})

    def __repr__(self) -> str:
        return f"<link {self.machine}:{self.vlan if self.vlan is not None else '*'}>"
