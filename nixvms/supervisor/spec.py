"""What the supervisor knows of a network: network.json, read into plain data.

network.json is written by nixvms (render.network_data) into the network
directory. Fields the supervisor reads, all but `machines` optional:

    machines[].name, hostName, systemName, vm, vlans, targetHost
    machines[].addresses[] {vlan, interface, ip, prefixLength, mac}
    machines[].openssh      services.openssh.enable (absent: read from the VM)
    machines[].sshPort      the guest's ssh port (default 22)
    machines[].forwardPorts virtualisation.forwardPorts [{proto, hostAddress, hostPort,
                            guestPort}] (absent: read from the VM script's hostfwd=)
    vlans[]
    stateDir                the project's default state directory
    sshKey                  the private key ssh_config names (IdentityFile)
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SupervisorError, UsageError


@dataclass(frozen=True)
class Address:
    vlan: int
    interface: str
    ip: str


@dataclass(frozen=True)
class GuestForward:
    """A forward the VM script sets up itself (virtualisation.forwardPorts)."""

    proto: str
    host_port: int
    guest_port: int
    host_address: str = ""  # "": every address of the host

    def describe(self) -> str:
        where = self.host_address or "0.0.0.0"
        return f"{where}:{self.host_port}->{self.guest_port}" + (
            f"/{self.proto}" if self.proto != "tcp" else "")


# qemu-vm.nix writes virtualisation.forwardPorts into the VM script as
# hostfwd=PROTO:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT (NixOS and tinyos alike).
_HOSTFWD = re.compile(r"hostfwd=(tcp|udp):([0-9.]*):([0-9]+)-([0-9.]*):([0-9]+)")


def vm_forward_ports(run_script: str) -> tuple[GuestForward, ...]:
    """The forwards a VM script sets up itself, read from its text."""
    try:
        script = Path(run_script).read_text(errors="replace")
    except OSError:
        return ()
    return tuple(GuestForward(proto=m.group(1), host_port=int(m.group(3)),
                              guest_port=int(m.group(5)), host_address=m.group(2))
                 for m in _HOSTFWD.finditer(script))


@dataclass(frozen=True)
class MachineSpec:
    name: str
    host_name: str
    vm: str
    vlans: tuple[int, ...]
    target_host: str | None
    addresses: tuple[Address, ...]
    openssh: bool
    ssh_port: int
    forward_ports: tuple[GuestForward, ...]
    system_name: str  # qemu-vm.nix's VM script is bin/run-<system.name>-vm

    @property
    def run_script(self) -> str:
        return f"{self.vm}/bin/run-{self.system_name}-vm"

    @property
    def disk_name(self) -> str:
        return f"{self.system_name}.qcow2"


@dataclass(frozen=True)
class NetworkSpec:
    path: str  # the network directory (a store path, or any directory in tests)
    machines: tuple[MachineSpec, ...]
    vlans: tuple[int, ...]
    state_dir: str | None
    ssh_key: str | None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.machines)

    def machine(self, name: str) -> MachineSpec:
        """The machine by name or deployment.targetHost; UsageError if none."""
        for m in self.machines:
            if m.name == name:
                return m
        for m in self.machines:
            if m.target_host == name:
                return m
        raise UsageError(
            f"there is no machine named {name!r} in this network "
            f"(machines: {', '.join(self.names)})"
        )

    def select(self, names: tuple[str, ...] | list[str]) -> tuple[MachineSpec, ...]:
        """The named machines (all when none named), in the network's order."""
        if not names:
            return self.machines
        wanted = {self.machine(n).name for n in names}
        return tuple(m for m in self.machines if m.name in wanted)


def vm_enables_openssh(vm: str) -> bool:
    """Whether a built VM runs an ssh server, read from its system's /etc.

    Used only when network.json does not say (it records
    services.openssh.enable when the build knows it): NixOS's etc has
    ssh/sshd_config with openssh on, tinyos's has ssh/authorized_keys.d.
    """
    etc = Path(vm) / "system" / "etc" / "ssh"
    return (etc / "sshd_config").exists() or (etc / "authorized_keys.d").exists()


def _machine(data: dict[str, Any]) -> MachineSpec:
    vm = str(data["vm"])
    openssh = data.get("openssh")
    host_name = str(data.get("hostName") or data["name"])
    system_name = str(data.get("systemName") or host_name)
    run_script = str(data.get("runScript") or f"{vm}/bin/run-{system_name}-vm")
    return MachineSpec(
        name=str(data["name"]),
        host_name=host_name,
        system_name=system_name,
        vm=vm,
        vlans=tuple(int(v) for v in data.get("vlans", [])),
        target_host=data.get("targetHost") or None,
        addresses=tuple(
            Address(vlan=int(a["vlan"]), interface=str(a["interface"]), ip=str(a["ip"]))
            for a in data.get("addresses", [])
        ),
        openssh=bool(openssh) if openssh is not None else vm_enables_openssh(vm),
        ssh_port=int(data.get("sshPort", 22)),
        forward_ports=tuple(
            GuestForward(proto=str(f.get("proto", "tcp")), host_port=int(f["hostPort"]),
                         guest_port=int(f["guestPort"]),
                         host_address=str(f.get("hostAddress", "")))
            for f in data["forwardPorts"]
        ) if "forwardPorts" in data else vm_forward_ports(run_script),
    )


def load_network(directory: str | os.PathLike[str]) -> NetworkSpec:
    """The network of a network directory (`result`, or its store path)."""
    path = Path(directory)
    try:
        real = path.resolve(strict=True)
        data = json.loads((real / "network.json").read_text())
        machines = tuple(_machine(m) for m in data["machines"])
        vlans = tuple(int(v) for v in data.get("vlans", []))
    except FileNotFoundError as error:
        raise SupervisorError(f"{path} is not a network directory (no network.json)") from error
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SupervisorError(f"{path}/network.json cannot be read: {error}") from error
    return NetworkSpec(
        path=str(real),
        machines=machines,
        vlans=vlans or tuple(sorted({v for m in machines for v in m.vlans})),
        state_dir=data.get("stateDir") or None,
        ssh_key=data.get("sshKey") or None,
    )
