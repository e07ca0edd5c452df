"""result/bin/nixos-test-driver: the network directory's test driver command.

    nixos-test-driver [--state-dir DIR] [--keep-vms] [-K] [-o DIR] [--log-level L]
                      [--no-snapshots] [--junit-xml FILE] [-I] [SCRIPT]

A Driver (driver.py) over the network this file was copied into: an
interactive session, or a test script run and reported (reports.py).
Errors are one `nixos-test-driver: error: ...` line; usage errors exit 2,
other failures 1. Standard library only.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from . import launch
from .driver import Driver
from .errors import SupervisorError
from .reports import report
from .spec import load_network


def _network_dir() -> str:
    here = Path(__file__).resolve().parent
    return str(here.parent.parent) if here.parent.name == "lib" else os.getcwd()


def _on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


USAGE = """\
usage: nixos-test-driver [--state-dir DIR] [--keep-vms] [-K] [-o DIR] [--log-level L]
                         [--no-snapshots] [--junit-xml FILE] [-I] [SCRIPT]

Without SCRIPT (or with -I/--interactive): an interactive Python session in
which every machine of the network is an object (start_all(),
test1.succeed("hostname"), test1.shell_interact(), test_script(), ...).
With SCRIPT: run that test script; exit 0 only if it passes. Machines this
driver starts are stopped when it ends, unless --keep-vms. Every machine
starts from no state (its disk removed) unless -K/--keep-machine-state;
-o/--output-dir: where screenshots and copied files go; --log-level:
debug, info, warning or error. A machine's first start restores the
snapshot taken when it first became ready (booting it only where it has
none of its build); --no-snapshots boots every machine from a new disk.
"""


def main(argv: Sequence[str], network: str | None = None, prog: str = "nixos-test-driver") -> int:
    """result/bin/nixos-test-driver."""
    args = list(argv)
    state_dir: str | None = None
    junit: str | None = None
    keep = False
    use_snapshots = True
    keep_state = False
    interactive = False
    out_dir: str | None = None
    level = logging.INFO
    script: str | None = None

    def usage_error(message: str) -> int:
        sys.stderr.write(f"{prog}: error: {message} (see {prog} --help)\n")
        return 2

    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        if arg in ("--state-dir", "--junit-xml", "-o", "--output-dir", "--output_directory",
                   "--log-level"):
            if not args:
                return usage_error(f"{arg} needs a value")
            value = args.pop(0)
            if arg == "--state-dir":
                state_dir = value
            elif arg == "--junit-xml":
                junit = value
            elif arg == "--log-level":
                if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
                    return usage_error(f"--log-level {value}: debug, info, warning or error")
                level = getattr(logging, value.upper())
            else:
                out_dir = value
        elif arg == "--keep-vms":
            keep = True
        elif arg == "--no-snapshots":
            use_snapshots = False
        elif arg in ("-K", "--keep-machine-state", "--keep-vm-state"):
            keep_state = True
        elif arg in ("-I", "--interactive"):
            interactive = True
        elif arg.startswith("-"):
            return usage_error(f"unknown option {arg}")
        elif script is None:
            script = arg
        else:
            return usage_error(f"unexpected argument {arg}")
    if script is not None and not Path(script).is_file():
        sys.stderr.write(f"{prog}: error: no test script {script}\n")
        return 1
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    try:
        directory = network or _network_dir()
        run_dir = launch.run_dir_path(state_dir, load_network(directory).state_dir)
        with Driver(directory, run_dir, keep_vms=keep, snapshots=use_snapshots,
                    keep_machine_state=keep_state,
                    out_dir=out_dir, log_level=level,
                    detach=True if script is None or interactive else None) as driver:
            if script is None or interactive:
                driver.script = Path(script) if script is not None else None
                driver.interact()
                return 0
            result = driver.run_script(Path(script))
            return report(result, junit, sys.stdout, sys.stderr)
    except SupervisorError as error:
        sys.stderr.write(f"{prog}: error: {error.message}\n")
        for line in error.detail_lines():
            sys.stderr.write(f"  {line}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: error: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover - the launcher imports main()
    sys.exit(main(sys.argv[1:]))
