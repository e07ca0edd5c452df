"""cables.py and placement.py: the exact command lines of a cable and of ssh to a host."""

from __future__ import annotations

from pathlib import Path

import pytest

from nixvms.supervisor.cables import cable_argv, probe_argv
from nixvms.supervisor.errors import UsageError
from nixvms.supervisor.placement import VmHost, parse_override

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
