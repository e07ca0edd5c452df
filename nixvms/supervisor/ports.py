"""Host ports for the VMs' forwards: 127.0.0.1 only, chosen without races.

Choosing a free port and having QEMU bind it are two steps; between them
another network could choose the same port. So every supervisor of the user
chooses ports and starts its VMs under one lock (an flock in the user's
private directory, /tmp/nixvms-<uid>/ports.lock) and keeps it until QEMU
has bound them. A port taken by someone who does not take that lock shows as
QEMU's "Could not set up host forwarding rule"; the supervisor then chooses
again (supervisor.py).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import socket
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import PortError, UsageError
from .statedir import make_private_dir, refuse_symlink

DEFAULT_SSH_PORT_BASE = 10022
_FORWARD = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*):([0-9]{1,5}):([0-9]{1,5})$")


@dataclass(frozen=True)
class Forward:
    """--forward MACHINE:HOSTPORT:GUESTPORT."""

    machine: str
    host_port: int
    guest_port: int


def parse_forward(text: str) -> Forward:
    match = _FORWARD.match(text)
    if not match:
        raise UsageError(
            f"--forward {text!r} is not MACHINE:HOSTPORT:GUESTPORT (e.g. web:8080:80)"
        )
    host, guest = int(match.group(2)), int(match.group(3))
    for port in (host, guest):
        if not 1 <= port <= 65535:
            raise UsageError(f"--forward {text!r}: {port} is not a port number (1-65535)")
    return Forward(match.group(1), host, guest)


def parse_port_base(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise UsageError(f"the ssh port base must be a port number (1-65535), not {text!r}")
    return int(text)


def port_free(port: int) -> bool:
    """Whether 127.0.0.1:port can be bound now, as QEMU binds a forward: with
    SO_REUSEADDR, so that the TIME_WAIT left by a connection that was closed
    (an ssh session to a machine that stopped) does not count as in use."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_ports(base: int, count: int, avoid: Iterable[int] = ()) -> list[int]:
    """`count` free ports from `base` up, skipping `avoid`; PortError when they run out."""
    avoided = set(avoid)
    chosen: list[int] = []
    port = base
    while len(chosen) < count:
        if port > 65535:
            raise PortError(
                f"no free ports for {count} ssh forward(s) from {base} up to 65535 "
                f"(found {len(chosen)}); choose a lower base (NIXVMS_SSH_PORT_BASE)"
            )
        if port not in avoided and port_free(port):
            chosen.append(port)
        port += 1
    return chosen


STABLE_SPAN = 2000  # the stable ssh ports of all projects lie in base .. base+STABLE_SPAN


def stable_port(base: int, project: str, machine: str) -> int:
    """The ssh port a machine of a project asks for first: derived from both,
    so it is the same on every `up` (a copied ssh_config entry stays right)."""
    digest = hashlib.sha256(f"{project}\0{machine}".encode()).digest()
    return base + int.from_bytes(digest[:4], "big") % STABLE_SPAN


def choose_port(preferred: Sequence[int], base: int, avoid: Iterable[int] = ()) -> int:
    """The first of `preferred` that is free, else the first free from base up."""
    avoided = set(avoid)
    for port in preferred:
        if 0 < port <= 65535 and port not in avoided and port_free(port):
            return port
    return choose_ports(base, 1, avoided)[0]


class PortLock:
    """The user's lock around choosing ports and starting the VMs that bind them."""

    def __init__(self) -> None:
        directory = make_private_dir(
            Path(tempfile.gettempdir()) / f"nixvms-{os.geteuid()}", "the socket directory",
            follow=False)
        path = directory / "ports.lock"
        refuse_symlink(path)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)

    def __enter__(self) -> PortLock:
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
