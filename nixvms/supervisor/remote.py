"""Machines on another host: a supervisor there, and the cables to it.

For each VM host with machines placed on it, the supervisor here runs

    ssh -tt HOST NETWORK/bin/run-vms --state-dir STATE --json-events MACHINE...

(the network directory, copied there with its closure by `nixvms up`, carries
the stdlib-only supervisor: the host needs Nix's store, QEMU and vde2, nothing
of nixvms), reads that supervisor's events (JSON lines) and reports them as
its own, and joins each VLAN of those machines with one cable (cables.py).
The ssh session has a terminal (-tt), so when it ends, whether stopped here
or lost, the supervisor there gets SIGHUP and stops its machines: nothing is
left on either host.

Standard library only: the supervisor is copied into the network directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import procs, wirefilter
from .cables import PROBE_TIMEOUT, Cable, probe, ssh_said
from .errors import StartError, SupervisorError
from .hostreach import HostReach
from .hostssh import session_argv, stop_argv, unpack_argv
from .links import hub_name
from .placement import Placement, cable_settings, network_there
from .procs import ProcessRecord
from .statedir import UNIX_PATH_MAX, RunDir, open_private, socket_dir_for
from .text import tail_lines
from .wirefilter import Shape

CABLE_RETRY = 1.0      # seconds between tries while the host's switch is not there yet
CABLE_DEADLINE = 120.0  # the host's supervisor has this long to make its switches
CABLE_SETTLED = 2.0    # a cable up this long has joined
MASTER_RETRY = 2.0     # seconds between tries to make a lost ControlMaster again
STOP_TIMEOUT = 60.0    # a host whose session was lost has this long to stop its machines


def remote_switch(state_dir: str, vlan: int) -> str:
    """The host's switch for VLAN, where its supervisor makes it (RunDir.switch_socket)."""
    run = Path(state_dir) / "run"
    if socket_dir_for(run) != run:
        raise StartError(f"the state directory {state_dir} on the VM host is too long or "
                         f"not plain for its sockets (at most {UNIX_PATH_MAX} bytes); "
                         "give the host a shorter stateDir")
    return str(run / f"vde{vlan}.ctl")


def remote_hub(state_dir: str, vlan: int, group: int) -> str:
    """The host's hub of a group (2nd on) of a partitioned VLAN (links.py)."""
    return str(Path(remote_switch(state_dir, vlan)).parent / hub_name(vlan, group))


def send_network(placement: Placement, network: str) -> None:
    """The network directory's own files (launcher, supervisor, network.json) to
    the host, as a tar over ssh (network_there); its VMs go with Nix's copy."""
    there = network_there(placement.state_dir, network)
    host = placement.host
    try:
        with subprocess.Popen(["tar", "-C", network, "-c", "."], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL) as tar:
            done = subprocess.run(unpack_argv(host, there), stdin=tar.stdout,
                                  capture_output=True, text=True, check=False,
                                  timeout=PROBE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise StartError(f"cannot copy the network directory to host {host.name} "
                         f"({host.ssh}): {error}") from error
    if done.returncode != 0:
        said = ssh_said(done.stderr)
        raise StartError(f"cannot copy the network directory to host {host.name} "
                         f"({host.ssh}): {said or f'exit status {done.returncode}'}")


class RemoteHost:
    """The session with one host's supervisor, and its cables."""

    def __init__(self, placement: Placement, network: str, vlans: Sequence[int],
                 local_switches: dict[int, Path], run_dir: RunDir, accel: str = "") -> None:
        self.placement = placement
        self.accel = accel  # "kvm" or "tcg" as asked for here; "": the host probes
        self.host = placement.host
        self.spec_path = network
        self.network = network_there(placement.state_dir, network)  # its copy there
        log_dir = run_dir.path
        # its machines' sockets, ssh and logs, here (hostreach.py)
        self.reach = HostReach(placement, run_dir, log_dir / f"host-{self.host.name}.ssh.log")
        self.local_ports: dict[str, int] = {}  # ssh ports here, forwarded to theirs there
        self.log = log_dir / f"host-{self.host.name}.log"
        self.run_dir = run_dir
        self.cables = [self.cable(v, local_switches[v]) for v in vlans]
        self.hub_cables: list[Cable] = []  # a partition's groups joined (remotes.py)
        self.partitioned = False
        self.process: subprocess.Popen[bytes] | None = None
        self.command: tuple[str, ...] = ()
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.began = 0.0
        self.joined: set[int] = set()
        self.switches_made = False
        self.cable_said: dict[int, str] = {}
        self.cable_started: dict[int, float] = {}
        self.lost_said = False
        self.master_lost_said = False
        self.master_retried = 0.0
        self.stopping = False

    def cable(self, vlan: int, local_switch: Path, group: int = 0) -> Cable:
        """The cable of VLAN to this host (group: of a partition's hub on each
        side instead); shaped when meta.vmHosts.<name>.cable says."""
        shaped = bool(self.host.cable)
        shape = wirefilter.updated(Shape(), cable_settings(self.host)) if shaped else None
        tag = f"{vlan}-{group}" if group else f"{vlan}"
        remote = remote_hub(self.placement.state_dir, vlan, group) if group else \
            remote_switch(self.placement.state_dir, vlan)
        return Cable(vlan, self.host, local_switch, remote,
                     self.run_dir.path / f"cable-{self.host.name}-{tag}.log",
                     self.run_dir.sockets / f"cable-{self.host.name[:20]}-{tag}.wf"
                     if shaped else None, shape, group)

    def join_hub(self, vlan: int, group: int, hub: Path) -> None:
        """A cable between our hub of a partition's group and the host's."""
        cable = self.cable(vlan, hub, group)
        cable.start()
        self.hub_cables.append(cable)

    def part_hubs(self) -> None:
        for cable in self.hub_cables:
            cable.stop(1.0)
        self.hub_cables.clear()

    def start(self) -> None:
        probe(self.host)
        send_network(self.placement, self.spec_path)
        command = session_argv(self.placement, self.network, self.accel)
        self.command = tuple(command)
        fd = open_private(self.log)
        os.close(fd)  # the reader thread appends every line it reads
        self.process = procs.spawn(command, env=os.environ, cwd=None, stdin=subprocess.PIPE,
                                   output=subprocess.PIPE)  # type: ignore[arg-type]
        self.began = time.monotonic()
        self.started_at = time.time()
        threading.Thread(target=self._read, daemon=True).start()
        self.reach.start()

    def session_record(self) -> ProcessRecord | None:
        """The session's ssh: what runs the host's machines, as seen from here."""
        if self.process is None:
            return None
        return ProcessRecord.of(self.process.pid, self.command, self.started_at)

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        with open(self.log, "ab") as log:
            for raw in self.process.stdout:
                log.write(raw)
                log.flush()
                line = raw.decode(errors="replace").strip()
                if line.startswith("{"):
                    with contextlib.suppress(ValueError):
                        event = json.loads(line)
                        if isinstance(event, dict):
                            self.events.put(event)

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def poll(self) -> list[dict[str, Any]]:
        """The host's events since last asked (said as this supervisor's own),
        cables started or retried, and a lost session said once."""
        out: list[dict[str, Any]] = []
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                break
            if event.get("event") in ("started", "stage", "ready"):
                self.switches_made = True  # it makes its switches before its machines
            if event.get("event") in ("ready", "died", "stage", "warning", "info"):
                if event.get("event") in ("warning", "info"):
                    event = {**event, "message": f"host {self.host.name}: {event['message']}"}
                out += self._reach(event)
                out.append(event)
        if self.stopping:
            return out
        if not self.is_running():
            if not self.lost_said:
                self.lost_said = True
                self.reach.stop()
                said = [line for line in tail_lines(self.log, 5)
                        if line.strip() and not line.lstrip().startswith("{")]
                out.append({"event": "warning", "message": (
                    f"the connection to host {self.host.name} ({self.host.ssh}) was lost; "
                    f"its machines are unreachable: {', '.join(self.placement.machines)} "
                    f"(see {self.log})")})
                # said as deaths too: whoever waits for them to be ready stops waiting
                out += [{"event": "died", "machine": name, "unreachable": True,
                         "status": f"its host {self.host.name} is unreachable",
                         "lines": said} for name in self.placement.machines]
            return out
        out += self._watch_master()
        # a partition's hub cable that ended by itself: said once, as a VLAN's is
        out += [{"event": "warning", "message": lost}
                for lost in (cable.lost() for cable in self.hub_cables) if lost]
        now = time.monotonic()
        # a cable plugged in before the host's switch is there would fail, or
        # look joined while its ssh is still connecting on a loaded machine
        for cable in self.cables if self.switches_made else ():
            if cable.vlan in self.joined:
                lost = cable.lost()
                if lost:
                    out.append({"event": "warning", "message": lost})
                continue
            if cable.is_running():
                if now - self.cable_started[cable.vlan] >= CABLE_SETTLED:
                    self.joined.add(cable.vlan)
                    out.append({"event": "info", "message":
                                f"VLAN {cable.vlan} joined to host {self.host.name}"})
            elif now - self.began > CABLE_DEADLINE:
                if cable.lost() is not None:
                    out.append({"event": "warning", "message": cable.lost_line()})
            elif now - self.cable_started.get(cable.vlan, 0.0) >= CABLE_RETRY:
                self.cable_started[cable.vlan] = now
                try:
                    cable.start()  # the host's switch may not be there yet: again later
                except StartError as error:
                    if error.message != self.cable_said.get(cable.vlan):  # said once
                        out.append({"event": "warning", "message": error.message})
                    self.cable_said[cable.vlan] = error.message
        return out

    def _watch_master(self) -> list[dict[str, Any]]:
        """The connection that reaches the host's machines from here, lost: said
        once, then made again (and every forward with it) while the session lives."""
        if self.reach.master is None or self.reach.is_running():
            return []
        out: list[dict[str, Any]] = []
        if not self.master_lost_said:
            self.master_lost_said = True
            out.append({"event": "warning", "message": (
                f"the ssh connection that reaches host {self.host.name}'s machines from "
                f"here ({self.host.ssh}) was lost; reconnecting (see {self.reach.log})")})
        now = time.monotonic()
        if now - self.master_retried >= MASTER_RETRY:
            self.master_retried = now
            try:
                self.reach.reconnect()
            except SupervisorError:
                return out  # again later; a host that is gone loses the session too
            self.master_lost_said = False
            out.append({"event": "info", "message": f"reconnected to host {self.host.name}: "
                        f"its machines are reachable from here again"})
        return out

    def _reach(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """A machine there ready: reached from here; stopped: no longer."""
        name = str(event.get("machine"))
        if name not in self.placement.machines:
            return []
        if event.get("event") == "died":
            self.reach.unreach(name)
        if event.get("event") != "ready":
            return []
        port = event.get("ssh_port")
        try:
            self.reach.reach(name, self.local_ports.get(name),
                             port if isinstance(port, int) else None)
        except SupervisorError as error:
            return [{"event": "warning", "message": error.message}]
        return []

    def stop(self, timeout: float) -> str | None:
        """Cables first, then the session: its SIGHUP stops the host's supervisor,
        which stops its machines before the session ends. A session already
        lost: the host is asked to stop them (run-vms --stop over ssh). One line
        naming the host and its machines when that cannot be done; else None."""
        self.stopping = True
        self.part_hubs()
        for cable in self.cables:
            cable.stop(1.0)
        self.reach.stop()
        if self.process is None:
            return None
        if self.process.poll() is not None:
            return self._stop_there()
        # Ctrl-C on the session's terminal: the host's run-vms stops its
        # network and ends, and so does ssh; else the session is cut (SIGHUP there)
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.write(b"\x03")
            self.process.stdin.flush()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout + 10)
        procs.stop_processes([self.process], 1.0)
        return None

    def _stop_there(self) -> str | None:
        argv = stop_argv(self.placement, self.network)
        try:
            done = subprocess.run(argv, capture_output=True, text=True, check=False,
                                  stdin=subprocess.DEVNULL, timeout=STOP_TIMEOUT)
            code, said = done.returncode, " | ".join(
                line for line in done.stderr.splitlines() if line.strip())[-300:]
        except subprocess.TimeoutExpired:
            code, said = -1, f"no answer within {STOP_TIMEOUT:.0f} s"
        if code == 0:
            return None
        return (f"could not reach host {self.host.name} ({self.host.ssh}) to stop "
                f"{', '.join(self.placement.machines)} there: {said or f'exit status {code}'}")
