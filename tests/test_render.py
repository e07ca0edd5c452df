"""Rendering of the network directory's files: network.json and bin/run-vms (the launcher)."""

from __future__ import annotations

import json
import re
import subprocess
from importlib.resources import files
from pathlib import Path

import pytest

from nixvms.network import Machine, Network, Nic
from nixvms.render import (
    LAUNCHERS,
    RenderError,
    render_launcher,
    render_network_json,
    shell_quote,
    templates_digest,
    write_network_files,
)


def nic(vlan: int, k: int, number: int) -> Nic:
    return Nic(vlan=vlan, interface=f"eth{k}", ipv4=f"192.168.{vlan}.{number}",
               ipv6=f"2001:db8:{vlan}::{number}", mac=f"52:54:00:12:{vlan:02x}:{number:02x}")


def machine(name: str, number: int, vm: str = "/nix/store/aaaa-vm",
            vlans: tuple[int, ...] = (1,), target_host: str | None = None,
            system: str = "x86_64-linux") -> Machine:
    return Machine(
        name=name, number=number, system=system, host_name=name, target_host=target_host,
        vlans=vlans, vm=vm,
        nics=tuple(nic(v, k, number) for k, v in enumerate(vlans, start=1)),
    )


def two_machines() -> Network:
    return Network((
        machine("server", 2, vm="/nix/store/bbbb-vm-server", vlans=(1, 2)),
        machine("client", 1, vm="/nix/store/aaaa-vm-client",
                target_host="client.example.net", system="i686-linux"),
    ))


def test_network_json_lists_machines_with_addresses_and_vm_scripts() -> None:
    data = json.loads(render_network_json(two_machines()))
    client, server = data["machines"]
    assert client["name"] == "client" and client["number"] == 1
    assert client["targetHost"] == "client.example.net"
    assert client["system"] == "i686-linux"
    assert client["runScript"] == "/nix/store/aaaa-vm-client/bin/run-client-vm"
    assert server["addresses"] == [
        {"vlan": 1, "interface": "eth1", "ip": "192.168.1.2", "ipv6": "2001:db8:1::2",
         "prefixLength": 24, "mac": "52:54:00:12:01:02"},
        {"vlan": 2, "interface": "eth2", "ip": "192.168.2.2", "ipv6": "2001:db8:2::2",
         "prefixLength": 24, "mac": "52:54:00:12:02:02"},
    ]
    assert data["vlans"] == [1, 2]


def test_network_json_records_the_projects_state_dir_and_ssh_key() -> None:
    data = json.loads(render_network_json(two_machines(), state_dir="/p/.nixvms/run",
                                          ssh_key="/p/.nixvms/ssh/id_ed25519"))
    assert data["stateDir"] == "/p/.nixvms/run"
    assert data["sshKey"] == "/p/.nixvms/ssh/id_ed25519"


def test_network_json_is_stable_sorted_indented_with_trailing_newline() -> None:
    network = two_machines()
    text = render_network_json(network)
    assert render_network_json(Network(tuple(reversed(network.machines)))) == text
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
    network = Network((machine("a", 1, target_host="a b.example.net"),))
    with pytest.raises(RenderError, match=r"machine 'a'.*targetHost"):
        render_network_json(network)


def test_empty_network_is_refused() -> None:
    with pytest.raises(RenderError, match="no machines"):
        render_network_json(Network(()))


def test_shell_quote_refuses_none() -> None:
    with pytest.raises(RenderError):
        shell_quote(None)
    assert shell_quote("it's") == "'it'\"'\"'s'"


def test_templates_digest_is_a_stable_hash() -> None:
    assert templates_digest() == templates_digest()
    assert re.fullmatch(r"[0-9a-f]{64}", templates_digest())
