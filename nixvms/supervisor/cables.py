"""Cables: one VLAN's switch here joined to its switch on another host.

vde2's own way, no tunnel of ours: `dpipe vde_plug LOCAL = ssh HOST vde_plug
REMOTE` carries the VLAN's frames over one ssh connection; with a wirefilter
in the pipe when the cable is shaped (`... = wirefilter -M MGMT = ...`).
One cable per VLAN per remote host. ssh's keepalives end a cable whose
connection is lost within about 15 s; the supervisor then says so in one
line naming the host (Cable.lost).

Standard library only: the supervisor is copied into the network directory.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

from . import procs, wirefilter
from .errors import LinkError, StartError
from .placement import VmHost
from .statedir import open_private, remove_path
from .text import tail_lines
from .wirefilter import Shape

DEFAULT_STOP_TIMEOUT = 5.0
PROBE_TIMEOUT = 30.0
SHAPE_TIMEOUT = 10.0  # a shaped cable's wirefilter has this long to answer
BOTH_WAYS = ("LR", "RL")  # a cable's shape: here to the host, and back


def cable_argv(local: Path, host: VmHost, remote: str, management: Path | None = None,
               *, dpipe: str = "dpipe", plug: str = "vde_plug",
               wirefilter: str = "wirefilter") -> list[str]:
    """The cable's command line. The remote socket travels through the remote
    shell (ssh joins its arguments), so it is quoted for it."""
    shaped = [wirefilter, "-M", str(management), "="] if management is not None else []
    return [dpipe, plug, str(local), "=", *shaped,
            *host.ssh_argv(), "vde_plug", shlex.quote(remote)]


def probe_argv(host: VmHost) -> list[str]:
    """What a cable needs on the host: ssh gets in, and vde_plug is there."""
    return [*host.ssh_argv(), "command -v vde_plug >/dev/null || "
            "{ echo 'vde_plug is not installed (vde2)' >&2; exit 127; }"]


def probe(host: VmHost) -> None:
    """StartError in one line naming the host when ssh cannot reach it or it lacks vde2."""
    try:
        done = subprocess.run(probe_argv(host), capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT, check=False, stdin=subprocess.DEVNULL)
    except FileNotFoundError as error:
        raise StartError("ssh is not installed (it comes with openssh-client); it reaches "
                         f"host {host.name}") from error
    except subprocess.TimeoutExpired as error:
        raise StartError(f"host {host.name} ({host.ssh}) did not answer ssh within "
                         f"{PROBE_TIMEOUT:.0f} s") from error
    if done.returncode != 0:
        said = ssh_said(done.stderr)
        raise StartError(f"host {host.name} ({host.ssh}) cannot be reached over ssh "
                         f"(exit status {done.returncode}): {said or 'no message'}")


def ssh_said(stderr: str) -> str:
    """What ssh (or the command it ran) said, on one line: its last 300 characters."""
    return " | ".join(line for line in stderr.splitlines() if line.strip())[-300:]


class Cable:
    """One VLAN's cable to one host: a dpipe of vde_plug, ssh and vde_plug."""

    def __init__(self, vlan: int, host: VmHost, local: Path, remote: str, log: Path,
                 management: Path | None = None, shape: Shape | None = None,
                 group: int = 0) -> None:
        self.vlan = vlan
        self.group = group  # a partition's group whose hubs it joins; 0: the VLAN's switches
        self.host = host
        self.local = local
        self.remote = remote
        self.log = log
        self.management = management
        self.shape = shape  # with management: its wirefilter's shape, each way
        self.process: subprocess.Popen[bytes] | None = None
        self.command: tuple[str, ...] = ()
        self.reported = False

    @property
    def who(self) -> str:
        group = f" (partition group {self.group})" if self.group else ""
        return f"the cable of VLAN {self.vlan}{group} to host {self.host.name}"

    def start(self) -> None:
        for program in ("dpipe", "vde_plug") + (("wirefilter",) if self.management else ()):
            if shutil.which(program) is None:
                raise StartError(f"{program} is not installed (it comes with vde2); "
                                 f"{self.who} needs it")
        self.command = tuple(cable_argv(self.local, self.host, self.remote, self.management))
        if self.management is not None:
            remove_path(self.management)
        fd = open_private(self.log)
        with os.fdopen(fd, "wb") as output:
            # dpipe's ends read their stdin; ours is a pipe held open, so the
            # cable lives as long as this process (and dies with it). dpipe
            # makes its own process group, which a session leader cannot:
            # no session of its own, the group is still its alone.
            self.process = procs.spawn(self.command, env=os.environ, cwd=None,
                                       stdin=subprocess.PIPE, output=output,
                                       new_session=False)
        self.reported = False
        if self.management is not None:
            self._shape(self.management, self.shape or Shape())

    def _shape(self, management: Path, shape: Shape) -> None:
        """Its wirefilter given the shape, once it answers; StartError (the cable
        stopped) if it never does: a cable is never left unshaped."""
        deadline = time.monotonic() + SHAPE_TIMEOUT
        while True:
            try:
                with wirefilter.ManagementClient(management, self.who) as client:
                    client.run(wirefilter.commands(shape, BOTH_WAYS))
                return
            except LinkError as error:
                if not self.is_running() or time.monotonic() > deadline:
                    self.stop(1.0)
                    raise StartError(f"{self.who} was not shaped: {error.message}") from None
                time.sleep(0.05)

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_settled(self, seconds: float) -> None:
        """StartError if the cable ends within `seconds` (ssh refused, say)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise StartError(self.lost_line())
            time.sleep(0.05)

    def lost_line(self) -> str:
        lines = [line for line in tail_lines(self.log, 3) if line.strip()]
        said = f": {lines[-1]}" if lines else ""
        return f"{self.who} ({self.host.ssh}) was lost{said}"

    def lost(self) -> str | None:
        """One line, once, if the cable ended by itself."""
        if self.process is None or self.process.poll() is None or self.reported:
            return None
        self.reported = True
        return self.lost_line()

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        if self.process is not None:
            procs.stop_processes([self.process], timeout)
            if self.process.stdin:
                with contextlib.suppress(OSError):
                    self.process.stdin.close()
