"""How the user asked for a build, and what the build gave.

Its own module so that the no-op check (lastrun.py) can read the options
without importing the task graph and doit, and so that the front door
(builder.py) and the pipeline (runner.py) share the result without
importing each other.
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


@dataclass(frozen=True)
class BuildResult:
    """What a build made."""

    store_path: str  # the network directory ("" when --on left it unmade)
    evaluated: tuple[str, ...]
    built: tuple[str, ...]
    nixpkgs: str  # the package set the machines were evaluated with
    uses_tinyos: bool
