"""Records: typed, versioned, and never trusted when they are not whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nixvms import records
from tests.unit.test_facts import machine_facts

EVALUATION = records.Evaluation(
    facts=machine_facts("a", 1, (1, 2), target_host="10.0.0.1", tags=("web",)),
    params="p", plan="q", drv_path="/nix/store/x-a.drv", files=("f1", "f2"),
    network_stamp="s", network_view="v", nodes=("b",), memory_kb=1234,
    inputs={"nixpkgs": "/t", "plan": "q"},
)


def test_a_saved_record_loads_as_the_same_record(tmp_path: Path) -> None:
    records.save(EVALUATION, tmp_path / "a.json")
    assert records.load(records.Evaluation, tmp_path / "a.json") == EVALUATION


def test_a_mapping_field_survives_the_round_trip(tmp_path: Path) -> None:
    record = records.NetworkRecord("r", {"a": "/nix/store/x-a"}, "/nix/store/n")
    records.save(record, tmp_path / "n.json")
    loaded = records.load(records.NetworkRecord, tmp_path / "n.json")
    assert loaded is not None and dict(loaded.machines) == {"a": "/nix/store/x-a"}


@pytest.mark.parametrize("damage", [
    pytest.param(lambda text: "", id="empty"),
    pytest.param(lambda text: text[: len(text) // 2], id="truncated"),
    pytest.param(lambda text: "\x00garbage\xff", id="garbage"),
    pytest.param(lambda text: text.replace(f'"version": {records.VERSION}', '"version": 1'),
                 id="older version"),
    pytest.param(lambda text: text.replace('"Evaluation"', '"Build"'), id="another kind"),
    pytest.param(lambda text: text.replace('"vlans": [\n        1,', '"vlans": [\n        "1",'),
                 id="a field of the wrong type in the machine's facts"),
    pytest.param(lambda text: text.replace('"drv_path": "/nix/store/x-a.drv",', ""),
                 id="a missing field"),
])
def test_a_damaged_record_loads_as_none(tmp_path: Path, damage: object) -> None:
    path = tmp_path / "a.json"
    records.save(EVALUATION, path)
    assert callable(damage)
    path.write_text(damage(path.read_text()))
    assert records.load(records.Evaluation, path) is None


def test_a_missing_record_loads_as_none(tmp_path: Path) -> None:
    assert records.load(records.Evaluation, tmp_path / "nothing.json") is None


def test_a_record_is_tagged_with_its_kind_and_version(tmp_path: Path) -> None:
    records.save(records.Build("a", "/nix/store/x.drv", "/nix/store/x"), tmp_path / "b.json")
    raw = json.loads((tmp_path / "b.json").read_text())
    assert (raw["kind"], raw["version"]) == ("Build", records.VERSION)


def test_an_evaluation_is_of_the_machine_its_facts_name() -> None:
    assert EVALUATION.machine == "a"
