"""What a machine is: the one record of it, from its evaluation to its run.

A `MachineFacts` is made once, by the machine's evaluation (nix/machine.nix
writes it in this shape; nix.evaluate_machine reads it), embedded in the
evaluation's record (records.Evaluation), written into network.json, one
per machine (spec.network_data), and read back from there by the
supervisor, the test driver, `nixvms graph` and shell completion, all
through spec.load_network. Its JSON form is typedjson's: the field names
below, every field's type checked.

Standard library only: the supervisor is copied into the network directory.
"""

from __future__ import annotations

from dataclasses import dataclass

from .placement import VmHost


@dataclass(frozen=True)
class Address:
    """One VLAN NIC of a machine and the address plan's addresses on it (nix/nics.nix)."""

    vlan: int
    interface: str  # eth1 for its first VLAN (eth0 is user-mode networking)
    ip: str  # IPv4; "" where the interface is given none (assignIP = false)
    ipv6: str
    mac: str
    prefix_length: int  # of ip (nix/network-module.nix: 24)


@dataclass(frozen=True)
class Forward:
    """A virtualisation.forwardPorts entry from the host: the VM script sets it up."""

    proto: str  # tcp or udp
    host_port: int
    guest_port: int
    host_address: str  # "" binds every address of the host (NixOS's default)

    def describe(self) -> str:
        where = self.host_address or "0.0.0.0"
        return f"{where}:{self.host_port}->{self.guest_port}" + (
            f"/{self.proto}" if self.proto != "tcp" else "")


@dataclass(frozen=True)
class LinkSettings:
    """A virtualisation.vlanLinks entry (nix/vlan-links.nix): how the machine's
    link to one VLAN behaves, as written ("" where not set); wirefilter.py reads it."""

    vlan: int
    delay: str = ""
    jitter: str = ""
    loss: str = ""
    loss_burst: str = ""
    duplicate: str = ""
    bandwidth: str = ""
    mtu: str = ""

    def given(self) -> dict[str, str]:
        """The settings set, by their option names (wirefilter.FIELDS)."""
        named = {"delay": self.delay, "jitter": self.jitter, "loss": self.loss,
                 "lossBurst": self.loss_burst, "duplicate": self.duplicate,
                 "bandwidth": self.bandwidth, "mtu": self.mtu}
        return {k: v for k, v in named.items() if v}


@dataclass(frozen=True)
class MachineFacts:
    """What a machine is: its names, its place in the network, how to reach it, its VM."""

    name: str  # its attribute name in the network file
    number: int  # the address plan's: 1..n in name order
    system: str  # the platform it runs (x86_64-linux, ...)
    host_name: str  # networking.hostName
    system_name: str  # system.name: the VM script is bin/run-<system_name>-vm
    domain: str | None  # networking.domain
    target_host: str | None  # deployment.targetHost
    tags: tuple[str, ...]  # deployment.tags (--on @tag)
    vlans: tuple[int, ...]  # the VLANs of its NICs, in NIC order: a switch each
    addresses: tuple[Address, ...]
    ssh_ports: tuple[int, ...]  # services.openssh.ports; empty: no ssh server
    forward_ports: tuple[Forward, ...]
    vm: str  # the VM's store path (system.build.vm)
    # virtualisation.vlanLinks: its links given a wirefilter (links.py); a
    # network.json written before them has none
    links: tuple[LinkSettings, ...] = ()
    # virtualisation.memorySize, MiB (capacity.py); 0: not known (an older network.json)
    memory_size: int = 0
    # deployment.vmHost's entry of the network's meta.vmHosts (nix/vm-hosts.nix);
    # None: it runs where nixvms runs
    vm_host: VmHost | None = None

    @property
    def openssh(self) -> bool:
        """Whether it runs an ssh server (services.openssh.enable)."""
        return bool(self.ssh_ports)

    @property
    def ssh_port(self) -> int:
        """The guest port the host forwards its ssh port to."""
        return self.ssh_ports[0] if self.ssh_ports else 22

    @property
    def run_script(self) -> str:
        # qemu-vm.nix: bin/run-${config.system.name}-vm
        return f"{self.vm}/bin/run-{self.system_name}-vm"

    @property
    def disk_name(self) -> str:
        # qemu-vm.nix's NIX_DISK_IMAGE default: ./${config.system.name}.qcow2
        return f"{self.system_name}.qcow2"
