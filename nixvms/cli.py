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

import os  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import click  # noqa: E402

from nixvms import __version__  # noqa: E402
from nixvms.builder import clean  # noqa: E402
from nixvms.cli_common import (  # noqa: E402
    _build_options,
    _Command,
    _complete_machines,
    _find_network,
    _main_with_error_lines,
    _nix_options,
    _output_options,
    _run_build,
    _say,
    _setup_logging,
    _verbosity,
)
from nixvms.nix import NixSettings  # noqa: E402
from nixvms.options import Options as BuildOptions  # noqa: E402
from nixvms.setup import run_setup  # noqa: E402

if _LOADING:
    signal.signal(signal.SIGINT, _previous_handler)

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
    """Register the running network's commands (cli_network.py, cli_test.py,
    cli_machines.py, cli_snapshot.py, cli_links.py) on the group."""
    from nixvms import cli_links, cli_machines, cli_network, cli_snapshot, cli_test

    for module in (cli_network, cli_test, cli_machines, cli_snapshot, cli_links):
        for name, command in module.COMMANDS.items():
            if name not in nixvms.commands:
                nixvms.add_command(command, name)


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
