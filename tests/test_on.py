"""`nixvms build --on`: only the chosen machines, by name or by deployment.tags."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.conftest import nixvms, write

pytestmark = pytest.mark.nix


RUN_ID = uuid.uuid4().hex


def network(web: str) -> str:
    return f"""{{
  web = {{ deployment.tags = [ "front" ]; environment.etc.x.text = "{web}"; }};
  db = {{ environment.etc.x.text = "db"; }};
  cache = {{ deployment.tags = [ "front" ]; environment.etc.x.text = "cache"; }};
}}
""".replace('"db"', f'"db {RUN_ID}"')


def test_on_builds_only_the_named_machines_and_says_why_no_network(tmp_path: Path) -> None:
    write(tmp_path / "network.nix", network("1"))
    run = nixvms("build", "--on", "web", cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert run.tasks("building") == {"web"}
    assert "the network directory was not made: cache, db are not built" in run.stderr
    assert not (tmp_path / "result").exists()


def test_on_makes_the_network_when_every_other_machine_is_built(tmp_path: Path) -> None:
    write(tmp_path / "network.nix", network("1"))
    assert nixvms("build", cwd=tmp_path).code == 0
    before = os.readlink(tmp_path / "result")
    write(tmp_path / "network.nix", network("2"))
    run = nixvms("build", "--on", "web", cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert (run.tasks("evaluating"), run.tasks("building")) == ({"web"}, {"web"})
    assert run.made_network and os.readlink(tmp_path / "result") != before


def test_on_a_tag_chooses_the_machines_that_have_it(tmp_path: Path) -> None:
    write(tmp_path / "network.nix", network("1"))
    assert nixvms("build", cwd=tmp_path).code == 0
    write(tmp_path / "network.nix", network("3"))
    run = nixvms("build", "--on", "@front", cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert run.tasks("building") == {"web"}  # cache is chosen too, and up to date


@pytest.mark.parametrize(("on", "words"), [
    ("nope", "--on nope: the network has no machine 'nope'"),
    ("@nope", "--on @nope: no machine has the tag 'nope'"),
])
def test_on_an_unknown_machine_or_tag_is_one_usage_error(tmp_path: Path, on: str,
                                                         words: str) -> None:
    write(tmp_path / "network.nix", network("1"))
    assert nixvms("build", cwd=tmp_path).code == 0
    run = nixvms("build", "--on", on, cwd=tmp_path)
    assert run.code == 2 and "Traceback" not in run.stderr
    assert [line for line in run.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {words} in deployment.tags" if on.startswith("@") else f"error: {words} "
        "(its machines: cache, db, web)"]
