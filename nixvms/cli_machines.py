"""The commands that reach running machines: ssh, ssh-config, exec, cp, logs, console.

Thin commands over nixvms.supervisor (reach.py: ssh and consoles; shell.py:
commands and files through the test backdoor), registered on cli.py's group
(COMMANDS, at the end) when asked for. nixvms's own options come before the
command's arguments.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from nixvms.cli_common import (
    EXIT_FAILED,
    _complete_machines,
    _fail,
    _lifecycle_options,
    _say,
    _state_dir,
)
from nixvms.supervisor import client, reach, shell


@click.command("ssh", context_settings={"allow_interspersed_args": False},
               epilog="""\b
Examples:
  nixvms ssh server                # a root shell
  nixvms ssh server -- systemctl status sshd
  nixvms ssh server -oBatchMode=yes -L 8080:localhost:80""")
@click.argument("machine", shell_complete=_complete_machines)
@click.argument("command", nargs=-1, type=click.UNPROCESSED,
                metavar="[SSH-ARGUMENT...] [-- COMMAND...]")
@_lifecycle_options
def ssh_command(machine: str, command: tuple[str, ...], file: Path | None,
                state_dir: Path | None) -> None:
    """Log in to MACHINE (its name or deployment.targetHost), or run COMMAND there.

    nixvms's own options come before MACHINE; everything after it goes to
    ssh as it is (ssh's options, then `--` and the command). The exit status
    is the command's (ssh's 255 when it cannot connect)."""
    args = reach.ssh_command(_state_dir(file, state_dir), machine, command)
    try:
        code = subprocess.run(args, check=False).returncode
    except FileNotFoundError:
        _fail("ssh is not installed (it comes with openssh-client)")
    sys.exit(code)


@click.command("ssh-config", epilog="""\b
Examples:
  nixvms ssh-config >> ~/.ssh/config.d/vms   # then: ssh server
  ssh -F <(nixvms ssh-config) server uptime""")
@click.argument("machines", nargs=-1, shell_complete=_complete_machines)
@_lifecycle_options
def ssh_config_command(machines: tuple[str, ...], file: Path | None,
                       state_dir: Path | None) -> None:
    """Print ssh Host entries for the running machines (default: all with an
    ssh server), by name, hostName and deployment.targetHost. A machine keeps
    its port across `nixvms up`, so a copied entry stays right."""
    click.echo(reach.ssh_config(_state_dir(file, state_dir), machines), nl=False)


@click.command("exec", context_settings={"allow_interspersed_args": False},
               epilog="""\b
Examples:
  nixvms exec -- uptime                     # every running machine
  nixvms exec --on web,db -- systemctl is-active nginx
  nixvms exec --on @frontend -- 'journalctl -u nginx | tail -n 5'""")
@click.argument("command", nargs=-1, required=True, metavar="[--] COMMAND...")
@click.option("--on", "on", multiple=True, metavar="MACHINE,…|@TAG",
              help="Where to run it: machine names, targetHosts or @tags "
                   "(deployment.tags), comma-separated or repeated (default: every "
                   "running machine).")
@click.option("--timeout", type=click.FloatRange(min=0), default=None, metavar="S",
              help="Kill the command (and all it started) after S seconds (exit 124).")
@_lifecycle_options
def exec_command(command: tuple[str, ...], on: tuple[str, ...], timeout: float | None,
                 file: Path | None, state_dir: Path | None) -> None:
    """Run COMMAND (a shell command line, as root) on machines at once.

    Through the test instrumentation's backdoor, as the test driver does: no
    ssh server needed. Each output line is prefixed with its machine; a
    summary follows. Exits 1 when it failed anywhere."""
    line = " ".join(command)
    width = 0

    def emit(machine: str, text: str) -> None:
        click.echo(f"{machine.ljust(width)} | {text}")
        sys.stdout.flush()

    directory = str(_state_dir(file, state_dir))
    names = shell.choose(client.open_run(directory), on)
    width = max((len(n) for n in names), default=0)
    outcomes = shell.execute(directory, on, line, timeout, emit)
    failed = 0
    for outcome in outcomes:
        if outcome.status is None:
            failed += 1
            _say(f"{outcome.machine}: not run: {outcome.error}")
        elif outcome.status != 0:
            failed += 1
            _say(f"{outcome.machine}: exit status {outcome.status}")
        else:
            _say(f"{outcome.machine}: ok")
    if failed:
        _fail(f"{failed} of {len(outcomes)} machines failed", EXIT_FAILED)


@click.command("cp", epilog="""\b
Examples:
  nixvms cp ./site.conf web:/etc/nginx/   # to a machine
  nixvms cp -r web:/var/log/nginx ./logs  # a directory from a machine""")
@click.argument("source")
@click.argument("destination")
@click.option("-r", "--recursive", is_flag=True, help="Copy directories too.")
@_lifecycle_options
def cp_command(source: str, destination: str, recursive: bool, file: Path | None,
               state_dir: Path | None) -> None:
    """Copy SOURCE to DESTINATION, one of them MACHINE:PATH (an absolute path
    on a running machine), the other a path here. Through the test
    instrumentation's backdoor: no ssh server needed."""
    machine, copied = shell.copy(str(_state_dir(file, state_dir)), source, destination,
                                 recursive=recursive)
    _say(copied.describe(f"{machine}: copied"))


@click.command("logs", epilog="""\b
Examples:
  nixvms logs                       # every machine's console, prefixed
  nixvms logs server -n 20
  nixvms logs --follow              # interleaved as they come; Ctrl-C stops""")
@click.argument("machines", nargs=-1, shell_complete=_complete_machines)
@_lifecycle_options
@click.option("-F", "--follow", is_flag=True, help="Keep printing what the consoles show.")
@click.option("-n", "--lines", type=click.IntRange(min=0), default=None, metavar="N",
              help="Only the last N lines (of each machine).")
def logs_command(machines: tuple[str, ...], file: Path | None, state_dir: Path | None,
                 follow: bool, lines: int | None) -> None:
    """The machines' serial consoles (default: all), terminal control sequences
    stripped. With several machines each line is prefixed with its machine."""
    logs = reach.log_files(_state_dir(file, state_dir), machines)
    single = len(machines) == 1
    width = max(len(name) for name, _ in logs)

    def show(name: str, text: str) -> None:
        click.echo(text if single else f"{name.ljust(width)} | {text}")

    try:
        for name, path in logs:
            text = reach.read_log(path, lines if lines is not None or not follow else 10)
            for line in text.splitlines():
                show(name, line)
        sys.stdout.flush()
        if follow:
            for name, line in reach.follow_logs(logs, stop=lambda: False):
                show(name, line)
                sys.stdout.flush()
    except KeyboardInterrupt:
        return


@click.command("console", epilog="""\b
Examples:
  nixvms console server            # Ctrl-] detaches""")
@click.argument("machine", shell_complete=_complete_machines)
@_lifecycle_options
def console_command(machine: str, file: Path | None, state_dir: Path | None) -> None:
    """Attach to MACHINE's serial console (Ctrl-] detaches)."""
    directory = _state_dir(file, state_dir)
    name, path = reach.console_socket(directory, machine)
    _say(f"connected to {name}'s serial console; press {reach.DETACH_KEY_NAME} "
         "to detach (Enter shows the prompt)")
    reach.attach(path, sys.stdin.fileno(), sys.stdout.fileno())
    _say(f"\r\ndetached from {machine}'s console")


# The commands, by the name they are called (cli.load_all_commands registers them).
COMMANDS: dict[str, click.Command] = {
    "ssh": ssh_command, "ssh-config": ssh_config_command, "exec": exec_command,
    "cp": cp_command, "logs": logs_command, "console": console_command,
}
