"""The command line: `nixvms` and `nixos-build-vms`.

The only module that parses arguments and prints errors. Everything below it
raises; here each error becomes one message naming the problem (Nix's own
message for evaluation and build failures) and an exit code: 1 for a failed
evaluation or build, 2 for a usage error, 130 when interrupted.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType


def _interrupted_while_loading(signum: int, frame: FrameType | None) -> None:
    sys.stderr.write("error: interrupted before anything was done\n")
    sys.exit(130)


# Ctrl-C while the modules below load (a tenth of a second, before any
# handler of ours runs): the exit of an interrupted run, not a traceback.
# Python's own handler is back once they are loaded.
_LOADING = threading.current_thread() is threading.main_thread()
if _LOADING:
    _previous_handler = signal.signal(signal.SIGINT, _interrupted_while_loading)

import logging  # noqa: E402
import os  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, NoReturn, TypeVar  # noqa: E402

import click  # noqa: E402

from nixvms import __version__  # noqa: E402
from nixvms.budget import parse_size_kb  # noqa: E402
from nixvms.builder import BuildResult, build, clean  # noqa: E402
from nixvms.errors import BuildFailed  # noqa: E402
from nixvms.nix import NIX_INTERRUPTED, NixSettings  # noqa: E402
from nixvms.options import Options as BuildOptions  # noqa: E402
from nixvms.progress import QUIET, Display  # noqa: E402
from nixvms.setup import run_setup  # noqa: E402
from nixvms.supervisor.errors import SupervisorError  # noqa: E402

if _LOADING:
    signal.signal(signal.SIGINT, _previous_handler)

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])

DODO_LINE = "from nixvms.dodo import *  # noqa: F403  nixvms's tasks for ./network.nix\n"

STARTER_NETWORK = """\
# A network of NixOS virtual machines: machine name = NixOS module.
# `nixvms up --detach` builds and starts it, `nixvms ssh server` logs in,
# `nixvms stop` stops it.
{
  # Every machine: an ssh server (nixvms authorises the project's key for root).
  defaults = { ... }: {
    services.openssh.enable = true;
  };

  server = { pkgs, ... }: {
    networking.firewall.enable = false;
  };

  client = { pkgs, ... }: {
    systemd.services.ping-server = {
      wantedBy = [ "multi-user.target" ];
      script = ''
        until ping -c 1 -W 1 server; do sleep 1; done
        echo "client reached server"
      '';
    };
  };
}
"""


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


class _Group(click.Group):
    """nixvms's commands. Those of the running network (cli_network.py) are
    loaded when a command not defined here is asked for, or all are listed:
    a build does not pay for the supervisor's imports."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        return _main_with_error_lines(super().main, args, kwargs)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            load_all_commands()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        load_all_commands()
        return super().list_commands(ctx)


def load_all_commands() -> None:
    """Register the running network's commands on the group (importing them does)."""
    import nixvms.cli_network  # noqa: F401


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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="""\b
Examples:
  nixvms init && nixvms up --detach && nixvms ssh server
  nixvms build && ./result/bin/run-vms""")
@click.version_option(__version__, prog_name="nixvms")
def nixvms() -> None:
    """Build and run networks of NixOS virtual machines, incrementally."""


@nixvms.command("build", epilog="""\b
Examples:
  nixvms build                     # ./network.nix -> ./result
  nixvms build net.nix -j 4 -o vms # four machines at once, link ./vms
  nixvms build -I nixpkgs=$HOME/nixpkgs --on web   # real NixOS, one machine""")
@click.argument("network", type=click.Path(path_type=Path), default="network.nix")
@click.option("-o", "--out-link", type=click.Path(path_type=Path), default=Path("result"),
              show_default=True, help="The symlink to the network directory.")
@click.option("--no-out-link", is_flag=True,
              help="Make no out-link; print the network's store path.")
@_build_options
@click.option("-k", "--keep-going", is_flag=True,
              help="Build the other machines when one fails.")
@click.option("--extra-dep", "extra_deps", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              metavar="PATH",
              help="A file every evaluation depends on that nixvms cannot see it read "
                   "(repeatable).")
@click.option("--option-warn-only", is_flag=True,
              help="Let Nix warn about an --option name it does not know, instead of failing.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              metavar="DIR",
              help="Where nixvms keeps the project's state (default: .nixvms beside NETWORK; "
                   "also NIXVMS_STATE_DIR).")
@_output_options
@click.option("--on", "on", multiple=True, metavar="MACHINE[,MACHINE]",
              shell_complete=_complete_machines,
              help="Build only these machines (names, or @tag for deployment.tags); the "
                   "network directory is made only when every machine is built.")
def build_command(
    network: Path,
    out_link: Path,
    no_out_link: bool,
    options: tuple[tuple[str, str], ...],
    show_trace: bool,
    include: tuple[str, ...],
    jobs: int,
    keep_going: bool,
    extra_deps: tuple[Path, ...],
    max_eval_memory: str | None,
    option_warn_only: bool,
    state_dir: Path | None,
    verbose: int,
    quiet: bool,
    on: tuple[str, ...],
) -> None:
    """Build the network NETWORK (default ./network.nix) and link `result` to it."""
    _setup_logging(verbose, quiet)
    settings = NixSettings(options=options, include=include, show_trace=show_trace,
                           unknown_options_warn_only=option_warn_only)
    out = None if no_out_link else out_link
    chosen = tuple(word for words in on for word in words.split(",") if word)
    result = _run_build(network, out, settings, jobs, keep_going, extra_deps, state_dir,
                        max_eval_memory, _verbosity(verbose, quiet), chosen)
    if not result.store_path:
        return  # --on, and the network directory was not made (said above)
    if no_out_link:
        click.echo(result.store_path)
    elif not quiet:
        _say(f"{out_link} -> {result.store_path}")


@nixvms.command("why", epilog="""\b
Examples:
  nixvms why web             # will web be evaluated or built again, and why?
  nixvms why web -f net.nix --extra-dep motd.txt""")
@click.argument("machine", shell_complete=_complete_machines)
@click.option("-f", "--file", "file", type=click.Path(dir_okay=False, path_type=Path),
              metavar="NETWORK",
              help="The project's network file (default: the nearest network.nix here or above).")
@click.option("-I", "include", multiple=True, metavar="PATH",
              help="The -I entries the next build will be given.")
@click.option("--option", "options", type=(str, str), multiple=True, metavar="NAME VALUE",
              help="The --option settings the next build will be given.")
@click.option("--extra-dep", "extra_deps", multiple=True, type=click.Path(path_type=Path),
              metavar="PATH", help="The --extra-dep files the next build will be given.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              metavar="DIR",
              help="Where nixvms keeps the project's state (default: .nixvms beside NETWORK).")
def why_command(machine: str, file: Path | None, include: tuple[str, ...],
                options: tuple[tuple[str, str], ...], extra_deps: tuple[Path, ...],
                state_dir: Path | None) -> None:
    """Say whether the next build evaluates or builds MACHINE again, and why.

    Reads nixvms's records and the files they name; runs no Nix."""
    from nixvms.why import explain as explain_machine  # the task graph: only when asked

    network_file = _find_network(file)
    build_options = BuildOptions(
        out_link=None, settings=NixSettings(options=options, include=include),
        extra_deps=tuple(sorted({os.path.abspath(p) for p in extra_deps})))
    verdict = explain_machine(network_file, machine, build_options, state_dir)
    for line in verdict.lines():
        click.echo(line)


@nixvms.command("setup", epilog="""\b
Example:
  sudo nixvms setup      # once per machine, and again when Debian updates""")
def setup_command() -> None:
    """Fetch the Debian files tinyos is built from, into nixvms's data directory.

    Writes the manifest to $NIXVMS_DATA_DIR or $XDG_DATA_HOME/nixvms (default
    ~/.local/share/nixvms). Needs root: dpkg --add-architecture i386 and a
    single-user Nix store."""
    manifest = run_setup(_say)
    _say(f"tinyos is ready: {manifest}")


@nixvms.command("clean", epilog="""\b
Examples:
  nixvms clean && nix-store --gc   # let Nix collect the old VMs""")
@click.argument("network", type=click.Path(path_type=Path), default="network.nix")
def clean_command(network: Path) -> None:
    """Remove nixvms's GC roots of NETWORK's VMs (a `result` link stays a root)."""
    removed = clean(network, _say)
    _say(f"removed {len(removed)} GC roots; `nix-store --gc` may now collect what only they kept")


@nixvms.command("init", epilog="""\b
Examples:
  nixvms init myvms && cd myvms && nixvms up --detach""")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
def init_command(directory: Path) -> None:
    """Make DIRECTORY a nixvms project: a dodo.py for `doit` and a starter network.nix."""
    directory.mkdir(parents=True, exist_ok=True)
    dodo = directory / "dodo.py"
    network = directory / "network.nix"
    if dodo.exists():
        _say(f"{dodo} exists; left as it is")
    else:
        dodo.write_text(DODO_LINE)
        _say(f"wrote {dodo}")
    if network.exists():
        _say(f"{network} exists; left as it is")
    else:
        network.write_text(STARTER_NETWORK)
        _say(f"wrote {network}")


@click.command(
    "nixos-build-vms",
    cls=_Command,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="""\b
Examples:
  nixos-build-vms network.nix && ./result/bin/run-vms
  nixos-build-vms --no-out-link network.nix   # print the store path""",
)
@click.argument("networks", nargs=-1, type=click.Path(path_type=Path))
@click.option("--no-out-link", is_flag=True, help="Do not create a `result` symlink.")
@_nix_options
def nixos_build_vms(
    networks: tuple[Path, ...],
    no_out_link: bool,
    options: tuple[tuple[str, str], ...],
    show_trace: bool,
) -> None:
    """Build a network of virtual machines from the network expression NETWORK.

    As NixOS's nixos-build-vms: the result is ./result, whose bin/run-vms
    starts all the machines, connected.
    """
    if not networks:
        raise click.UsageError("a network expression must be specified")
    if len(networks) > 1:
        raise click.UsageError(
            "network expression already set: give exactly one network expression"
        )
    _setup_logging(0)  # Nix's warnings through the progress display, as build's
    settings = NixSettings(options=options, show_trace=show_trace)
    out_link = None if no_out_link else Path("result")
    result = _run_build(networks[0], out_link, settings, jobs=os.cpu_count() or 1)
    if no_out_link:
        click.echo(result.store_path)
    else:
        _say(f"result -> {result.store_path}")
