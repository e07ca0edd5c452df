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
from nixvms.errors import BuildFailed, NixvmsError  # noqa: E402
from nixvms.nix import NixSettings  # noqa: E402
from nixvms.options import Options as BuildOptions  # noqa: E402
from nixvms.progress import QUIET, Display  # noqa: E402
from nixvms.setup import run_setup  # noqa: E402

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
    sys.exit(code if isinstance(code, int) else 0)


class _Group(click.Group):
    def main(self, *args: Any, **kwargs: Any) -> Any:
        return _main_with_error_lines(super().main, args, kwargs)


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
    except NixvmsError as error:
        _fail(error.message, error.exit_code)
    except KeyboardInterrupt:
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


def _accel_option(func: F) -> F:
    return click.option(
        "--accel", type=click.Choice(supervisor_accel.ACCELS), envvar="NIXVMS_ACCEL",
        default="auto", show_default=True,
        help="QEMU acceleration: KVM only where a probe guest runs under it (auto).")(func)


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
              envvar="NIXVMS_STATE_DIR", metavar="DIR",
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
              envvar="NIXVMS_STATE_DIR", metavar="DIR",
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
    try:
        verdict = explain_machine(network_file, machine, build_options, state_dir)
    except NixvmsError as error:
        _fail(error.message, error.exit_code)
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
    try:
        manifest = run_setup(_say)
    except NixvmsError as error:
        _fail(error.message, error.exit_code)
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


# --- The running network: up, status, ssh, stop, start, destroy, logs, console ------
#
# Thin commands over nixvms.supervisor (the same code as result/bin/run-vms).
# They find the network from -f/--file NETWORK or the nearest network.nix in
# this directory or above it; the running network's state directory is
# --state-dir, else the one recorded in the network directory (the
# project's .nixvms/run).

import subprocess  # noqa: E402

from nixvms.state import StateDir  # noqa: E402
from nixvms.supervisor import SupervisorError, load_network  # noqa: E402
from nixvms.supervisor import accel as supervisor_accel  # noqa: E402
from nixvms.supervisor import client as supervisor  # noqa: E402
from nixvms.supervisor.errors import NotReady  # noqa: E402
from nixvms.supervisor.ports import (  # noqa: E402
    DEFAULT_SSH_PORT_BASE,
    parse_forward,
    parse_port_base,
)
from nixvms.supervisor.supervisor import StartOptions  # noqa: E402

NETWORK_FILE = "network.nix"


def _fail_supervisor(error: SupervisorError) -> NoReturn:
    if isinstance(error, NotReady):
        click.echo(f"error: {error.message}", err=True)
        for line in supervisor.describe_not_ready(error):
            click.echo(line, err=True)
        sys.exit(error.exit_code)
    _fail(error.message, error.exit_code)


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
    --state-dir (or NIXVMS_STATE_DIR), else .nixvms beside the network file."""
    if state_dir is not None:
        return StateDir(state_dir.absolute()).run_dir
    network = _find_network(file)
    return StateDir.for_network(network).run_dir


def _lifecycle_options(func: F, *, short_file: bool = True) -> F:
    func = click.option(
        "--state-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
        envvar="NIXVMS_STATE_DIR",
        help="The project's state directory, as for `nixvms build` (default: .nixvms "
             "beside the network file; also NIXVMS_STATE_DIR); the running network's "
             "files are in DIR/run.",
    )(func)
    names = ("-f", "--file") if short_file else ("--file",)
    func = click.option(
        *names, "file", type=click.Path(dir_okay=False, path_type=Path),
        metavar="NETWORK",
        help="The project's network file (default: the nearest network.nix here or above).",
    )(func)
    return func


def _lifecycle_options_no_short_file(func: F) -> F:
    """For `logs`, whose -f is --follow."""
    return _lifecycle_options(func, short_file=False)


def _stop_on_signals() -> None:
    """SIGTERM and SIGHUP stop a foreground network as Ctrl-C does."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def _print_event(event: dict[str, Any]) -> None:
    for line in supervisor.describe_event(event):
        if event.get("event") == "ready":
            click.echo(line)
        else:
            _say(line)


def _split_network_argument(args: tuple[str, ...]) -> tuple[Path | None, tuple[str, ...]]:
    """up's [NETWORK] [MACHINE...]: a machine name is a hostname label, so an
    argument with a dot or a slash is the network file."""
    if args and ("/" in args[0] or "." in args[0]):
        return Path(args[0]), args[1:]
    return None, args


@nixvms.command("up", context_settings={"help_option_names": ["-h", "--help"]},
                epilog="""\b
Examples:
  nixvms up --detach               # every machine, in the background
  nixvms up net.nix server --forward server:8080:80   # one machine, a port""")
@click.argument("args", nargs=-1, metavar="[NETWORK] [MACHINE...]",
                shell_complete=_complete_machines)
@_lifecycle_options
@click.option("-d", "--detach", is_flag=True,
              help="Return once the machines are ready, leaving them running.")
@click.option("--timeout", type=click.FloatRange(min=0), default=supervisor.DEFAULT_TIMEOUT,
              show_default=True, metavar="S", help="Seconds to wait for the machines to be ready.")
@_accel_option
@click.option("--fresh", "fresh", multiple=True, is_flag=False, flag_value="*",
              metavar="[MACHINE]",
              help="Start from a new disk: every machine, or MACHINE (repeatable).")
@click.option("--forward", "forwards", multiple=True, metavar="MACHINE:HOSTPORT:GUESTPORT",
              help="Forward 127.0.0.1:HOSTPORT to the machine's GUESTPORT (repeatable).")
@_build_options
@_output_options
def up_command(
    args: tuple[str, ...],
    file: Path | None,
    state_dir: Path | None,
    detach: bool,
    timeout: float,
    accel: str,
    fresh: tuple[str, ...],
    forwards: tuple[str, ...],
    options: tuple[tuple[str, str], ...],
    show_trace: bool,
    include: tuple[str, ...],
    jobs: int,
    max_eval_memory: str | None,
    verbose: int,
    quiet: bool,
) -> None:
    """Build the network (what changed), start it, and wait until it is ready.

    Starts the named machines (default: all) and prints a line per machine as
    it becomes ready: its console shows the login prompt and, where openssh
    is enabled, its ssh port answers. Then stays in the foreground (Ctrl-C
    stops the network) or, with --detach, returns."""
    _setup_logging(verbose, quiet)
    positional, machines = _split_network_argument(args)
    if positional is not None and file is not None:
        _fail("give the network either as NETWORK or with -f, not both", EXIT_USAGE)
    network_file = _find_network(positional or file)
    try:
        parsed_forwards = tuple(parse_forward(f) for f in forwards)
        port_base = parse_port_base(
            os.environ.get("NIXVMS_SSH_PORT_BASE") or str(DEFAULT_SSH_PORT_BASE))
    except SupervisorError as error:
        _fail_supervisor(error)
    settings = NixSettings(options=options, include=include, show_trace=show_trace)
    result = _run_build(network_file, network_file.parent / "result", settings, jobs,
                        state_dir=state_dir, max_eval_memory=max_eval_memory,
                        verbosity=_verbosity(verbose, quiet))
    try:
        spec = load_network(result.store_path)
        names = [m.name for m in spec.select(list(machines))]
        fresh_names = spec.names if "*" in fresh else tuple(spec.machine(n).name for n in fresh)
        run_dir = _state_dir(network_file, state_dir)
        if not detach:
            _stop_on_signals()
        choice = supervisor_accel.choose(accel)
        _say(f"acceleration: {choice.accel.upper()} ({choice.reason})")
        start_options = StartOptions(
            network=spec.path, machines=tuple(names), accel=choice.accel,
            fresh=tuple(fresh_names), forwards=parsed_forwards, ssh_port_base=port_base,
            qemu_opts=os.environ.get("QEMU_OPTS", ""),
            net_opts=os.environ.get("QEMU_NET_OPTS", ""),
            kernel_params=os.environ.get("QEMU_KERNEL_PARAMS", ""),
        )
        started = supervisor.start(spec.path, run_dir, start_options, detach=detach,
                                   timeout=timeout, on_event=_print_event)
    except NotReady as error:
        if detach:
            _say("the machines that came up keep running: `nixvms status`, "
                 "`nixvms logs MACHINE`, `nixvms stop`")
        _fail_supervisor(error)
    except SupervisorError as error:
        _fail_supervisor(error)
    except KeyboardInterrupt:
        _fail("interrupted; the network is stopped", EXIT_INTERRUPTED)
    try:
        for line in supervisor.table(supervisor.status(started.run_dir.path)):
            click.echo(line)
    except SupervisorError as error:
        _say(f"warning: cannot show the table: {error.message}")
    if detach:
        started.close()
        _say("running in the background: `nixvms status`, `nixvms ssh MACHINE`, "
             "`nixvms stop`")
        return
    _say("running; Ctrl-C stops the network")
    try:
        code = started.follow(_print_event)
    except KeyboardInterrupt:
        code = started.stop()
        _say("stopped the network")
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(code)


nixvms.add_command(up_command, "run")


@nixvms.command("test", context_settings={"help_option_names": ["-h", "--help"]},
                epilog="""\b
Examples:
  nixvms test ping.py     # ping.py: start_all(); client.succeed('ping -c 1 server')
  nixvms test net.nix t.py --junit-xml report.xml""")
@click.argument("args", nargs=-1, metavar="[NETWORK] SCRIPT")
@_lifecycle_options
@click.option("--junit-xml", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write the result as JUnit XML (a test case per subtest).")
@click.option("--keep-vms", is_flag=True,
              help="Leave the machines running afterwards (`nixvms stop` stops them).")
@_accel_option
@_build_options
@_output_options
def test_command(
    args: tuple[str, ...],
    file: Path | None,
    state_dir: Path | None,
    junit_xml: Path | None,
    keep_vms: bool,
    accel: str,
    options: tuple[tuple[str, str], ...],
    show_trace: bool,
    include: tuple[str, ...],
    jobs: int,
    max_eval_memory: str | None,
    verbose: int,
    quiet: bool,
) -> None:
    """Build the network (what changed) and run a test script on it.

    SCRIPT is Python with NixOS's test-driver API in scope: each machine by
    name, start_all(), subtest(), retry() (see the README's "Testing a
    network"). Machines boot when the script first uses them. Prints each
    subtest with its time; exits 0 only if the script passed; stops every
    machine it started unless --keep-vms."""
    from nixvms.supervisor import driver as test_driver

    _setup_logging(verbose, quiet)
    if not 1 <= len(args) <= 2:
        _fail("give the test script: nixvms test [NETWORK] SCRIPT.py", EXIT_USAGE)
    script = Path(args[-1])
    positional = Path(args[0]) if len(args) == 2 else None
    if positional is not None and file is not None:
        _fail("give the network either as NETWORK or with -f, not both", EXIT_USAGE)
    if not script.is_file():
        _fail(f"{script}: no such test script", EXIT_USAGE)
    try:
        compile(script.read_bytes(), str(script), "exec")
    except SyntaxError as error:
        _fail(f"{script}:{error.lineno}: {error.msg}")
    network_file = _find_network(positional or file)
    settings = NixSettings(options=options, include=include, show_trace=show_trace)
    result = _run_build(network_file, network_file.parent / "result", settings, jobs,
                        state_dir=state_dir, max_eval_memory=max_eval_memory,
                        verbosity=_verbosity(verbose, quiet))
    _stop_on_signals()
    try:
        load_network(result.store_path)  # a network directory the driver can read
        run_dir = _state_dir(network_file, state_dir)
        with test_driver.Driver(result.store_path, run_dir, keep_vms=keep_vms,
                                accel_choice=accel) as driver:
            outcome = driver.run_script(script)
        code = test_driver.report(outcome, junit_xml, sys.stdout, sys.stderr)
    except test_driver.MachineError as error:
        _fail(str(error))
    except SupervisorError as error:
        _fail_supervisor(error)
    except KeyboardInterrupt:
        _fail("interrupted; the machines the test started are stopped", EXIT_INTERRUPTED)
    sys.exit(code)


@nixvms.command("status", epilog="""\b
Examples:
  nixvms status
  nixvms status -f ../net.nix""")
@_lifecycle_options
def status_command(file: Path | None, state_dir: Path | None) -> None:
    """Show each machine: state, IPs, ssh port, forwards, pid, uptime, disk."""
    directory = _state_dir(file, state_dir)
    latest = None
    if state_dir is None and file is None:
        link = _find_network(None).parent / "result"
        latest = str(link) if (link / "network.json").exists() else None
    try:
        st = supervisor.status(directory, latest)
    except SupervisorError as error:
        _fail_supervisor(error)
    if st.running:
        click.echo(f"network {st.network}: running from {st.state_dir} "
                   f"(supervisor pid {st.supervisor_pid}, acceleration {st.accel or '-'})")
    else:
        click.echo(f"network {st.network}: not running (state in {st.state_dir})")
    for line in supervisor.table(st):
        click.echo(line)
    stale = [m.name for m in st.machines if m.stale_disk]
    if stale:
        click.echo(f"disks from an older build: {', '.join(stale)} "
                   f"(`nixvms up --fresh MACHINE` makes a new one)")


@nixvms.command("ssh", context_settings={"ignore_unknown_options": True},
                epilog="""\b
Examples:
  nixvms ssh server                # a root shell
  nixvms ssh server -- systemctl status sshd""")
@click.argument("machine", shell_complete=_complete_machines)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@_lifecycle_options
def ssh_command(machine: str, command: tuple[str, ...], file: Path | None,
                state_dir: Path | None) -> None:
    """Log in to MACHINE (its name or deployment.targetHost), or run COMMAND there.

    The exit status is the command's (ssh's 255 when it cannot connect)."""
    directory = _state_dir(file, state_dir)
    try:
        args = supervisor.ssh_command(directory, machine, command)
    except SupervisorError as error:
        _fail_supervisor(error)
    try:
        code = subprocess.run(args, check=False).returncode
    except FileNotFoundError:
        _fail("ssh is not installed (it comes with openssh-client)")
    sys.exit(code)


@nixvms.command("stop", epilog="""\b
Examples:
  nixvms stop                      # the whole network
  nixvms stop client""")
@click.argument("machines", nargs=-1, shell_complete=_complete_machines)
@_lifecycle_options
def stop_command(machines: tuple[str, ...], file: Path | None, state_dir: Path | None) -> None:
    """Stop the named machines (default: the whole network)."""
    directory = _state_dir(file, state_dir)
    try:
        stopped = supervisor.stop(directory, machines)
    except SupervisorError as error:
        _fail_supervisor(error)
    what = ", ".join(stopped.machines) or "no machine was running"
    _say(f"stopped {what}" + ("; the network is down" if stopped.everything else ""))


@nixvms.command("start", epilog="""\b
Examples:
  nixvms start client
  nixvms start client --fresh      # from a new disk""")
@click.argument("machines", nargs=-1, required=True, shell_complete=_complete_machines)
@_lifecycle_options
@click.option("--fresh", is_flag=True, help="Start them from new disks.")
@click.option("--timeout", type=click.FloatRange(min=0), default=supervisor.DEFAULT_TIMEOUT,
              show_default=True, metavar="S", help="Seconds to wait for them to be ready.")
def start_command(machines: tuple[str, ...], file: Path | None, state_dir: Path | None,
                  fresh: bool, timeout: float) -> None:
    """Start stopped MACHINES of the network that last ran, and wait until ready."""
    directory = _state_dir(file, state_dir)
    try:
        supervisor.start_machines(directory, machines, machines if fresh else (),
                                  timeout=timeout, on_event=_print_event)
    except SupervisorError as error:
        _fail_supervisor(error)


@nixvms.command("destroy", epilog="""\b
Examples:
  nixvms destroy                   # every machine's disk and run state
  nixvms destroy client""")
@click.argument("machines", nargs=-1, shell_complete=_complete_machines)
@_lifecycle_options
def destroy_command(machines: tuple[str, ...], file: Path | None,
                    state_dir: Path | None) -> None:
    """Stop the named machines (default: all) and delete their disks and run state."""
    directory = _state_dir(file, state_dir)
    try:
        removed = supervisor.destroy(directory, machines)
    except SupervisorError as error:
        _fail_supervisor(error)
    for path in removed:
        _say(f"removed {path}")
    if not removed:
        _say(f"nothing to remove in {directory}")


@nixvms.command("logs", epilog="""\b
Examples:
  nixvms logs server -n 20
  nixvms logs server -f            # follow; Ctrl-C stops""")
@click.argument("machine", shell_complete=_complete_machines)
@_lifecycle_options_no_short_file
@click.option("-f", "--follow", is_flag=True, help="Keep printing what the console shows.")
@click.option("-n", "--lines", type=click.IntRange(min=0), default=None, metavar="N",
              help="Only the last N lines.")
def logs_command(machine: str, file: Path | None, state_dir: Path | None, follow: bool,
                 lines: int | None) -> None:
    """MACHINE's serial console, terminal control sequences stripped."""
    directory = _state_dir(file, state_dir)
    try:
        path = supervisor.log_file(directory, machine)
        if not follow:
            click.echo(supervisor.read_log(path, lines), nl=False)
            return
        for text in supervisor.follow_log(path, lines, stop=lambda: False):
            click.echo(text, nl=False)
            sys.stdout.flush()
    except SupervisorError as error:
        _fail_supervisor(error)
    except KeyboardInterrupt:
        return


@nixvms.command("log", epilog="""\b
Examples:
  nixvms log web               # Nix's log of web's last build
  nixvms log web | tail -n 40  # its end""")
@click.argument("machine", shell_complete=_complete_machines)
@click.option("-f", "--file", "file", type=click.Path(dir_okay=False, path_type=Path),
              metavar="NETWORK",
              help="The project's network file (default: the nearest network.nix here or above).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              envvar="NIXVMS_STATE_DIR", metavar="DIR",
              help="Where nixvms keeps the project's state (default: .nixvms beside NETWORK; "
                   "also NIXVMS_STATE_DIR).")
def log_command(machine: str, file: Path | None, state_dir: Path | None) -> None:
    """Print Nix's whole log of MACHINE's last build (kept in .nixvms/logs/)."""
    from nixvms import records

    network = _find_network(file)
    state = StateDir.for_network(network, state_dir)
    path = state.build_log(machine)
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        listing = records.load(records.MachineList, state.machine_list_record)
        if listing is not None and machine not in listing.names:
            _fail(f"the network has no machine {machine!r} (its machines: "
                  f"{', '.join(listing.names)})", EXIT_USAGE)
        _fail(f"no build log of machine {machine} in {path.parent}: nixvms has not built "
              "it in this project yet (a VM that was already in the store has no log)")
    except OSError as error:
        _fail(f"cannot read {path}: {error.strerror}")
    click.echo(text, nl=False)


@nixvms.command("graph", epilog="""\b
Examples:
  nixvms graph -o network.svg          # the network: machines, VLANs, forwards
  nixvms graph --tasks -o tasks.png    # what the next build would redo
  nixvms graph | dot -Tpdf > net.pdf   # DOT text for other Graphviz tools""")
@click.argument("network", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--format", "fmt", type=click.Choice(["dot", "svg", "png"]),
              help="The picture's format (default: the suffix of -o, else dot).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="Write the picture to FILE (default: standard output).")
@click.option("--tasks", "show_tasks", is_flag=True,
              help="Draw the doit task graph, coloured by what the next build would do.")
@click.option("-I", "include", multiple=True, metavar="PATH",
              help="With --tasks: the -I entries the next build will be given.")
@click.option("--option", "options", type=(str, str), multiple=True, metavar="NAME VALUE",
              help="With --tasks: the --option settings the next build will be given.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              envvar="NIXVMS_STATE_DIR", metavar="DIR",
              help="Where nixvms keeps the project's state (default: .nixvms beside NETWORK; "
                   "also NIXVMS_STATE_DIR).")
def graph_command(network: Path | None, fmt: str | None, output: Path | None,
                  show_tasks: bool, include: tuple[str, ...],
                  options: tuple[tuple[str, str], ...], state_dir: Path | None) -> None:
    """Draw the network of the last build, or its task graph, with Graphviz.

    The network: each machine with its system, hostName and targetHost, wired
    to a switch per VLAN with its interface and address, and the ports the
    host forwards to it. With --tasks: eval, plan, build and network tasks,
    each up to date, will run, or unknown (where only Nix could tell), read
    from nixvms's records. Runs no Nix."""
    from nixvms import graph

    network_file = _find_network(network)
    chosen = graph.format_for(output, fmt)
    if chosen != "dot" and output is None and sys.stdout.isatty():
        _fail(f"a {chosen.upper()} picture is not for a terminal: give -o FILE", EXIT_USAGE)
    try:
        if show_tasks:
            settings = NixSettings(options=options, include=include)
            text = graph.tasks_dot(graph.task_states(network_file, state_dir, settings))
        else:
            text = graph.network_dot(graph.last_network_json(network_file, state_dir))
        picture = graph.render(text, chosen)
    except NixvmsError as error:
        _fail(error.message, error.exit_code)
    if output is None:
        sys.stdout.buffer.write(picture)
        sys.stdout.flush()
        return
    try:
        output.write_bytes(picture)
    except OSError as error:
        _fail(f"cannot write {output}: {error.strerror}")
    _say(f"wrote {output}")


@nixvms.command("completion", epilog="""\b
Examples:
  eval "$(nixvms completion bash)"          # in ~/.bashrc
  nixvms completion fish > ~/.config/fish/completions/nixvms.fish""")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_command(shell: str) -> None:
    """Print the shell completion script for SHELL (bash, zsh or fish).

    It completes commands, options, and the machine names of the network in
    the current directory (from its last build; it never runs Nix)."""
    from click.shell_completion import get_completion_class

    completion = get_completion_class(shell)
    assert completion is not None  # click.Choice admits only shells click knows
    click.echo(completion(nixvms, {}, "nixvms", "_NIXVMS_COMPLETE").source())


@nixvms.command("console", epilog="""\b
Examples:
  nixvms console server            # Ctrl-] detaches""")
@click.argument("machine", shell_complete=_complete_machines)
@_lifecycle_options
def console_command(machine: str, file: Path | None, state_dir: Path | None) -> None:
    """Attach to MACHINE's serial console (Ctrl-] detaches)."""
    directory = _state_dir(file, state_dir)
    try:
        name, path = supervisor.console_socket(directory, machine)
        _say(f"connected to {name}'s serial console; press {supervisor.DETACH_KEY_NAME} "
             "to detach (Enter shows the prompt)")
        supervisor.attach(path, sys.stdin.fileno(), sys.stdout.fileno())
    except SupervisorError as error:
        _fail_supervisor(error)
    _say(f"\r\ndetached from {machine}'s console")


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
