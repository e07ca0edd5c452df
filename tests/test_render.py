"""Rendering of the network directory's files: network.json and bin/run-vms (the launcher)."""

from __future__ import annotations

import json
import re
import subprocess
from importlib.resources import files
from pathlib import Path

import pytest

from nixvms.render import (
    LAUNCHERS,
    RenderError,
    render_launcher,
    render_network_json,
    shell_quote,
    templates_digest,
    write_network_files,
)
from nixvms.supervisor import spec
from nixvms.supervisor.facts import MachineFacts
from tests.unit.test_facts import machine_facts


def two_machines() -> tuple[MachineFacts, ...]:
    return (
        machine_facts("server", 2, (1, 2), vm="/nix/store/bbbb-vm-server"),
        machine_facts("client", 1, vm="/nix/store/aaaa-vm-client",
                      target_host="client.example.net", system="i686-linux"),
    )


def test_network_json_lists_the_machines_facts_by_number_and_every_vlan() -> None:
    data = json.loads(render_network_json(two_machines()))
    client, server = data["machines"]
    assert (client["name"], client["number"], server["name"]) == ("client", 1, "server")
    assert server["addresses"] == [
        {"vlan": 1, "interface": "eth1", "ip": "192.168.1.2", "ipv6": "2001:db8:1::2",
         "prefix_length": 24, "mac": "52:54:00:12:01:02"},
        {"vlan": 2, "interface": "eth2", "ip": "192.168.2.2", "ipv6": "2001:db8:2::2",
         "prefix_length": 24, "mac": "52:54:00:12:02:02"},
    ]
    assert data["vlans"] == [1, 2]


def test_network_json_loads_back_as_the_machines_it_was_rendered_from(tmp_path: Path) -> None:
    write_network_files(two_machines(), tmp_path, ssh_key="/k", state_dir="/s")
    assert spec.load_network(tmp_path).machines == tuple(reversed(two_machines()))


def test_network_json_records_the_projects_state_dir_and_ssh_key() -> None:
    data = json.loads(render_network_json(two_machines(), state_dir="/p/.nixvms/run",
                                          ssh_key="/p/.nixvms/ssh/id_ed25519"))
    assert data["stateDir"] == "/p/.nixvms/run"
    assert data["sshKey"] == "/p/.nixvms/ssh/id_ed25519"


def test_network_json_is_stable_sorted_indented_with_trailing_newline() -> None:
    network = two_machines()
    text = render_network_json(network)
    assert render_network_json(tuple(reversed(network))) == text
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


def test_unchanged_input_writes_identical_files(tmp_path: Path) -> None:
    write_network_files(two_machines(), tmp_path / "a", ssh_key="/k", state_dir="/s")
    write_network_files(two_machines(), tmp_path / "b", ssh_key="/k", state_dir="/s")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(["network.json", *LAUNCHERS])
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.parametrize("name", LAUNCHERS)
def test_the_launchers_pass_a_shell_syntax_check(tmp_path: Path, name: str) -> None:
    script = tmp_path / name
    script.write_text(render_launcher(name))
    result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr


def test_every_launcher_interpolation_is_shell_quoted_or_a_fixed_name() -> None:
    text = files("nixvms").joinpath("templates").joinpath("launcher.sh.j2").read_text()
    expressions = [e.strip() for e in re.findall(r"\{\{(.*?)\}\}", text)]
    assert expressions
    for expression in expressions:
        # name and package are nixvms's own fixed identifiers (render.LAUNCHERS).
        assert expression.endswith("| shell_quote") or expression in ("name", "package"), \
            expression


def test_target_host_that_ssh_config_cannot_take_is_refused() -> None:
    with pytest.raises(RenderError, match=r"machine 'a'.*targetHost"):
        render_network_json((machine_facts("a", target_host="a b.example.net"),))


def test_empty_network_is_refused() -> None:
    with pytest.raises(RenderError, match="no machines"):
        render_network_json(())


def test_shell_quote_refuses_none() -> None:
    with pytest.raises(RenderError):
        shell_quote(None)
    assert shell_quote("it's") == "'it'\"'\"'s'"


def test_templates_digest_is_a_stable_hash() -> None:
    assert templates_digest() == templates_digest()
    assert re.fullmatch(r"[0-9a-f]{64}", templates_digest())
