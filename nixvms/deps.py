"""What an evaluation read, and whether any of it changed since.

Nix does not say which files an evaluation read; its -vv log does name the
files it imported ("evaluating file '…'") and the paths it copied into the
store ("copied source '…' -> '…'"), and nixvms's tracer (nix/tracer.nix)
adds a "nixvms-dep <how> <path>" trace line for each readFile, readDir,
pathExists and builtins.path of the network's own files. Those, plus the
network file itself, are an evaluation's file dependencies, each with what
was read of it: its content, its listing (readDir), or only whether it
exists (pathExists). Each is recorded with a cheap stamp
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
_TRACED = re.compile(r"^trace: nixvms-dep (\S+) (.+)$")

# What an evaluation saw of a path, weakest first: a stronger read of the
# same path subsumes a weaker one.
EXISTENCE, LISTING, CONTENT = "existence", "listing", "content"
_STRENGTH = {EXISTENCE: 0, LISTING: 1, CONTENT: 2}
_TRACED_MODES = {
    "import": CONTENT, "file": CONTENT, "tree": CONTENT,
    "listing": LISTING, "exists": EXISTENCE, "missing": EXISTENCE,
}

# A recorded fingerprint: {"mode": how, "kind": "file"|"dir"|"listing"|"exists"|"missing",
#                          "stamp": str, "digest": str}
Fingerprint = dict[str, str]


def files_from_log(messages: Iterable[LogMessage]) -> dict[str, str]:
    """The paths outside the store that the log says were read, with how."""
    found: dict[str, str] = {}

    def saw(path: str, mode: str) -> None:
        if in_store(path):
            return
        if path not in found or _STRENGTH[mode] > _STRENGTH[found[path]]:
            found[path] = mode

    for message in messages:
        text = message.text
        match = _EVALUATING.match(text) or _COPIED.match(text)
        if match:
            saw(match.group(1), CONTENT)
            continue
        traced = _TRACED.match(text)
        if traced and traced.group(1) in _TRACED_MODES:
            saw(traced.group(2), _TRACED_MODES[traced.group(1)])
    return found


def in_store(path: str) -> bool:
    return path.startswith(nix_store_dir().rstrip("/") + "/")


def _stamp(path: str, mode: str) -> tuple[str, str]:
    """A cheap (kind, stamp): an equal stamp means unchanged without reading."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return "missing", ""
    if mode == EXISTENCE:
        return "exists", ""
    if stat.S_ISDIR(info.st_mode):
        if mode == LISTING:
            return "listing", str(info.st_mtime_ns)
        return "dir", _dir_stamp(path)
    return "file", _file_stamp(info)


def _digest(path: str, kind: str) -> str:
    if kind == "file":
        return _file_digest(path)
    if kind == "dir":
        return _dir_digest(path)
    if kind == "listing":
        entries = sorted(
            f"{entry.name}\0{'dir' if entry.is_dir(follow_symlinks=False) else 'other'}"
            for entry in os.scandir(path)
        )
        return hashlib.sha256("\n".join(entries).encode()).hexdigest()
    return ""


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
    """Current fingerprints, computed at most once per path and mode per run.

    The up-to-date checks and the records of new evaluations share them, so
    a file many machines read (nixpkgs or tinyos outside the store, the
    glue) is hashed once per run, not once per machine.
    """

    def __init__(self) -> None:
        self._stamps: dict[tuple[str, str], tuple[str, str]] = {}
        self._digests: dict[tuple[str, str], str] = {}

    def _kind_and_stamp(self, path: str, mode: str) -> tuple[str, str]:
        key = (path, mode)
        if key not in self._stamps:
            self._stamps[key] = _stamp(path, mode)
        return self._stamps[key]

    def _digest(self, path: str, mode: str, kind: str) -> str:
        key = (path, mode)
        if key not in self._digests:
            self._digests[key] = _digest(path, kind)
        return self._digests[key]

    def fingerprint(self, path: str, mode: str = CONTENT) -> Fingerprint:
        kind, stamp = self._kind_and_stamp(path, mode)
        digest = self._digest(path, mode, kind)
        return {"mode": mode, "kind": kind, "stamp": stamp, "digest": digest}

    def unchanged(self, path: str, recorded: Mapping[str, Any]) -> bool:
        mode = str(recorded.get("mode", CONTENT))
        kind, stamp = self._kind_and_stamp(path, mode)
        if kind != recorded.get("kind"):
            return False
        if kind in ("missing", "exists") or stamp == recorded.get("stamp"):
            return True
        return self._digest(path, mode, kind) == recorded.get("digest")

    def record(self, paths: Mapping[str, str]) -> dict[str, Fingerprint]:
        """Fingerprints of the given paths (path -> what was read), to save with an evaluation.

        A file that changed during this run after it was first looked at is
        recorded as first seen; the next run then finds it changed and
        evaluates again, which is the safe side.
        """
        return {path: self.fingerprint(path, paths[path]) for path in sorted(paths)}


def all_unchanged(states: FileStates, recorded: Mapping[str, Mapping[str, Any]]) -> bool:
    return all(states.unchanged(path, fp) for path, fp in recorded.items())


def absolute(path: str | Path) -> str:
    return os.path.abspath(os.fspath(path))
