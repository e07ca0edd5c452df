"""The address plan is settled in the one run that needs it, through either front door."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from nixvms.supervisor.spec import load_network
from tests.conftest import REPO, Run, nixvms, run_cli, write

pytestmark = pytest.mark.nix

RUN_ID = uuid.uuid4().hex[:12]


def network(a_vlans: str) -> str:
    return f"""{{
  a = {{ virtualisation.vlans = {a_vlans}; environment.etc.run.text = "{RUN_ID}"; }};
  b = {{ networking.hostName = "bee"; networking.domain = "example.net"; }};
  c = {{ }};
}}
"""


def hosts_of(project: Path, machine: str) -> str:
    vm = os.readlink(project / "result" / "vms" / machine)
    closure = subprocess.run(["nix-store", "--query", "--requisites", vm], check=True,
                             capture_output=True, text=True).stdout.split()
    (hosts,) = [p for p in closure if p.endswith("-etc-hosts")]
    return Path(hosts).read_text()


def evaluations(run: Run) -> list[str]:
    return [line.split()[1] for line in run.stderr.splitlines() if line.startswith("evaluating ")]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Run]:
    project = tmp_path_factory.mktemp("plan") / "p"
    write(project / "network.nix", network("[ 2 ]"))
    run = nixvms("build", cwd=project)
    assert run.code == 0, run.stderr
    return project, run


def test_one_build_lists_every_machines_settled_addresses_and_names(
        built: tuple[Path, Run]) -> None:
    project, _ = built
    hosts = hosts_of(project, "c")
    assert "192.168.2.1 a\n" in hosts and "2001:db8:2::1 a\n" in hosts
    assert "192.168.1.2 bee.example.net bee\n" in hosts
    assert "192.168.1.3 c\n" in hosts


def test_one_build_builds_each_machine_once_and_evaluates_each_at_most_twice(
        built: tuple[Path, Run]) -> None:
    _, run = built
    assert run.tasks("building") == {"a", "b", "c"}
    assert sorted(line for line in run.stderr.splitlines() if line.startswith("building ")) == [
        "building a", "building b", "building c"]
    counts = {m: evaluations(run).count(m) for m in "abc"}
    assert all(1 <= n <= 2 for n in counts.values()), counts


def test_a_rebuild_after_no_edit_is_a_no_op(built: tuple[Path, Run]) -> None:
    project, _ = built
    run = nixvms("build", cwd=project)
    assert (run.tasks("evaluating"), run.tasks("building"), run.made_network) == (
        set(), set(), False), run.stderr


def test_a_second_vlan_changes_only_that_machine(built: tuple[Path, Run]) -> None:
    project, _ = built
    write(project / "network.nix", network("[ 2 3 ]"))
    run = nixvms("build", cwd=project)
    assert run.code == 0, run.stderr
    assert evaluations(run) == ["a"] and run.tasks("building") == {"a"}, run.stderr
    a = load_network(project / "result").machines[0]
    assert [x.ip for x in a.addresses] == ["192.168.2.1", "192.168.3.1"]


def test_a_first_vlan_change_replans_and_rebuilds_every_machine(
        built: tuple[Path, Run]) -> None:
    project, _ = built
    write(project / "network.nix", network("[ 4 ]"))
    run = nixvms("build", cwd=project)
    assert run.code == 0, run.stderr
    assert run.tasks("building") == {"a", "b", "c"}
    assert "192.168.4.1 a\n" in hosts_of(project, "c")
    assert nixvms("build", cwd=project).tasks("evaluating") == set()


def test_plain_doit_makes_the_same_network_in_one_run(built: tuple[Path, Run],
                                                      tmp_path: Path) -> None:
    project, _ = built
    write(project / "network.nix", network("[ 2 ]"))
    assert nixvms("build", cwd=project).code == 0
    other = tmp_path / "doit-project"
    assert nixvms("init", str(other), cwd=tmp_path).code == 0
    write(other / "network.nix", network("[ 2 ]"))
    run = run_cli("doit", cwd=other)
    assert run.code == 0, run.stdout + run.stderr
    vms = {p.name: os.readlink(p) for p in (other / "result" / "vms").iterdir()}
    mine = {p.name: os.readlink(p) for p in (project / "result" / "vms").iterdir()}
    # The same VMs but for the ssh key each project authorises (none here: no sshd).
    assert vms == mine
    again = run_cli("doit", cwd=other)
    assert ".  eval:" not in again.stdout and ".  build:" not in again.stdout


def test_the_address_formulas_are_nixos_tests(tmp_path: Path) -> None:
    formulas = REPO / "nixvms" / "nix" / "address-plan.nix"
    expression = (f"let p = import {formulas}; in "
                  "[ (p.ipv4 3 7) (p.ipv6 3 7) (p.mac 1 1) (p.mac 10 254) ]")
    out = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "-E", expression],
                         check=True, capture_output=True, text=True).stdout
    assert json.loads(out) == ["192.168.3.7", "2001:db8:3::7", "52:54:00:12:01:01",
                               "52:54:00:12:0a:fe"]


def test_named_interfaces_get_the_plans_addresses_and_their_vlans_a_switch(
        tmp_path: Path) -> None:
    write(tmp_path / "network.nix", """{
  a = { virtualisation.interfaces.lan9 = { vlan = 9; assignIP = true; }; };
  b = { };
}
""")
    run = nixvms("build", cwd=tmp_path)
    assert run.code == 0, run.stderr
    net = load_network(tmp_path / "result")
    a = net.machines[0]
    assert [(x.interface, x.ip, x.mac) for x in a.addresses] == [
        ("lan9", "192.168.9.1", "52:54:00:12:09:01")]
    assert a.vlans == (9,) and net.vlans == (1, 9)
    assert "192.168.9.1 a\n" in hosts_of(tmp_path, "b")


def test_the_recorded_system_is_the_host_platforms(tmp_path: Path) -> None:
    write(tmp_path / "network.nix", '{ a = { nixpkgs.hostPlatform = "i686-linux"; }; }\n')
    run = nixvms("build", cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert load_network(tmp_path / "result").machines[0].system == "i686-linux"


def test_nodes_give_each_machines_primary_addresses(tmp_path: Path) -> None:
    write(tmp_path / "network.nix", """{
  a = { nodes, ... }: {
    environment.etc.peer.text = nodes.b.config.networking.primaryIPAddress
      + " " + nodes.b.config.networking.primaryIPv6Address;
  };
  b = { virtualisation.vlans = [ 3 ]; };
}
""")
    run = nixvms("build", cwd=tmp_path)
    assert run.code == 0, run.stderr
    vm = os.readlink(tmp_path / "result" / "vms" / "a")
    closure = subprocess.run(["nix-store", "--query", "--requisites", vm], check=True,
                             capture_output=True, text=True).stdout.split()
    (peer,) = [p for p in closure if p.endswith("-etc-peer")]
    assert Path(peer).read_text() == "192.168.3.2 2001:db8:3::2"
