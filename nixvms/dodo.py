"""nixvms's tasks for plain `doit` in a project directory.

A project's dodo.py is the one line `from nixvms.dodo import *`; doit then
runs in the project directory, on ./network.nix, linking ./result. The
repository's own dodo.py calls `tasks_for` with examples/'s network instead.
While doit runs, it holds the project's lock, as `nixvms build` does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from doit.exceptions import InvalidDodoFile

from nixvms import nix, runner, tasks
from nixvms.state import StateDir

__all__ = ["DOIT_CONFIG", "task_nixvms"]

# The project lock, held from task loading until doit's process exits.
_held_locks = ExitStack()


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _lock(state: StateDir) -> None:
    """Take the project lock for the rest of this process, as `nixvms build` does."""
    _held_locks.enter_context(runner.project_lock(state, _say))


def tasks_for(
    network_file: str = "network.nix", out_link: str | None = "result"
) -> dict[str, Any]:
    """DOIT_CONFIG and a task generator for one network file, for a dodo.py's globals."""
    network = Path(os.path.abspath(network_file))
    state = StateDir.beside(network)

    def task_nixvms() -> Iterator[dict[str, Any]]:
        """nixvms: eval:<machine>, build:<machine>, network"""
        _lock(state)
        try:
            ctx = tasks.prepare(network, Path(out_link) if out_link else None, nix.NixSettings())
        except (nix.NixError, tasks.NetworkError) as error:
            message = error.message if isinstance(error, nix.NixError) else str(error)
            raise InvalidDodoFile(message) from None
        yield from tasks.generate(ctx)

    # doit opens its database before it asks for tasks: the directory must exist.
    state.root.mkdir(parents=True, exist_ok=True)
    config = runner.doit_config(state)
    return {"DOIT_CONFIG": config, "task_nixvms": task_nixvms}


_defaults = tasks_for()
DOIT_CONFIG: dict[str, Any] = _defaults["DOIT_CONFIG"]
task_nixvms = _defaults["task_nixvms"]
