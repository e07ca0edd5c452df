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

from . import procs
from .errors import StartError
from .placement import VmHost
from .statedir import open_private
from .text import tail_lines

DEFAULT_STOP_TIMEOUT = 5.0
PROBE_TIMEOUT = 30.0


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
        said = " | ".join(line for line in done.stderr.splitlines() if line.strip())[-300:]
        raise StartError(f"host {host.name} ({host.ssh}) cannot be reached over ssh "
                         f"(exit status {done.returncode}): {said or 'no message'}")


class Cable:
    """One VLAN's cable to one host: a dpipe of vde_plug, ssh and vde_plug."""

    def __init__(self, vlan: int, host: VmHost, local: Path, remote: str, log: Path,
                 management: Path | None = None) -> None:
        self.vlan = vlan
        self.host = host
        self.local = local
        self.remote = remote
        self.log = log
        self.management = management
        self.process: subprocess.Popen[bytes] | None = None
        self.command: tuple[str, ...] = ()
        self.reported = False

    @property
    def who(self) -> str:
        return f"the cable of VLAN {self.vlan} to host {self.host.name}"

    def start(self) -> None:
        for program in ("dpipe", "vde_plug"):
            if shutil.which(program) is None:
                raise StartError(f"{program} is not installed (it comes with vde2); "
                                 f"{self.who} needs it")
        self.command = tuple(cable_argv(self.local, self.host, self.remote, self.management))
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
