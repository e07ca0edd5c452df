"""Whether a host can hold the machines about to start on it: their memory.

Each machine asks for virtualisation.memorySize MiB of guest RAM (QEMU's
-m); the host offers what the kernel says it can give without swapping,
MemAvailable in /proc/meminfo. Machines already running are in that figure
already, so only the ones about to start are counted. A guest does not touch
all its RAM at once, so this is the bound a machine may grow to, not what it
uses at boot: starting past it is how a host ends up in the OOM killer with a
network half up. Checked before anything starts (Supervisor.start_machines).

Standard library only: the supervisor is copied into the network directory.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path

from .errors import StartError
from .facts import MachineFacts

MEMINFO = Path("/proc/meminfo")


def available_kib(meminfo: Path = MEMINFO) -> int | None:
    """MemAvailable in KiB; None where the kernel does not say (not Linux)."""
    try:
        text = meminfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name == "MemAvailable":
            fields = value.split()
            if fields and fields[0].isdigit():
                return int(fields[0])
    return None


def gib(kib: float) -> str:
    return f"{kib / 1024 / 1024:.1f} GiB"


def check_memory(machines: Sequence[MachineFacts], available: int | None,
                 host: str | None = None) -> None:
    """StartError naming the machines and the host when their memorySize
    together is more than the host has available."""
    if available is None:
        return
    wanted = sum(m.memory_size for m in machines) * 1024
    if wanted <= available:
        return
    host = host or socket.gethostname()
    each = ", ".join(f"{m.name} {m.memory_size} MiB" for m in machines if m.memory_size)
    raise StartError(
        f"host {host} has {gib(available)} of memory available (MemAvailable), and "
        f"the machines to start there ask for {gib(wanted)} (virtualisation.memorySize: "
        f"{each}); start fewer of them, or give them less memory")
