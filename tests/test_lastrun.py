"""A no-op is answered from the last run's record while nothing it rested on changed;
anything else goes to the pipeline, which decides as always (lastrun.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nixvms import builder, nix, options, records, render, runner
from nixvms.errors import NixvmsError
from nixvms.events import Event
from nixvms.state import StateDir
from tests.conftest import REPO, nixvms, write

pytestmark = pytest.mark.nix

NETWORK = "{ a = { }; b = import ./b.nix; }\n"


@pytest.fixture
def built(tmp_path: Path) -> Path:
    project = tmp_path / "p"
    write(project / "network.nix", NETWORK)
    write(project / "b.nix", "{ environment.etc.motd.text = \"b\"; }\n")
    assert nixvms("build", cwd=project).code == 0
    return project


@pytest.fixture
def pipeline_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the runs that went to the pipeline (not answered from the record)."""
    runs: list[int] = []
    real = runner.Pipeline.run

    def counted(self: runner.Pipeline, *args: object) -> options.BuildResult:
        runs.append(1)
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(runner.Pipeline, "run", counted)
    yield runs


def build(project: Path, events: list[Event] | None = None,
          **options: object) -> options.BuildResult:
    def progress(event: Event) -> None:
        if events is not None:
            events.append(event)

    return builder.build(project / "network.nix", project / "result", nix.NixSettings(),
                         progress, **options)  # type: ignore[arg-type]


def test_a_no_op_after_a_build_is_answered_without_the_pipeline(
        built: Path, pipeline_runs: list[int]) -> None:
    events: list[Event] = []
    result = build(built, events)
    assert pipeline_runs == []
    assert result.store_path == os.readlink(built / "result")
    assert (result.evaluated, result.built) == ((), ())
    assert [(e.kind, e.machine, e.text) for e in events] == [
        ("up-to-date", "a", "eval"), ("up-to-date", "b", "eval"),
        ("up-to-date", "a", "build"), ("up-to-date", "b", "build")]


def test_a_no_op_imports_neither_doit_nor_the_task_graph(built: Path) -> None:
    script = ("import sys\nfrom nixvms.cli import nixvms\n"
              "try:\n    nixvms(['build', '-q'])\nexcept SystemExit as e:\n"
              "    assert not e.code, e.code\n"
              "print(sorted(m for m in ('doit', 'nixvms.tasks', 'nixvms.runner') "
              "if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=built, capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "[]"


def test_a_touched_file_goes_to_the_pipeline_which_evaluates_nothing(
        built: Path, pipeline_runs: list[int]) -> None:
    os.utime(built / "b.nix")
    assert build(built).evaluated == ()
    assert pipeline_runs == [1]
    build(built)
    assert pipeline_runs == [1]  # the pipeline's no-op left a new record


def test_an_edited_file_is_evaluated_again(built: Path, pipeline_runs: list[int]) -> None:
    write(built / "b.nix", "{ environment.etc.motd.text = \"changed\"; }\n")
    assert build(built).evaluated == ("b",)
    assert pipeline_runs == [1]


def test_a_new_file_where_one_was_looked_for_goes_to_the_pipeline(
        built: Path, pipeline_runs: list[int]) -> None:
    write(built / "network.nix",
          "{ a = { }; b = if builtins.pathExists ./flag then { } else import ./b.nix; }\n")
    build(built)
    build(built)
    assert pipeline_runs == [1]
    write(built / "flag", "")
    assert build(built).evaluated == ("b",)
    assert pipeline_runs == [1, 1]


def test_doit_forget_goes_to_the_pipeline(built: Path, pipeline_runs: list[int]) -> None:
    write(built / "dodo.py", "from nixvms.dodo import *  # noqa: F403\n")
    forget = subprocess.run([sys.executable, "-m", "doit", "forget", "build:a"], cwd=built,
                            capture_output=True, text=True, check=False,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert forget.returncode == 0, forget.stderr
    assert build(built).built == ("a",)
    assert pipeline_runs == [1]


def test_a_moved_out_link_goes_to_the_pipeline_which_remakes_it(
        built: Path, pipeline_runs: list[int]) -> None:
    target = os.readlink(built / "result")
    (built / "result").unlink()
    build(built)
    assert pipeline_runs == [1]
    assert os.readlink(built / "result") == target


def test_a_vm_missing_from_the_store_goes_to_the_pipeline(
        built: Path, pipeline_runs: list[int]) -> None:
    state = StateDir.beside(built / "network.nix")
    last = records.load(records.LastRun, state.last_run_record)
    assert last is not None
    data = json.loads(state.last_run_record.read_text())
    data["data"]["store_paths"].append("/nix/store/00000000000000000000000000000000-gone")
    state.last_run_record.write_text(json.dumps(data))
    build(built)
    assert pipeline_runs == [1]


def test_other_nix_options_go_to_the_pipeline(built: Path, pipeline_runs: list[int]) -> None:
    builder.build(built / "network.nix", built / "result",
                  nix.NixSettings(options=(("cores", "1"),)), lambda event: None)
    assert pipeline_runs == [1]


def test_on_always_goes_to_the_pipeline(built: Path, pipeline_runs: list[int]) -> None:
    build(built, on=("a",))
    build(built, on=("a",))
    assert pipeline_runs == [1, 1]


def test_a_failed_run_leaves_no_record(built: Path, pipeline_runs: list[int]) -> None:
    original = (built / "b.nix").read_text()
    write(built / "b.nix", "{ this is not nix\n")
    with pytest.raises(NixvmsError, match="syntax error"):
        build(built)
    write(built / "b.nix", original)
    assert build(built).evaluated == ()  # b's record still matches what it read
    assert pipeline_runs == [1, 1]


def test_a_run_that_saw_a_file_change_while_it_was_read_leaves_no_record(
        built: Path, pipeline_runs: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    real = nix.evaluate_machine

    def editing(*args: object, **kwargs: object) -> nix.MachineEvaluation:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        write(built / "b.nix", "{ environment.etc.motd.text = \"edited meanwhile\"; }\n")
        return result

    write(built / "b.nix", "{ environment.etc.motd.text = \"edited\"; }\n")
    monkeypatch.setattr(nix, "evaluate_machine", editing)
    build(built)
    monkeypatch.setattr(nix, "evaluate_machine", real)
    assert not StateDir.beside(built / "network.nix").last_run_record.exists()
    assert build(built).evaluated == ("b",)
    assert pipeline_runs == [1, 1]


def test_an_edited_template_or_supervisor_file_goes_to_the_pipeline(
        built: Path, pipeline_runs: list[int]) -> None:
    """The network directory is rendered from nixvms's own files: they count too."""
    state = StateDir.beside(built / "network.nix")
    last = records.load(records.LastRun, state.last_run_record)
    assert last is not None
    sources = [str(path) for path in render.source_paths()]
    assert set(sources) <= set(last.state)
    launcher = render.source_paths()[0]
    times = os.stat(launcher)
    os.utime(launcher, ns=(times.st_atime_ns, times.st_mtime_ns))  # a new ctime only
    build(built)
    assert pipeline_runs == [1]
