"""The address plan's inputs: numbers, hostname labels and what /etc/hosts lists."""

from __future__ import annotations

import pytest

from nixvms.network import (
    MAX_MACHINES,
    HostEntry,
    Machine,
    Naming,
    Network,
    Nic,
    PlanError,
    check_machine_name,
    make_plan,
    number_machines,
)


def test_machines_are_numbered_from_one_in_name_order() -> None:
    assert number_machines(["server", "client", "db"]) == {"client": 1, "db": 2, "server": 3}


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


def test_hosts_list_each_machines_first_vlan_hostname_and_domain() -> None:
    plan = make_plan({"a": 1, "b": 2, "c": 3}, {
        "b": Naming(vlans=(4, 1), host_name="bee", domain="example.net"),
        "c": Naming(vlans=(), host_name="c", domain=None),
    }, "key")
    assert plan.hosts == (
        HostEntry(1, 1, "a", None),  # not evaluated yet: NixOS's defaults
        HostEntry(2, 4, "bee", "example.net"),
        HostEntry(3, None, "c", None),  # no VLAN, no entry in /etc/hosts
    )


def test_the_plan_digest_changes_with_any_entry() -> None:
    numbers = {"a": 1}
    same = make_plan(numbers, {}, "key").digest
    assert make_plan(numbers, {}, "key").digest == same
    assert make_plan(numbers, {"a": Naming((2,), "a", None)}, "key").digest != same
    assert make_plan(numbers, {}, "other key").digest != same


def machine(name: str, number: int, vlans: tuple[int, ...], system_name: str = "") -> Machine:
    nics = tuple(Nic(v, f"eth{k}", f"192.168.{v}.{number}", f"2001:db8:{v}::{number}", "m")
                 for k, v in enumerate(vlans, start=1))
    return Machine(name, number, "x86_64-linux", name, None, vlans, f"/nix/store/x-{name}",
                   system_name=system_name, nics=nics)


def test_network_vlans_are_the_union_of_its_machines() -> None:
    network = Network((machine("a", 1, (2, 1)), machine("b", 2, (1, 3))))
    assert network.vlans == (1, 2, 3)
    assert network.machines[0].primary_ip == "192.168.2.1"


def test_the_vm_script_is_named_by_system_name() -> None:
    assert machine("a", 1, (1,), system_name="custom").run_script == (
        "/nix/store/x-a/bin/run-custom-vm")
    assert machine("a", 1, (1,)).run_script == "/nix/store/x-a/bin/run-a-vm"
