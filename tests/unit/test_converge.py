"""The convergence plan, and the reason a changed machine gives."""

from __future__ import annotations

import json
from pathlib import Path

from nixvms.supervisor.converge import Action, Running, describe_change, plan
from nixvms.supervisor.spec import NetworkSpec, load_network


def network(tmp_path: Path, vms: dict[str, str]) -> NetworkSpec:
    directory = tmp_path / "net"
    directory.mkdir(exist_ok=True)
    (directory / "network.json").write_text(json.dumps(
        {"machines": [{"name": n, "vm": vm} for n, vm in vms.items()]}))
    return load_network(directory)


def test_each_machine_gets_the_step_its_change_calls_for(tmp_path: Path) -> None:
    new = network(tmp_path, {"a": "/a1", "b": "/b2", "c": "/c1", "d": "/d1"})
    current = {"a": Running("/a1", True), "b": Running("/b1", True),
               "c": Running("/c1", False), "gone": Running("/g1", True)}
    steps = {s.machine: s.action for s in plan(current, new)}
    assert steps == {"a": Action.KEEP, "b": Action.RESTART, "c": Action.START,
                     "d": Action.NEW, "gone": Action.REMOVE}


def test_named_machines_limit_the_plan(tmp_path: Path) -> None:
    new = network(tmp_path, {"a": "/a2", "b": "/b2"})
    current = {"a": Running("/a1", True), "b": Running("/b1", True)}
    steps = {s.machine: s.action for s in plan(current, new, ["b"])}
    assert steps == {"a": Action.KEEP, "b": Action.RESTART}


def system(root: Path, etc: dict[str, str], initrd: str = "x") -> str:
    for name, text in etc.items():
        path = root / "system" / "etc" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "system" / "initrd").write_text(initrd)
    return str(root)


def test_a_changed_etc_file_and_unit_are_named_as_nixos_options(tmp_path: Path) -> None:
    old = system(tmp_path / "old", {"motd": "a", "systemd/system/web.service": "x"}, "i1")
    new = system(tmp_path / "new", {"motd": "b", "systemd/system/web.service": "y"}, "i2")
    assert describe_change(old, new) == \
        'environment.etc."motd", systemd.services.web'


def test_the_initrd_is_named_only_when_nothing_else_explains_the_change(
        tmp_path: Path) -> None:
    old = system(tmp_path / "old", {"motd": "a"}, "i1")
    new = system(tmp_path / "new", {"motd": "a"}, "i2")
    assert describe_change(old, new) == "the initrd (boot.initrd)"
