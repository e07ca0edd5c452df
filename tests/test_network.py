"""The address plan: numbers, IPs, MACs and /etc/hosts entries, as NixOS's tests assign them."""

import pytest

from nixvms.network import (
    MAX_MACHINES,
    Machine,
    Network,
    PlanError,
    addresses,
    check_machine_name,
    hosts_entries,
    mac_address,
    number_machines,
)


def test_machines_are_numbered_from_one_in_name_order() -> None:
    assert number_machines(["server", "client", "db"]) == {"client": 1, "db": 2, "server": 3}


def test_ip_is_192_168_vlan_number() -> None:
    (address,) = addresses(7, [3])
    assert address.ip == "192.168.3.7"
    assert address.prefix_length == 24


def test_mac_is_hex_zero_padded_lower_case() -> None:
    assert mac_address(1, 1) == "52:54:00:12:01:01"
    assert mac_address(10, 254) == "52:54:00:12:0a:fe"


def test_each_vlan_gets_the_next_nic_from_eth1() -> None:
    found = addresses(2, [5, 1])
    assert [(a.interface, a.vlan, a.ip) for a in found] == [
        ("eth1", 5, "192.168.5.2"),
        ("eth2", 1, "192.168.1.2"),
    ]


def test_vlan_out_of_range_is_refused() -> None:
    with pytest.raises(PlanError, match="VLAN 256"):
        addresses(1, [256])


def test_at_most_254_machines() -> None:
    number_machines([f"m{i}" for i in range(MAX_MACHINES)])
    with pytest.raises(PlanError, match="255 machines"):
        number_machines([f"m{i}" for i in range(MAX_MACHINES + 1)])


@pytest.mark.parametrize("name", ["a", "web-1", "X9", "a" * 63])
def test_valid_hostname_labels_are_accepted(name: str) -> None:
    check_machine_name(name)


@pytest.mark.parametrize("name", ["", "-a", "a-", "a_b", "a.b", "a b", "é", "a" * 64])
def test_invalid_hostname_labels_are_refused_by_name(name: str) -> None:
    with pytest.raises(PlanError, match="not a valid hostname"):
        check_machine_name(name)


def test_hosts_list_every_machines_first_address() -> None:
    numbers = {"a": 1, "b": 2, "c": 3}
    entries = hosts_entries(numbers, {"b": (4, 1), "c": ()})
    assert entries == [("192.168.1.1", "a"), ("192.168.4.2", "b")]


def test_network_vlans_are_the_union_of_its_machines() -> None:
    def machine(name: str, number: int, vlans: tuple[int, ...]) -> Machine:
        return Machine(name, number, "x86_64-linux", name, None, vlans, f"/nix/store/x-{name}")

    network = Network((machine("a", 1, (2, 1)), machine("b", 2, (1, 3))))
    assert network.vlans == (1, 2, 3)
    assert network.machines[0].primary_ip == "192.168.2.1"
    assert network.machines[0].run_script == "/nix/store/x-a/bin/run-a-vm"
