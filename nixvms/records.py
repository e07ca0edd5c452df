"""The records one run leaves for the next: typed, versioned, stored once.

Each record kind is a frozen dataclass with one owner (the task that writes
it) and one loader, `load`, which returns None for a record that is missing,
truncated, empty, of another version or kind, or garbage: a record that
cannot be trusted means "not up to date", never a failure, and the task
that owns it redoes what it covered.

On disk a record is `{"kind": ..., "version": ..., "data": {...}}`, written
atomically (state.write_json). Records live under `.nixvms/records/`; the
file sets they name (deps.py) under `.nixvms/filesets/`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from nixvms.state import read_json, write_json
from nixvms.supervisor import typedjson
from nixvms.supervisor.facts import MachineFacts

# Bumped when a record's fields or meaning change: older records are then
# ignored (and redone), never misread.
VERSION = 6

R = TypeVar("R")


@dataclasses.dataclass(frozen=True)
class MachineList:
    """The network's machine names, as its last listing found them."""

    params: str  # digest of what the listing depends on besides files
    names: tuple[str, ...]
    files: tuple[str, ...]  # digests of the file groups it read (deps.FileSets)
    network_stamp: str  # the network file's stamp when it was listed
    network_parse: str  # digest of the network file's parsed form


@dataclasses.dataclass(frozen=True)
class NixpkgsLookup:
    """Where `<nixpkgs>` resolved, for the search path and files it depended on."""

    params: str  # digest of NIX_PATH, -I and the Nix options
    path: str | None  # None: no nixpkgs, tinyos is used
    files: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """What eval:<machine> found: what the machine is, its derivation, and what it read."""

    facts: MachineFacts  # as the evaluation returned it (vm: the .drv's output path)
    params: str  # digest of every non-file input, the address plan included
    plan: str  # digest of the address plan alone
    drv_path: str
    files: tuple[str, ...]  # digests of the file groups it read
    network_stamp: str  # the network file's stamp when it was evaluated
    network_view: str  # digest of the part of the network file this machine depends on
    nodes: tuple[str, ...]  # other machines whose configuration it read (`nodes`)
    memory_kb: int  # the evaluation's peak memory (budget.py)
    inputs: Mapping[str, str]  # what `params` digests, by name (for `nixvms why`)

    @property
    def machine(self) -> str:
        return self.facts.name


@dataclasses.dataclass(frozen=True)
class Build:
    """What build:<machine> realised."""

    machine: str
    drv_path: str
    out_path: str


@dataclasses.dataclass(frozen=True)
class NetworkRecord:
    """The network directory the network task made, and from what."""

    render: str  # digest of the rendering parameters
    machines: Mapping[str, str]  # machine -> VM store path
    store_path: str


@dataclasses.dataclass(frozen=True)
class LastRun:
    """What a run that left the whole network up to date rested on (lastrun.py)."""

    request: str  # digest of how the build was asked for
    files: Mapping[str, str]  # "<mode> <path>" -> "<kind> <stamp>" as the run looked at it
    state: Mapping[str, str]  # nixvms's state files -> their stamps at the end of the run
    store_paths: tuple[str, ...]  # the machines' .drvs and VMs and the network directory
    machines: tuple[str, ...]
    store_path: str  # the network directory
    nixpkgs: str
    uses_tinyos: bool


def save(record: object, path: Path) -> None:
    """Write a record atomically, tagged with its kind and nixvms's record version."""
    assert dataclasses.is_dataclass(record) and not isinstance(record, type)
    write_json(path, {"kind": type(record).__name__, "version": VERSION,
                      "data": typedjson.to_data(record)})


def load(kind: type[R], path: Path) -> R | None:
    """The record at `path` if it is a whole record of this kind and version, else None."""
    raw = read_json(path)
    if (
        not isinstance(raw, dict)
        or raw.get("kind") != kind.__name__
        or raw.get("version") != VERSION
        or not isinstance(raw.get("data"), dict)
    ):
        return None
    return from_data(kind, raw["data"])


def from_data(kind: type[R], data: Mapping[str, Any]) -> R | None:
    """Build a record from plain data, checking every field's type; None if any is off."""
    return typedjson.from_data(kind, data)
