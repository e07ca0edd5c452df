"""Where machines run: the VM hosts a network may name, and how ssh reaches one.

A host is reached with the user's own ssh (keys, agent, ~/.ssh/config); the
options here only make a lost connection show within seconds (keepalives)
and keep ssh from ever asking a question (BatchMode): a cable or a control
connection that cannot be made is an error naming the host, never a prompt.

Standard library only: the supervisor is copied into the network directory.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import UsageError

if TYPE_CHECKING:  # facts.py holds a VmHost: no import at run time
    from .facts import MachineFacts

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
    cable: tuple[str, ...] = ()        # its cables' shape, each way, as SETTING=VALUE

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


def default_state_dir(local_run_dir: Path, host: str) -> str:
    """A state directory on the host for a network run from local_run_dir: short,
    so that its sockets are in it (statedir.socket_dir_for), and its own per
    project and host."""
    import hashlib
    digest = hashlib.sha256(f"{local_run_dir}\0{host}".encode()).hexdigest()[:12]
    return f"/tmp/nvr-{digest}"


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


def cable_settings(host: VmHost) -> dict[str, str]:
    """The host's `cable` settings, by wirefilter.FIELDS's names."""
    return dict(item.partition("=")[::2] for item in host.cable)


def network_there(state_dir: str, network: str) -> str:
    """Where a host keeps its copy of the network directory: in its state
    directory, named by the store path's hash (a new build, a new copy)."""
    return f"{state_dir}/net-{Path(network).name.split('-')[0][:32]}"


@dataclass(frozen=True)
class Placement:
    """Machines the network runs on one VM host (StartRequest.remote; remote.py)."""

    host: VmHost
    machines: tuple[str, ...]
    state_dir: str  # the project's state directory on that host


def hosts_of(machines: Sequence[MachineFacts]) -> dict[str, VmHost]:
    """The VM hosts the machines' facts name, by name."""
    return {m.vm_host.name: m.vm_host for m in machines if m.vm_host is not None}


def place(machines: Sequence[MachineFacts], names: Sequence[str],
          overrides: Sequence[tuple[str, str]], state_dir_for: Callable[[VmHost], str]
          ) -> tuple[Placement, ...]:
    """Where the named machines run: each machine's deployment.vmHost, unless an
    override (MACHINE, HOST; HOST `local` for here) says otherwise; the
    machines on other hosts, grouped by host."""
    known = hosts_of(machines)
    by_name = {m.name: m for m in machines}
    chosen = {m.name: (m.vm_host.name if m.vm_host else LOCAL) for m in machines}
    for machine, where in overrides:
        if machine not in by_name:
            raise UsageError(f"--host {machine}={where}: there is no machine named "
                             f"{machine!r} (machines: {', '.join(by_name)})")
        if where != LOCAL and where not in known:
            raise UsageError(f"--host {machine}={where}: no machine's deployment.vmHost "
                             f"names host {where!r} (hosts: {', '.join([LOCAL, *known])})")
        chosen[machine] = where
    placements = []
    for host_name, host in known.items():
        placed = tuple(n for n in names if chosen[n] == host_name)
        if placed:
            placements.append(Placement(host, placed, host.state_dir or state_dir_for(host)))
    return tuple(placements)
