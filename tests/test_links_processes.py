"""links.py with real vde_switch and wirefilter processes, no VM: the shape
reaches the wirefilter (its own `showinfo`), a partition moves a link's VLAN
end onto a group's switch and heal moves it back, and stop leaves no process."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nixvms.supervisor.facts import LinkSettings
from nixvms.supervisor.links import Links
from nixvms.supervisor.machines import Switch
from nixvms.supervisor.wirefilter import ManagementClient
from tests.unit.test_links_plan import machine, network

pytestmark = [pytest.mark.processes]

SPEC = network(machine("a", 1, (1,), (LinkSettings(vlan=1, delay="100ms", jitter="5ms"),)),
               machine("b", 2, (1,)))


@pytest.fixture
def running() -> Iterator[tuple[Links, Switch]]:
    directory = Path(tempfile.mkdtemp(prefix="links-"))  # short socket paths
    switch = Switch(1, None, socket=directory / "vde1.ctl", log=directory / "vde1.log")
    links = Links(SPEC, directory, directory, {1: switch})
    try:
        switch.start()
        links.start(["a", "b"])
        yield links, switch
    finally:
        links.stop(1)
        switch.stop(1)
        shutil.rmtree(directory, ignore_errors=True)


def info(links: Links, name: str) -> str:
    link = links.links[name, 1]
    with ManagementClient(link.management, name) as client:
        return client.send("showinfo")


def test_the_declared_shape_is_the_wirefilters_from_its_start(
        running: tuple[Links, Switch]) -> None:
    links, _ = running
    assert "Delay  L->R 100+5U   R->L 0+0U" in info(links, "a")
    assert "Delay  L->R 0+0U   R->L 0+0U" in info(links, "b")


def test_a_setting_changed_reaches_the_wirefilter_and_the_others_stay(
        running: tuple[Links, Switch]) -> None:
    links, _ = running
    [view] = links.set("a", 1, {"loss": "5%"})
    assert view.settings == {"delay": "100ms", "jitter": "5ms", "loss": "5%"}
    shown = info(links, "a")
    assert "Loss   L->R 5+0U   R->L 0+0U" in shown
    assert "Delay  L->R 100+5U" in shown


def test_a_partition_moves_the_second_groups_links_to_a_switch_of_their_own(
        running: tuple[Links, Switch]) -> None:
    links, switch = running
    links.partition([["a"], ["b"]])
    hub = links.hubs[1][0]
    assert links.links["a", 1].target == switch.socket
    assert links.links["b", 1].target == hub.socket and hub.is_running()
    links.heal()
    assert links.links["b", 1].target == switch.socket and not hub.is_running()
    assert "Delay  L->R 0+0U" in info(links, "b")  # a moved link keeps answering


def test_stop_leaves_no_process(running: tuple[Links, Switch]) -> None:
    links, _ = running
    links.partition([["a"], ["b"]])
    processes = [link.process for link in links.links.values()] + \
        [link.side.process for link in links.links.values()] + \
        [hub.process for hub in links.hubs[1]]
    links.stop(1)
    assert all(p is not None and p.poll() is not None for p in processes)
