"""The machines of another host, reachable here as if they ran here.

One ssh ControlMaster per VM host (hostssh.master_argv). Once a machine there
is ready, its QEMU sockets are forwarded to the paths they would have here
(RunDir.machine_sockets), its ssh port to a port here (the one ssh_config and
state.json give for it), and its console log is followed into the log here.
So `nixvms ssh`, `exec`, `cp`, `logs`, `console` and the test driver reach it
through the files they always use. The host supervisor's control socket is
forwarded too: stopping or starting one of its machines is a request to it.

Standard library only: the supervisor is copied into the network directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from . import hostssh, procs, runstate
from .errors import SupervisorError
from .placement import Placement
from .statedir import RunDir, open_private, remove_path

MASTER_WAIT = 30.0    # seconds the master has to connect before its forwards are tried
COMMAND_TIMEOUT = 30.0


def control_path(run_dir: RunDir, host: str) -> Path:
    """The host's ControlMaster socket (a short name: ssh adds 17 characters
    to it while making it)."""
    return run_dir.sockets / f"ssh-{host[:20]}"


def placement_of(run_dir: RunDir, machine: str) -> Placement | None:
    """The other host the running network placed the machine on (None: here)."""
    state = runstate.load(run_dir)
    if state is None:
        return None
    return next((p for p in state.request.remote if machine in p.machines), None)


def remote_file(run_dir: RunDir, placement: Placement, name: str) -> str:
    """A file's path in the directory of a machine on another host."""
    return str(Path(placement.state_dir) / "run" / name)


def fetch(run_dir: RunDir, placement: Placement, path: str) -> bytes:
    """A file on the host (one a machine's QEMU wrote there), through its master."""
    argv = hostssh.read_argv(placement.host, control_path(run_dir, placement.host.name), path)
    try:
        done = subprocess.run(argv, capture_output=True, check=False,
                              stdin=subprocess.DEVNULL, timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired as error:
        raise SupervisorError(f"host {placement.host.name} did not send {path} within "
                              f"{COMMAND_TIMEOUT:.0f} s") from error
    if done.returncode != 0:
        said = " ".join(done.stderr.decode(errors="replace").split())[-300:]
        raise SupervisorError(f"cannot read {path} on host {placement.host.name}: "
                              f"{said or 'no message'}")
    return done.stdout


class HostReach:
    """The ControlMaster to one host, its forwards and followed logs."""

    def __init__(self, placement: Placement, run_dir: RunDir, log: Path) -> None:
        self.placement = placement
        self.host = placement.host
        self.run_dir = run_dir
        self.log = log
        self.control = control_path(run_dir, self.host.name)
        self.control_socket = run_dir.sockets / f"ctl-{self.host.name[:20]}"
        self.remote_run = Path(placement.state_dir) / "run"
        self.master: subprocess.Popen[bytes] | None = None
        self.followers: dict[str, subprocess.Popen[bytes]] = {}
        self.forwarded: dict[str, list[tuple[str, str]]] = {}
        self.ports: dict[str, tuple[int | None, int | None]] = {}  # ssh: here, there
        self.control_forwarded = False

    def start(self) -> None:
        remove_path(self.control)
        self.control_forwarded = False
        fd = open_private(self.log, append=True)
        with os.fdopen(fd, "wb") as output:
            self.master = procs.spawn(hostssh.master_argv(self.host, self.control),
                                      env=os.environ, cwd=None, stdin=None, output=output)

    def is_running(self) -> bool:
        return self.master is not None and self.master.poll() is None

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, capture_output=True, text=True, check=False,
                              stdin=subprocess.DEVNULL, timeout=COMMAND_TIMEOUT)

    def _wait_master(self) -> None:
        deadline = time.monotonic() + MASTER_WAIT
        while time.monotonic() < deadline:
            if not self.is_running():
                break
            if self._run(hostssh.check_argv(self.host, self.control)).returncode == 0:
                return
            time.sleep(0.2)
        raise SupervisorError(f"the ssh connection to host {self.host.name} "
                              f"({self.host.ssh}) that reaches its machines is not up "
                              f"(see {self.log})")

    def _forward(self, pairs: list[tuple[str, str]], cancel: bool = False) -> None:
        done = self._run(hostssh.forward_argv(self.host, self.control, pairs, cancel))
        if done.returncode != 0 and not cancel:
            said = " ".join(done.stderr.split())[-300:]
            raise SupervisorError(f"host {self.host.name}: cannot forward "
                                  f"{pairs[0][1]} here: {said or 'no message'}")

    def reach(self, name: str, local_ssh: int | None, remote_ssh: int | None) -> None:
        """Machine `name` there is ready: its sockets, ssh port and log, here."""
        self._wait_master()
        self.unreach(name)
        self.ports[name] = (local_ssh, remote_ssh)
        pairs = [(str(local), str(self.remote_run / local.name))
                 for local in self.run_dir.machine_sockets(name)]
        if local_ssh and remote_ssh:
            pairs.append((f"127.0.0.1:{local_ssh}", f"127.0.0.1:{remote_ssh}"))
        for local, _ in pairs:
            if local.startswith("/"):
                remove_path(Path(local))
        if not self.control_forwarded:  # once per master: its supervisor's control
            remove_path(self.control_socket)
            self._forward([(str(self.control_socket), str(self.remote_run / "control"))])
            self.control_forwarded = True
        self._forward(pairs)
        self.forwarded[name] = pairs
        fd = open_private(self.run_dir.console_log(name))
        with os.fdopen(fd, "wb") as output:
            self.followers[name] = procs.spawn(
                hostssh.follow_argv(self.host, self.control,
                                    str(self.remote_run / f"{name}.log")),
                env=os.environ, cwd=None, stdin=None, output=output)

    def reconnect(self) -> None:
        """A new master (the last one was lost), and every machine reached again."""
        reached = dict(self.ports)
        procs.stop_processes(list(self.followers.values()), 1.0)
        self.followers.clear()
        self.forwarded.clear()
        self.start()
        for name, (local_ssh, remote_ssh) in reached.items():
            self.reach(name, local_ssh, remote_ssh)

    def unreach(self, name: str) -> None:
        """Machine `name` there stopped: its forwards and log follower end."""
        self.ports.pop(name, None)
        follower = self.followers.pop(name, None)
        if follower is not None:
            procs.stop_processes([follower], 1.0)
        pairs = self.forwarded.pop(name, None)
        if pairs and self.is_running():
            self._forward(pairs, cancel=True)

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """A request to the host's supervisor (its control socket, forwarded)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(COMMAND_TIMEOUT)
            try:
                s.connect(str(self.control_socket))
                s.sendall(json.dumps(message).encode() + b"\n")
                reply = s.makefile("rb").readline()
            except OSError as error:
                raise SupervisorError(f"host {self.host.name} ({self.host.ssh}) does not "
                                      f"answer: {error.strerror or error}") from error
        try:
            answer = json.loads(reply)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise SupervisorError(f"the supervisor on host {self.host.name} did not answer")
        if not answer.get("ok"):
            raise SupervisorError(f"host {self.host.name}: {answer.get('error')}")
        return answer

    def stop(self) -> None:
        """The followers, then the master (and with it every forward)."""
        procs.stop_processes(list(self.followers.values()), 1.0)
        self.followers.clear()
        if self.is_running():
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                self._run(hostssh.exit_argv(self.host, self.control))
        if self.master is not None:
            procs.stop_processes([self.master], 1.0)
        for pairs in self.forwarded.values():
            for local, _ in pairs:
                if local.startswith("/"):
                    remove_path(Path(local))
        self.forwarded.clear()
        self.control_forwarded = False
        remove_path(self.control)
        remove_path(self.control_socket)
