"""What the shell completes: the machine names of the network here.

Read from the last build's `result/network.json`, else the last machine
listing nixvms recorded (`.nixvms/records/machine-list.json`): completion
runs on every Tab, so it never runs Nix and never fails (no project, no
build yet: nothing to offer).
"""

from __future__ import annotations

import json
from pathlib import Path

from nixvms import records
from nixvms.state import StateDir

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
        data = json.loads((network.parent / "result" / "network.json").read_text())
        names = [str(m["name"]) for m in data["machines"]]
    except (OSError, ValueError, KeyError, TypeError):
        listing = records.load(records.MachineList,
                               StateDir.for_network(network).machine_list_record)
        names = list(listing.names) if listing is not None else []
    return sorted(names)
