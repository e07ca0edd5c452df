"""The network's plain data and its address plan.

The plan follows NixOS's test framework (nixos/lib/testing/network.nix):
machines sorted by name are numbered 1..n; on VLAN v machine i has the IP
192.168.v.i/24 and the MAC 52:54:00:12:vv:ii. Its k-th VLAN (k from 1) is
the NIC eth<k>; eth0 is QEMU's user-mode network.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MAX_MACHINES = 254
MAX_VLAN = 255
DEFAULT_VLANS: tuple[int, ...] = (1,)

# A hostname label (RFC 1123): letters, digits and inner hyphens, 1..63 long.
_HOSTNAME_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class PlanError(ValueError):
    """The network cannot be given addresses (bad name, too many machines)."""


@dataclass(frozen=True)
class Address:
    """One NIC of one machine on one VLAN."""

    vlan: int
    interface: str
    ip: str
    prefix_length: int
    mac: str


@dataclass(frozen=True)
class Machine:
    """A built machine: what run-vms and network.json need to know of it."""

    name: str
    number: int
    system: str
    host_name: str
    target_host: str | None
    vlans: tuple[int, ...]
    vm: str  # the VM's store path; bin/run-<host_name>-vm inside it

    @property
    def addresses(self) -> tuple[Address, ...]:
        return addresses(self.number, self.vlans)

    @property
    def primary_ip(self) -> str | None:
        found = self.addresses
        return found[0].ip if found else None

    @property
    def run_script(self) -> str:
        return f"{self.vm}/bin/run-{self.host_name}-vm"


@dataclass(frozen=True)
class Network:
    machines: tuple[Machine, ...]

    @property
    def vlans(self) -> tuple[int, ...]:
        return tuple(sorted({v for m in self.machines for v in m.vlans}))


def check_machine_name(name: str) -> None:
    if not _HOSTNAME_LABEL.match(name):
        raise PlanError(
            f"machine name {name!r} is not a valid hostname label "
            "(letters, digits and inner hyphens, at most 63 characters)"
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


def ip_address(vlan: int, number: int) -> str:
    return f"192.168.{vlan}.{number}"


def mac_address(vlan: int, number: int) -> str:
    return f"52:54:00:12:{vlan:02x}:{number:02x}"


def addresses(number: int, vlans: Iterable[int]) -> tuple[Address, ...]:
    result = []
    for k, vlan in enumerate(vlans, start=1):
        if not 1 <= vlan <= MAX_VLAN:
            raise PlanError(f"VLAN {vlan} is out of range 1..{MAX_VLAN}")
        result.append(
            Address(
                vlan=vlan,
                interface=f"eth{k}",
                ip=ip_address(vlan, number),
                prefix_length=24,
                mac=mac_address(vlan, number),
            )
        )
    return tuple(result)


def hosts_entries(
    numbers: Mapping[str, int], vlans: Mapping[str, tuple[int, ...]]
) -> list[tuple[str, str]]:
    """(first IP, name) for every machine, as every machine's /etc/hosts lists them.

    A machine's VLANs come from its last evaluation; one never evaluated is
    assumed to be on the default VLAN until its evaluation says otherwise.
    """
    entries = []
    for name, number in sorted(numbers.items(), key=lambda item: item[1]):
        machine_vlans = vlans.get(name, DEFAULT_VLANS)
        if machine_vlans:
            entries.append((ip_address(machine_vlans[0], number), name))
    return entries
