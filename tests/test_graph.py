"""`nixvms graph`: the network of the last build as a picture (DOT, SVG, PNG),
and the task graph coloured by what the next build would do."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from nixvms import graph
from nixvms.supervisor import spec
from nixvms.supervisor.facts import Forward
from tests.conftest import nixvms, write
from tests.unit.test_facts import machine_facts

NETWORK = """{
  web = { ... }: {
    virtualisation.vlans = [ 1 2 ];
    deployment.targetHost = "web.example.net";
    virtualisation.forwardPorts = [ { from = "host"; host.port = 18080; guest.port = 80; } ];
  };
  db = import ./db.nix;
}
"""
DB = "{ ... }: { virtualisation.vlans = [ 2 ]; networking.hostName = \"database\"; }\n"

NETWORK_SPEC = spec.NetworkSpec(
    path="/nix/store/x-network",
    machines=(
        machine_facts("a", 1, system="i686-linux", target_host="a.example", ssh_ports=(2222,),
                      forward_ports=(Forward("udp", 5353, 53, "127.0.0.1"),)),
        machine_facts("b", 2, (1, 7), host_name="bee", ssh_ports=()),
    ),
    vlans=(1, 7), state_dir=None, ssh_key=None)


def test_the_network_dot_names_every_machine_with_system_and_target_host() -> None:
    dot = graph.network_dot(NETWORK_SPEC)
    assert '"machine:a" [' in dot
    assert "a\\ni686-linux\\ntargetHost a.example\\nssh port 2222" in dot
    assert "b\\nhostName bee\\nx86_64-linux" in dot


def test_the_network_dot_wires_each_address_to_its_vlan_switch() -> None:
    dot = graph.network_dot(NETWORK_SPEC)
    assert 'label="VLAN 1"' in dot and 'label="VLAN 7"' in dot
    assert '"machine:b" -- "vlan7" [label="eth2\\n192.168.7.2/24"];' in dot


def test_the_network_dot_draws_forwarded_ports_from_the_host() -> None:
    dot = graph.network_dot(NETWORK_SPEC)
    assert '"host" -- "machine:a" [style=dashed, label="127.0.0.1:5353 -> 53/udp"];' in dot


def test_dot_strings_escape_quotes_and_backslashes() -> None:
    assert graph.quote('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'


def test_the_format_comes_from_the_option_else_the_output_suffix() -> None:
    assert graph.format_for(Path("x.png"), None) == "png"
    assert graph.format_for(Path("x.SVG"), None) == "svg"
    assert graph.format_for(Path("x.png"), "svg") == "svg"
    assert graph.format_for(None, None) == "dot"
    assert graph.format_for(Path("x.txt"), None) == "dot"


def test_the_task_graph_colours_each_task_by_its_state() -> None:
    states = {"eval:a": graph.TaskState("up to date"),
              "build:a": graph.TaskState("will run", ("its VM is gone",)),
              "plan": graph.TaskState("up to date"),
              "network": graph.TaskState("unknown", ("made again if a VM changes",))}
    dot = graph.tasks_dot(states)
    assert re.search(r'"build:a" \[fillcolor="#ffd8a8", label="build:a\\nwill run", '
                     r'tooltip="its VM is gone"\]', dot)
    assert '"eval:a" -> "plan";' in dot and '"build:a" -> "network";' in dot


def test_graph_before_any_build_says_to_build_first(project: Path) -> None:
    write(project / "network.nix", "{ a = { ... }: { }; }\n")
    run = nixvms("graph", cwd=project)
    assert run.code == 1
    assert run.stderr.endswith("has not been built yet (no network.json): "
                               "`nixvms build` first\n")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("graph") / "project"
    write(project / "network.nix", NETWORK)
    write(project / "db.nix", DB)
    run = nixvms("build", cwd=project)
    assert run.code == 0, run.stderr
    return project


@pytest.mark.nix
def test_graph_dot_names_every_machine_vlan_target_host_and_forward(built: Path) -> None:
    run = nixvms("graph", cwd=built)
    assert run.code == 0, run.stderr
    for text in ('"machine:web"', '"machine:db"', 'label="VLAN 1"', 'label="VLAN 2"',
                 "targetHost web.example.net", "hostName database",
                 "0.0.0.0:18080 -> 80", '"machine:db" -- "vlan2" [label="eth1\\n192.168.2.1/24"]'):
        assert text in run.stdout


@pytest.mark.nix
@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graph_writes_a_png_and_an_svg(built: Path) -> None:
    assert nixvms("graph", "-o", "net.png", cwd=built).code == 0
    assert (built / "net.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    run = nixvms("graph", "--format", "svg", "-o", "net.picture", cwd=built)
    assert run.code == 0 and run.stderr == "wrote net.picture\n"
    svg = (built / "net.picture").read_text()
    assert "<svg" in svg and "web.example.net" in svg and "VLAN 2" in svg


@pytest.mark.nix
def test_the_task_graph_of_an_unchanged_project_is_all_up_to_date(built: Path) -> None:
    run = nixvms("graph", "--tasks", cwd=built)
    assert run.code == 0, run.stderr
    labels = re.findall(r'label="([a-z]+(?::\w+)?)\\n([a-z ]+)"', run.stdout)
    assert sorted(labels) == sorted(
        [(task, "up to date") for task in ("eval:db", "eval:web", "plan", "build:db",
                                           "build:web", "network")])


@pytest.mark.nix
def test_the_task_graph_marks_the_evaluation_of_an_edited_machine(built: Path) -> None:
    original = (built / "db.nix").read_text()
    try:
        (built / "db.nix").write_text(original.replace("database", "database2"))
        run = nixvms("graph", "--tasks", cwd=built)
    finally:
        (built / "db.nix").write_text(original)
    assert 'label="eval:db\\nwill run"' in run.stdout
    assert 'label="eval:web\\nup to date"' in run.stdout
    assert 'label="build:db\\nunknown"' in run.stdout
    assert f"{built}/db.nix changed" in run.stdout
