"""The floor of a no-op: what any program must do to know that nothing changed.

A no-op build has to look at every file some evaluation read (one stat per
distinct file: size, mtime, inode) and at its own state. This is the least
of it, with nothing else: `python -I bench/floor.py LIST` reads LIST (the
distinct tracked files, one per line: the state an ideal implementation
keeps), stats each file once, and prints one line, `floor-files <n>`. The
bench measures this process's wall time and peak RSS like nixvms's.

`tracked_files()` (used by bench.run, outside the measurement) says which
files those are, without depending on nixvms's record format: every
absolute path outside /nix/store named in the JSON files of the project's
`.nixvms/` directory, plus every file of the project itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

STATE_DIR = ".nixvms"
SKIP = (STATE_DIR, "result", "vms-state")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def tracked_files(project: Path) -> list[str]:
    """The distinct files a no-op of `project` has to look at (see the docstring)."""
    found: set[str] = set()
    state = project / STATE_DIR
    if state.is_dir():
        for path in state.rglob("*.json"):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            for text in _strings(data):
                if text.startswith("/") and not text.startswith("/nix/store/"):
                    found.add(text)
    for root, dirs, files in os.walk(project):
        if Path(root) == project:
            dirs[:] = [d for d in dirs if d not in SKIP]
        found.update(os.path.join(root, name) for name in files)
    return sorted(found)


def state_bytes(project: Path) -> int:
    """Bytes of nixvms's state (`.nixvms/`, regular files), for the report."""
    state = project / STATE_DIR
    if not state.is_dir():
        return 0
    return sum(p.stat().st_size for p in state.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> None:
    with open(sys.argv[1]) as handle:
        paths = handle.read().splitlines()
    seen = 0
    for path in paths:
        with contextlib.suppress(OSError):  # a file looked for and not found: one stat
            os.stat(path)
        seen += 1
    print(f"floor-files {seen}")


if __name__ == "__main__":
    main()
