"""network.json: what a network directory says of its machines; one writer, one loader.

nixvms writes it when it makes the network directory (render.py, with
`network_data`); the supervisor, the test driver, nixvms's network commands,
`nixvms graph` and shell completion read it with `load_network`, and nothing
else parses it. Its form, version 2:

    version     2
    machines    one MachineFacts per machine (facts.py, typedjson's form), by number
    vlans       every VLAN a machine is on: a switch each
    stateDir    the project's default state directory (optional)
    sshKey      the private key ssh_config names, IdentityFile (optional)

Network directories made before network.json had a version (one a running
network was started from, say) are read too: their machines had camelCase
keys, most of them optional, and where `openssh` or `forwardPorts` is
absent the built VM itself says (`vm_enables_openssh`, `vm_forward_ports`).

A network.json that cannot be read is one SupervisorError naming the file
and what is wrong with it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import typedjson
from .errors import SupervisorError, UsageError
from .facts import Address, Forward, MachineFacts

VERSION = 2


class NotANetworkDirectory(SupervisorError):
    """The directory has no network.json (a `result` not made yet, say)."""


@dataclass(frozen=True)
class NetworkSpec:
    path: str  # the network directory (a store path, or any directory in tests)
    machines: tuple[MachineFacts, ...]
    vlans: tuple[int, ...]
    state_dir: str | None
    ssh_key: str | None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.machines)

    def machine(self, name: str) -> MachineFacts:
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

    def select(self, names: tuple[str, ...] | list[str]) -> tuple[MachineFacts, ...]:
        """The named machines (all when none named), in the network's order."""
        if not names:
            return self.machines
        wanted = {self.machine(n).name for n in names}
        return tuple(m for m in self.machines if m.name in wanted)


def vlans_of(machines: Iterable[MachineFacts]) -> tuple[int, ...]:
    """Every VLAN some machine is on, in order."""
    return tuple(sorted({v for m in machines for v in m.vlans}))


def network_data(machines: Sequence[MachineFacts], *, state_dir: str | None = None,
                 ssh_key: str | None = None) -> dict[str, Any]:
    """network.json's content as plain data: the machines by number."""
    ordered = sorted(machines, key=lambda m: (m.number, m.name))
    data: dict[str, Any] = {
        "version": VERSION,
        "machines": [typedjson.to_data(m) for m in ordered],
        "vlans": list(vlans_of(ordered)),
    }
    if state_dir is not None:
        data["stateDir"] = state_dir
    if ssh_key is not None:
        data["sshKey"] = ssh_key
    return data


def load_network(directory: str | os.PathLike[str]) -> NetworkSpec:
    """The network of a network directory (`result`, or its store path)."""
    path = Path(directory)
    file = f"{path}/network.json"
    try:
        real = path.resolve(strict=True)
        text = (real / "network.json").read_text()
    except FileNotFoundError as error:
        raise NotANetworkDirectory(f"{path} is not a network directory (no network.json)") \
            from error
    except (OSError, UnicodeDecodeError) as error:
        raise SupervisorError(f"{file} cannot be read: {error}") from error
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise SupervisorError(f"{file} cannot be read: it is not JSON ({error})") from error
    if not isinstance(data, dict) or not isinstance(data.get("machines"), list):
        raise SupervisorError(f"{file} is not a network nixvms made (it has no machine list)")
    version = data.get("version")
    if version == VERSION:
        machines = tuple(_machine(file, i, m) for i, m in enumerate(data["machines"], 1))
        vlans = _vlans(file, data.get("vlans"))
    elif version is None:
        machines = tuple(_unversioned_machine(file, i, m)
                         for i, m in enumerate(data["machines"], 1))
        vlans = _vlans(file, data.get("vlans", [])) or vlans_of(machines)
    else:
        raise SupervisorError(f"{file} is of version {version!r}; this supervisor reads "
                              f"version {VERSION} (and the unversioned form before it)")
    seen: set[str] = set()
    for m in machines:
        if m.name in seen:
            raise SupervisorError(f"{file} names machine {m.name!r} twice")
        seen.add(m.name)
    return NetworkSpec(
        path=str(real),
        machines=machines,
        vlans=vlans,
        state_dir=_text(file, data, "stateDir"),
        ssh_key=_text(file, data, "sshKey"),
    )


def _vlans(file: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise SupervisorError(f"{file}: its vlans are not a list of numbers: {value!r}")
    return tuple(value)


def _text(file: str, data: Mapping[str, Any], key: str) -> str | None:
    """An optional string of network.json's ("" or absent: None)."""
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise SupervisorError(f"{file}: its {key} is not a string: {value!r}")
    return value or None


def _machine(file: str, position: int, data: Any) -> MachineFacts:
    facts = typedjson.from_data(MachineFacts, data)
    if facts is not None:
        return facts
    if not isinstance(data, dict):
        raise SupervisorError(f"{file}: machine {position} is not a JSON object")
    who = f"machine {position}" + (f" ({data['name']})" if isinstance(data.get("name"), str)
                                   else "")
    missing = [f.name for f in dataclasses.fields(MachineFacts) if f.name not in data
               and f.default is dataclasses.MISSING]  # one with a default may be absent
    if missing:
        raise SupervisorError(f"{file}: {who} lacks {', '.join(missing)}")
    raise SupervisorError(f"{file}: {who} has a field of the wrong type "
                          "(facts.MachineFacts says what each holds)")


def _unversioned_machine(file: str, position: int, data: Any) -> MachineFacts:
    """A machine of network.json before version 2: camelCase keys, only name and vm needed."""
    try:
        vm = str(data["vm"])
        name = str(data["name"])
        host_name = str(data.get("hostName") or name)
        system_name = str(data.get("systemName") or host_name)
        openssh = data.get("openssh")
        if openssh is None:
            openssh = vm_enables_openssh(vm)
        run_script = f"{vm}/bin/run-{system_name}-vm"
        return MachineFacts(
            name=name,
            number=int(data.get("number", position)),
            system=str(data.get("system", "")),
            host_name=host_name,
            system_name=system_name,
            domain=data.get("domain") or None,
            target_host=data.get("targetHost") or None,
            tags=tuple(str(t) for t in data.get("tags", [])),
            vlans=tuple(int(v) for v in data.get("vlans", [])),
            addresses=tuple(
                Address(vlan=int(a["vlan"]), interface=str(a["interface"]), ip=str(a["ip"]),
                        ipv6=str(a.get("ipv6", "")), mac=str(a.get("mac", "")),
                        prefix_length=int(a.get("prefixLength", 24)))
                for a in data.get("addresses", [])),
            ssh_ports=(int(data.get("sshPort", 22)),) if openssh else (),
            forward_ports=tuple(
                Forward(proto=str(f.get("proto", "tcp")), host_port=int(f["hostPort"]),
                        guest_port=int(f["guestPort"]),
                        host_address=str(f.get("hostAddress", "")))
                for f in data["forwardPorts"]
            ) if "forwardPorts" in data else vm_forward_ports(run_script),
            vm=vm,
        )
    except KeyError as error:
        raise SupervisorError(f"{file}: machine {position} lacks {error}") from error
    except (AttributeError, TypeError, ValueError) as error:
        raise SupervisorError(f"{file}: machine {position} cannot be read: {error}") from error


def vm_enables_openssh(vm: str) -> bool:
    """Whether a built VM runs an ssh server, read from its system's /etc.

    Used only for a network.json that does not say: NixOS's etc has
    ssh/sshd_config with openssh on, tinyos's has ssh/authorized_keys.d.
    """
    etc = Path(vm) / "system" / "etc" / "ssh"
    try:
        return (etc / "sshd_config").exists() or (etc / "authorized_keys.d").exists()
    except OSError:  # a VM we may not look into runs no ssh server we can reach
        return False


# qemu-vm.nix writes virtualisation.forwardPorts into the VM script as
# hostfwd=PROTO:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT (NixOS and tinyos alike).
_HOSTFWD = re.compile(r"hostfwd=(tcp|udp):([0-9.]*):([0-9]+)-([0-9.]*):([0-9]+)")


def vm_forward_ports(run_script: str) -> tuple[Forward, ...]:
    """The forwards a VM script sets up itself, read from its text (for a
    network.json that does not say)."""
    try:
        script = Path(run_script).read_text(errors="replace")
    except OSError:
        return ()
    return tuple(Forward(proto=m.group(1), host_port=int(m.group(3)),
                         guest_port=int(m.group(5)), host_address=m.group(2))
                 for m in _HOSTFWD.finditer(script))
