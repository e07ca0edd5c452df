"""`doit` in this repository: the example network, and the developer's tasks.

    doit                 build examples/two-machines (as `nixvms build` would)
    doit lint            ruff
    doit types           mypy --strict
    doit test-fast       the fast tier (no Nix, no VM)
    doit test            the whole suite (scripts/test)
    doit bench           the benchmarks (bench/README.md)
"""

from collections.abc import Iterator
from typing import Any

from nixvms.dodo import tasks_for

globals().update(tasks_for("examples/two-machines/network.nix",
                           out_link="examples/two-machines/result"))

_PYTHON_SOURCES = ["nixvms", "tests", "bench", "dodo.py"]


def _command(name: str, doc: str, command: str) -> dict[str, Any]:
    return {"basename": name, "doc": doc, "actions": [command], "uptodate": [False],
            "verbosity": 2}


def task_dev() -> Iterator[dict[str, Any]]:
    """The developer's tasks: lint, types, test-fast, test, bench."""
    yield _command("lint", "ruff over the sources", ".venv/bin/ruff check .")
    yield _command("types", "mypy --strict over " + ", ".join(_PYTHON_SOURCES), ".venv/bin/mypy")
    yield _command("test-fast", "the fast tier: unit tests without Nix or VMs",
                   "scripts/test --fast")
    yield _command("test", "the whole suite, as CI runs it", "scripts/test")
    yield _command("bench", "nixvms against one nix-build of the network",
                   ".venv/bin/python -m bench.run")
