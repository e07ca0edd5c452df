"""The test driver: NixOS's test-driver API over the supervisor's machines.

    from nixvms.supervisor.driver import Driver
    with Driver("result") as driver:
        test1 = driver.machines["test1"]
        driver.start_all()
        test1.succeed("hostname")

The names and meanings are those of nixpkgs' nixos/lib/test-driver: the
Driver here (start_all, join_all, subtest, retry, the script runner and the
interactive session), each machine's API in machine.py, the log in
testlog.py, the summary and JUnit XML in reports.py.

The machines are the supervisor's VMs (client.py): the driver starts the
network's supervisor when it first starts a machine and stops it at the end
unless asked to keep the machines (see Driver.detach for when it outlives the
driver); a network already running from the state directory is used as it is
and left running. Commands go through
the test instrumentation's backdoor (backdoor.py), not ssh, so they work
without openssh and without a network. Every command and its outcome is
logged with a timestamp on the terminal and per machine in
<state>/<m>.driver.log; consoles stay in <state>/<m>.log.

The network directory's result/bin/nixos-test-driver is driver_main.py.
Standard library only.
"""

from __future__ import annotations

import code
import contextlib
import logging
import os
import re
import signal
import sys
import threading
import time
import traceback
import types
import unittest
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from . import client, launch, link_client, runstate, snapshot_client
from .errors import (
    AlreadyRunning,
    MachineError,
    NotReady,
    RequestedAssertionFailed,
    SupervisorError,
)
from .lint import check_source, python_name
from .machine import BOOT_TIMEOUT, CONSOLE_LINES, Machine
from .polling import PollingBlock, PollingCondition, retry
from .reports import ScriptResult, SubtestResult
from .spec import NetworkSpec, load_network
from .statedir import RunDir, prepare, remove_path
from .testlog import Logger, first_line


class AssertionTester(unittest.TestCase):
    """`t` in a test script: unittest's assertions (t.assertEqual, t.assertIn,
    ...), failing as RequestedAssertionFailed, as NixOS's."""

    failureException = RequestedAssertionFailed


class GlobalTimeout(SupervisorError):
    """The test ran past its globalTimeout."""


class MachineList(list[Machine]):
    """NixOS's driver.machines, a list, which scripts written for nixvms's
    earlier dict may also index by name."""

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            for machine in self:
                if machine.name == key:
                    return machine
            raise KeyError(key)
        return super().__getitem__(key)


@dataclass(frozen=True)
class VLan:
    """A VLAN of the network (NixOS's VLan): its number and its switch's socket."""

    nr: int
    socket_dir: Path


class Driver:
    """The machines of a network directory, as NixOS's test driver has them."""

    def __init__(self, network: str | os.PathLike[str] | NetworkSpec,
                 run_dir: str | os.PathLike[str] | None = None, *, keep_vms: bool = False,
                 out_dir: str | os.PathLike[str] | None = None,
                 stream: TextIO | None = sys.stderr, accel_choice: str | None = None,
                 boot_timeout: float = BOOT_TIMEOUT, detach: bool | None = None,
                 keep_machine_state: bool = False, enable_ocr: bool = True,
                 global_timeout: float | None = None, log_level: int = logging.INFO,
                 snapshots: bool = True) -> None:
        """run_dir: the running network's directory (None: the one network.json
        names, by launch.py's rule). keep_machine_state: keep the machines'
        disks from an earlier run (NixOS's -K); else they start afresh.
        snapshots: a machine's first start
        restores its ready snapshot where it has one of its build (else it
        boots from a new disk and one is taken once it is ready); False:
        every first start boots from a new disk, as NixOS's driver does."""
        self.spec: NetworkSpec = (network if isinstance(network, NetworkSpec)
                                  else load_network(network))
        self.run_dir: RunDir = prepare(run_dir or launch.run_dir_path(None, self.spec.state_dir))
        self.keep_vms = keep_vms
        # The supervisor it starts: detached (a session of its own, outliving
        # this process) when the machines are kept, or when a person types at
        # this terminal (a Ctrl-C there must not reach it); else it dies with
        # this process, even by kill -9 (parent-death signal), and a Ctrl-C
        # stops it too.
        self.detach = keep_vms if detach is None else detach
        self.supervisor: client.Started | None = None
        self.out_dir = Path(out_dir) if out_dir is not None else Path.cwd()
        self.logger = Logger(self.run_dir, stream)
        self.logger.level = log_level
        self.boot_timeout = boot_timeout
        self.accel_request = accel_choice  # None: launch.py's default
        self.keep_machine_state = keep_machine_state
        self.enable_ocr = enable_ocr
        self.global_timeout = global_timeout
        self.by_name: dict[str, Machine] = {m.name: Machine(self, m)
                                            for m in sorted(self.spec.machines,
                                                            key=lambda m: m.name)}
        self.vlans = [VLan(nr, self.run_dir.switch_socket(nr)) for nr in self.spec.vlans]
        self.polling_conditions: list[PollingCondition] = []
        self.started_network = False
        self.use_snapshots = snapshots
        self.first_started: set[str] = set()  # machines this driver has started
        self.subtests: list[SubtestResult] = []
        self.closed = False
        self.script: Path | None = None
        self.serial_thread: threading.Thread | None = None
        # NixOS's rule, fresh state unless -K: the first starts above restore
        # ready snapshots or boot from new disks; without snapshots (the
        # supervisor's fresh starts) the machines' directories go now too
        if not keep_machine_state and not self.use_snapshots:
            self._fresh_state()

    @property
    def machines(self) -> MachineList:
        """The machines, sorted by name (NixOS's driver.machines: a list;
        driver.machines["name"] still finds one by name)."""
        return MachineList(self.by_name.values())

    @property
    def machines_qemu(self) -> list[Machine]:
        return self.machines

    def _fresh_state(self) -> None:
        """NixOS's rule: each machine starts from no state (its disk and
        directory removed) unless --keep-machine-state; a network already
        running is used as it is."""
        state = runstate.load(self.run_dir)
        if state is not None and state.supervisor_alive(self.run_dir):
            if any(self.by_name):
                self.log("the network is running: its machines keep their state")
            return
        for machine in self.machines:
            directory = self.run_dir.machine_dir(machine.name)
            if directory.exists() and remove_path(directory):
                machine.log(f"deleted the machine's state directory {directory} (to keep "
                            "it, pass --keep-machine-state)")

    # --- context ----------------------------------------------------------------
    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def log(self, message: str) -> None:
        self.logger.log(message)

    def close(self) -> None:
        """Disconnect; stop the network if this driver started it (unless
        keep_vms)."""
        if self.closed:
            return
        self.closed = True
        self.logger.print_serial_logs(False)
        for machine in self.machines:
            machine.backdoor.close()
            machine.close_console()
        if self.started_network:
            if self.keep_vms:
                self.log(f"the machines keep running (stop them with `nixvms stop` or "
                         f"run-vms --stop); state: {self.run_dir.path}")
            else:
                with contextlib.suppress(SupervisorError):
                    client.stop(self.run_dir.path, timeout=60)
                if self.supervisor is not None:
                    self.supervisor.stop()
                self.log("stopped the network")
        self.logger.close()

    # --- machines ---------------------------------------------------------------
    def machine(self, name: str) -> Machine:
        try:
            return self.by_name[self.spec.machine(name).name]
        except SupervisorError:
            raise MachineError(f"there is no machine named {name!r} in this network "
                               f"(machines: {', '.join(self.by_name)})") from None

    def create_machine(self, start_command: str, *, name: str | None = None,
                       keep_machine_state: bool = False) -> Machine:
        """NixOS's create_machine: here the network's machine its start
        command (bin/run-<name>-vm) or name names; nixvms's machines are the
        network's, started by its supervisor."""
        match = re.search(r"run-(.+)-vm$", start_command.strip().split()[0]
                          if start_command.strip() else "")
        wanted = name or (match[1] if match else None)
        for machine in self.machines:
            if wanted in (machine.name, machine.spec.system_name):
                return machine
        raise MachineError(
            f"create_machine({start_command!r}): nixvms runs the network's machines only "
            f"({', '.join(self.by_name) or 'none'}); add the machine to the test's nodes")

    def supervisor_running(self) -> bool:
        state = runstate.load(self.run_dir)
        running = state is not None and state.supervisor_alive(self.run_dir)
        if state is None or not running:
            return False
        owner = state.request.owner
        if (owner is not None and owner.pid != os.getpid() and owner.alive()
                and not self.started_network):
            raise MachineError(
                f"another test run (pid {owner.pid}) is using the network running from "
                f"{self.run_dir.path} and stops it when it ends; wait for it, or give this "
                "run another --state-dir")
        if state.network != self.spec.path:
            # a network kept running (`nixvms test --keep-vms`, `nixvms up`) from
            # another build: converged to this one, as `nixvms up` does
            with self.logger.nested(f"converging the running network to {self.spec.path}"):
                done = client.converge(self.run_dir.path, self.spec.path, keep_disks=False,
                                       timeout=self.boot_timeout, on_event=self._event)
                for step in done.steps:
                    self.log(step.line())
        return True

    def _event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        machine = str(event.get("machine") or "") or None
        if kind == "stage":
            self.logger.log(f"boot: {event.get('stage')} after {event.get('after')} s", machine)
        elif kind == "ready" and event.get("restored"):
            self.logger.log(f"restored from {event.get('restored')} (not booted) in "
                            f"{event.get('after')} s", machine)
        elif kind == "ready":
            self.logger.log(f"booted in {event.get('after')} s", machine)
        elif kind == "died":
            self.logger.log(f"QEMU exited ({event.get('status')})", machine)
        elif kind in ("warning", "info"):
            self.logger.log(str(event.get("message")))

    def start_machines(self, machines: Sequence[Machine]) -> None:
        """Start machines (through the supervisor, starting it if none runs)."""
        self.supervisor_running()  # refuses a network another test run owns
        names = [m.name for m in machines if not m.is_up()]
        if not names:
            return
        for name in names:
            self.by_name[name].console_offset = 0
            self.by_name[name].console_identity = None
            self.by_name[name].backdoor.close()
            self.by_name[name].close_console()
        running = self.supervisor_running()
        # first starts by this driver: from the ready snapshot, or a new disk
        first = [n for n in names if n not in self.first_started] \
            if self.started_network or not running else []
        # -K (keep_machine_state): the disks as the last run left them
        ready = first if self.use_snapshots and not self.keep_machine_state else []
        fresh = [] if self.use_snapshots or self.keep_machine_state else first
        self.first_started.update(names)
        with self.logger.nested(f"starting {', '.join(names)}"):
            try:
                if running:
                    client.start_machines(self.run_dir.path, names, fresh, ready=ready,
                                          timeout=self.boot_timeout, on_event=self._event)
                else:
                    request = launch.start_request(
                        self.spec, run_dir=self.run_dir.path, machines=names,
                        accel=self.accel_request, owned=not self.keep_vms,
                        fresh=fresh, ready=ready)
                    self.log(f"acceleration: {request.accel} ({request.accel_reason})")
                    try:
                        started = client.start(request, detach=self.detach,
                                               timeout=self.boot_timeout, on_event=self._event)
                    except NotReady:
                        self.started_network = True  # ours, whatever came up of it
                        raise
                    except AlreadyRunning:
                        raise MachineError(
                            f"another run started the network from {self.run_dir.path} "
                            "at the same moment; wait for it, or give this run another "
                            "--state-dir") from None
                    self.started_network = True
                    started.close()
                    self.supervisor = started
            except NotReady as error:
                self.log(f"not booted: {error.message}")
                for name, lines in error.details:
                    for line in lines[-CONSOLE_LINES:]:
                        self.logger.log(f"console: {line}", name)
            except SupervisorError as error:
                raise MachineError(error.message) from None

    # --- snapshots ---------------------------------------------------------------
    def snapshot_save(self, name: str = "default", machines: Sequence[str] = ()) -> None:
        """Save the running machines (or those named) as snapshot NAME: a state
        a script can come back to (`nixvms snapshot` keeps the same ones)."""
        with self.logger.nested(f"saving snapshot {name!r}"):
            try:
                saved = snapshot_client.save(self.run_dir.path, name, machines)
            except SupervisorError as error:
                raise MachineError(error.message) from None
            self.log(f"saved {', '.join(saved.machines)}")

    def snapshot_restore(self, name: str = "default", machines: Sequence[str] = ()) -> None:
        """Put the machines (or those named) back as snapshot NAME has them."""
        with self.logger.nested(f"restoring snapshot {name!r}"):
            for machine in self.machines:  # the backdoor sets their clocks
                if not machines or machine.name in machines:
                    machine.backdoor.close()
            try:
                restored = snapshot_client.restore(self.run_dir.path, name, machines,
                                                   timeout=self.boot_timeout,
                                                   on_event=self._event)
            except SupervisorError as error:
                raise MachineError(error.message) from None
            if restored.refused:
                raise MachineError("; ".join(restored.refused))
            self.log(f"restored {', '.join(restored.machines)}")

    def partition(self, *groups: Sequence[Machine | str]) -> list[int]:
        """Cut every machine of a group from every machine of another group
        (partition([a, b], [c])) on the VLANs they share (links.py); the VLANs cut."""
        names = [[m.name if isinstance(m, Machine) else str(m) for m in g] for g in groups]
        vlans = link_client.partition(self.run_dir.path, names)
        self.log(f"partition {' | '.join(', '.join(g) for g in names)} on VLAN "
                 f"{', '.join(map(str, vlans))}")
        return vlans

    def heal(self) -> list[int]:
        """Undo partition(): every machine back on its VLANs' switches."""
        vlans = link_client.heal(self.run_dir.path)
        self.log(f"healed VLAN {', '.join(map(str, vlans)) or '(none partitioned)'}")
        return vlans

    def start_all(self) -> None:
        """Start every machine."""
        self.start_machines(self.machines)

    def join_all(self) -> None:
        """Wait until every machine has powered off."""
        for machine in self.machines:
            machine.wait_for_shutdown()

    def shutdown_all(self) -> None:
        for machine in self.machines:
            machine.shutdown()

    # --- polling conditions and the serial console ---------------------------------
    def check_polling_conditions(self) -> None:
        for condition in self.polling_conditions:
            condition.maybe_raise()

    def polling_condition(self, fun_: Callable[[], Any] | None = None, *,
                          seconds_interval: float = 2.0,
                          description: str | None = None) -> Any:
        """NixOS's polling_condition: `with polling_condition(f): ...` or as a
        decorator (@polling_condition, @polling_condition(seconds_interval=10)),
        checking f before each command inside the block; `.wait()` waits
        until it holds."""
        def block(fun: Callable[[], Any]) -> PollingBlock:
            condition = PollingCondition(fun, self.logger, seconds_interval, description)
            return PollingBlock(condition, self.polling_conditions)

        return block if fun_ is None else block(fun_)

    def serial_stdout_on(self) -> None:
        """Show the machines' serial consoles' new lines as they come."""
        self.logger.print_serial_logs(True)
        if self.serial_thread is None or not self.serial_thread.is_alive():
            self.serial_thread = threading.Thread(target=self._follow_consoles, daemon=True,
                                                  name="nixvms-serial")
            self.serial_thread.start()

    def serial_stdout_off(self) -> None:
        self.logger.print_serial_logs(False)

    def _follow_consoles(self) -> None:
        offsets: dict[str, int] = {}
        for machine in self.machines:
            with contextlib.suppress(OSError):
                offsets[machine.name] = self.run_dir.console_log(machine.name).stat().st_size
        partial: dict[str, bytes] = {}
        while self.logger.serial and not self.closed:
            for machine in self.machines:
                path = self.run_dir.console_log(machine.name)
                try:
                    with open(path, "rb") as handle:
                        size = os.fstat(handle.fileno()).st_size
                        start = offsets.get(machine.name, 0)
                        if size < start:
                            start = 0
                        handle.seek(start)
                        data = partial.pop(machine.name, b"") + handle.read()
                        offsets[machine.name] = size
                except OSError:
                    continue
                *lines, rest = data.split(b"\n")
                if rest:
                    partial[machine.name] = rest
                for line in lines:
                    text = line.decode(errors="replace").replace("\r", "")
                    self.logger.log_serial(text, machine.name)
            time.sleep(0.2)

    @contextlib.contextmanager
    def subtest(self, name: str) -> Iterator[None]:
        """A named part of a test: logged with its time, reported in JUnit XML."""
        began = time.monotonic()
        self.log(f"subtest: {name}")
        self.logger.depth += 1
        try:
            yield
        except BaseException as error:
            self.logger.depth -= 1
            took = time.monotonic() - began
            self.subtests.append(SubtestResult(name, took, first_line(error)))
            self.log(f"subtest failed after {took:.1f} s: {name}")
            raise
        self.logger.depth -= 1
        took = time.monotonic() - began
        self.subtests.append(SubtestResult(name, took))
        self.log(f"subtest passed in {took:.1f} s: {name}")

    # --- scripts ----------------------------------------------------------------
    def namespace(self) -> dict[str, Any]:
        """What a test script (or the interactive session) sees."""
        ns: dict[str, Any] = {
            "driver": self,
            "machines": self.machines,
            "machines_qemu": self.machines_qemu,
            "machines_nspawn": [],
            "vlans": self.vlans,
            "start_all": self.start_all,
            "join_all": self.join_all,
            "subtest": self.subtest,
            "snapshot_save": self.snapshot_save,
            "snapshot_restore": self.snapshot_restore,
            "partition": self.partition,
            "heal": self.heal,
            "retry": retry,
            "log": self.logger,
            "os": os,
            "t": AssertionTester(),
            "create_machine": self.create_machine,
            "test_script": self.test_script,
            "run_tests": self.run_tests,
            "serial_stdout_on": self.serial_stdout_on,
            "serial_stdout_off": self.serial_stdout_off,
            "polling_condition": self.polling_condition,
            "Machine": Machine,
            "BaseMachine": Machine,
            "RequestedAssertionFailed": RequestedAssertionFailed,
            "MachineError": MachineError,
        }
        for machine in self.machines:
            ns[python_name(machine.name)] = machine
        if len(self.machines) == 1:
            ns["machine"] = self.machines[0]
        for vlan in self.vlans:
            ns[f"vlan{vlan.nr}"] = vlan
        return ns

    def check_script(self, path: Path, lint: bool = True) -> types.CodeType:
        """Compile a test script; a syntax error, or (unless lint=False) a
        name that is not defined (a machine the network does not have), is a
        MachineError naming the line (nothing is started)."""
        source = path.read_text()
        check_source(source, str(path), [m.name for m in self.machines],
                     self.namespace(), lint=lint)
        return compile(source, str(path), "exec")

    def test_script(self) -> None:
        """Run the test's script (NixOS's test_script(): in the interactive
        session, the script nixvms test was given)."""
        if self.script is None:
            raise MachineError("this driver was given no test script")
        with self.logger.nested(f"running the test script {self.script}"):
            exec(compile(self.script.read_text(), str(self.script), "exec"), self.namespace())

    def run_tests(self) -> None:
        """Run the test script within the global timeout (NixOS's run_tests())."""
        with self._global_timer():
            self.test_script()

    @contextlib.contextmanager
    def _global_timer(self) -> Iterator[None]:
        """globalTimeout: the script is interrupted (GlobalTimeout) when it
        runs past it (main thread only: a signal)."""
        limit = self.global_timeout
        if not limit or threading.current_thread() is not threading.main_thread():
            yield
            return

        def expired(signum: int, frame: object) -> None:
            raise GlobalTimeout(f"the test ran past its global timeout ({limit:g} s)")

        previous = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, limit)
        self.log(f"the test times out after {limit:g} s")
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def run_script(self, path: Path, lint: bool = True) -> ScriptResult:
        """Run a test script; how it went (it never raises for a test failure)."""
        compiled = self.check_script(path, lint)
        self.script = path
        began = time.monotonic()
        self.log(f"running {path}")
        result = ScriptResult(path, 0.0)
        try:
            with self._global_timer():
                exec(compiled, self.namespace())
        except KeyboardInterrupt:
            raise
        except SystemExit as exit_:
            # sys.exit(0) (or None) in a script passes; sys.exit(n) fails with n
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
            if code != 0:
                result.exit_code = code
                result.failure, result.details = self._describe_failure(path, exit_)
        except BaseException as error:
            result.failure, result.details = self._describe_failure(path, error)
        result.seconds = time.monotonic() - began
        result.subtests = list(self.subtests)
        return result

    def _describe_failure(self, path: Path, error: BaseException) -> tuple[str, str]:
        frames = [f for f in traceback.extract_tb(error.__traceback__)
                  if f.filename == str(path)]
        where = ""
        if frames:
            last = frames[-1]
            where = f"{path}:{last.lineno}: {last.line or ''}".rstrip() + "\n"
        if isinstance(error, SystemExit):
            message = f"the script exited with status {error.code}"
        elif isinstance(error, MachineError):
            message = error.message
        else:
            message = f"{type(error).__name__}: {error}"
        text = where + message
        machine = getattr(error, "machine", None)
        if machine in self.by_name:
            lines = self.by_name[machine].console_lines()
            if lines:
                text += f"\nlast console lines of {machine}:\n" + "\n".join(
                    f"  {line}" for line in lines)
        details = "".join(traceback.format_list(frames))
        return text, details

    def interact(self) -> None:
        """An interactive Python session with the machines in scope."""
        namespace = self.namespace()
        history = self.run_dir.path / "driver-history"
        readline_module: Any = None
        with contextlib.suppress(ImportError):
            import readline
            import rlcompleter

            readline_module = readline
            readline.set_completer(rlcompleter.Completer(namespace).complete)
            readline.parse_and_bind("tab: complete")
            with contextlib.suppress(OSError):
                readline.read_history_file(str(history))
        names = ", ".join(python_name(m.name) for m in self.machines) or "none"
        example = (f"{python_name(self.machines[0].name)}.succeed(\"...\"), "
                   if self.machines else "")
        banner = (f"nixos-test-driver: machines {names}; start_all(), {example}"
                  + ("test_script(), " if self.script is not None else "")
                  + "...; Ctrl-D stops the machines it started and leaves")
        try:
            code.interact(banner=banner, local=namespace, exitmsg="")
        finally:
            if readline_module is not None:
                with contextlib.suppress(OSError):
                    readline_module.write_history_file(str(history))
                    os.chmod(history, 0o600)


__all__ = ["Driver"]
