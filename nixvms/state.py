"""Where nixvms keeps a project's state, and how it writes it.

All state lives in `.nixvms/` beside the network file (or where --state-dir
or NIXVMS_STATE_DIR says): doit's database, the lock, GC roots, the records
of the last run (records.py), the file sets they name (deps.py), and the
files of the network directory. Every file another run reads is written
atomically (a temporary file renamed over it), so an interrupted run leaves
either the old or the new file, never half of one; a write that fails (a
full disk, a read-only directory) leaves the old file and names the new.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nixvms.errors import StateError
from nixvms.supervisor import launch

STATE_DIR_NAME = ".nixvms"
STATE_DIR_VARIABLE = launch.STATE_DIR_VARIABLE


@dataclass(frozen=True)
class StateDir:
    root: Path

    @classmethod
    def beside(cls, network_file: Path) -> StateDir:
        return cls(network_file.parent / STATE_DIR_NAME)

    @classmethod
    def for_network(cls, network_file: Path, override: Path | None = None) -> StateDir:
        """--state-dir, else NIXVMS_STATE_DIR, else .nixvms beside the network file."""
        chosen = launch.project_state_dir(override)  # the one reader of the rule
        if chosen is not None:
            return cls(chosen)
        return cls.beside(Path(os.path.abspath(network_file)))

    def ensure(self) -> None:
        """Make the state directory (private to its user) and check its parts' kinds."""
        hint = (f"choose another place with --state-dir or {STATE_DIR_VARIABLE}")
        if self.root.exists() and not self.root.is_dir():
            raise StateError(f"nixvms's state directory {self.root} is not a directory; "
                             f"remove it, or {hint}")
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise StateError(f"cannot make nixvms's state directory {self.root}: "
                             f"{error.strerror}; {hint}") from error
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StateError(f"nixvms's state directory {self.root} is not writable; {hint}")
        for directory in (self.gcroots, self.records, self.filesets):
            if directory.exists() and not directory.is_dir():
                raise StateError(f"{directory} should be a directory of nixvms's state but is "
                                 "not; remove it (nixvms makes it again)")
        for file in (self.lock_file, self.db_file):
            if file.exists() and not file.is_file():
                raise StateError(f"{file} should be a file of nixvms's state but is not; "
                                 "remove it (nixvms makes it again)")

    @property
    def db_file(self) -> Path:
        return self.root / "doit.db"

    @property
    def lock_file(self) -> Path:
        return self.root / "lock"

    @property
    def gcroots(self) -> Path:
        return self.root / "gcroots"

    def machine_root(self, machine: str) -> Path:
        return self.gcroots / f"vm-{machine}"

    def drv_root(self, machine: str) -> Path:
        """Keeps the machine's .drv from its evaluation until (and after) its build."""
        return self.gcroots / f"drv-{machine}"

    @property
    def network_root(self) -> Path:
        return self.gcroots / "network"

    @property
    def records(self) -> Path:
        return self.root / "records"

    @property
    def filesets(self) -> Path:
        return self.root / "filesets"

    def eval_record(self, machine: str) -> Path:
        return self.records / "eval" / f"{machine}.json"

    def build_record(self, machine: str) -> Path:
        return self.records / "build" / f"{machine}.json"

    def build_log(self, machine: str) -> Path:
        """Nix's whole log of the machine's last build."""
        return self.root / "logs" / f"{machine}.build.log"

    @property
    def machine_list_record(self) -> Path:
        return self.records / "machine-list.json"

    @property
    def nixpkgs_record(self) -> Path:
        return self.records / "nixpkgs.json"

    @property
    def network_record(self) -> Path:
        return self.records / "network.json"

    @property
    def last_run_record(self) -> Path:
        """What the last complete run's verdicts rested on (lastrun.py)."""
        return self.records / "last-run.json"

    @property
    def ssh_dir(self) -> Path:
        """The project's ssh key pair (keys.py)."""
        return self.root / "ssh"

    @property
    def run_dir(self) -> Path:
        """The default state directory of the running network (disks, consoles, sockets)."""
        return self.root / launch.RUN_SUBDIR

    @property
    def network_files(self) -> Path:
        """Where run-vms and network.json are rendered before they go to the store."""
        return self.root / "network"


@contextmanager
def project_lock(state: StateDir, on_wait: Callable[[str], None]) -> Iterator[None]:
    """Hold the project's lock for the duration; say so if another run holds it."""
    try:
        handle = open(state.lock_file, "a+")  # noqa: SIM115 (held across the yield)
    except OSError as error:
        raise StateError(f"cannot open the lock {state.lock_file}: {error.strerror}") from error
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait(f"waiting for another nixvms run in {state.root.parent} to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as error:
            raise StateError(f"cannot lock {state.lock_file}: {error.strerror}") from error
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Replace `path` with `text` at once; on failure the old file stays (StateError)."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as error:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise StateError(f"cannot write {path}: {error.strerror or error}") from error
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> Any:
    """A record, or None when it is missing or unreadable (then it is redone)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def points_to(link: Path, target: str) -> bool:
    try:
        return os.readlink(link) == target
    except OSError:
        return False
