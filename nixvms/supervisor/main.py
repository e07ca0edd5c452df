"""run-vms: the network directory's own command (result/bin/run-vms).

    run-vms [--state-dir DIR] [--detach] [--timeout S] [--accel auto|kvm|tcg]
            [--fresh [MACHINE]] [--forward MACHINE:HOSTPORT:GUESTPORT] [MACHINE...]
    run-vms [--state-dir DIR] --stop [MACHINE...]
    run-vms [--state-dir DIR] --status

--state-dir DIR is the project's state directory, as for nixvms's commands:
the running network's files are in DIR/run (launch.py has the rule).
Errors are one `run-vms: error: ...` line; usage errors exit 2, other
failures 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

from . import client, launch, placement, views
from .errors import SupervisorError
from .launch import StartRequest
from .ports import parse_forward
from .spec import load_network
from .statedir import StateLock, prepare
from .supervisor import Supervisor

ENV_HELP = """\
environment:
  QEMU_OPTS, QEMU_NET_OPTS, QEMU_KERNEL_PARAMS   passed on to every VM
  NIXVMS_ACCEL           the default of --accel (auto)
  NIXVMS_SSH_PORT_BASE   the first port tried for ssh forwards (10022)
  NIXVMS_STOP_TIMEOUT    seconds a VM gets to stop before SIGKILL (5)
  NIXVMS_STATE_DIR       the default of --state-dir

Then: ssh -F DIR/ssh_config <machine or its deployment.targetHost>
"""


def _say(line: str) -> None:
    sys.stderr.write(f"run-vms: {line}\n")
    sys.stderr.flush()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        _say(f"error: {message} (see run-vms --help)")
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="run-vms", description="Start the network's virtual machines.",
                epilog=ENV_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("machines", nargs="*", metavar="MACHINE", help="machines to start (all)")
    p.add_argument("--state-dir", metavar="DIR",
                   help="the project's state directory; the running network's files go in "
                        "DIR/run (default: the project's .nixvms/run, recorded in "
                        "network.json)")
    p.add_argument("--detach", action="store_true", help="return once the machines are ready")
    p.add_argument("--timeout", type=float, default=client.DEFAULT_TIMEOUT, metavar="S",
                   help="seconds to wait for the machines to be ready (120)")
    p.add_argument("--accel", default=None, metavar="{auto,kvm,tcg}",
                   help="auto, kvm or tcg (default: NIXVMS_ACCEL, else auto)")
    p.add_argument("--fresh", nargs="?", const="*", action="append", default=[],
                   metavar="MACHINE", help="start from a new disk (all machines, or MACHINE)")
    p.add_argument("--forward", action="append", default=[], metavar="M:HOST:GUEST",
                   help="forward 127.0.0.1:HOST to port GUEST of machine M")
    p.add_argument("--stop", action="store_true", help="stop the running network")
    p.add_argument("--status", action="store_true", help="show what runs")
    # events as JSON lines on stdout: a supervisor that runs these machines
    # for another host's network reads them (remote.py)
    p.add_argument("--json-events", action="store_true", help=argparse.SUPPRESS)
    # run the named machines on this host, whatever their deployment.vmHost says:
    # this is the host another host's supervisor placed them on (remote.py)
    p.add_argument("--here", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--serve", help=argparse.SUPPRESS)
    p.add_argument("--lock-fd", type=int, help=argparse.SUPPRESS)
    p.add_argument("--report-fd", type=int, help=argparse.SUPPRESS)
    return p


def network_dir() -> str:
    """The network directory this copy of the supervisor lives in."""
    here = Path(__file__).resolve().parent
    return str(here.parent.parent) if here.parent.name == "lib" else os.getcwd()


def serve(request: StartRequest, lock_fd: int, report_fd: int | None) -> int:
    """The supervisor process itself (started by client.start)."""
    pipe = [report_fd] if report_fd is not None else []

    def report(event: dict[str, object]) -> None:
        line = json.dumps(event) + "\n"
        sys.stdout.write(line)
        sys.stdout.flush()
        for fd in list(pipe):
            try:
                os.write(fd, line.encode())
            except OSError:  # whoever started us has gone (detached): the log has it
                pipe.remove(fd)

    os.umask(0o077)  # what QEMU and the VM scripts create is the user's alone
    run_dir = prepare(request.run_dir)
    lock = StateLock.adopt(run_dir, lock_fd)
    spec = load_network(request.network)
    return Supervisor(spec, run_dir, lock, request, report).run()


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.serve:
            return serve(StartRequest.from_json(args.serve), args.lock_fd, args.report_fd)
        network = network_dir()
        spec = load_network(network)
        run_dir = launch.run_dir_path(args.state_dir, spec.state_dir)
        if args.stop:
            stopped = client.stop(run_dir, args.machines)
            _say(views.describe_stopped(stopped, run_dir))
            for line in stopped.left:
                _say(f"error: {line}")
            return 1 if stopped.left else 0
        if args.status:
            for line in views.table(client.status(run_dir)):
                print(line)
            return 0
        # Bad input is said before anything is probed or started.
        forwards = tuple(parse_forward(f) for f in args.forward)
        fresh = spec.names if "*" in args.fresh else tuple(args.fresh)
        request = launch.start_request(spec, state_dir=args.state_dir, machines=args.machines,
                                       fresh=fresh, forwards=forwards, accel=args.accel,
                                       hosts=[(n, placement.LOCAL) for n in args.machines]
                                       if args.here else ())
        if args.here:
            request = dataclasses.replace(request, served=True)
        _say(f"acceleration: {(request.accel or '').upper()} ({request.accel_reason})")

        if not args.detach:
            _stop_on_signals()

        def on_event(event: dict[str, object]) -> None:
            if args.json_events:
                print(json.dumps(event), flush=True)
            for line in views.describe_event(event):
                _say(line)

        started = client.start(request, detach=args.detach, timeout=args.timeout,
                               on_event=on_event)
        for line in views.table(client.status(started.run_dir.path)):
            print(line, flush=True)
        _say(f"ssh: ssh -F {started.run_dir.ssh_config} <machine>")
        if args.detach:
            started.close()
            _say("running in the background; stop with: run-vms --stop")
            return 0
        _say("running; Ctrl-C stops the network")
        try:
            return started.follow(on_event)
        except KeyboardInterrupt:
            return started.stop()
    except SupervisorError as error:
        _say(f"error: {error.message}")
        for line in error.detail_lines():
            _say(line)
        return error.exit_code
    except KeyboardInterrupt:
        _say("error: interrupted")
        return 130


def _stop_on_signals() -> None:
    """SIGTERM and SIGHUP stop a foreground network as Ctrl-C does."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)
