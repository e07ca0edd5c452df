"""What an evaluation read, and whether any of it changed since.

Nix does not say which files an evaluation read; its -vv log does name the
files it imported ("evaluating file '…'") and the paths it copied into the
store ("copied source '…' -> '…'"). Those, plus the network file itself,
are an evaluation's file dependencies. Each is recorded with a cheap stamp
(type, size, mtime) and a content digest: a stamp that still matches means
unchanged without reading the file; a stamp that differs is settled by the
digest, so a `touch` does not re-evaluate anything. A file recorded as
missing is a dependency too: if it appears, the evaluation is stale.
Files inside the Nix store never change and are never recorded.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from nixvms.nix import LogMessage, nix_store_dir

_EVALUATING = re.compile(r"^evaluating file '(.+)'$")
_COPIED = re.compile(r"^copied source '(.+)' -> '.+'$")

# A recorded fingerprint: {"kind": "file"|"dir"|"missing", "stamp": str, "digest": str}
Fingerprint = dict[str, str]


def files_from_log(messages: Iterable[LogMessage]) -> set[str]:
    """The files and directories outside the store that Nix's log says it read."""
    found: set[str] = set()
    for message in messages:
        match = _EVALUATING.match(message.text) or _COPIED.match(message.text)
        if match:
            found.add(match.group(1))
    return {path for path in found if not in_store(path)}


def in_store(path: str) -> bool:
    return path.startswith(nix_store_dir().rstrip("/") + "/")


def fingerprint(path: str) -> Fingerprint:
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return {"kind": "missing", "stamp": "", "digest": ""}
    if stat.S_ISDIR(info.st_mode):
        return {"kind": "dir", "stamp": _dir_stamp(path), "digest": _dir_digest(path)}
    return {"kind": "file", "stamp": _file_stamp(info), "digest": _file_digest(path)}


def _file_stamp(info: os.stat_result) -> str:
    return f"{info.st_size}:{info.st_mtime_ns}:{info.st_mode & 0o111 != 0}"


def _file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _walk(path: str) -> list[tuple[str, os.stat_result]]:
    entries = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(dirs + files):
            full = os.path.join(root, name)
            entries.append((os.path.relpath(full, path), os.lstat(full)))
    return entries


def _dir_stamp(path: str) -> str:
    digest = hashlib.sha256()
    for rel, info in _walk(path):
        digest.update(f"{rel}\0{info.st_mode}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _dir_digest(path: str) -> str:
    """Digest of a directory as Nix copies it: names, types, modes, contents."""
    digest = hashlib.sha256()
    for rel, info in _walk(path):
        full = os.path.join(path, rel)
        if stat.S_ISLNK(info.st_mode):
            content = "link:" + os.readlink(full)
        elif stat.S_ISDIR(info.st_mode):
            content = "dir"
        else:
            content = f"file:{info.st_mode & 0o111 != 0}:{_file_digest(full)}"
        digest.update(f"{rel}\0{content}\n".encode())
    return digest.hexdigest()


class FileStates:
    """Current fingerprints, computed at most once per path per run."""

    def __init__(self) -> None:
        self._stamps: dict[str, tuple[str, str]] = {}
        self._digests: dict[str, Fingerprint] = {}

    def unchanged(self, path: str, recorded: Mapping[str, Any]) -> bool:
        kind, stamp = self._stamp(path)
        if kind != recorded.get("kind"):
            return False
        if kind == "missing" or stamp == recorded.get("stamp"):
            return True
        return self.current(path)["digest"] == recorded.get("digest")

    def current(self, path: str) -> Fingerprint:
        if path not in self._digests:
            self._digests[path] = fingerprint(path)
        return self._digests[path]

    def _stamp(self, path: str) -> tuple[str, str]:
        if path not in self._stamps:
            try:
                info = os.stat(path)
            except (FileNotFoundError, NotADirectoryError):
                self._stamps[path] = ("missing", "")
            else:
                if stat.S_ISDIR(info.st_mode):
                    self._stamps[path] = ("dir", _dir_stamp(path))
                else:
                    self._stamps[path] = ("file", _file_stamp(info))
        return self._stamps[path]

    def forget(self) -> None:
        self._stamps.clear()
        self._digests.clear()


def record(paths: Iterable[str]) -> dict[str, Fingerprint]:
    """Fingerprints of the given paths, to save with an evaluation."""
    return {path: fingerprint(path) for path in sorted(set(paths))}


def all_unchanged(states: FileStates, recorded: Mapping[str, Mapping[str, Any]]) -> bool:
    return all(states.unchanged(path, fp) for path, fp in recorded.items())


def absolute(path: str | Path) -> str:
    return os.path.abspath(os.fspath(path))
