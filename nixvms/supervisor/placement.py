"""Where machines run: the VM hosts a network may name, and how ssh reaches one.

A host is reached with the user's own ssh (keys, agent, ~/.ssh/config); the
options here only make a lost connection show within seconds (keepalives)
and keep ssh from ever asking a question (BatchMode): a cable or a control
connection that cannot be made is an error naming the host, never a prompt.

Standard library only: the supervisor is copied into the network directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UsageError

LOCAL = "local"  # the host nixvms runs on; every machine's default
KEEPALIVE_SECONDS = 5
KEEPALIVE_COUNT = 3

_HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class VmHost:
    """A host VMs may run on, as the network's hosts table declares it."""

    name: str                        # the table's name for it (a machine's host option)
    ssh: str                         # ssh's destination: [user@]address
    port: int = 22
    identity: str = ""               # a private key for ssh -i ("": ssh's own choice)
    state_dir: str = ""              # the project's state directory there ("": ~/.nixvms-run)
    ssh_options: tuple[str, ...] = ()  # more of ssh's -o options, as NAME=VALUE

    def ssh_argv(self, program: str = "ssh") -> list[str]:
        """ssh to this host up to (not including) the remote command."""
        argv = [program, "-o", "BatchMode=yes",
                "-o", f"ServerAliveInterval={KEEPALIVE_SECONDS}",
                "-o", f"ServerAliveCountMax={KEEPALIVE_COUNT}",
                "-p", str(self.port)]
        if self.identity:
            argv += ["-i", self.identity, "-o", "IdentitiesOnly=yes"]
        for option in self.ssh_options:
            argv += ["-o", option]
        argv += ["--", self.ssh]
        return argv

    def nix_sshopts(self) -> str:
        """NIX_SSHOPTS for Nix's own ssh (nix-copy-closure): the same options."""
        return " ".join(self.ssh_argv()[1:-2])


def check_host_name(name: str) -> str:
    if not _HOST_NAME.match(name):
        raise UsageError(f"{name!r} is not a VM host's name (letters, digits, '.', '_', '-')")
    return name


def parse_override(text: str) -> tuple[str, str]:
    """MACHINE=HOST, as `--host` takes it: run MACHINE on HOST (`local`: here)."""
    machine, equals, host = text.partition("=")
    if not equals or not machine or not host:
        raise UsageError(f"--host {text!r}: write MACHINE=HOST (HOST from the network's "
                         "hosts table, or local)")
    return machine, check_host_name(host)
