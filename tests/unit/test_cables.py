"""cables.py and placement.py: the exact command lines of a cable and of ssh to a host."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from nixvms.supervisor import launch, wirefilter
from nixvms.supervisor.cables import BOTH_WAYS, cable_argv, probe_argv
from nixvms.supervisor.errors import StartError, UsageError
from nixvms.supervisor.facts import MachineFacts
from nixvms.supervisor.hostssh import session_argv
from nixvms.supervisor.placement import Placement, VmHost, cable_settings, parse_override, place
from nixvms.supervisor.remote import remote_hub, remote_switch
from nixvms.supervisor.wirefilter import Shape
from tests.unit.test_links_plan import machine, network

HOST = VmHost(name="b", ssh="root@10.0.0.2", port=2222)
SSH = ["ssh", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=5",
       "-o", "ServerAliveCountMax=3", "-p", "2222", "--", "root@10.0.0.2"]


def test_a_cable_is_dpipe_of_the_local_plug_and_ssh_to_the_remote_plug() -> None:
    assert cable_argv(Path("/s/vde1.ctl"), HOST, "/r/run/vde1.ctl") == [
        "dpipe", "vde_plug", "/s/vde1.ctl", "=", *SSH, "vde_plug", "/r/run/vde1.ctl"]


def test_a_shaped_cable_has_a_wirefilter_in_the_pipe() -> None:
    assert cable_argv(Path("/s/vde1.ctl"), HOST, "/r/vde1.ctl", Path("/s/cable-b-1.wf")) == [
        "dpipe", "vde_plug", "/s/vde1.ctl", "=", "wirefilter", "-M", "/s/cable-b-1.wf", "=",
        *SSH, "vde_plug", "/r/vde1.ctl"]


def test_the_remote_socket_is_quoted_for_the_remote_shell() -> None:
    assert cable_argv(Path("/s/v"), HOST, "/r/my state/vde1.ctl")[-1] == \
        "'/r/my state/vde1.ctl'"


def test_a_hosts_key_and_options_reach_ssh() -> None:
    host = VmHost(name="c", ssh="c.example", identity="/k/id",
                  ssh_options=("ProxyJump=gw",))
    assert host.ssh_argv() == [
        "ssh", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=5",
        "-o", "ServerAliveCountMax=3", "-p", "22", "-i", "/k/id", "-o", "IdentitiesOnly=yes",
        "-o", "ProxyJump=gw", "--", "c.example"]


def test_the_probe_checks_ssh_and_vde_plug_in_one_connection() -> None:
    assert probe_argv(HOST)[:-1] == SSH
    assert "command -v vde_plug" in probe_argv(HOST)[-1]


def test_a_placement_override_is_machine_equals_host() -> None:
    assert parse_override("web=b") == ("web", "b")
    for bad in ("web", "=b", "web=", "web=b c"):
        with pytest.raises(UsageError):
            parse_override(bad)


# --- placement and the session with a host's supervisor ----------------------------


def _placed(name: str, host: VmHost | None) -> MachineFacts:
    return dataclasses.replace(machine(name, 1, (1,)), vm_host=host)


def test_machines_go_where_their_vm_host_says_grouped_by_host() -> None:
    machines = [_placed("a", None), _placed("b", HOST), _placed("c", HOST)]
    assert place(machines, ["a", "b", "c"], [], lambda h: f"/tmp/{h.name}") == (
        Placement(HOST, ("b", "c"), "/tmp/b"),)


def test_an_override_moves_a_machine_home_or_to_a_named_host() -> None:
    machines = [_placed("a", None), _placed("b", HOST)]
    assert place(machines, ["a", "b"], [("b", "local")], lambda h: "/s") == ()
    assert place(machines, ["a", "b"], [("a", "b")], lambda h: "/s") == (
        Placement(HOST, ("a", "b"), "/s"),)


def test_an_override_to_a_host_no_machine_names_is_refused() -> None:
    with pytest.raises(UsageError, match=r"no machine's deployment\.vmHost names host 'z'"):
        place([_placed("a", None)], ["a"], [("a", "z")], lambda h: "/s")


def test_the_hosts_supervisor_runs_the_placed_machines_there_with_events_as_json() -> None:
    assert session_argv(Placement(HOST, ("b", "c"), "/tmp/nvr-x"), "/nix/store/n-net") == [
        "ssh", "-tt", *SSH[1:],
        "/nix/store/n-net/bin/run-vms --state-dir /tmp/nvr-x --json-events --here b c"]


def test_an_accelerator_asked_for_here_is_the_hosts_too() -> None:
    assert session_argv(Placement(HOST, ("b",), "/tmp/nvr-x"), "/nix/store/n-net", "tcg")[-1] \
        == "/nix/store/n-net/bin/run-vms --state-dir /tmp/nvr-x --json-events --accel tcg --here b"


def test_the_hosts_switch_is_in_its_state_directory_which_must_hold_sockets() -> None:
    assert remote_switch("/tmp/nvr-x", 2) == "/tmp/nvr-x/run/vde2.ctl"
    with pytest.raises(StartError, match="give the host a shorter stateDir"):
        remote_switch("/tmp/" + "x" * 60, 1)


def test_a_partition_groups_hub_there_is_beside_its_vlans_switch_named_as_here() -> None:
    # links.py makes <sockets>/part<vlan>-<group> on every host: cables join them
    assert remote_hub("/tmp/nvr-x", 2, 3) == "/tmp/nvr-x/run/part2-3"


# --- a shaped cable: meta.vmHosts.<name>.cable -------------------------------------


def test_a_hosts_cable_settings_are_read_by_their_option_names() -> None:
    host = dataclasses.replace(HOST, cable=("delay=20ms", "loss=1%"))
    assert cable_settings(host) == {"delay": "20ms", "loss": "1%"}
    assert cable_settings(HOST) == {}


def test_a_cable_is_shaped_both_ways() -> None:
    lines = wirefilter.commands(Shape(delay_ms=20.0, loss_percent=1.0), BOTH_WAYS)
    assert "delay LR20+0U" in lines and "delay RL20+0U" in lines
    assert "loss LR1" in lines and "loss RL1" in lines


def test_a_bad_cable_value_is_refused_naming_the_option_before_anything_starts() -> None:
    host = dataclasses.replace(HOST, cable=("delay=fast",))
    spec = network(_placed("a", None), _placed("b", host))
    with pytest.raises(UsageError, match=r"^meta\.vmHosts\.b\.cable: .*delay"):
        launch.start_request(spec, run_dir="/r", accel="tcg", environ={})
