"""The running network's commands: up, status, stop, start, destroy, log,
graph, completion (test: cli_test.py).

Thin commands over nixvms.supervisor (the same code as result/bin/run-vms),
registered on cli.py's group (COMMANDS, at the end) when one of them is asked
for (cli._Group), so that `nixvms build` does not load the supervisor. They find the network from
-f/--file NETWORK or the nearest network.nix in this directory or above it;
the running network's state directory is --state-dir, else the one
recorded in the network directory (the project's .nixvms/run).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import click

from nixvms import nix
from nixvms.bootview import BootView
from nixvms.cli_common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    F,
    _build_options,
    _complete_machines,
    _fail,
    _find_network,
    _lifecycle_options,
    _output_options,
    _run_build,
    _say,
    _setup_logging,
    _state_dir,
    _verbosity,
)
from nixvms.nix import NixSettings
from nixvms.options import BuildResult
from nixvms.state import StateDir
from nixvms.supervisor import SupervisorError, launch, load_network, placement, reach, views
from nixvms.supervisor import accel as supervisor_accel
from nixvms.supervisor import client as supervisor
from nixvms.supervisor import converge as converging
from nixvms.supervisor.errors import NotReady, NotRunning
from nixvms.supervisor.ports import parse_forward
from nixvms.supervisor.statedir import RunDir


def _accel_option(func: F) -> F:
    return click.option(
        "--accel", type=click.Choice(supervisor_accel.ACCELS), default=None,
        help="QEMU acceleration: auto (KVM only where a probe guest and the machines' "
             "kernel run under it), kvm or tcg (default: NIXVMS_ACCEL, else auto).")(func)

def _build_beside(network_file: Path, state_dir: Path | None, settings: NixSettings,
                  jobs: int, max_eval_memory: str | None, verbosity: int) -> BuildResult:
    """What `up` and `test` do first: build what changed, linking `result` beside
    the network file."""
    return _run_build(network_file, network_file.parent / "result", settings, jobs,
                      state_dir=state_dir, max_eval_memory=max_eval_memory,
                      verbosity=verbosity)


def _stop_on_signals() -> None:
    """SIGTERM and SIGHUP stop a foreground network as Ctrl-C does."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def _print_event(event: dict[str, Any]) -> None:
    for line in views.describe_event(event):
        if event.get("event") == "ready":
            click.echo(line)
        else:
            _say(line)


def _boot_view(run_dir: Path, machines: Sequence[str]) -> BootView:
    """Live lines for the machines about to boot (plain lines off a terminal)."""
    names = list(machines) or []
    return BootView(sys.stdout, RunDir(run_dir, run_dir), names, _say)


def _follow_consoles(run_dir: Path, machines: Sequence[str]) -> None:
    """up --follow: the consoles' lines, prefixed, until the network stops."""
    logs = reach.log_files(run_dir, machines)
    width = max(len(name) for name, _ in logs)

    def show() -> None:
        for name, line in reach.follow_logs(logs, stop=lambda: False):
            click.echo(f"{name.ljust(width)} | {line}")

    threading.Thread(target=show, daemon=True).start()


def _split_network_argument(args: tuple[str, ...]) -> tuple[Path | None, tuple[str, ...]]:
    """up's [NETWORK] [MACHINE...]: a machine name is a hostname label, so an
    argument with a dot or a slash is the network file."""
    if args and ("/" in args[0] or "." in args[0]):
        return Path(args[0]), args[1:]
    return None, args


@click.command("up", context_settings={"help_option_names": ["-h", "--help"]},
                epilog="""\b
Examples:
  nixvms up --detach               # every machine, in the background
  nixvms up                        # again after an edit: restarts what changed
  nixvms up --dry-run              # only say what it would do
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
@click.option("--follow", is_flag=True,
              help="In the foreground, keep printing the machines' consoles once ready.")
@click.option("--keep-disks", is_flag=True,
              help="Keep a machine's disk when its system changed (default: a new disk).")
@click.option("--dry-run", is_flag=True,
              help="Build, then print what up would do to each machine, and do nothing.")
@click.option("--from-snapshot", "from_snapshot", is_flag=True,
              help="Restore each machine from the snapshot taken when it first became "
                   "ready (as `nixvms test` does); a machine without one of its build "
                   "boots from a new disk and gets one.")
@click.option("--host", "hosts", multiple=True, metavar="MACHINE=HOST",
              help="Run MACHINE on HOST (a host some machine's deployment.vmHost names, "
                   "or `local`), whatever its deployment.vmHost says (repeatable).")
@_build_options
@_output_options
def up_command(
    args: tuple[str, ...],
    file: Path | None,
    state_dir: Path | None,
    detach: bool,
    timeout: float,
    accel: str | None,
    fresh: tuple[str, ...],
    forwards: tuple[str, ...],
    follow: bool,
    keep_disks: bool,
    dry_run: bool,
    from_snapshot: bool,
    hosts: tuple[str, ...],
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
    stops the network) or, with --detach, returns.

    On a running network it converges instead, as colmena apply does: it
    prints a line per machine saying what it does and why, restarts the
    machines whose system changed (on a new disk unless --keep-disks),
    starts new and stopped ones, stops removed ones, and leaves the others
    untouched; with nothing changed it does nothing and says so."""
    _setup_logging(verbose, quiet)
    positional, machines = _split_network_argument(args)
    if positional is not None and file is not None:
        _fail("give the network either as NETWORK or with -f, not both", EXIT_USAGE)
    network_file = _find_network(positional or file)
    # bad input is said before anything is built
    parsed_forwards = tuple(parse_forward(f) for f in forwards)
    placed = tuple(placement.parse_override(h) for h in hosts)
    launch.read_settings()
    nix_settings = NixSettings(options=options, include=include, show_trace=show_trace)
    result = _build_beside(network_file, state_dir, nix_settings, jobs, max_eval_memory,
                           _verbosity(verbose, quiet))
    run_dir = _state_dir(network_file, state_dir)
    plan = supervisor.running_plan(run_dir, result.store_path, machines)
    if plan is not None:
        _send_to_hosts(plan, result.store_path, nix_settings, dry_run)
        _converge(run_dir, result.store_path, plan, machines, fresh, keep_disks, dry_run,
                  detach, timeout)
        return
    spec = load_network(result.store_path)
    if dry_run:
        for name in spec.select(list(machines)):
            click.echo(f"{name.name}: new (nothing runs yet): start it")
        return
    try:
        request = launch.start_request(
            spec, run_dir=run_dir, machines=machines,
            fresh=spec.names if "*" in fresh else fresh, forwards=parsed_forwards,
            accel=accel, keep_disks=keep_disks,
            ready=(machines or spec.names) if from_snapshot else (), hosts=placed)
        every_vm = [m.vm for m in spec.machines]
        for remote in request.remote:  # the network directory and its own VMs, there
            _say(f"copying the network to host {remote.host.name} ({remote.host.ssh}): "
                 f"the VMs of {', '.join(remote.machines)}")
            own = [spec.machine(n).vm for n in remote.machines]
            nix.copy_closure_to(remote.host,
                                nix.host_share(spec.path, own, every_vm, nix_settings),
                                nix_settings)  # the directory's own files: remote.py
        if not detach:
            _stop_on_signals()
        _say(f"acceleration: {(request.accel or '').upper()} ({request.accel_reason})")
        with _boot_view(run_dir, request.machines) as view:
            started = supervisor.start(request, detach=detach, timeout=timeout,
                                       on_event=view.event)
    except NotReady:
        if detach:
            _say("the machines that came up keep running: `nixvms status`, "
                 "`nixvms logs MACHINE`, `nixvms stop`")
        raise
    except KeyboardInterrupt:
        _fail("interrupted; the network is stopped", EXIT_INTERRUPTED)
    try:
        for line in views.table(supervisor.status(started.run_dir.path)):
            click.echo(line)
    except SupervisorError as error:
        _say(f"warning: cannot show the table: {error.message}")
    if detach:
        started.close()
        _say("running in the background: `nixvms status`, `nixvms ssh MACHINE`, "
             "`nixvms stop`")
        return
    _say("running; Ctrl-C stops the network")
    if follow:
        _follow_consoles(run_dir, request.machines)
    try:
        code = started.follow(_print_event)
    except KeyboardInterrupt:
        code = started.stop()
        _say("stopped the network")
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(code)




def _send_to_hosts(plan: tuple[converging.Step, ...], network: str, settings: NixSettings,
                   dry_run: bool) -> None:
    """A machine (re)started on another host, moved there or rebuilt: its VM
    there first, with what the network directory needs (Nix's copy)."""
    spec = load_network(network)
    starting = (converging.Action.MOVE, converging.Action.RESTART, converging.Action.START,
                converging.Action.NEW)
    by_host: dict[str, list[str]] = {}
    for step in plan:
        machine = spec.machine(step.machine) if step.action in starting else None
        if machine is not None and machine.vm_host is not None:
            by_host.setdefault(machine.vm_host.name, []).append(machine.name)
    every_vm = [m.vm for m in spec.machines]
    for names in by_host.values():
        host = spec.machine(names[0]).vm_host
        assert host is not None
        if dry_run:
            continue
        _say(f"copying the VM of {', '.join(names)} to host {host.name} ({host.ssh})")
        own = [spec.machine(n).vm for n in names]
        nix.copy_closure_to(host, nix.host_share(spec.path, own, every_vm, settings), settings)


def _converge(run_dir: Path, network: str, plan: tuple[converging.Step, ...],
              machines: tuple[str, ...], fresh: tuple[str, ...], keep_disks: bool,
              dry_run: bool, detach: bool, timeout: float) -> None:
    """up on a running network: say the plan, then carry it out."""
    for step in plan:
        click.echo(step.line())
    if dry_run:
        return
    if all(step.action is converging.Action.KEEP for step in plan):
        _say(f"all {len(plan)} machines are up; nothing changed")
        return
    fresh_names = [s.machine for s in plan if s.action is not converging.Action.REMOVE] \
        if "*" in fresh else list(fresh)
    starting = [s.machine for s in plan if s.action in (
        converging.Action.NEW, converging.Action.RESTART, converging.Action.START,
        converging.Action.MOVE)]
    with _boot_view(run_dir, starting) as view:
        done = supervisor.converge(run_dir, network, only=machines, fresh=fresh_names,
                                   keep_disks=keep_disks, timeout=timeout, on_event=view.event)
    with contextlib.suppress(SupervisorError):
        for line in views.table(supervisor.status(run_dir)):
            click.echo(line)
    changed = sum(1 for s in done.steps if s.action is not converging.Action.KEEP)
    _say(f"converged: {changed} of {len(done.steps)} machines acted on"
         + ("" if detach else "; the network runs in the background: `nixvms stop` stops it"))


@click.command("status", epilog="""\b
Examples:
  nixvms status
  nixvms status web db
  nixvms status -f ../net.nix""")
@click.argument("machines", nargs=-1, shell_complete=_complete_machines)
@_lifecycle_options
def status_command(machines: tuple[str, ...], file: Path | None,
                   state_dir: Path | None) -> None:
    """Show each machine (default: all): state, IPs, ssh port, forwards, pid,
    uptime, disk. With no network running, says so (exit 0)."""
    directory = _state_dir(file, state_dir)
    latest = None
    if state_dir is None and file is None:
        link = _find_network(None).parent / "result"
        latest = str(link) if link.is_dir() else None
    try:
        st = supervisor.status(directory, latest, machines)
    except NotRunning as error:
        if not error.nothing_ran:
            raise
        click.echo(f"no network is running from {directory} (none has run from there, or "
                   "it was destroyed); `nixvms up` starts one")
        return
    if st.running:
        click.echo(f"network {st.network}: running from {st.state_dir} "
                   f"(supervisor pid {st.supervisor_pid}, acceleration {st.accel or '-'})")
    else:
        click.echo(f"network {st.network}: not running (state in {st.state_dir})")
    for line in views.table(st):
        click.echo(line)
    stale = [m.name for m in st.machines if m.stale_disk]
    if stale:
        click.echo(f"disks from an older build: {', '.join(stale)} "
                   f"(`nixvms up --fresh MACHINE` makes a new one)")


@click.command("stop", epilog="""\b
Examples:
  nixvms stop                      # the whole network
  nixvms stop client""")
@click.argument("machines", nargs=-1, shell_complete=_complete_machines)
@_lifecycle_options
def stop_command(machines: tuple[str, ...], file: Path | None, state_dir: Path | None) -> None:
    """Stop the named machines (default: the whole network)."""
    directory = _state_dir(file, state_dir)
    stopped = supervisor.stop(directory, machines)
    _say(views.describe_stopped(stopped, directory))
    for line in stopped.left:  # machines on a host that could not be reached
        _say(f"error: {line}")
    if stopped.left:
        sys.exit(EXIT_FAILED)


@click.command("start", epilog="""\b
Examples:
  nixvms start client
  nixvms start client --fresh      # from a new disk""")
@click.argument("machines", nargs=-1, shell_complete=_complete_machines)
@_lifecycle_options
@click.option("--fresh", is_flag=True, help="Start them from new disks.")
@click.option("--timeout", type=click.FloatRange(min=0), default=supervisor.DEFAULT_TIMEOUT,
              show_default=True, metavar="S", help="Seconds to wait for them to be ready.")
def start_command(machines: tuple[str, ...], file: Path | None, state_dir: Path | None,
                  fresh: bool, timeout: float) -> None:
    """Start stopped MACHINES (default: every stopped one) of the network that
    last ran, and wait until they are ready."""
    directory = _state_dir(file, state_dir)
    stopped = [m.name for m in supervisor.status(directory, machines=machines).machines
               if m.state != "running" and m.state != "starting"]
    with _boot_view(directory, stopped) as view:
        supervisor.start_machines(directory, machines, machines if fresh else (),
                                  timeout=timeout, on_event=view.event)


@click.command("destroy", epilog="""\b
Examples:
  nixvms destroy                   # every machine's disk and run state (asks first)
  nixvms destroy -y client""")
@click.argument("machines", nargs=-1, shell_complete=_complete_machines)
@_lifecycle_options
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def destroy_command(machines: tuple[str, ...], file: Path | None,
                    state_dir: Path | None, yes: bool) -> None:
    """Stop the named machines (default: all) and delete their disks and run
    state. On a terminal it asks first (-y does not)."""
    directory = _state_dir(file, state_dir)
    which = ", ".join(machines) or "every machine"
    if not yes and sys.stdin.isatty() and not click.confirm(
            f"Stop {which} of the network in {directory} and delete their disks?",
            err=True):
        _say("nothing destroyed")
        sys.exit(EXIT_FAILED)
    removed = supervisor.destroy(directory, machines)
    if not removed:
        _say(f"nothing to destroy in {directory}")
        return
    _say(f"destroyed {which} of {directory}: stopped; removed their disks and run state "
         f"({len(removed)} files and directories)")


@click.command("log", epilog="""\b
Examples:
  nixvms log web               # Nix's log of web's last build
  nixvms log web | tail -n 40  # its end""")
@click.argument("machine", shell_complete=_complete_machines)
@click.option("-f", "--file", "file", type=click.Path(dir_okay=False, path_type=Path),
              metavar="NETWORK",
              help="The project's network file (default: the nearest network.nix here or above).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              metavar="DIR",
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


@click.command("graph", epilog="""\b
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
              metavar="DIR",
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
    if show_tasks:
        settings = NixSettings(options=options, include=include)
        text = graph.tasks_dot(graph.task_states(network_file, state_dir, settings))
    else:
        text = graph.network_dot(graph.last_network(network_file, state_dir))
    picture = graph.render(text, chosen)
    if output is None:
        sys.stdout.buffer.write(picture)
        sys.stdout.flush()
        return
    try:
        output.write_bytes(picture)
    except OSError as error:
        _fail(f"cannot write {output}: {error.strerror}")
    _say(f"wrote {output}")


@click.command("completion", epilog="""\b
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
    group = click.get_current_context().find_root().command  # nixvms, the group
    click.echo(completion(group, {}, "nixvms", "_NIXVMS_COMPLETE").source())


# The commands, by the name they are called (cli.load_all_commands registers them).
COMMANDS: dict[str, click.Command] = {
    "up": up_command, "run": up_command, "status": status_command,
    "stop": stop_command, "start": start_command, "destroy": destroy_command,
    "log": log_command, "graph": graph_command, "completion": completion_command,
}
