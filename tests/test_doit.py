"""Plain `doit` in a project directory made by `nixvms init`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import Run, nixvms, run_cli, write

pytestmark = pytest.mark.nix


@pytest.fixture
def doit_project(project: Path) -> Path:
    assert nixvms("init", cwd=project).code == 0
    write(project / "network.nix", "{ alpha = { }; beta = { }; }\n")
    return project


def doit(*args: str, cwd: Path) -> Run:
    return run_cli("doit", *args, cwd=cwd)


def test_doit_list_shows_eval_and_build_of_each_machine(doit_project: Path) -> None:
    run = doit("list", "--all", cwd=doit_project)
    assert run.code == 0, run.stderr
    names = {line.split()[0] for line in run.stdout.splitlines() if line.strip()}
    assert {"eval:alpha", "eval:beta", "build:alpha", "build:beta", "network"} <= names


def test_doit_builds_the_network_and_links_result(doit_project: Path) -> None:
    run = doit(cwd=doit_project)
    assert run.code == 0, run.stdout + run.stderr
    assert os.readlink(doit_project / "result").startswith("/nix/store/")
    again = doit(cwd=doit_project)
    assert ".  eval:" not in again.stdout
    assert ".  build:" not in again.stdout


def test_doit_builds_one_machine_after_settling_the_plan(doit_project: Path) -> None:
    run = doit("build:alpha", cwd=doit_project)
    assert run.code == 0, run.stdout + run.stderr
    # Every machine is evaluated (the plan lists each one in /etc/hosts), one is built.
    assert ".  eval:alpha" in run.stdout and ".  eval:beta" in run.stdout
    assert ".  build:alpha" in run.stdout
    assert "build:beta" not in run.stdout
    assert not (doit_project / "result").exists()


def test_doit_forget_makes_the_next_run_redo_the_work(doit_project: Path) -> None:
    assert doit(cwd=doit_project).code == 0
    assert doit("forget", "eval:alpha", cwd=doit_project).code == 0
    run = doit(cwd=doit_project)
    assert ".  eval:alpha" in run.stdout
    assert ".  eval:beta" not in run.stdout
