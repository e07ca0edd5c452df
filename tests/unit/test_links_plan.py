"""links.py's plan, before any process: which links get a wirefilter, where each
NIC plugs in, and what a request for a link that has none is told."""

from __future__ import annotations

from pathlib import Path

import pytest

from nixvms.supervisor.errors import LinkError, UsageError
from nixvms.supervisor.facts import LinkSettings, MachineFacts
from nixvms.supervisor.links import Links, declared_shapes
from nixvms.supervisor.machines import Switch
from nixvms.supervisor.spec import NetworkSpec
from nixvms.supervisor.wirefilter import Shape


def machine(name: str, number: int, vlans: tuple[int, ...],
            links: tuple[LinkSettings, ...] = ()) -> MachineFacts:
    return MachineFacts(name=name, number=number, system="x86_64-linux", host_name=name,
                        system_name=name, domain=None, target_host=None, tags=(),
                        vlans=vlans, addresses=(), ssh_ports=(), forward_ports=(),
                        vm=f"/nix/store/{name}", links=links)


def network(*machines: MachineFacts) -> NetworkSpec:
    vlans = tuple(sorted({v for m in machines for v in m.vlans}))
    return NetworkSpec(path="/n", machines=machines, vlans=vlans, state_dir=None, ssh_key=None)


def links_of(spec: NetworkSpec, tmp_path: Path) -> Links:
    switches = {v: Switch(v, None, socket=tmp_path / f"vde{v}.ctl", log=tmp_path / f"{v}.log")
                for v in spec.vlans}
    return Links(spec, tmp_path, tmp_path, switches)


SPEC = network(machine("a", 1, (1, 2), (LinkSettings(vlan=1, delay="100ms"),)),
               machine("b", 2, (1, 2)))


def test_every_machine_on_a_declared_vlan_gets_a_link_and_no_one_else(tmp_path: Path) -> None:
    assert sorted(links_of(SPEC, tmp_path).links) == [("a", 1), ("b", 1)]


def test_a_nic_plugs_into_its_links_side_or_else_its_vlans_switch(tmp_path: Path) -> None:
    links = links_of(SPEC, tmp_path)
    assert links.vde_sockets(SPEC.machines[1]) == {1: tmp_path / "link2-1",
                                                  2: tmp_path / "vde2.ctl"}


def test_the_declared_shape_is_the_links_shape_at_start(tmp_path: Path) -> None:
    links = links_of(SPEC, tmp_path)
    assert links.links["a", 1].shape == Shape(delay_ms=100.0)
    assert links.links["b", 1].shape == Shape()


def test_a_link_of_an_undeclared_vlan_says_how_to_declare_it(tmp_path: Path) -> None:
    with pytest.raises(LinkError, match=r'declare virtualisation.vlanLinks."2" = \{ \};'):
        links_of(SPEC, tmp_path).set("a", 2, {"delay": "1ms"})


def test_a_partition_of_a_vlan_without_wirefilters_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LinkError, match="VLAN 2 has no wirefilters to partition"):
        links_of(network(machine("a", 1, (2,)), machine("b", 2, (2,)),
                         machine("c", 3, (1,), (LinkSettings(vlan=1),))),
                 tmp_path).partition([["a"], ["b"]])


def test_a_machine_in_two_groups_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="machine a is in two groups"):
        links_of(SPEC, tmp_path).partition([["a"], ["a", "b"]])


def test_a_declared_bad_value_names_the_machine_and_the_option() -> None:
    spec = network(machine("a", 1, (1,), (LinkSettings(vlan=1, loss="5"),)))
    with pytest.raises(UsageError, match=r'^machine a: virtualisation.vlanLinks."1": '
                                         r"link loss '5' is not a percentage"):
        declared_shapes(spec)


def test_a_declared_vlan_the_machine_is_not_on_is_refused() -> None:
    spec = network(machine("a", 1, (1,), (LinkSettings(vlan=3),)))
    with pytest.raises(UsageError, match="the machine is not on VLAN 3"):
        declared_shapes(spec)


def test_the_hubs_a_hosts_machines_need_joined_are_their_groups_past_the_first(
        tmp_path: Path) -> None:
    spec = network(*(machine(n, i, (2,), (LinkSettings(vlan=2),))
                     for i, n in enumerate("abcd", 1)))
    links = links_of(spec, tmp_path)
    links.groups.update({("a", 2): 1, ("b", 2): 2, ("c", 2): 2, ("d", 2): 3})
    links.hubs[2] = [Switch(2, None, socket=Path(f"/s/part2-{g}"), log=Path("/l"))
                     for g in (2, 3)]
    # c and d on another host: group 2 spans both hosts, group 3 is there only
    assert links.hubs_of(2, ["c", "d"]) == {2: Path("/s/part2-2"), 3: Path("/s/part2-3")}
    assert links.hubs_of(2, ["a"]) == {}
