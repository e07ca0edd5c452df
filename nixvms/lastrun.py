"""A no-op answered from the last run: no doit, no Nix, one stat per file.

A run that leaves the whole network up to date also leaves a `LastRun`
record (records.py) of what its verdicts rested on:

- how the build was asked for: a digest of the options and of the
  environment that reaches Nix (`request_key`);
- the stamp of every file its checks and evaluations looked at, taken when
  they looked (deps.FileStates keeps them), not by a fresh stat at the end:
  a file edited during the run, after it was looked at, no longer matches;
- the stamps of nixvms's own state (records, file sets, doit's database,
  GC roots, the ssh key) once the run had written all of it, and of the
  files the network directory is rendered from (templates, the supervisor);
- the store paths the records name, and the network directory.

The next `nixvms build` asked the same way compares these first (`answer`).
When every stamp is as it was, every store path is still there and
`result` still points at the network, nothing the pipeline would look at
has changed, so the pipeline's verdict would be the same: every machine up
to date. Anything else, a `touch` included, goes to the pipeline, which
decides as always (and leaves a new record).

The pipeline deletes the record when it starts, so a run that fails or is
interrupted leaves none. A run whose records say a file changed while it
was read, or whose nixpkgs lookup cannot be cached (a URL in the search
path), leaves none either: its next run must look again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from nixvms import __version__, deps, nix, records
from nixvms.errors import StateError
from nixvms.options import Options
from nixvms.state import StateDir, points_to, project_lock

if TYPE_CHECKING:
    from nixvms.context import BuildContext


def request_key(network_file: str, options: Options) -> str | None:
    """A digest of how the build was asked for, or None when it must always look.

    --on builds part of the network, so it is never answered from a record.
    -j, -k and the memory bound change how a run works, not what it makes.
    """
    if options.on or nix.search_path_candidates(options.settings) is None:
        return None
    settings = options.settings
    request = {
        "nixvms": __version__,
        "records": records.VERSION,
        "network file": network_file,
        "out link": str(options.out_link) if options.out_link else None,
        "--option": [list(o) for o in settings.options],
        "-I": list(settings.include),
        "--option-warn-only": settings.unknown_options_warn_only,
        "--extra-dep": list(options.extra_deps),
        # What decides where <nixpkgs> is and how Nix is configured.
        "environment": {name: os.environ.get(name) for name in
                        ("NIX_PATH", "NIX_CONFIG", "HOME", "USER")},
        "tinyos manifest": str(nix.tinyos_manifest()),
    }
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def answer(network_file: str, options: Options, state: StateDir,
           on_wait: Callable[[str], None]) -> records.LastRun | None:
    """The last run's record if it still holds, else None (the pipeline decides)."""
    key = request_key(network_file, options)
    if key is None or not state.last_run_record.exists():
        return None
    with ExitStack() as held:
        try:
            held.enter_context(project_lock(state, on_wait))
        except StateError:
            return None  # the pipeline names what is wrong with the state
        last = records.load(records.LastRun, state.last_run_record)
        if last is None or last.request != key:
            return None
        # What the pipeline checks before it looks at any record.
        nix.check_include_paths(options.settings)
        if not (_state_unchanged(last) and _files_unchanged(last)):
            return None
        if not all(os.path.exists(path) for path in last.store_paths):
            return None
        if options.out_link is not None and not points_to(options.out_link, last.store_path):
            return None
        return last


def _state_unchanged(last: records.LastRun) -> bool:
    for path, stamp in last.state.items():
        try:
            if deps.stamp_of(os.lstat(path)) != stamp:
                return False
        except OSError:
            return False
    return True


def _files_unchanged(last: records.LastRun) -> bool:
    for mode_and_path, kind_and_stamp in last.files.items():
        mode, _, path = mode_and_path.partition(" ")
        kind, _, stamp = kind_and_stamp.partition(" ")
        if deps.kind_and_stamp(path, mode) != (kind, stamp):
            return False
    return True


def forget(state: StateDir) -> None:
    """A run starts: the last run's record no longer says how things are."""
    try:
        state.last_run_record.unlink(missing_ok=True)
    except OSError as error:
        raise StateError(f"cannot remove {state.last_run_record}: {error.strerror}") from error


def remember(ctx: BuildContext, network_store_path: str) -> None:
    """Record what this run's verdicts rested on, if the next no-op may trust it.

    Called at the end of a run that built the whole network, after its last
    write to the state.
    """
    key = request_key(ctx.network_file, ctx.options)
    machine_paths = _trusted_store_paths(ctx) if key is not None else None
    if key is None or machine_paths is None:
        return
    store_paths = [network_store_path, *machine_paths]
    # What the network directory is rendered from (nixvms's own files): their
    # stamps first, then the check that the network was made from them.
    from nixvms import render, tasks

    state: dict[str, str] = {}
    for path in [*render.source_paths(), *_state_files(ctx.state)]:
        try:
            state[str(path)] = deps.stamp_of(os.lstat(path))
        except OSError:
            return
    if not tasks.network_up_to_date(ctx, {"nixvms": records.VERSION}):
        return
    files = {f"{mode} {path}": f"{kind} {stamp}"
             for (path, mode), (kind, stamp) in ctx.files.seen().items()}
    record = records.LastRun(
        request=key, files=files, state=state, store_paths=tuple(store_paths),
        machines=ctx.machines, store_path=network_store_path,
        nixpkgs=ctx.nixpkgs, uses_tinyos=ctx.uses_tinyos)
    # Unwritable: the next run looks at everything, as without the record.
    with contextlib.suppress(StateError):
        records.save(record, ctx.state.last_run_record)


def _trusted_store_paths(ctx: BuildContext) -> list[str] | None:
    """The machines' .drvs and VMs, or None when a record is missing or says
    something changed while it was read (deps.py)."""
    listing = records.load(records.MachineList, ctx.state.machine_list_record)
    lookup = records.load(records.NixpkgsLookup, ctx.state.nixpkgs_record)
    if listing is None or lookup is None:
        return None
    if listing.network_parse == deps.CHANGED_WHILE_EVALUATED:
        return None
    groups = list(listing.files) + list(lookup.files)
    paths: list[str] = []
    for machine in ctx.machines:
        evaluated = records.load(records.Evaluation, ctx.state.eval_record(machine))
        built = records.load(records.Build, ctx.state.build_record(machine))
        if (evaluated is None or built is None
                or evaluated.network_view == deps.CHANGED_WHILE_EVALUATED):
            return None
        groups += evaluated.files
        paths += [evaluated.drv_path, built.out_path]
    return paths if ctx.filesets.trusted(groups) else None


def _state_files(state: StateDir) -> Iterator[Path]:
    """What of nixvms's state the pipeline's checks read (not logs, not the running network).

    GC roots are symbolic links into the store: their own stamps count, not
    their targets'.
    """
    yield state.db_file
    directories = [state.records, state.filesets, state.gcroots, state.ssh_dir]
    while directories:
        try:
            entries = list(os.scandir(directories.pop()))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                directories.append(Path(entry.path))
            elif not entry.name.startswith(".") and entry.path != str(state.last_run_record):
                yield Path(entry.path)
