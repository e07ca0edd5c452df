"""A machine of the test driver: NixOS's test driver's Machine API.

The names, defaults and errors are those of nixpkgs' nixos/lib/test-driver's
Machine (start, shutdown, crash, wait_for_shutdown, execute, succeed, fail,
wait_until_succeeds, wait_until_fails, wait_for_unit, wait_for_open_port,
wait_for_closed_port, wait_for_file, wait_for_console_text, copy_from_vm,
copy_from_host, send_console, send_monitor_command, block, unblock,
shell_interact, ...). Commands go through the test instrumentation's
backdoor (backdoor.py), QEMU through its QMP socket (qemu.py); the machine's
process belongs to the network's supervisor, which the driver (driver.py)
asks to start it.
"""

from __future__ import annotations

import base64
import contextlib
import re
import shlex
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from . import procs, runstate, transfer
from .backdoor import KILL_GRACE, Backdoor, BackdoorClosed, BackdoorError, ReplyDamaged, Sink
from .errors import MachineError, RequestedAssertionFailed
from .facts import MachineFacts
from .link_client import LinkHandle
from .polling import DEFAULT_TIMEOUT, Duration, must_seconds, retry, seconds
from .qemu import QemuClient, QemuError
from .runstate import MachineState, Phase
from .screen import Consoles
from .statedir import RunDir
from .testlog import Logger
from .text import tail_lines

BOOT_TIMEOUT = 300.0           # starting a machine, connecting to its backdoor
CONSOLE_LINES = 10             # console lines shown with a failure
OUTPUT_IN_ERRORS = 2000        # characters of a command's output in an error


def short(command: str, limit: int = 200) -> str:
    """A command as logs show it: one line, long ones cut."""
    flat = " ".join(command.split("\n"))
    return flat if len(flat) <= limit else flat[:limit] + f"... ({len(command)} characters)"


def _shorten(text: str, limit: int = OUTPUT_IN_ERRORS) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


def make_command(args: Sequence[object]) -> str:
    return " ".join(shlex.quote(str(a)) for a in args)


class MachineOwner(Protocol):
    """What a Machine needs of the driver that holds it (driver.Driver)."""

    run_dir: RunDir
    logger: Logger
    boot_timeout: float
    out_dir: Path
    enable_ocr: bool
    keep_machine_state: bool

    def start_machines(self, machines: Sequence[Machine]) -> None: ...

    def supervisor_running(self) -> bool: ...

    def snapshot_save(self, name: str = ..., machines: Sequence[str] = ...) -> None: ...

    def snapshot_restore(self, name: str = ..., machines: Sequence[str] = ...) -> None: ...

    def check_polling_conditions(self) -> None: ...


# --- machines ------------------------------------------------------------------


class Machine(Consoles):
    """One machine of the network, as NixOS's test driver's Machine."""

    def __init__(self, driver: MachineOwner, spec: MachineFacts) -> None:
        self.driver = driver
        self.spec = spec
        self.name = spec.name
        self.backdoor = Backdoor(driver.run_dir.shell_socket(self.name), self.name,
                                 lambda message: self.log(message))
        self.console_offset = 0
        self.console_identity: tuple[int, int] | None = None
        self.console: socket.socket | None = None
        self.qemu = QemuClient(driver.run_dir.qmp_socket(self.name), self.name)
        self.allow_reboot = False

    def __repr__(self) -> str:
        return f"<Machine '{self.name}'>"

    # --- NixOS's attributes ----------------------------------------------------
    @property
    def state_dir(self) -> Path:
        """The machine's own directory: its disk, its TMPDIR (NixOS: vm-state-<name>)."""
        return self.driver.run_dir.machine_dir(self.name)

    @property
    def shared_dir(self) -> Path:
        """The host directory NixOS shares with every machine (tinyos's
        guests do not mount it: their kernel has no 9p)."""
        path = self.driver.run_dir.path / "shared-xchg"
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    @property
    def out_dir(self) -> Path:
        """Where screenshots and copied files go (-o/--output-dir)."""
        return self.driver.out_dir

    @property
    def keep_machine_state(self) -> bool:
        return self.driver.keep_machine_state

    def run_callbacks(self) -> None:
        """Check the polling conditions in force (before each command)."""
        self.driver.check_polling_conditions()

    def link(self, vlan: int | None = None) -> LinkHandle:
        """Its link to VLAN (every shaped one when None): .set(delay="100ms",
        loss="5%", ...) while it runs (links.py). block() still takes the NIC
        down, as NixOS's does."""
        return LinkHandle(self.driver.run_dir.path, self.name, vlan)

    # --- logging ---------------------------------------------------------------
    def log(self, message: str, detail: str = "") -> None:
        self.driver.logger.log(message, self.name, detail=detail)

    def nested(self, message: str) -> contextlib.AbstractContextManager[None]:
        return self.driver.logger.nested(message, self.name)

    # --- what runs -------------------------------------------------------------
    def _record(self) -> MachineState | None:
        state = runstate.load(self.driver.run_dir)
        return state.machine(self.name) if state is not None else None

    def is_up(self) -> bool:
        """Whether the machine's QEMU runs."""
        record = self._record()
        return (record is not None and record.phase.up and record.process is not None
                and record.process.alive())

    def _why_down(self) -> str:
        record = self._record()
        if record is not None and record.phase is Phase.DEAD:
            how = procs.describe_status(record.exit_status or 0)
            return f"machine {self.name} is not running (it stopped: {how})"
        return f"machine {self.name} is not running"

    def console_lines(self, count: int = CONSOLE_LINES) -> list[str]:
        return tail_lines(self.driver.run_dir.console_log(self.name), count)

    def _error(self, message: str) -> MachineError:
        return MachineError(message, self.name)

    # --- lifecycle -------------------------------------------------------------
    def start(self, allow_reboot: bool = False) -> None:
        """Start the machine (its QEMU, through the network's supervisor) and
        wait until it has booted as the supervisor sees it (its login prompt).
        A machine that does not come up is logged; the commands sent to it
        then fail saying why. allow_reboot: a reboot in the guest resets it
        rather than ending QEMU (NixOS: without -no-reboot)."""
        if not self.is_up():
            self.driver.start_machines([self])
        if allow_reboot != self.allow_reboot and self.is_up():
            # QEMU's reboot action, set at run time (QMP set-action)
            try:
                self.qemu.execute("set-action",
                                  {"reboot": "reset" if allow_reboot else "shutdown"})
            except QemuError as error:
                raise self._error(error.message) from None
            self.allow_reboot = allow_reboot

    def reboot(self) -> None:
        """Press Ctrl+Alt+Delete in the guest and wait until it resets (when
        started with allow_reboot=True) or powers off; the next command
        waits for the backdoor again (starting the machine if it went off)."""
        with self.nested("rebooting (ctrl-alt-delete)"):
            if not self.is_up():
                raise self._error(self._why_down())
            try:
                with self.qemu.session() as qmp:
                    qmp.execute("human-monitor-command",
                                {"command-line": "sendkey ctrl-alt-delete"})
                    deadline = time.monotonic() + self.driver.boot_timeout
                    while time.monotonic() < deadline:
                        event = qmp.next_event(1.0)
                        if event is not None and event.get("event") in ("RESET", "SHUTDOWN"):
                            break
            except QemuError:
                pass  # QEMU went away: it powered off
            self.backdoor.close()
            self.close_console()
            if not self.allow_reboot:
                self._wait_down()

    def connect(self) -> None:
        """Wait until the backdoor root shell answers (starting the machine
        first if it is not running, as NixOS's driver does)."""
        if self.backdoor.connected:
            return
        self.driver.supervisor_running()  # refuses a network another test run owns
        if not self.is_up():
            self.start()
        with self.nested("waiting for the backdoor root shell"):
            try:
                took = self.backdoor.connect(self.driver.boot_timeout, self.is_up,
                                             self._why_down)
            except BackdoorError as error:
                raise self._error(str(error)) from None
            self.log(f"connected to the backdoor root shell in {took:.2f} s")

    def shutdown(self) -> None:
        """Shut the machine down (poweroff through the backdoor) and wait
        until its QEMU has exited."""
        if not self.is_up():
            return
        with self.nested("shutting down"):
            self.connect()
            with contextlib.suppress(BackdoorClosed):
                self.backdoor.send_raw(b"poweroff\n")
            self._wait_down()

    def crash(self) -> None:
        """Simulate a sudden power failure: QEMU quits at once."""
        if not self.is_up():
            return
        with self.nested("crashing (QEMU: quit)"):
            self.qemu.quit()
            self._wait_down()

    def snapshot_save(self, name: str = "default") -> None:
        """Save this machine (RAM, devices, disk) in snapshot NAME."""
        self.driver.snapshot_save(name, [self.name])

    def snapshot_restore(self, name: str = "default") -> None:
        """Put this machine back as snapshot NAME has it."""
        self.driver.snapshot_restore(name, [self.name])

    def wait_for_shutdown(self, timeout: Duration = DEFAULT_TIMEOUT) -> None:
        """Wait until the machine's QEMU has exited (this does not shut it down)."""
        if not self.is_up():
            self.backdoor.close()
            return
        with self.nested("waiting for the machine to power off"):
            self._wait_down(must_seconds(timeout))

    def _wait_down(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.allow_reboot = False
        deadline = time.monotonic() + timeout
        while self.is_up():
            if time.monotonic() > deadline:
                raise RequestedAssertionFailed(
                    f"timed out after {timeout:g} s waiting for machine {self.name} to power off",
                    self.name)
            time.sleep(0.1)
        self.backdoor.close()
        self.close_console()
        # until the supervisor has seen it go (a start before that would be
        # taken for a machine that still runs)
        settle = time.monotonic() + 10
        while ((record := self._record()) is not None and record.phase.up
               and self.driver.supervisor_running() and time.monotonic() < settle):
            time.sleep(0.1)

    # --- commands --------------------------------------------------------------
    def execute(self, command: str, check_return: bool = True, check_output: bool = True,
                timeout: Duration | None = DEFAULT_TIMEOUT) -> tuple[int, str]:
        """Run a shell command as root; (exit status, standard output).

        It runs with `set -euo pipefail`, stdin /dev/null and its stderr on the
        machine's console. After `timeout` seconds (None: no limit) it is
        killed with every process it started, and the status is 124, as
        `timeout`'s. check_output=False: start it and return (-2, "") at once
        (for a command that ends the backdoor: a reboot, switch-root);
        check_return=False: the status is -1."""
        self.run_callbacks()
        if not check_output:
            self.connect()
            encoded = base64.b64encode(command.encode()).decode()
            self.log(f"started, not waited for: {short(command)}")
            with contextlib.suppress(BackdoorClosed):
                self.backdoor.send_raw(
                    f"sh -c \"set -eu; $(echo {encoded} | base64 -d)\" </dev/null "
                    ">/dev/console 2>&1 &\n".encode())
            return (-2, "")
        status, raw = self._run(command, seconds(timeout))
        output = raw.decode(errors="replace")
        if not check_return:
            return (-1, output)
        return (status, output)

    def _run(self, command: str, timeout: float | None,
             sink: Sink | None = None) -> tuple[int, bytes]:
        """Run a command through the backdoor; (status, output), logged."""
        self.connect()
        began = time.monotonic()
        with self._backdoor_errors(
                f"running `{short(command)}`",
                f"`{short(command)}` did not stop within {KILL_GRACE:g} s after its timeout "
                f"({timeout} s)"):
            status, raw = self.backdoor.run(command, timeout, sink)
        took = time.monotonic() - began
        self.log(f"exit status {status} after {took:.2f} s: {short(command)}",
                 detail=raw.decode(errors="replace") if len(raw) < 1 << 16 else "")
        return status, raw

    def _put(self, data: bytes, path: str, timeout: float | None) -> int:
        """Append data to the machine's file `path` through the backdoor."""
        self.connect()
        with self._backdoor_errors(
                f"copying {len(data)} bytes to {path}",
                f"appending {len(data)} bytes to {path} took longer than {timeout} s"):
            return self.backdoor.put(data, path, timeout)

    @contextlib.contextmanager
    def _backdoor_errors(self, doing: str, timed_out: str) -> Iterator[None]:
        """The backdoor's failures while `doing`, as the driver's errors."""
        try:
            yield
        except TimeoutError:
            raise RequestedAssertionFailed(f"machine {self.name}: {timed_out}", self.name) \
                from None
        except ReplyDamaged as error:
            raise self._error(error.message) from None
        except BackdoorClosed:
            # QEMU closes the socket as it exits: let it finish, and the
            # supervisor see it, before saying so
            with contextlib.suppress(RequestedAssertionFailed):
                self._wait_down(timeout=10)
            if not self.is_up():
                raise self._error(f"{self._why_down()} while {doing}") from None
            raise self._error(f"the backdoor of {self.name} went away while {doing}") from None

    def succeed(self, *commands: str, timeout: Duration | None = None) -> str:
        """Run the commands; raise if one exits non-zero; their output, joined."""
        output = ""
        for command in commands:
            with self.nested(f"must succeed: {short(command)}"):
                status, out = self.execute(command, timeout=timeout)
                if status != 0:
                    raise RequestedAssertionFailed(
                        self._failure(f"command `{command}` failed (exit status {status})", out),
                        self.name)
                output += out
        return output

    def fail(self, *commands: str, timeout: Duration | None = None) -> str:
        """Run the commands; raise if one exits 0; their output, joined."""
        output = ""
        for command in commands:
            with self.nested(f"must fail: {short(command)}"):
                status, out = self.execute(command, timeout=timeout)
                if status == 0:
                    raise RequestedAssertionFailed(
                        self._failure(f"command `{command}` unexpectedly succeeded", out),
                        self.name)
                output += out
        return output

    def _failure(self, what: str, output: str) -> str:
        text = f"machine {self.name}: {what}"
        if output.strip():
            text += "; its output:\n" + _shorten(output.rstrip("\n"))
        else:
            text += "; no output (its stderr went to the console)"
        return text

    def wait_until_succeeds(self, command: str, timeout: Duration = DEFAULT_TIMEOUT) -> str:
        """Repeat the command once a second until it succeeds; its output."""
        output = ""

        def check(last_try: bool) -> bool:
            nonlocal output
            status, output = self.execute(command, timeout=timeout)
            return status == 0

        with self.nested(f"waiting for success: {command}"):
            self._retry(check, timeout, f"`{command}` to succeed")
            return output

    def wait_until_fails(self, command: str, timeout: Duration = DEFAULT_TIMEOUT) -> str:
        """Repeat the command once a second until it fails; its output."""
        output = ""

        def check(last_try: bool) -> bool:
            nonlocal output
            status, output = self.execute(command, timeout=timeout)
            return status != 0

        with self.nested(f"waiting for failure: {command}"):
            self._retry(check, timeout, f"`{command}` to fail")
            return output

    def _retry(self, fn: Callable[[bool], bool], timeout: Duration, what: str) -> None:
        try:
            retry(fn, timeout, f"{what} on {self.name}")
        except RequestedAssertionFailed as error:
            raise RequestedAssertionFailed(str(error), self.name) from None

    def sleep(self, secs: Duration) -> None:
        """Sleep in the guest's time."""
        self.succeed(f"sleep {must_seconds(secs):g}")

    # --- systemd ---------------------------------------------------------------
    def systemctl(self, q: str, user: str | None = None) -> tuple[int, str]:
        """`systemctl q` on the machine (`--user` for a user: NixOS only)."""
        if user is not None:
            q = q.replace("'", "\\'")
            return self.execute(f"su -l {user} --shell /bin/sh -c "
                                f"$'XDG_RUNTIME_DIR=/run/user/`id -u` systemctl --user {q}'")
        return self.execute(f"systemctl {q}")

    def get_unit_info(self, unit: str, user: str | None = None) -> dict[str, str]:
        """The unit's properties, as `systemctl show` gives them."""
        status, lines = self.systemctl(f"--no-pager show {shlex.quote(unit)}", user)
        if status != 0:
            raise RequestedAssertionFailed(
                f"machine {self.name}: `systemctl show {unit}` failed (exit status {status})",
                self.name)
        return dict(line.split("=", 1) for line in lines.split("\n") if "=" in line)

    def get_unit_property(self, unit: str, property: str, user: str | None = None) -> str:
        """One property of a unit (`systemctl show -p`)."""
        status, lines = self.systemctl(
            f"--no-pager show {shlex.quote(unit)} --property={shlex.quote(property)}", user)
        match = re.match(r"^([^=]+)=(.*)$", lines.strip())
        if status != 0 or not match or match[1] != property:
            raise RequestedAssertionFailed(
                f"machine {self.name}: `systemctl show {unit} --property={property}` gave "
                f"exit status {status} and {lines.strip()!r}", self.name)
        return match[2]

    def require_unit_state(self, unit: str, require_state: str = "active") -> None:
        """Raise unless the unit's ActiveState is require_state."""
        with self.nested(f"checking that unit {unit} is {require_state}"):
            state = self.get_unit_property(unit, "ActiveState")
            if state != require_state:
                raise RequestedAssertionFailed(
                    f"machine {self.name}: unit {unit} is {state}, not {require_state}",
                    self.name)

    def wait_for_unit(self, unit: str, user: str | None = None,
                      timeout: Duration = DEFAULT_TIMEOUT) -> None:
        """Wait until the unit is active; raise as soon as it has failed, or
        is inactive with no job pending (it will not start by itself)."""
        def active(last_try: bool) -> bool:
            state = self.get_unit_property(unit, "ActiveState", user)
            if state == "failed":
                raise RequestedAssertionFailed(
                    self._with_journal(f'machine {self.name}: unit "{unit}" reached state '
                                       '"failed"', unit), self.name)
            if state == "inactive":
                _, jobs = self.systemctl("list-jobs --full 2>&1", user)
                if "No jobs" in jobs and self.get_unit_property(
                        unit, "ActiveState", user) == "inactive":
                    raise RequestedAssertionFailed(
                        self._with_journal(f'machine {self.name}: unit "{unit}" is inactive '
                                           "and there are no pending jobs", unit), self.name)
            return state == "active"

        with self.nested(f"waiting for unit {unit}"
                         + (f" of user {user}" if user is not None else "")):
            self._retry(active, timeout, f"unit {unit} to be active")

    def wait_for_unit_active_state(self, unit: str, state: str = "active",
                                   user: str | None = None,
                                   timeout: Duration = DEFAULT_TIMEOUT) -> None:
        """Wait until the unit's ActiveState is `state` (active, inactive,
        failed, activating, ...), whatever it passes through."""
        def reached(last_try: bool) -> bool:
            return self.get_unit_property(unit, "ActiveState", user) == state

        with self.nested(f"waiting for unit {unit} to be {state}"):
            self._retry(reached, timeout, f"unit {unit} to be {state}")

    def _with_journal(self, message: str, unit: str) -> str:
        with contextlib.suppress(MachineError, RequestedAssertionFailed):
            status, journal = self.execute(
                f"journalctl -u {shlex.quote(unit)} -n 10 --no-pager", timeout=30)
            if status == 0 and journal.strip() and "-- No entries --" not in journal:
                return f"{message}; its last journal lines:\n{journal.rstrip()}"
        return message

    def start_job(self, jobname: str, user: str | None = None) -> tuple[int, str]:
        return self.systemctl(f"start {shlex.quote(jobname)}", user)

    def stop_job(self, jobname: str, user: str | None = None) -> tuple[int, str]:
        return self.systemctl(f"stop {shlex.quote(jobname)}", user)

    # --- files and ports -------------------------------------------------------
    def wait_for_file(self, filename: str, timeout: Duration = DEFAULT_TIMEOUT) -> None:
        """Wait until the file exists on the machine."""
        def exists(last_try: bool) -> bool:
            status, _ = self.execute(f"test -e {shlex.quote(filename)}")
            return status == 0

        with self.nested(f"waiting for file {filename}"):
            self._retry(exists, timeout, f"file {filename}")

    def _port_open(self, port: int, addr: str) -> bool:
        # the system's nc (OpenBSD's netcat, on NixOS and tinyos), as NixOS's driver
        status, _ = self.execute(f"nc -z {shlex.quote(addr)} {int(port)}")
        return status == 0

    def wait_for_open_port(self, port: int, addr: str = "localhost",
                           timeout: Duration = DEFAULT_TIMEOUT) -> None:
        """Wait until something accepts TCP connections on addr:port, as seen
        from the machine."""
        with self.nested(f"waiting for TCP port {port} on {addr}"):
            self._retry(lambda last: self._port_open(port, addr), timeout,
                        f"TCP port {port} on {addr} to open")

    def wait_for_closed_port(self, port: int, addr: str = "localhost",
                             timeout: Duration = DEFAULT_TIMEOUT) -> None:
        """Wait until nothing accepts TCP connections on addr:port."""
        with self.nested(f"waiting for TCP port {port} on {addr} to be closed"):
            self._retry(lambda last: not self._port_open(port, addr), timeout,
                        f"TCP port {port} on {addr} to close")

    def wait_for_open_unix_socket(self, addr: str, is_datagram: bool = False,
                                  timeout: Duration = DEFAULT_TIMEOUT) -> None:
        """Wait until something listens on the UNIX-domain socket `addr` (a
        stream socket, or a datagram one): `nc -z -U`, as NixOS."""
        flags = "-uU" if is_datagram else "-U"

        def listening(last_try: bool) -> bool:
            status, _ = self.execute(f"nc -z {flags} {shlex.quote(addr)}")
            return status == 0

        kind = "datagram" if is_datagram else "stream"
        with self.nested(f"waiting for UNIX-domain {kind} socket {addr}"):
            self._retry(listening, timeout, f"a UNIX-domain {kind} socket on {addr}")

    def copy_from_host_via_shell(self, source: str, target: str) -> None:
        """Copy a host file to the machine through the shell (NixOS's way
        without a shared directory; copy_from_host does the same here)."""
        self.copy_from_host(source, target)

    def copy_from_host(self, source: str, target: str) -> None:
        """Copy a file or directory from the host to the machine (through the
        backdoor: no shared directory needed). Like `cp -r source target`."""
        with self.nested(f"copying {source} from the host to {target}"):
            try:
                copied = transfer.to_machine(self._run, self._put, Path(source), target)
            except transfer.TransferError as error:
                raise MachineError(f"copy_from_host: {error.message}", self.name) from None
            self.log(copied.describe("copied"))

    def copy_from_machine(self, source: str, target_dir: str = "") -> None:
        """Copy a file or directory from the machine to the driver's output
        directory (the current directory unless set), under target_dir."""
        with self.nested(f"copying {source} from the machine"):
            destination = self.driver.out_dir / target_dir
            destination.mkdir(parents=True, exist_ok=True)
            try:
                copied = transfer.from_machine(self._run, source, destination)
            except transfer.TransferError as error:
                raise RequestedAssertionFailed(f"machine {self.name}: copy_from_vm: "
                                               f"{error.message}", self.name) from None
            self.log(copied.describe(f"copied to {destination / Path(source).name}:"))

    copy_from_vm = copy_from_machine


# The errors and retry live in errors.py and polling.py; a driver's user
# finds them here too, with the Machine.
__all__ = ["BOOT_TIMEOUT", "CONSOLE_LINES", "DEFAULT_TIMEOUT", "Machine", "MachineError",
           "MachineOwner", "RequestedAssertionFailed", "make_command", "retry", "short"]
