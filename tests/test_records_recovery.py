"""Every record may be missing, truncated, empty, of another version, or garbage:
the next build then redoes what that record covered, and only that, and ends
with the network a clean build makes."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import nixvms, write

pytestmark = pytest.mark.nix

RUN_ID = uuid.uuid4().hex
NETWORK = f"""\
{{
  a = {{ ... }}: {{ environment.etc."motd".text = "a {RUN_ID}"; }};
  b = {{ ... }}: {{ environment.etc."motd".text = "b {RUN_ID}"; }};
}}
"""

Damage = Callable[[Path], None]


def truncate(path: Path) -> None:
    text = path.read_text()
    path.write_text(text[: len(text) // 2])


def empty(path: Path) -> None:
    path.write_text("")


def other_version(path: Path) -> None:
    raw = json.loads(path.read_text())
    raw["version"] = raw.get("version", 0) + 1000
    path.write_text(json.dumps(raw))


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(64))


def missing(path: Path) -> None:
    path.unlink()


DAMAGES = {"truncated": truncate, "empty": empty, "other version": other_version,
           "garbage": garbage, "missing": missing}

# record (relative to .nixvms/records) -> (evaluations, builds, network made) it covers
COVERS = {
    "machine-list.json": (set(), set(), False),
    "nixpkgs.json": (set(), set(), False),
    "eval/a.json": ({"a"}, set(), False),
    "build/a.json": (set(), {"a"}, False),
    "network.json": (set(), set(), True),
}


def vms(project: Path) -> dict[str, str]:
    """The VMs the project's result holds (its own paths differ from another project's)."""
    return {p.name: os.readlink(p) for p in (project / "result" / "vms").iterdir()}


@pytest.fixture(scope="module")
def clean_result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    project = tmp_path_factory.mktemp("clean") / "p"
    write(project / "network.nix", NETWORK)
    run = nixvms("build", cwd=project)
    assert run.code == 0, run.stderr
    return vms(project)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("damaged") / "p"
    write(directory / "network.nix", NETWORK)
    assert nixvms("build", cwd=directory).code == 0
    yield directory


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("record", COVERS)
def test_a_damaged_record_redoes_what_it_covered(project: Path, clean_result: dict[str, str],
                                                 record: str, damage: str) -> None:
    DAMAGES[damage](project / ".nixvms" / "records" / record)
    run = nixvms("build", cwd=project)
    assert run.code == 0, run.stderr
    evaluations, builds, network = COVERS[record]
    assert (run.tasks("evaluating"), run.tasks("building"), run.made_network) == (
        evaluations, builds, network), run.stderr
    assert vms(project) == clean_result
    again = nixvms("build", cwd=project)
    assert not again.tasks("evaluating") and not again.tasks("building"), again.stderr


@pytest.mark.parametrize("damage", ["truncated", "garbage", "missing"])
def test_a_damaged_file_set_re_evaluates_the_machines_that_read_it(
        project: Path, clean_result: dict[str, str], damage: str) -> None:
    record = json.loads((project / ".nixvms" / "records" / "eval" / "a.json").read_text())
    sets = project / ".nixvms" / "filesets"
    # A group a's evaluation read (the package set's files: both machines read it).
    DAMAGES[damage](sets / f"{record['data']['files'][0]}.json")
    run = nixvms("build", cwd=project)
    assert run.code == 0, run.stderr
    assert "a" in run.tasks("evaluating")
    assert vms(project) == clean_result


def test_a_lost_state_database_redoes_the_tasks_and_converges(project: Path,
                                                              clean_result: dict[str, str]) -> None:
    (project / ".nixvms" / "doit.db").unlink()
    run = nixvms("build", cwd=project)
    assert run.code == 0, run.stderr
    assert vms(project) == clean_result
