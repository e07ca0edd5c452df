"""Frozen dataclasses to and from plain JSON data, every field's type checked.

Standard library only: nixvms's build records (records.py), the running
network's state file (runstate.py) and network.json's machine facts
(facts.py) all go through these two functions, so a record is read one way
everywhere. `from_data` returns None for data that is not a whole record of
the kind (a missing field, a wrong type): a record that cannot be trusted is
no record, and its owner decides what that means.

Supported field types: str, int, float, bool, None, enum.Enum subclasses,
nested frozen dataclasses, tuple[X, ...], Mapping[K, V] and unions of them.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

R = TypeVar("R")

# Type hints of each record kind, computed once (get_type_hints is slow and
# records are loaded by the thousand in a large network).
_HINTS: dict[type, dict[str, Any]] = {}


def to_data(value: Any) -> Any:
    """A record (or any value of a supported type) as plain JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [to_data(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_data(v) for k, v in value.items()}
    return value


def from_data(kind: type[R], data: Any) -> R | None:
    """Build a record from plain data, checking every field's type; None if any is off."""
    if not isinstance(data, Mapping):
        return None
    hints = _HINTS.get(kind)
    if hints is None:
        hints = _HINTS[kind] = get_type_hints(kind)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(kind):  # type: ignore[arg-type]
        if field.name not in data:
            if (field.default is not dataclasses.MISSING
                    or field.default_factory is not dataclasses.MISSING):
                continue  # a field added with a default reads older data as that default
            return None
        ok, value = _convert(hints[field.name], data[field.name])
        if not ok:
            return None
        values[field.name] = value
    try:
        return kind(**values)
    except (TypeError, ValueError):  # a record's own checks (__post_init__) refused it
        return None


def _convert(hint: Any, value: Any) -> tuple[bool, Any]:
    """(True, the value as `hint` types it) or (False, None) when it is not one."""
    if hint is str:  # the common case first: records are mostly strings
        return isinstance(value, str), value
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for option in get_args(hint):
            ok, converted = _convert(option, value)
            if ok:
                return True, converted
        return False, None
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        record = from_data(hint, value)
        return record is not None, record
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return True, hint(value)
        except ValueError:
            return False, None
    if hint is type(None):
        return value is None, None
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else None
    if origin is tuple:
        (item, _ellipsis) = get_args(hint)
        if not isinstance(value, list):
            return False, None
        items = [_convert(item, v) for v in value]
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
            ok, converted = _convert(value_type, v)
            if not ok or not isinstance(k, key_type):
                return False, None
            converted_items[k] = converted
        return True, types.MappingProxyType(converted_items)
    raise TypeError(f"typedjson: no JSON form for {hint!r}")
