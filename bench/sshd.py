"""An sshd on a free 127.0.0.1 port with keys made for it: "another host" that
is this machine (tests/test_cables.py, bench/cable.py). Needs root (sshd's
privilege separation) and openssh-server."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")


@dataclass(frozen=True)
class Sshd:
    port: int
    client_key: Path
    known_hosts: Path

    def ssh_options(self) -> tuple[str, ...]:
        return (f"UserKnownHostsFile={self.known_hosts}", "StrictHostKeyChecking=yes",
                "LogLevel=ERROR")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_sshd(directory: Path) -> Iterator[Sshd]:
    """sshd -D in `directory` until the block ends."""
    directory.mkdir(parents=True, exist_ok=True)
    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        str(directory / key)], check=True)
    (directory / "authorized_keys").write_text((directory / "client_key.pub").read_text())
    port = free_port()
    host_public = (directory / "host_key.pub").read_text().split()
    (directory / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_public[0]} "
                                           f"{host_public[1]}\n")
    (directory / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {directory / 'host_key'}\n"
        f"PidFile {directory / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {directory / 'authorized_keys'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n")
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    log = directory / "sshd.log"
    with log.open("wb") as output:
        proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(directory / "sshd_config")],
                                stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {log.read_text()}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"sshd did not listen on {port}: {log.read_text()}")
            time.sleep(0.05)
        yield Sshd(port, directory / "client_key", directory / "known_hosts")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
