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
from nixvms.errors import BuildFailed, NixvmsError  # noqa: E402
from nixvms.nix import NixSettings  # noqa: E402
from nixvms.runner import BuildResult, build, clean  # noqa: E402

if _LOADING:
    signal.signal(signal.SIGINT, _previous_handler)

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])

DODO_LINE = "from nixvms.dodo import *  # noqa: F403  nixvms's tasks for ./network.nix\n"

STARTER_NETWORK = """\
# A network of NixOS virtual machines: machine name = NixOS module.
# Build it with `nixvms build` (or `doit`), start it with ./result/bin/run-vms.
{
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


def _setup_logging(verbose: int) -> None:
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)


def _run_build(
    network: Path,
    out_link: Path | None,
    settings: NixSettings,
    jobs: int,
    keep_going: bool = False,
    extra_deps: tuple[Path, ...] = (),
    state_dir: Path | None = None,
) -> BuildResult:
    linked_before = _link_target(out_link)
    try:
        return build(network, out_link, settings, _say, jobs=jobs, keep_going=keep_going,
                     extra_deps=extra_deps, state_dir=state_dir)
    except BuildFailed as error:
        for failure in error.failures:
            click.echo(f"error: {failure}", err=True)
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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nixvms")
def nixvms() -> None:
    """Build and run networks of NixOS virtual machines, incrementally."""


@nixvms.command("build")
@click.argument("network", type=click.Path(path_type=Path), default="network.nix")
@click.option("-o", "--out-link", type=click.Path(path_type=Path), default=Path("result"),
              show_default=True, help="The symlink to the network directory.")
@click.option("--no-out-link", is_flag=True,
              help="Make no out-link; print the network's store path.")
@_nix_options
@click.option("-I", "include", multiple=True, metavar="PATH",
              help="Add a Nix search path entry, as nix-build's -I (repeatable).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Evaluate and build this many machines at once.")
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
@click.option("-v", "--verbose", count=True, help="Log every Nix command.")
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
    option_warn_only: bool,
    state_dir: Path | None,
    verbose: int,
) -> None:
    """Build the network NETWORK (default ./network.nix) and link `result` to it."""
    _setup_logging(verbose)
    settings = NixSettings(options=options, include=include, show_trace=show_trace,
                           unknown_options_warn_only=option_warn_only)
    out = None if no_out_link else out_link
    result = _run_build(network, out, settings, jobs, keep_going, extra_deps, state_dir)
    if no_out_link:
        click.echo(result.store_path)
    else:
        _say(f"{out_link} -> {result.store_path}")


@nixvms.command("clean")
@click.argument("network", type=click.Path(path_type=Path), default="network.nix")
def clean_command(network: Path) -> None:
    """Remove nixvms's GC roots of NETWORK's VMs (a `result` link stays a root)."""
    removed = clean(network, _say)
    _say(f"removed {len(removed)} GC roots; `nix-store --gc` may now collect what only they kept")


@nixvms.command("init")
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
    settings = NixSettings(options=options, show_trace=show_trace)
    out_link = None if no_out_link else Path("result")
    result = _run_build(networks[0], out_link, settings, jobs=1)
    if no_out_link:
        click.echo(result.store_path)
    else:
        _say(f"result -> {result.store_path}")
