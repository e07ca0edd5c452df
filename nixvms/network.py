"""The address plan's inputs: the machines' numbers and what /etc/hosts lists.

The plan follows NixOS's test framework (nixos/lib/testing/network.nix):
machines sorted by name are numbered 1..n; every machine's /etc/hosts lists
each machine's first-VLAN addresses with its hostName (and hostName.domain).
The addresses themselves are computed in one place, nix/address-plan.nix,
and read back from each machine's evaluation (its MachineFacts,
supervisor/facts.py): Python numbers the machines and settles what
/etc/hosts must list, nothing more.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from functools import cached_property

from nixvms.errors import NixvmsError

MAX_MACHINES = 254

# A machine name as NixOS accepts a node's name: its networking.hostName type
# (nixos/modules/tasks/network-interfaces.nix), letters and digits with inner
# hyphens and underscores, 1..63 long.
_HOSTNAME_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$")


class PlanError(NixvmsError):
    """The network cannot be given addresses (bad name, too many machines)."""


@dataclass(frozen=True)
class HostEntry:
    """What every machine's /etc/hosts says of one machine (network-module.nix)."""

    number: int
    vlan: int | None  # its first VLAN; None: it has no VLAN NIC, so no entry
    hostName: str
    domain: str | None


@dataclass(frozen=True)
class Plan:
    """The address plan one evaluation is given: the same for every machine."""

    numbers: Mapping[str, int]
    hosts: tuple[HostEntry, ...]
    ssh_public_key: str

    @cached_property
    def as_json(self) -> str:
        """The plan as the glue reads it (planJSON), made once per plan."""
        return json.dumps({
            "numbers": dict(self.numbers),
            "hosts": [asdict(h) for h in self.hosts],
            "sshPublicKey": self.ssh_public_key,
        }, sort_keys=True)

    @cached_property
    def digest(self) -> str:
        return hashlib.sha256(self.as_json.encode()).hexdigest()


@dataclass(frozen=True)
class Naming:
    """What the plan needs of one machine's evaluation."""

    vlans: tuple[int, ...]
    host_name: str
    domain: str | None


def default_naming(machine: str) -> Naming:
    """What a machine not yet evaluated is assumed to be: NixOS's defaults."""
    return Naming(vlans=(1,), host_name=machine, domain=None)


def make_plan(numbers: Mapping[str, int], naming: Mapping[str, Naming],
              ssh_public_key: str) -> Plan:
    hosts = []
    for name, number in sorted(numbers.items(), key=lambda item: item[1]):
        found = naming.get(name) or default_naming(name)
        hosts.append(HostEntry(number, found.vlans[0] if found.vlans else None,
                               found.host_name, found.domain))
    return Plan(dict(numbers), tuple(hosts), ssh_public_key)


def check_machine_name(name: str) -> None:
    if not _HOSTNAME_LABEL.match(name):
        raise PlanError(
            f"machine name {name!r} is not a valid hostname label "
            "(letters, digits and inner hyphens or underscores, at most 63 characters, "
            "as NixOS's networking.hostName)"
        )


def number_machines(names: Iterable[str]) -> dict[str, int]:
    """Give each machine its number: 1..n in sorted name order."""
    ordered = sorted(set(names))
    for name in ordered:
        check_machine_name(name)
    if len(ordered) > MAX_MACHINES:
        raise PlanError(
            f"the network has {len(ordered)} machines; the address plan "
            f"(192.168.<vlan>.<n>) allows at most {MAX_MACHINES}"
        )
    return {name: i for i, name in enumerate(ordered, start=1)}
