"""What an evaluation read, and whether any of it changed since.

Nix does not say which files an evaluation read; its -vv log does name the
files it imported ("evaluating file '…'") and the paths it copied into the
store ("copied source '…' -> '…'"), and nixvms's tracer (nix/tracer.nix)
adds a "nixvms-dep <how> <path>" trace line for each readFile, readDir,
pathExists and builtins.path of the network's own files. Those are an
evaluation's file dependencies, each with what was read of it: its content,
its listing (readDir), or only whether it exists (pathExists).

Each is recorded with a cheap stamp (size, mtime, ctime, inode) and a
content digest: a stamp that still matches means unchanged without reading
the file; a stamp that differs is settled by the digest, so a `touch` does
not re-evaluate anything. A directory's listing (readDir) is stamped by
its entries' names and kinds, as readDir reports them: its times say
nothing when it is swapped for a copy that kept them. A path recorded as
missing is a dependency too: if it appears, the evaluation is stale. Files
inside the Nix store never change and are never recorded.

An edit made while an evaluation runs must be seen by the next run, whether
the evaluation read the file before or after the edit. Any change to a file
sets its ctime to the kernel's clock, which user space cannot set back: a
file (or, for a path looked for, its directory) whose ctime is not older
than the evaluation's start is recorded as "changed while evaluated", a
fingerprint no file matches, so the next run evaluates again.

Fingerprints are stored in content-addressed file groups, one per directory
(`.nixvms/filesets/<digest>.json`): machines that read the same files (the
package set, shared modules) share the groups, a record holds only their
digests, and a run checks each distinct group once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from nixvms.errors import StateError
from nixvms.nix import LogMessage, nix_store_dir
from nixvms.state import read_json, write_json

_EVALUATING = re.compile(r"^evaluating file '(.+)'$")
_COPIED = re.compile(r"^copied source '(.+)' -> '.+'$")
_TRACED = re.compile(r"^trace: nixvms-dep (\S+) (.+)$")
_NODE = re.compile(r"^trace: nixvms-node (\S+)$")

# What an evaluation saw of a path, weakest first: a stronger read of the
# same path subsumes a weaker one.
EXISTENCE, LISTING, CONTENT = "existence", "listing", "content"
_STRENGTH = {EXISTENCE: 0, LISTING: 1, CONTENT: 2}
_TRACED_MODES = {
    "import": CONTENT, "file": CONTENT, "tree": CONTENT,
    "listing": LISTING, "exists": EXISTENCE, "missing": EXISTENCE,
}

# The kernel stamps ctime from a clock that may lag time.time_ns() by a
# tick; a change this close before the start counts as during.
_CLOCK_MARGIN_NS = 20_000_000
CHANGED_WHILE_EVALUATED = "changed-while-evaluated"


@dataclass(frozen=True)
class Fingerprint:
    """What a path looked like: `kind` file|dir|listing|exists|missing|special."""

    mode: str
    kind: str
    stamp: str
    digest: str

    def as_list(self) -> list[str]:
        return [self.mode, self.kind, self.stamp, self.digest]


@dataclass(frozen=True)
class Reads:
    """What one evaluation's log says it read."""

    files: dict[str, str] = field(default_factory=dict)  # path -> mode
    nodes: frozenset[str] = frozenset()  # machines whose configuration it read


def reads_from_log(messages: Iterable[LogMessage]) -> Reads:
    """The paths outside the store the log says were read (with how), and the nodes."""
    found: dict[str, str] = {}
    nodes: set[str] = set()

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
            continue
        node = _NODE.match(text)
        if node:
            nodes.add(node.group(1))
    return Reads(found, frozenset(nodes))


def in_store(path: str) -> bool:
    return path.startswith(nix_store_dir().rstrip("/") + "/")


# --- fingerprints ----------------------------------------------------------------


def stamp_of(info: os.stat_result) -> str:
    """Changes whenever the file may have: size, mtime, ctime, inode, exec bit."""
    return (f"{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}:{info.st_ino}:"
            f"{info.st_mode & 0o111 != 0}")


def kind_and_stamp(path: str, mode: str) -> tuple[str, str]:
    """A cheap (kind, stamp): an equal stamp means unchanged without reading."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return "missing", ""
    if mode == EXISTENCE:
        return "exists", ""
    if stat.S_ISDIR(info.st_mode):
        if mode == LISTING:
            # Its entries, not its times: a directory swapped for a copy with
            # the same mtime, or an entry that changed kind, lists differently.
            try:
                return "listing", listing_digest(path)
            except (FileNotFoundError, NotADirectoryError):
                return "missing", ""
        return "dir", _dir_stamp(path)
    if not stat.S_ISREG(info.st_mode):
        # A FIFO, socket or device is never opened: reading one can block forever.
        return "special", str(stat.S_IFMT(info.st_mode))
    return "file", stamp_of(info)


def _content_digest(path: str, kind: str) -> str:
    if kind == "file":
        return file_digest(path)
    if kind == "dir":
        return _dir_digest(path)
    if kind == "listing":
        return listing_digest(path)
    return ""


def entry_kind(entry: os.DirEntry[str]) -> str:
    """An entry's type as builtins.readDir reports it (a symbolic link is not followed)."""
    if entry.is_symlink():
        return "symlink"
    if entry.is_dir(follow_symlinks=False):
        return "directory"
    if entry.is_file(follow_symlinks=False):
        return "regular"
    return "unknown"


def listing_digest(path: str) -> str:
    """What builtins.readDir returns for a directory (names and kinds), as a digest."""
    with os.scandir(path) as entries:
        listed = sorted(f"{entry.name}\0{entry_kind(entry)}" for entry in entries)
    return hashlib.sha256("\n".join(listed).encode(errors="surrogateescape")).hexdigest()


def file_digest(path: str) -> str:
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
        digest.update(f"{rel}\0{info.st_mode}\0{stamp_of(info)}\n".encode(errors="surrogateescape"))
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
        elif stat.S_ISREG(info.st_mode):
            content = f"file:{info.st_mode & 0o111 != 0}:{file_digest(full)}"
        else:
            content = f"special:{stat.S_IFMT(info.st_mode)}"
        digest.update(f"{rel}\0{content}\n".encode(errors="surrogateescape"))
    return digest.hexdigest()


def _latest_change_ns(path: str, fingerprint: Fingerprint) -> int:
    """The newest ctime among what the fingerprint covers (0 if none can be read)."""
    try:
        if fingerprint.kind in ("missing", "exists"):
            # Appearing or vanishing changes the directory that holds the path.
            return os.stat(os.path.dirname(path) or ".").st_ctime_ns
        if fingerprint.kind == "dir":
            own = os.stat(path).st_ctime_ns
            return max([own, *(info.st_ctime_ns for _, info in _walk(path))])
        return os.stat(path).st_ctime_ns
    except OSError:
        return 0


def changed_since(path: str, started_ns: int) -> bool:
    """Whether `path` may have changed after `started_ns` (its ctime says; unreadable: yes)."""
    try:
        return os.stat(path).st_ctime_ns >= started_ns - _CLOCK_MARGIN_NS
    except OSError:
        return True


class FileStates:
    """Current fingerprints, computed at most once per path and mode per run.

    The up-to-date checks and the records of new evaluations share them, so
    a file many machines read is stat-ed and hashed once per run.
    """

    def __init__(self) -> None:
        self._stamps: dict[tuple[str, str], tuple[str, str]] = {}
        self._digests: dict[tuple[str, str], str] = {}

    def kind_and_stamp(self, path: str, mode: str) -> tuple[str, str]:
        key = (path, mode)
        if key not in self._stamps:
            self._stamps[key] = kind_and_stamp(path, mode)
        return self._stamps[key]

    def seen(self) -> dict[tuple[str, str], tuple[str, str]]:
        """Every (path, mode) looked at so far, with the (kind, stamp) it had then."""
        return dict(self._stamps)

    def _digest(self, path: str, mode: str, kind: str) -> str:
        key = (path, mode)
        if kind == "listing":
            # A listing's stamp is already its digest; one scan keeps them one listing.
            return self.kind_and_stamp(path, mode)[1]
        if key not in self._digests:
            self._digests[key] = _content_digest(path, kind)
        return self._digests[key]

    def fingerprint(self, path: str, mode: str = CONTENT) -> Fingerprint:
        kind, stamp = self.kind_and_stamp(path, mode)
        return Fingerprint(mode, kind, stamp, self._digest(path, mode, kind))

    def unchanged(self, path: str, recorded: Fingerprint) -> bool:
        kind, stamp = self.kind_and_stamp(path, recorded.mode)
        if kind != recorded.kind or recorded.digest == CHANGED_WHILE_EVALUATED:
            return False
        if kind in ("missing", "exists") or stamp == recorded.stamp:
            return True
        return self._digest(path, recorded.mode, kind) == recorded.digest

    def record(self, paths: Mapping[str, str], started_ns: int) -> tuple[
            dict[str, Fingerprint], list[str]]:
        """Fingerprints of what an evaluation that started at `started_ns` read.

        Returns them and the paths that changed while it ran (recorded so
        that the next run evaluates again).
        """
        recorded: dict[str, Fingerprint] = {}
        changed: list[str] = []
        for path in sorted(paths):
            fingerprint = self.fingerprint(path, paths[path])
            if _latest_change_ns(path, fingerprint) >= started_ns - _CLOCK_MARGIN_NS:
                fingerprint = Fingerprint(fingerprint.mode, fingerprint.kind, "",
                                          CHANGED_WHILE_EVALUATED)
                changed.append(path)
            recorded[path] = fingerprint
        return recorded, changed


# --- file groups -----------------------------------------------------------------


def _group_json(directory: str, entries: Mapping[str, Fingerprint]) -> str:
    data = {"directory": directory,
            "entries": {name: entries[name].as_list() for name in sorted(entries)}}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


class FileSets:
    """The content-addressed file groups of one project, and a run's verdicts on them."""

    def __init__(self, directory: Path, states: FileStates) -> None:
        self.directory = directory
        self.states = states
        self._loaded: dict[str, dict[str, Fingerprint] | None] = {}
        self._verdicts: dict[str, bool] = {}

    def _path(self, digest: str) -> Path:
        return self.directory / f"{digest}.json"

    def save(self, fingerprints: Mapping[str, Fingerprint]) -> tuple[str, ...]:
        """Store the fingerprints as one group per directory; return the groups' digests."""
        by_directory: dict[str, dict[str, Fingerprint]] = {}
        for path, fingerprint in fingerprints.items():
            directory, name = os.path.split(path)
            by_directory.setdefault(directory, {})[name] = fingerprint
        digests = []
        for directory in sorted(by_directory):
            text = _group_json(directory, by_directory[directory])
            digest = hashlib.sha256(text.encode()).hexdigest()
            if digest not in self._loaded and not self._path(digest).exists():
                try:
                    write_json(self._path(digest), json.loads(text))
                except OSError as error:
                    raise StateError(f"cannot write {self._path(digest)}: {error.strerror}"
                                     ) from error
            self._loaded.setdefault(digest, {
                os.path.join(directory, name): fp
                for name, fp in by_directory[directory].items()})
            digests.append(digest)
        return tuple(digests)

    def _load(self, digest: str) -> dict[str, Fingerprint] | None:
        if digest not in self._loaded:
            self._loaded[digest] = _parse_group(read_json(self._path(digest)), digest)
        return self._loaded[digest]

    def unchanged(self, digests: Iterable[str]) -> bool:
        """True when every file of every group is as recorded (a lost group: False)."""
        for digest in digests:
            if digest not in self._verdicts:
                group = self._load(digest)
                self._verdicts[digest] = group is not None and all(
                    self.states.unchanged(path, fp) for path, fp in group.items())
            if not self._verdicts[digest]:
                return False
        return True

    def trusted(self, digests: Iterable[str]) -> bool:
        """False if a group is lost or records a file that changed while it was read."""
        for digest in digests:
            group = self._load(digest)
            if group is None or any(fp.digest == CHANGED_WHILE_EVALUATED
                                    for fp in group.values()):
                return False
        return True

    def changes(self, digests: Iterable[str]) -> list[str]:
        """The recorded paths that changed (for saying why something re-runs)."""
        return [path for path, _ in self.changed_entries(digests)]

    def changed_entries(self, digests: Iterable[str]) -> list[tuple[str, Fingerprint | None]]:
        """(path, what was recorded of it) for each recorded path that changed; a lost
        group is one entry (a description, None)."""
        changed: list[tuple[str, Fingerprint | None]] = []
        for digest in digests:
            group = self._load(digest)
            if group is None:
                changed.append((f"(a lost record of files, {digest[:12]})", None))
                continue
            changed += [(p, fp) for p, fp in sorted(group.items())
                        if not self.states.unchanged(p, fp)]
        return changed

    def collect(self, keep: Iterable[str]) -> int:
        """Delete the groups no record names; return how many were deleted."""
        wanted = {f"{digest}.json" for digest in keep}
        removed = 0
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            return 0
        for entry in entries:
            if entry.name.endswith(".json") and entry.name not in wanted:
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
        return removed


def _parse_group(raw: object, digest: str) -> dict[str, Fingerprint] | None:
    """A stored group, or None if it is not exactly what its digest says."""
    if not isinstance(raw, dict):
        return None
    directory, entries = raw.get("directory"), raw.get("entries")
    if not isinstance(directory, str) or not isinstance(entries, dict):
        return None
    parsed: dict[str, Fingerprint] = {}
    for name, value in entries.items():
        if not (isinstance(value, list) and len(value) == 4
                and all(isinstance(v, str) for v in value)):
            return None
        parsed[name] = Fingerprint(*value)
    if hashlib.sha256(_group_json(directory, parsed).encode()).hexdigest() != digest:
        return None
    return {os.path.join(directory, name): fp for name, fp in parsed.items()}


def absolute(path: str | Path) -> str:
    return os.path.abspath(os.fspath(path))
