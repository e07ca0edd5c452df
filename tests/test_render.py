"""Rendering of the network directory's files: network.json and bin/run-vms."""

from __future__ import annotations

import json
import re
import subprocess
from importlib.resources import files
from pathlib import Path

import pytest

from nixvms.network import Machine, Network
from nixvms.render import (
    RenderError,
    render_network_json,
    render_run_vms,
    shell_quote,
    templates_digest,
)

NASTY = '/tmp/it\'s a "vm" $(touch pwned) `x` \\ dir'


def machine(
    name: str,
    number: int,
    vm: str = "/nix/store/aaaa-vm",
    vlans: tuple[int, ...] = (1,),
    target_host: str | None = None,
    system: str = "x86_64-linux",
) -> Machine:
    return Machine(
        name=name,
        number=number,
        system=system,
        host_name=name,
        target_host=target_host,
        vlans=vlans,
        vm=vm,
    )


def two_machines(vm_dir: str = "/nix/store") -> Network:
    return Network(
        (
            machine("server", 2, vm=f"{vm_dir}/bbbb-vm-server", vlans=(1, 2)),
            machine(
                "client",
                1,
                vm=f"{vm_dir}/aaaa-vm-client",
                target_host="client.example.net",
                system="i686-linux",
            ),
        )
    )


def write_script(tmp_path: Path, text: str) -> Path:
    script = tmp_path / "run-vms"
    script.write_text(text)
    script.chmod(0o755)
    return script


def run(script: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=cwd,
        check=False,
    )


def test_network_json_lists_machines_with_addresses() -> None:
    data = json.loads(render_network_json(two_machines()))
    assert data == {
        "machines": [
            {
                "name": "client",
                "number": 1,
                "system": "i686-linux",
                "hostName": "client",
                "targetHost": "client.example.net",
                "vm": "/nix/store/aaaa-vm-client",
                "vlans": [1],
                "addresses": [
                    {
                        "vlan": 1,
                        "interface": "eth1",
                        "ip": "192.168.1.1",
                        "prefixLength": 24,
                        "mac": "52:54:00:12:01:01",
                    }
                ],
            },
            {
                "name": "server",
                "number": 2,
                "system": "x86_64-linux",
                "hostName": "server",
                "targetHost": None,
                "vm": "/nix/store/bbbb-vm-server",
                "vlans": [1, 2],
                "addresses": [
                    {
                        "vlan": 1,
                        "interface": "eth1",
                        "ip": "192.168.1.2",
                        "prefixLength": 24,
                        "mac": "52:54:00:12:01:02",
                    },
                    {
                        "vlan": 2,
                        "interface": "eth2",
                        "ip": "192.168.2.2",
                        "prefixLength": 24,
                        "mac": "52:54:00:12:02:02",
                    },
                ],
            },
        ],
        "vlans": [1, 2],
    }


def test_network_json_is_stable_sorted_indented_with_trailing_newline() -> None:
    network = two_machines()
    text = render_network_json(network)
    reordered = Network(tuple(reversed(network.machines)))
    assert render_network_json(reordered) == text
    assert text.endswith("}\n")
    assert text.startswith('{\n  "machines": [\n')
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


def test_rendered_run_vms_passes_bash_syntax_check(tmp_path: Path) -> None:
    script = write_script(tmp_path, render_run_vms(two_machines(), ssh_key="/home/u/.ssh/id"))
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines


def test_every_template_interpolation_is_shell_quoted() -> None:
    text = files("nixvms").joinpath("templates").joinpath("run-vms.sh.j2").read_text()
    expressions = re.findall(r"\{\{(.*?)\}\}", text)
    assert expressions
    for expression in expressions:
        if expression.strip().startswith('"'):  # a literal, e.g. {{ " " if ... }}
            continue
        assert expression.rstrip().endswith("| shell_quote"), expression


def test_vm_path_with_quotes_and_spaces_survives_literally(tmp_path: Path) -> None:
    script = write_script(tmp_path, render_run_vms(two_machines(vm_dir=NASTY)))
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    result = run(script, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"  client  {NASTY}/aaaa-vm-client\n" in result.stdout
    assert not (tmp_path / "pwned").exists()


def test_state_dir_with_quotes_and_spaces_is_one_argument(tmp_path: Path) -> None:
    script = write_script(tmp_path, render_run_vms(two_machines()))
    state = tmp_path / "it's a state dir"
    # Nothing runs from it: --stop says so without creating or breaking anything.
    result = run(script, "--state-dir", str(state), "--stop", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"nothing is running from {state}" in result.stderr


def test_ssh_key_path_is_quoted_for_ssh_config(tmp_path: Path) -> None:
    text = render_run_vms(two_machines(), ssh_key="/home/a b/100%/id")
    assert "identity_file='\"/home/a b/100%%/id\"'\n" in text


def test_ssh_key_path_with_double_quote_is_refused() -> None:
    with pytest.raises(RenderError, match="ssh key path"):
        render_run_vms(two_machines(), ssh_key='/home/"x"/id')


def test_target_host_that_ssh_config_cannot_take_is_refused() -> None:
    network = Network((machine("a", 1, target_host="a b.example.net"),))
    with pytest.raises(RenderError, match=r"machine 'a'.*targetHost"):
        render_run_vms(network)


def test_empty_network_is_refused() -> None:
    with pytest.raises(RenderError, match="no machines"):
        render_run_vms(Network(()))


def test_shell_quote_refuses_none() -> None:
    with pytest.raises(RenderError):
        shell_quote(None)
    assert shell_quote("it's") == "'it'\"'\"'s'"


@pytest.mark.parametrize(
    "args",
    [["--bogus"], ["--state-dir"], ["--fresh=nosuchmachine"], ["--stop", "--detach"], ["extra"]],
)
def test_usage_error_exits_2_with_usage_on_stderr(tmp_path: Path, args: list[str]) -> None:
    script = write_script(tmp_path, render_run_vms(two_machines()))
    result = run(script, *args, cwd=tmp_path)
    assert result.returncode == 2
    assert "Usage: run-vms" in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "vms-state").exists()


def test_help_documents_the_default_state_dir(tmp_path: Path) -> None:
    script = write_script(tmp_path, render_run_vms(two_machines()))
    result = run(script, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "./vms-state" in result.stdout
    assert "--detach" in result.stdout and "--stop" in result.stdout
    assert not (tmp_path / "vms-state").exists()


def test_templates_digest_is_a_stable_hash() -> None:
    assert templates_digest() == templates_digest()
    assert re.fullmatch(r"[0-9a-f]{64}", templates_digest())
