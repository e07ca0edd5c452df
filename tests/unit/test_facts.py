"""MachineFacts, the one record of what a machine is, and network.json's one loader."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nixvms import completion, graph
from nixvms.supervisor import spec, typedjson
from nixvms.supervisor.errors import SupervisorError, UsageError
from nixvms.supervisor.facts import Address, Forward, MachineFacts


def machine_facts(name: str = "web", number: int = 1, vlans: tuple[int, ...] = (1,),
                  **changes: Any) -> MachineFacts:
    """A machine as its evaluation would give it (the address plan's addresses)."""
    facts = MachineFacts(
        name=name, number=number, system="x86_64-linux", host_name=name, system_name=name,
        domain=None, target_host=None, tags=(), vlans=vlans,
        addresses=tuple(
            Address(vlan=v, interface=f"eth{k}", ip=f"192.168.{v}.{number}",
                    ipv6=f"2001:db8:{v}::{number}", mac=f"52:54:00:12:{v:02x}:{number:02x}",
                    prefix_length=24)
            for k, v in enumerate(vlans, start=1)),
        ssh_ports=(22,), forward_ports=(), vm=f"/nix/store/{'a' * 32}-vm-{name}")
    return dataclasses.replace(facts, **changes)


WEB = machine_facts(
    "web", 2, (1, 2), host_name="www", system_name="websys", domain="example.net",
    target_host="web.example.net", tags=("front",), ssh_ports=(2222, 22),
    forward_ports=(Forward(proto="udp", host_port=5353, guest_port=53,
                           host_address="127.0.0.1"),))
DB = machine_facts("db", 1, (2,), ssh_ports=())


def network_dir(tmp_path: Path, data: Any) -> Path:
    directory = tmp_path / "net"
    directory.mkdir(exist_ok=True)
    (directory / "network.json").write_text(
        data if isinstance(data, str) else json.dumps(data))
    return directory


def written(tmp_path: Path, **top: Any) -> Path:
    """A network directory whose network.json is as nixvms writes it (with `top` changed)."""
    data = spec.network_data([WEB, DB], state_dir="/p/.nixvms/run", ssh_key="/p/key")
    return network_dir(tmp_path, {**data, **top})


# --- the record -----------------------------------------------------------------------


def test_machine_facts_survive_the_json_round_trip() -> None:
    data = json.loads(json.dumps(typedjson.to_data(WEB)))
    assert typedjson.from_data(MachineFacts, data) == WEB


def test_ssh_is_on_where_openssh_has_ports_and_the_first_is_the_guest_port() -> None:
    assert (WEB.openssh, WEB.ssh_port) == (True, 2222)
    assert (DB.openssh, DB.ssh_port) == (False, 22)


def test_the_vm_script_and_disk_are_named_by_system_name() -> None:
    assert WEB.run_script == f"{WEB.vm}/bin/run-websys-vm"
    assert WEB.disk_name == "websys.qcow2"


def test_a_forward_describes_itself_as_host_to_guest() -> None:
    assert WEB.forward_ports[0].describe() == "127.0.0.1:5353->53/udp"
    assert Forward("tcp", 8080, 80, "").describe() == "0.0.0.0:8080->80"


# --- network.json: written and loaded --------------------------------------------------


def test_network_json_loads_as_the_machines_it_was_written_from(tmp_path: Path) -> None:
    net = spec.load_network(written(tmp_path))
    assert net.machines == (DB, WEB)  # by number
    assert (net.vlans, net.state_dir, net.ssh_key) == ((1, 2), "/p/.nixvms/run", "/p/key")
    assert net.path == str(tmp_path / "net")


def test_network_json_has_a_version(tmp_path: Path) -> None:
    assert spec.network_data([WEB])["version"] == spec.VERSION


def test_a_machine_is_found_by_name_or_target_host_and_else_is_a_usage_error(
        tmp_path: Path) -> None:
    net = spec.load_network(written(tmp_path))
    assert net.machine("web.example.net") is net.machine("web")
    assert net.select(["web"]) == (WEB,) and net.select([]) == (DB, WEB)
    with pytest.raises(UsageError, match=r"no machine named 'mail'.*machines: db, web"):
        net.machine("mail")


def test_an_unversioned_network_json_is_read_with_its_camel_case_keys(tmp_path: Path) -> None:
    net = spec.load_network(network_dir(tmp_path, {"machines": [
        {"name": "web", "number": 2, "hostName": "www", "systemName": "websys", "vm": "/v",
         "vlans": [1], "targetHost": "web.example.net", "openssh": True, "sshPort": 2222,
         "addresses": [{"vlan": 1, "interface": "eth1", "ip": "192.168.1.2"}],
         "forwardPorts": [{"proto": "udp", "hostAddress": "127.0.0.1", "hostPort": 5353,
                           "guestPort": 53}]}]}))
    (web,) = net.machines
    assert (web.host_name, web.run_script, web.target_host) == (
        "www", "/v/bin/run-websys-vm", "web.example.net")
    assert (web.ssh_ports, web.addresses[0].ip, web.addresses[0].prefix_length) == (
        (2222,), "192.168.1.2", 24)
    assert web.forward_ports == WEB.forward_ports
    assert net.vlans == (1,)


def test_an_unversioned_network_json_without_ssh_and_forwards_reads_them_from_the_vm(
        tmp_path: Path) -> None:
    vm = tmp_path / "vm"
    (vm / "system" / "etc" / "ssh" / "authorized_keys.d").mkdir(parents=True)
    (vm / "bin").mkdir()
    (vm / "bin" / "run-web-vm").write_text("-netdev user,hostfwd=tcp::8080-:80\n")
    (web,) = spec.load_network(network_dir(tmp_path, {"machines": [
        {"name": "web", "vm": str(vm)}]})).machines
    assert web.openssh and [f.describe() for f in web.forward_ports] == ["0.0.0.0:8080->80"]


# --- network.json damaged: one clear error naming the file ---------------------------


def _without(key: str) -> Callable[[dict[str, Any]], Any]:
    def damage(data: dict[str, Any]) -> Any:
        data["machines"][0].pop(key)
        return data
    return damage


def _retyped(data: dict[str, Any]) -> Any:
    data["machines"][0]["vlans"] = ["1"]
    return data


@pytest.mark.parametrize(("damage", "says"), [
    pytest.param(lambda d: json.dumps(d)[:40], "cannot be read: it is not JSON", id="truncated"),
    pytest.param(lambda d: "", "cannot be read: it is not JSON", id="empty"),
    pytest.param(lambda d: [d], "is not a network nixvms made", id="not an object"),
    pytest.param(lambda d: {**d, "machines": None}, "is not a network nixvms made",
                 id="no machine list"),
    pytest.param(lambda d: {**d, "version": 99}, "is of version 99", id="another version"),
    pytest.param(_without("system"), r"machine 1 \(db\) lacks system", id="a missing field"),
    pytest.param(_retyped, r"machine 1 \(db\) has a field of the wrong type",
                 id="a field of the wrong type"),
    pytest.param(lambda d: {**d, "machines": [1]}, "machine 1 is not a JSON object",
                 id="a machine that is no object"),
    pytest.param(lambda d: {**d, "machines": d["machines"] * 2}, "names machine 'db' twice",
                 id="a machine twice"),
    pytest.param(lambda d: {**d, "vlans": "1"}, "its vlans are not a list of numbers",
                 id="vlans of the wrong type"),
    pytest.param(lambda d: {**d, "sshKey": 7}, "its sshKey is not a string",
                 id="sshKey of the wrong type"),
    pytest.param(lambda d: {"machines": [{"name": "a"}]}, r"machine 1 lacks 'vm'",
                 id="an unversioned machine without its vm"),
])
def test_a_damaged_network_json_is_one_error_naming_the_file(
        tmp_path: Path, damage: Callable[[dict[str, Any]], Any], says: str) -> None:
    data = spec.network_data([WEB, DB])
    damaged = damage(json.loads(json.dumps(data)))
    directory = network_dir(tmp_path, damaged if isinstance(damaged, str)
                            else json.dumps(damaged))
    with pytest.raises(SupervisorError, match=says) as raised:
        spec.load_network(directory)
    assert f"{directory}/network.json" in raised.value.message


def test_a_directory_without_network_json_is_not_a_network_directory(tmp_path: Path) -> None:
    with pytest.raises(SupervisorError, match=f"{tmp_path} is not a network directory"):
        spec.load_network(tmp_path)


# --- the one loader, used by graph and completion -------------------------------------


def test_graph_and_completion_load_network_json_through_the_loader(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / "network.nix").parent.mkdir()
    (project / "network.nix").write_text("{ }\n")
    data = spec.network_data([WEB, DB])
    (project / "result").mkdir()
    (project / "result" / "network.json").write_text(json.dumps(data))
    loaded: list[Path] = []
    real = spec.load_network

    def load_network(directory: Any) -> spec.NetworkSpec:
        loaded.append(Path(directory))
        return real(directory)

    monkeypatch.setattr(spec, "load_network", load_network)
    assert graph.last_network(project / "network.nix").machines == (DB, WEB)
    assert completion.machine_names(project) == ["db", "web"]
    assert loaded == [project / "result", project / "result"]
