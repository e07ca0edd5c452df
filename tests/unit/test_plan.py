"""The address plan's inputs: numbers, hostname labels and what /etc/hosts lists."""

from __future__ import annotations

import pytest

from nixvms.network import (
    MAX_MACHINES,
    HostEntry,
    Naming,
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


@pytest.mark.parametrize("name", ["a", "web-1", "X9", "a" * 63, "server_lazy", "1db"])
def test_valid_hostname_labels_are_accepted(name: str) -> None:
    check_machine_name(name)


@pytest.mark.parametrize("name", ["", "-a", "a-", "_a", "a_", "a.b", "a b", "é", "a" * 64])
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
