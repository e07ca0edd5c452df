"""The one pipeline from network.nix to `result`, for `nixvms build` and plain `doit`.

A `Pipeline` owns one build of one network: it takes the project lock (two
runs in one project wait for each other rather than interleave), sets aside
a state database sqlite cannot read, reads what the tasks share
(context.prepare), and hands doit the task graph of tasks.py. `nixvms build`
runs that graph through doit's API (`run`); a project's dodo.py
(nixvms/dodo.py) gives the same pipeline's tasks to the doit command. At
the end it forgets the records and file sets no machine of the network uses.

doit runs with its sqlite3 backend (unlike dbm and json it does not lose
records when runs overlap) and parallel jobs in threads (the tasks are
closures over the build context; process mode would pickle them).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doit.api import run_tasks
from doit.cmd_base import TaskLoader2
from doit.exceptions import UnmetDependency
from doit.loader import generate_tasks

from nixvms import lastrun, records, tasks
from nixvms.context import BuildContext
from nixvms.context import prepare as prepare_context
from nixvms.errors import BuildFailed, UsageError
from nixvms.events import Event, Progress, notice
from nixvms.options import BuildResult, Options
from nixvms.state import StateDir, project_lock


@dataclass
class _DoitEvents:
    """What doit reported: failures, in the order they came."""

    failures: list[str] = field(default_factory=list)
    failed_tasks: list[str] = field(default_factory=list)


class _Reporter:
    """A doit reporter that reports progress in words and records failures."""

    def __init__(self, events: _DoitEvents, progress: Progress,
                 failed: list[str]) -> None:
        self.events = events
        self.progress = progress
        self.failed = failed  # machines failed in this run (--keep-going): no build shown

    def initialize(self, tasks: Any, selected_tasks: Any) -> None:
        pass

    def get_status(self, task: Any) -> None:
        pass

    def execute_task(self, task: Any) -> None:
        kind, _, machine = task.name.partition(":")
        if kind == "eval":
            self.progress(Event("evaluating", machine))
        elif kind == "build" and machine not in self.failed:
            self.progress(Event("building", machine))
        elif kind == "network" and not self.failed:
            self.progress(Event("network"))

    def add_failure(self, task: Any, fail: Any) -> None:
        if isinstance(fail, UnmetDependency):
            return  # not run because a task it needs failed: that one is reported
        message = getattr(fail, "message", None) or str(fail)
        if message == "PythonAction Error":
            # An exception nixvms did not expect: its last line, not doit's title.
            lines = "".join(getattr(fail, "traceback", "")).strip().splitlines()
            detail = lines[-1] if lines else "no details"
            message = f"task {task.name} failed unexpectedly: {detail}"
        self.events.failures.append(message)
        self.events.failed_tasks.append(task.name)
        machine = task.name.partition(":")[2]
        if machine:
            self.progress(Event("failed", machine, message))

    def add_success(self, task: Any) -> None:
        kind, _, machine = task.name.partition(":")
        if kind == "eval":
            self.progress(Event("evaluated", machine))
        elif kind == "build":
            self.progress(Event("built", machine))

    def skip_uptodate(self, task: Any) -> None:
        kind, _, machine = task.name.partition(":")
        if machine:
            self.progress(Event("up-to-date", machine, kind))

    def skip_ignore(self, task: Any) -> None:
        pass

    def cleanup_error(self, exception: Any) -> None:
        self.events.failures.append(str(exception))

    def runtime_error(self, msg: str) -> None:
        self.events.failures.append(msg)

    def teardown_task(self, task: Any) -> None:
        pass

    def complete_run(self) -> None:
        pass


class _Loader(TaskLoader2):  # type: ignore[misc]
    def __init__(self, pipeline: Pipeline, config: dict[str, Any]) -> None:
        super().__init__()
        self._pipeline = pipeline
        self._config = config

    def load_doit_config(self) -> dict[str, Any]:
        return self._config

    def load_tasks(self, cmd: Any, pos_args: Any) -> list[Any]:
        return list(generate_tasks("nixvms", self._pipeline.task_dicts()))


def recover_corrupt_database(state: StateDir, progress: Progress) -> None:
    """Set aside a database sqlite cannot read; the next tasks rebuild the state.

    Losing doit's database costs re-evaluations, never correctness: the
    records say what was done, and the database only that a task ran.
    """
    if not state.db_file.exists():
        return
    try:
        with closing(sqlite3.connect(state.db_file)) as connection:
            connection.execute("PRAGMA quick_check").fetchall()
            connection.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except sqlite3.DatabaseError as error:
        aside = state.db_file.with_name(f"doit.db.corrupt-{int(time.time())}")
        os.replace(state.db_file, aside)
        progress(notice(f"nixvms's state database was unreadable ({error}); moved it to "
                        f"{aside} and rebuilding the state"))


class Pipeline:
    """One build of one network, whichever front door it came through."""

    def __init__(self, network_file: Path, options: Options, progress: Progress,
                 state_dir: Path | None = None) -> None:
        self.network_file = network_file
        self.options = options
        self.progress = progress
        self.state = StateDir.for_network(network_file, state_dir)
        self._held = ExitStack()
        self._context: BuildContext | None = None
        self._made: str | None = None  # the network directory, once the whole network is built

    def doit_config(self) -> dict[str, Any]:
        """DOIT_CONFIG for this pipeline (a project's dodo.py exports it)."""
        config: dict[str, Any] = {
            "dep_file": str(self.state.db_file),
            "backend": "sqlite3",
            "default_tasks": ["network"],
            "verbosity": 0,
        }
        if self.options.jobs > 1:
            config |= {"num_process": self.options.jobs, "par_type": "thread"}
        return config

    def open(self) -> None:
        """Make the state directory, take the lock, recover the database."""
        for path, what in ((os.path.abspath(self.network_file), "network file"),
                           (str(self.state.root), "state directory")):
            try:
                path.encode("utf-8")
            except UnicodeEncodeError:
                raise UsageError(f"the {what} path {ascii(path)[1:-1]} is not valid UTF-8; "
                                 "rename it (or choose another --state-dir)") from None
        self.state.ensure()
        self._held.enter_context(
            project_lock(self.state, lambda text: self.progress(notice(text))))
        recover_corrupt_database(self.state, self.progress)
        lastrun.forget(self.state)

    @property
    def context(self) -> BuildContext:
        if self._context is None:
            self._context = prepare_context(self.network_file, self.state, self.options,
                                          self.progress)
        return self._context

    def task_dicts(self) -> Iterator[dict[str, Any]]:
        return tasks.generate(self.context)

    def run(self, targets: Sequence[str] = ("network",)) -> BuildResult:
        """Run the graph to `targets` through doit's API; raise BuildFailed on failures.

        With --on, the targets are the chosen machines' builds; the network
        directory is then made only if every other machine is built and up
        to date as well (tasks.complete_without), else the user is told why not.
        """
        ctx = self.context
        partial = ctx.selected != ctx.machines
        if partial:
            targets = [f"build:{machine}" for machine in ctx.selected]
        events = _DoitEvents()
        reporter = _Reporter(events, self.progress, ctx.log.failed_machines)
        config = self.doit_config() | {"reporter": reporter}
        if self.options.keep_going:
            config["continue"] = True
        code = run_tasks(_Loader(self, config), {target: {} for target in targets})
        failures = events.failures + ctx.log.failures
        if code != 0 and not failures:
            failures.append(f"doit stopped with exit code {code}")
        if failures:
            machines = {name.partition(":")[2] for name in events.failed_tasks}
            failed = sorted({m for m in machines if m} | set(ctx.log.failed_machines))
            raise BuildFailed(failures, failed)
        if partial:
            self._make_network_if_complete(ctx)
        made = records.load(records.NetworkRecord, self.state.network_record)
        if "network" in targets and made is None:
            raise BuildFailed(["the network was not made (no record of it)"])
        if made is not None and not partial:
            self._made = made.store_path
        return BuildResult(made.store_path if made else "", tuple(ctx.log.evaluated),
                           tuple(ctx.log.built), ctx.nixpkgs, ctx.uses_tinyos)

    def _make_network_if_complete(self, ctx: BuildContext) -> None:
        missing = tasks.not_up_to_date(ctx, [m for m in ctx.machines if m not in ctx.selected])
        if missing:
            self.progress(notice(
                f"the network directory was not made: {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not built as their files say "
                "(nixvms build without --on builds every machine)"))
            return
        if tasks.network_up_to_date(ctx, {"nixvms": records.VERSION}):
            return
        self.progress(Event("network"))
        failed = tasks.network_action(ctx)
        if not isinstance(failed, dict):
            raise BuildFailed([getattr(failed, "message", str(failed))])

    def close(self) -> None:
        """Forget what no machine of the network uses any more, leave the record
        for the next no-op (lastrun.py) if the whole network was built; release
        the lock."""
        try:
            if self._context is not None and self._context.log.evaluated:
                forget_unused(self._context)
            if self._context is not None and self._made is not None:
                lastrun.remember(self._context, self._made)
        finally:
            self._held.close()

    def __enter__(self) -> Pipeline:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def forget_unused(ctx: BuildContext) -> None:
    """Delete the records of machines that left the network and unused file sets."""
    keep: set[str] = set()
    for kind, directory in ((records.Evaluation, ctx.state.records / "eval"),
                            (records.Build, ctx.state.records / "build")):
        for path in directory.glob("*.json") if directory.is_dir() else ():
            if path.stem not in ctx.machines:
                path.unlink(missing_ok=True)
            elif kind is records.Evaluation:
                record = records.load(records.Evaluation, path)
                keep.update(record.files if record else ())
    for lookup in (records.load(records.MachineList, ctx.state.machine_list_record),
                   records.load(records.NixpkgsLookup, ctx.state.nixpkgs_record)):
        keep.update(lookup.files if lookup else ())
    ctx.filesets.collect(keep)
