"""Embedding doit: the loader, its options, the project lock, the reporter.

`build` runs the task graph of tasks.py for one network under an exclusive
lock on .nixvms/lock (two runs in one directory wait for each other rather
than interleave), with doit's sqlite3 backend (which, unlike dbm and json,
does not lose records when runs overlap) and parallel jobs in threads (the
tasks are closures over the build context; process mode would pickle them).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doit.cmd_base import TaskLoader2
from doit.doit_cmd import DoitMain
from doit.exceptions import UnmetDependency
from doit.loader import generate_tasks

from nixvms import tasks
from nixvms.nix import NixSettings
from nixvms.state import StateDir, read_json

Progress = Callable[[str], None]


class BuildFailed(Exception):
    """One or more tasks failed; `failures` holds each one's message.

    `failed_machines` names the machines whose evaluation or build failed
    (with --keep-going, the others were built but the network was not made).
    """

    def __init__(self, failures: Sequence[str], failed_machines: Sequence[str] = ()) -> None:
        super().__init__("; ".join(failures))
        self.failures = tuple(failures)
        self.failed_machines = tuple(failed_machines)


@dataclass
class RunLog:
    """What one doit run did: tasks executed, skipped, failed."""

    executed: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    failed_tasks: list[str] = field(default_factory=list)
    # Tasks not run because a task they depend on failed (--keep-going).
    not_run: list[str] = field(default_factory=list)

    @property
    def failed_machines(self) -> list[str]:
        machines = [name.partition(":")[2] for name in self.failed_tasks]
        return sorted({m for m in machines if m})


@dataclass(frozen=True)
class BuildResult:
    store_path: str
    context: tasks.BuildContext
    executed: tuple[str, ...]


class _Reporter:
    """A doit reporter that records events and reports progress in words."""

    def __init__(self, log: RunLog, progress: Progress) -> None:
        self.log = log
        self.progress = progress

    def initialize(self, tasks: Any, selected_tasks: Any) -> None:
        pass

    def get_status(self, task: Any) -> None:
        pass

    def execute_task(self, task: Any) -> None:
        if not task.actions:
            return
        self.log.executed.append(task.name)
        kind, _, machine = task.name.partition(":")
        words = {"eval": "evaluating", "build": "building"}
        if kind in words:
            self.progress(f"{words[kind]} {machine}")
        elif kind == "network":
            self.progress("making the network")

    def add_failure(self, task: Any, fail: Any) -> None:
        if isinstance(fail, UnmetDependency):
            self.log.not_run.append(task.name)
            return
        message = getattr(fail, "message", None) or str(fail)
        if message == "PythonAction Error":
            # An exception nixvms did not expect: its last line, not doit's title.
            lines = "".join(getattr(fail, "traceback", "")).strip().splitlines()
            detail = lines[-1] if lines else "no details"
            message = f"task {task.name} failed unexpectedly: {detail}"
        self.log.failures.append(message)
        self.log.failed_tasks.append(task.name)

    def add_success(self, task: Any) -> None:
        pass

    def skip_uptodate(self, task: Any) -> None:
        if task.actions:
            self.log.up_to_date.append(task.name)

    def skip_ignore(self, task: Any) -> None:
        pass

    def cleanup_error(self, exception: Any) -> None:
        self.log.failures.append(str(exception))

    def runtime_error(self, msg: str) -> None:
        self.log.failures.append(msg)

    def teardown_task(self, task: Any) -> None:
        pass

    def complete_run(self) -> None:
        pass


class _Loader(TaskLoader2):  # type: ignore[misc]
    def __init__(self, ctx: tasks.BuildContext, config: dict[str, Any]) -> None:
        super().__init__()
        self._ctx = ctx
        self._config = config

    def load_doit_config(self) -> dict[str, Any]:
        return self._config

    def load_tasks(self, cmd: Any, pos_args: Any) -> list[Any]:
        return list(generate_tasks("nixvms", tasks.generate(self._ctx)))


def doit_config(state: StateDir) -> dict[str, Any]:
    """DOIT_CONFIG for a network's state directory (used by `doit` too)."""
    return {
        "dep_file": str(state.db_file),
        "backend": "sqlite3",
        "par_type": "thread",
        "default_tasks": ["network"],
        "check_file_uptodate": "md5",
    }


@contextmanager
def project_lock(state: StateDir, on_wait: Progress) -> Iterator[None]:
    """Hold .nixvms/lock for the duration; say so if another run holds it."""
    state.root.mkdir(parents=True, exist_ok=True)
    with open(state.lock_file, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait(f"waiting for another nixvms run in {state.root.parent} to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def recover_corrupt_database(state: StateDir, progress: Progress) -> None:
    """Set aside a database sqlite cannot read; the next run rebuilds the state.

    Losing doit's records costs re-evaluations, never correctness: every
    up-to-date check also verifies the records and the store.
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
        progress(f"nixvms's state database was unreadable ({error}); moved it to {aside} "
                 "and rebuilding the state")


def run_doit(
    ctx: tasks.BuildContext,
    targets: Sequence[str],
    progress: Progress,
    *,
    jobs: int = 1,
    keep_going: bool = False,
) -> RunLog:
    log = RunLog()
    config = doit_config(ctx.state) | {"reporter": _Reporter(log, progress)}
    args = ["run", "--db-file", str(ctx.state.db_file), "--backend", "sqlite3"]
    if jobs > 1:
        args += ["-n", str(jobs), "-P", "thread"]
    if keep_going:
        args.append("--continue")
    code = DoitMain(_Loader(ctx, config)).run([*args, *targets])
    if code != 0 and not log.failures:
        log.failures.append(f"doit stopped with exit code {code}")
    return log


def build(
    network_file: Path,
    out_link: Path | None,
    settings: NixSettings,
    progress: Progress,
    *,
    jobs: int = 1,
    keep_going: bool = False,
    extra_deps: tuple[Path, ...] = (),
) -> BuildResult:
    """Build a network: evaluate and build what changed, then make the network."""
    state = StateDir.beside(Path(os.path.abspath(network_file)))
    with project_lock(state, progress):
        recover_corrupt_database(state, progress)
        ctx = tasks.prepare(network_file, out_link, settings, extra_deps)
        if ctx.uses_tinyos:
            progress("no nixpkgs in NIX_PATH or -I: building with nixvms's bundled tinyos")
        else:
            progress(f"building with nixpkgs from {ctx.nixpkgs}")
        log = run_doit(ctx, ["network"], progress, jobs=jobs, keep_going=keep_going)
        executed = list(log.executed)
        if not log.failures and tasks.plan_is_stale(ctx):
            # An evaluation found VLANs other than the plan assumed: the other
            # machines' /etc/hosts must list its address on them. Once more
            # with the corrected plan (only the affected evaluations re-run).
            ctx = tasks.prepare(network_file, out_link, settings, extra_deps)
            log = run_doit(ctx, ["network"], progress, jobs=jobs, keep_going=keep_going)
            executed += log.executed
        if log.failures:
            raise BuildFailed(log.failures, log.failed_machines)
        record = read_json(state.network_record)
        if not isinstance(record, dict) or "store_path" not in record:
            raise BuildFailed(["the network was not made (no record of it)"])
        return BuildResult(str(record["store_path"]), ctx, tuple(executed))


def clean(network_file: Path, progress: Progress) -> list[Path]:
    """Remove nixvms's GC roots of a network (not the user's out-link)."""
    state = StateDir.beside(Path(os.path.abspath(network_file)))
    removed = []
    with project_lock(state, progress):
        if state.gcroots.is_dir():
            for root in sorted(state.gcroots.iterdir()):
                root.unlink()
                removed.append(root)
    return removed
