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
import shlex
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import procs
from .cables import Cable, probe
from .errors import StartError
from .placement import Placement
from .statedir import UNIX_PATH_MAX, open_private, socket_dir_for
from .text import tail_lines

CABLE_RETRY = 1.0      # seconds between tries while the host's switch is not there yet
CABLE_DEADLINE = 120.0  # the host's supervisor has this long to make its switches
CABLE_SETTLED = 2.0    # a cable up this long has joined


def default_state_dir(local_run_dir: Path, host: str) -> str:
    """A state directory on the host for a network run from local_run_dir: short,
    so that its sockets are in it (statedir.socket_dir_for), and its own per
    project and host."""
    import hashlib
    digest = hashlib.sha256(f"{local_run_dir}\0{host}".encode()).hexdigest()[:12]
    return f"/tmp/nvr-{digest}"


def remote_switch(state_dir: str, vlan: int) -> str:
    """The host's switch for VLAN, where its supervisor makes it (RunDir.switch_socket)."""
    run = Path(state_dir) / "run"
    if socket_dir_for(run) != run:
        raise StartError(f"the state directory {state_dir} on the VM host is too long or "
                         f"not plain for its sockets (at most {UNIX_PATH_MAX} bytes); "
                         "give the host a shorter stateDir")
    return str(run / f"vde{vlan}.ctl")


def session_argv(placement: Placement, network: str) -> list[str]:
    """ssh -tt HOST run-vms ... (the remote command, quoted for its shell)."""
    ssh = placement.host.ssh_argv()
    remote = [f"{network}/bin/run-vms", "--state-dir", placement.state_dir, "--json-events",
              "--here", *placement.machines]
    return [ssh[0], "-tt", *ssh[1:], " ".join(shlex.quote(part) for part in remote)]


class RemoteHost:
    """The session with one host's supervisor, and its cables."""

    def __init__(self, placement: Placement, network: str, vlans: Sequence[int],
                 local_switches: dict[int, Path], log_dir: Path) -> None:
        self.placement = placement
        self.host = placement.host
        self.network = network
        self.log = log_dir / f"host-{self.host.name}.log"
        self.cables = [Cable(v, self.host, local_switches[v],
                             remote_switch(placement.state_dir, v),
                             log_dir / f"cable-{self.host.name}-{v}.log") for v in vlans]
        self.process: subprocess.Popen[bytes] | None = None
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.began = 0.0
        self.joined: set[int] = set()
        self.cable_started: dict[int, float] = {}
        self.lost_said = False
        self.stopping = False

    def start(self) -> None:
        probe(self.host)
        command = session_argv(self.placement, self.network)
        fd = open_private(self.log)
        os.close(fd)  # the reader thread appends every line it reads
        self.process = procs.spawn(command, env=os.environ, cwd=None, stdin=subprocess.PIPE,
                                   output=subprocess.PIPE)  # type: ignore[arg-type]
        self.began = time.monotonic()
        threading.Thread(target=self._read, daemon=True).start()

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
            if event.get("event") in ("ready", "died", "stage", "warning", "info"):
                if event.get("event") in ("warning", "info"):
                    event = {**event, "message": f"host {self.host.name}: {event['message']}"}
                out.append(event)
        if self.stopping:
            return out
        if not self.is_running():
            if not self.lost_said:
                self.lost_said = True
                said = [line for line in tail_lines(self.log, 5)
                        if line.strip() and not line.lstrip().startswith("{")]
                out.append({"event": "warning", "message": (
                    f"the connection to host {self.host.name} ({self.host.ssh}) was lost; "
                    f"its machines are unreachable: {', '.join(self.placement.machines)} "
                    f"(see {self.log})")})
                # said as deaths too: whoever waits for them to be ready stops waiting
                out += [{"event": "died", "machine": name,
                         "status": f"its host {self.host.name} is unreachable",
                         "lines": said} for name in self.placement.machines]
            return out
        now = time.monotonic()
        for cable in self.cables:
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
                cable.start()  # the host's switch may not be there yet: again later
                self.cable_started[cable.vlan] = now
        return out

    def stop(self, timeout: float) -> None:
        """Cables first, then the session: its SIGHUP stops the host's supervisor,
        which stops its machines before the session ends."""
        self.stopping = True
        for cable in self.cables:
            cable.stop(1.0)
        if self.process is None or self.process.poll() is not None:
            return
        # Ctrl-C on the session's terminal: the host's run-vms stops its
        # network and ends, and so does ssh; else the session is cut (SIGHUP there)
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.write(b"\x03")
            self.process.stdin.flush()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout + 10)
        procs.stop_processes([self.process], 1.0)
