"""How the user asked for a build: the options every front door passes on.

Its own module so that the no-op check (lastrun.py) can read them without
importing the task graph and doit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nixvms.nix import NixSettings


@dataclass(frozen=True)
class Options:
    """How the user asked for this build."""

    out_link: Path | None
    settings: NixSettings
    extra_deps: tuple[str, ...] = ()
    jobs: int = 1
    keep_going: bool = False
    max_eval_memory_kb: int | None = None  # None: budget.default_limit_kb()
    # --on: machine names and @tags (deployment.tags); empty: every machine.
    on: tuple[str, ...] = ()
