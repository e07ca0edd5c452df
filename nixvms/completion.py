"""What the shell completes: the machine names of the network here.

Read from the last build's `result/network.json` (through its one loader,
supervisor/spec.py), else the last machine listing nixvms recorded
(`.nixvms/records/machine-list.json`): completion runs on every Tab, so it
never runs Nix and never fails (no project, no build yet: nothing to offer).
"""

from __future__ import annotations

from pathlib import Path

from nixvms import records
from nixvms.state import StateDir
from nixvms.supervisor import spec
from nixvms.supervisor.errors import SupervisorError

NETWORK_FILE = "network.nix"


def nearest_network(start: Path) -> Path | None:
    """The nearest network.nix in `start` or a directory above it."""
    for directory in (start, *start.parents):
        candidate = directory / NETWORK_FILE
        if candidate.is_file():
            return candidate
    return None


def machine_names(start: Path) -> list[str]:
    """The machines of the project around `start`, by name; [] when none is known."""
    network = nearest_network(start)
    if network is None:
        return []
    try:
        names = list(spec.load_network(network.parent / "result").names)
    except SupervisorError:
        listing = records.load(records.MachineList,
                               StateDir.for_network(network).machine_list_record)
        names = list(listing.names) if listing is not None else []
    return sorted(names)
