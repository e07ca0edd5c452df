"""What every command of the command line shares: its options, its build, its errors.

nixvms's commands live in cli.py (the group, building) and cli_network.py
(the running network); both take their common options, the build they
start (with its live progress) and the one way an error becomes what the
user reads from here. With the entry points these are the only modules that
print or exit.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from nixvms.budget import parse_size_kb
from nixvms.builder import build
from nixvms.errors import BuildFailed
from nixvms.nix import NIX_INTERRUPTED, NixSettings
from nixvms.options import BuildResult
from nixvms.progress import QUIET, Display
from nixvms.state import StateDir
from nixvms.supervisor import launch
from nixvms.supervisor.errors import SupervisorError

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])

def _say(message: str) -> None:
    click.echo(message, err=True)


def _progress_display(network: Path, state_dir: Path | None, verbosity: int,
                      expect_all: bool = True) -> Display:
    """A build's progress on stderr: live lines on a terminal, else plain lines
    (nixvms/progress.py); the machines of the last listing show as waiting."""
    from nixvms import records
    from nixvms.state import StateDir

    def expected() -> tuple[str, ...]:
        state = StateDir.for_network(network, state_dir)
        listing = records.load(records.MachineList, state.machine_list_record)
        return listing.names if listing is not None else ()

    return Display(sys.stderr, verbosity=verbosity, expected=expected if expect_all else None)


def _complete_machines(ctx: click.Context, param: click.Parameter,
                       incomplete: str) -> list[str]:
    """The machine names of the network here (nixvms/completion.py: no Nix)."""
    from nixvms.completion import machine_names

    return [name for name in machine_names(Path.cwd()) if name.startswith(incomplete)]


def _fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _main_with_error_lines(main: Callable[..., Any], args: Any, kwargs: dict[str, Any]) -> Any:
    """Run click's main so that usage errors are `error: ...` lines too (exit 2)."""
    if not kwargs.get("standalone_mode", True):
        return main(*args, **kwargs)
    kwargs["standalone_mode"] = False
    try:
        code = main(*args, **kwargs)
    except click.UsageError as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # click >= 8.2, no command given
            error.show()  # the help, as click shows it
            sys.exit(EXIT_USAGE)
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
        _fail(f"{error.format_message()}{hint}", EXIT_USAGE)
    except click.ClickException as error:
        _fail(error.format_message(), error.exit_code)
    except click.Abort:
        _fail("interrupted", EXIT_INTERRUPTED)
    except SupervisorError as error:  # the one root of nixvms's errors: caught once, here
        click.echo(f"error: {error.message}", err=True)
        for line in error.detail_lines():
            click.echo(line, err=True)
        sys.exit(error.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


class _Command(click.Command):
    def main(self, *args: Any, **kwargs: Any) -> Any:
        return _main_with_error_lines(super().main, args, kwargs)


def _setup_logging(verbose: int, quiet: bool = False) -> None:
    level = logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)


def _verbosity(verbose: int, quiet: bool) -> int:
    return QUIET if quiet else verbose


def _run_build(
    network: Path,
    out_link: Path | None,
    settings: NixSettings,
    jobs: int,
    keep_going: bool = False,
    extra_deps: tuple[Path, ...] = (),
    state_dir: Path | None = None,
    max_eval_memory: str | None = None,
    verbosity: int = 0,
    on: tuple[str, ...] = (),
) -> BuildResult:
    linked_before = _link_target(out_link)
    # With --on the machines not chosen get no events: show only those that do.
    display = _progress_display(network, state_dir, verbosity, expect_all=not on)
    try:
        memory = parse_size_kb(max_eval_memory) if max_eval_memory else None
        with display:
            result = build(network, out_link, settings, display, jobs=jobs,
                           keep_going=keep_going, extra_deps=extra_deps, state_dir=state_dir,
                           max_eval_memory_kb=memory, on=on)
        if verbosity >= 1:  # the first build says tinyos in a notice; -v says it every time
            _say(f"package set: {result.nixpkgs}"
                 + (" (nixvms's bundled tinyos)" if result.uses_tinyos else " (nixpkgs)"))
        return result
    except BuildFailed as error:
        if any(failure.endswith(NIX_INTERRUPTED) for failure in error.failures):
            # Nix stopped on the user's Ctrl-C before Python's own handler ran
            # (the signal reached another thread first): an interrupted run.
            _interrupted(out_link, linked_before)
        for failure in error.failures:
            click.echo(f"error: {failure}", err=True)
        for machine in display.failed_machines():
            if machine.tail:
                click.echo(f"the whole build log of {machine.name}: "
                           f"nixvms log {machine.name}", err=True)
        if keep_going and error.failed_machines:
            machines = ", ".join(error.failed_machines)
            click.echo(f"error: failed machines: {machines}; the others are built, "
                       "the network was not made", err=True)
        elif len(error.failures) > 1:
            click.echo(f"error: {len(error.failures)} tasks failed", err=True)
        sys.exit(EXIT_FAILED)
    except KeyboardInterrupt:
        _interrupted(out_link, linked_before)


def _interrupted(out_link: Path | None, linked_before: str | None) -> NoReturn:
    """Say what an interrupted build left of `result`, and exit 130."""
    if out_link is not None and _link_target(out_link) != linked_before:
        _fail(f"interrupted after the new network was made; {out_link} points at it",
              EXIT_INTERRUPTED)
    _fail("interrupted; the previous result is untouched", EXIT_INTERRUPTED)


def _link_target(link: Path | None) -> str | None:
    try:
        return os.readlink(link) if link is not None else None
    except OSError:
        return None


def _nix_options(func: F) -> F:
    func = click.option(
        "--option", "options", type=(str, str), multiple=True, metavar="NAME VALUE",
        help="Set a Nix option for every Nix call (repeatable).",
    )(func)
    func = click.option(
        "--show-trace", is_flag=True, help="Show Nix's trace on evaluation errors."
    )(func)
    return func


def _build_options(func: F) -> F:
    """What every command that builds the network takes: Nix's flags, -j, the memory bound."""
    func = click.option(
        "--max-eval-memory", metavar="SIZE",
        help="Bound the memory of the evaluations running at once, e.g. 8G "
             "(default: three quarters of the memory available).")(func)
    func = click.option(
        "-j", "--jobs", type=click.IntRange(min=1), default=os.cpu_count() or 1,
        show_default="the number of cores",
        help="Evaluate and build this many machines at once (-j 1: one at a time).")(func)
    func = click.option(
        "-I", "include", multiple=True, metavar="PATH",
        help="Add a Nix search path entry, as nix-build's -I (repeatable).")(func)
    return _nix_options(func)


def _output_options(func: F) -> F:
    """-v and -q, for every command that shows a build's progress."""
    func = click.option("-q", "--quiet", is_flag=True,
                        help="Show errors only: no progress, no summary.")(func)
    return click.option("-v", "--verbose", count=True,
                        help="Log every Nix command and show each line of Nix's build logs.",
                        )(func)


NETWORK_FILE = "network.nix"



def _find_network(file: Path | None) -> Path:
    """-f NETWORK, else the nearest network.nix here or in a directory above."""
    if file is not None:
        if not file.is_file():
            _fail(f"{file}: no such network file", EXIT_USAGE)
        return file.resolve()
    here = Path.cwd()
    for directory in (here, *here.parents):
        candidate = directory / NETWORK_FILE
        if candidate.is_file():
            return candidate
    _fail(f"no {NETWORK_FILE} in {here} or any directory above it; "
          "give one with -f NETWORK (or the state directory with --state-dir)")


def _state_dir(file: Path | None, state_dir: Path | None) -> Path:
    """The running network's files: <project state>/run, the project's state being
    --state-dir (or NIXVMS_STATE_DIR), else .nixvms beside the network file
    (launch.py's rule)."""
    if launch.project_state_dir(state_dir) is not None:
        return launch.run_dir_path(state_dir, None)
    return launch.run_dir_path(None, str(StateDir.beside(_find_network(file)).run_dir))


def _lifecycle_options(func: F) -> F:
    """--state-dir and -f/--file: where the running network is (every command
    of the running network takes them, before its arguments)."""
    func = click.option(
        "--state-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
        help="The project's state directory, as for `nixvms build` (default: .nixvms "
             "beside the network file; also NIXVMS_STATE_DIR); the running network's "
             "files are in DIR/run.",
    )(func)
    func = click.option(
        "-f", "--file", "file", type=click.Path(dir_okay=False, path_type=Path),
        metavar="NETWORK",
        help="The project's network file (default: the nearest network.nix here or above).",
    )(func)
    return func
