"""`nixvms build`: the last run's answer when nothing changed, else the pipeline.

The answer (lastrun.py) needs neither doit nor Nix, so this module imports
the pipeline (runner.py, and with it doit and the task graph) only when it
has to run: a no-op costs Python's start, the imports of the command line
and a stat of each file the network depends on.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from nixvms import lastrun
from nixvms.events import Event, Progress, notice
from nixvms.nix import NixSettings
from nixvms.options import BuildResult, Options
from nixvms.state import StateDir, project_lock


def build(
    network_file: Path,
    out_link: Path | None,
    settings: NixSettings,
    progress: Progress,
    *,
    jobs: int = 1,
    keep_going: bool = False,
    extra_deps: tuple[Path, ...] = (),
    state_dir: Path | None = None,
    max_eval_memory_kb: int | None = None,
    on: tuple[str, ...] = (),
) -> BuildResult:
    """Build a network: evaluate and build what changed, then make the network."""
    options = Options(
        out_link=Path(os.path.abspath(out_link)) if out_link else None,
        settings=settings,
        extra_deps=tuple(sorted({os.path.abspath(p) for p in extra_deps})),
        jobs=jobs,
        keep_going=keep_going,
        max_eval_memory_kb=max_eval_memory_kb,
        on=on,
    )
    state = StateDir.for_network(network_file, state_dir)
    last = lastrun.answer(os.path.abspath(network_file), options, state,
                          lambda text: progress(notice(text)))
    if last is not None:
        # The events a run of the pipeline gives when every task is up to date.
        for kind in ("eval", "build"):
            for machine in last.machines:
                progress(Event("up-to-date", machine, kind))
        return BuildResult(last.store_path, (), (), last.nixpkgs, last.uses_tinyos)

    from nixvms.runner import Pipeline

    with Pipeline(network_file, options, progress, state_dir) as pipeline:
        return pipeline.run()


def clean(network_file: Path, progress: Callable[[str], None],
          state_dir: Path | None = None) -> list[Path]:
    """Remove nixvms's GC roots of a network (not the user's out-link)."""
    state = StateDir.for_network(network_file, state_dir)
    removed = []
    state.ensure()
    with project_lock(state, progress):
        lastrun.forget(state)
        if state.gcroots.is_dir():
            for root in sorted(state.gcroots.iterdir()):
                root.unlink()
                removed.append(root)
    return removed
