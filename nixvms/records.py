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
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from nixvms.network import Forward, Nic
from nixvms.state import read_json, write_json

# Bumped when a record's fields or meaning change: older records are then
# ignored (and redone), never misread.
VERSION = 5

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
    """What eval:<machine> found: its derivation and what the plan needs of it."""

    machine: str
    params: str  # digest of every non-file input, the address plan included
    plan: str  # digest of the address plan alone
    drv_path: str
    out_path: str
    system: str
    system_name: str  # system.name: the VM script is bin/run-<system_name>-vm
    host_name: str
    domain: str | None
    target_host: str | None
    vlans: tuple[int, ...]
    nics: tuple[Nic, ...]
    files: tuple[str, ...]  # digests of the file groups it read
    network_stamp: str  # the network file's stamp when it was evaluated
    network_view: str  # digest of the part of the network file this machine depends on
    nodes: tuple[str, ...]  # other machines whose configuration it read (`nodes`)
    memory_kb: int  # the evaluation's peak memory (budget.py)
    inputs: Mapping[str, str]  # what `params` digests, by name (for `nixvms why`)
    tags: tuple[str, ...]  # deployment.tags (--on @tag)
    ssh_ports: tuple[int, ...]  # services.openssh.ports where openssh is enabled
    forwards: tuple[Forward, ...]  # virtualisation.forwardPorts from the host


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
    data = {f.name: _to_json(getattr(record, f.name)) for f in dataclasses.fields(record)}
    write_json(path, {"kind": type(record).__name__, "version": VERSION, "data": data})


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
    hints = get_type_hints(kind)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(kind):  # type: ignore[arg-type]
        if field.name not in data:
            return None
        ok, value = _from_json(hints[field.name], data[field.name])
        if not ok:
            return None
        values[field.name] = value
    return kind(**values)


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _to_json(v) for k, v in value.items()}
    return value


def _from_json(hint: Any, value: Any) -> tuple[bool, Any]:
    """(True, the value as `hint` types it) or (False, None) when it is not one."""
    if hint is str:  # the common case first: records are mostly strings
        return isinstance(value, str), value
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for option in get_args(hint):
            ok, converted = _from_json(option, value)
            if ok:
                return True, converted
        return False, None
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            return False, None
        record = from_data(hint, value)
        return record is not None, record
    if hint is type(None):
        return value is None, None
    if hint is bool or hint is str:
        return isinstance(value, hint), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if origin is tuple:
        (item, _ellipsis) = get_args(hint)
        if not isinstance(value, list):
            return False, None
        items = [_from_json(item, v) for v in value]
        if not all(ok for ok, _ in items):
            return False, None
        return True, tuple(v for _, v in items)
    if origin is Mapping:
        key_type, value_type = get_args(hint)
        if not isinstance(value, dict):
            return False, None
        if key_type is str and value_type is str:  # large ones (LastRun.files): no recursion
            ok = all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
            return ok, types.MappingProxyType(value) if ok else None
        converted_items = {}
        for k, v in value.items():
            ok, converted = _from_json(value_type, v)
            if not ok or not isinstance(k, key_type):
                return False, None
            converted_items[k] = converted
        return True, types.MappingProxyType(converted_items)
    raise TypeError(f"records: no JSON form for {hint!r}")
