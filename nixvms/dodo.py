"""nixvms's tasks for plain `doit` in a project directory.

A project's dodo.py is the one line `from nixvms.dodo import *`; doit then
runs in the project directory, on ./network.nix, linking ./result. The
repository's own dodo.py calls `tasks_for` with examples/'s network instead.
Both go through the pipeline `nixvms build` uses (runner.Pipeline): the same
state directory, lock, database recovery and tasks. The lock is held from
the moment doit loads the dodo file until its process exits.
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from doit.exceptions import InvalidDodoFile

from nixvms import nix, runner
from nixvms.errors import NixvmsError
from nixvms.events import Event, plain_line
from nixvms.options import Options

__all__ = ["DOIT_CONFIG", "task_nixvms"]  # noqa: F822 (made by __getattr__ on import)


def _say(event: Event) -> None:
    """doit shows its tasks itself; what happens inside them, as plain lines."""
    line = plain_line(event)
    if line is not None:
        print(line, file=sys.stderr)


def tasks_for(
    network_file: str = "network.nix", out_link: str | None = "result"
) -> dict[str, Any]:
    """DOIT_CONFIG and a task generator for one network file, for a dodo.py's globals."""
    options = Options(
        out_link=Path(out_link).absolute() if out_link else None,
        settings=nix.NixSettings(),
    )
    pipeline = runner.Pipeline(Path(network_file).absolute(), options, _say)
    opened = False

    def task_nixvms() -> Iterator[dict[str, Any]]:
        """nixvms: eval:<machine>, plan, build:<machine>, network"""
        try:
            yield from pipeline.task_dicts()
        except NixvmsError as error:
            raise InvalidDodoFile(error.message) from None

    # doit opens its database before it asks for tasks: the state directory
    # must exist, locked and recovered, by then.
    try:
        pipeline.open()
        opened = True
    except NixvmsError as error:
        raise InvalidDodoFile(error.message) from None
    if opened:
        atexit.register(pipeline.close)
    return {"DOIT_CONFIG": pipeline.doit_config(), "task_nixvms": task_nixvms}


_defaults: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    """DOIT_CONFIG and task_nixvms for ./network.nix, made when a dodo.py imports them."""
    if name not in __all__:
        raise AttributeError(name)
    if not _defaults:
        _defaults.update(tasks_for())
    return _defaults[name]
