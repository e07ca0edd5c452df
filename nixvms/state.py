"""Where nixvms keeps a project's state, and how it writes it.

All state lives in `.nixvms/` beside the network file: doit's database, the
lock, GC roots, one record per machine of its last evaluation and build, and
the files of the network directory. Every file another run reads is written
atomically (a temporary file renamed over it), so an interrupted run leaves
either the old or the new file, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_DIR_NAME = ".nixvms"


@dataclass(frozen=True)
class StateDir:
    root: Path

    @classmethod
    def beside(cls, network_file: Path) -> StateDir:
        return cls(network_file.parent / STATE_DIR_NAME)

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

    def eval_record(self, machine: str) -> Path:
        return self.root / "machines" / f"{machine}.eval.json"

    def build_record(self, machine: str) -> Path:
        return self.root / "machines" / f"{machine}.build.json"

    @property
    def machine_list_record(self) -> Path:
        return self.root / "machine-list.json"

    @property
    def network_record(self) -> Path:
        return self.root / "network.json"

    @property
    def run_dir(self) -> Path:
        """The default state directory of the running network (disks, consoles, sockets)."""
        return self.root / "run"

    @property
    def network_files(self) -> Path:
        """Where run-vms and network.json are rendered before they go to the store."""
        return self.root / "network"


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
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
