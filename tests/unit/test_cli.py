"""The command line's usage errors and plain commands, through click's runner (no Nix)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nixvms import cli_common
from nixvms.cli import nixos_build_vms, nixvms
from nixvms.errors import BuildFailed


@pytest.fixture
def in_project(tmp_path: Path) -> Iterator[Path]:
    previous = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(previous)


def invoke(command: object, *args: str) -> Result:
    return CliRunner().invoke(command, list(args))  # type: ignore[arg-type]


def error_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_nixos_build_vms_without_a_network_is_a_usage_error(in_project: Path) -> None:
    result = invoke(nixos_build_vms)
    assert result.exit_code == 2
    assert "a network expression must be specified" in error_line(result)


def test_nixos_build_vms_with_two_networks_is_a_usage_error(in_project: Path) -> None:
    result = invoke(nixos_build_vms, "a.nix", "b.nix")
    assert result.exit_code == 2
    assert "network expression already set" in error_line(result)


def test_nixos_build_vms_help_names_its_flags(in_project: Path) -> None:
    result = invoke(nixos_build_vms, "--help")
    assert result.exit_code == 0
    for flag in ("--no-out-link", "--show-trace", "--option"):
        assert flag in result.stdout


def test_an_unknown_flag_is_a_usage_error_naming_it(in_project: Path) -> None:
    result = invoke(nixvms, "build", "--frobnicate")
    assert result.exit_code == 2
    assert "--frobnicate" in error_line(result)
    assert "nixvms build --help" in error_line(result)


def test_option_needs_a_name_and_a_value(in_project: Path) -> None:
    result = invoke(nixvms, "build", "--option", "cores")
    assert result.exit_code == 2
    assert "--option" in error_line(result)


def test_jobs_must_be_positive(in_project: Path) -> None:
    result = invoke(nixvms, "build", "-j", "0")
    assert result.exit_code == 2
    assert "-j" in error_line(result) and "0" in error_line(result)


def test_a_memory_bound_that_is_not_a_size_is_a_usage_error(in_project: Path) -> None:
    (in_project / "network.nix").write_text("{ a = { }; }\n")
    result = invoke(nixvms, "build", "--max-eval-memory", "lots")
    assert result.exit_code == 2
    assert "--max-eval-memory 'lots' is not a size" in error_line(result)


def test_a_missing_network_file_is_named(in_project: Path) -> None:
    result = invoke(nixvms, "build", "nowhere.nix")
    assert result.exit_code == 1
    assert "the network file nowhere.nix does not exist" in error_line(result)


def test_a_network_file_that_is_a_directory_is_named(in_project: Path) -> None:
    (in_project / "net").mkdir()
    result = invoke(nixvms, "build", "net")
    assert result.exit_code == 1
    assert "net is a directory, not a file" in error_line(result)


def test_a_missing_extra_dep_is_a_usage_error_naming_it(in_project: Path) -> None:
    (in_project / "network.nix").write_text("{ a = { }; }\n")
    result = invoke(nixvms, "build", "--extra-dep", "no-such-file")
    assert result.exit_code == 2
    assert "no-such-file" in error_line(result)


def test_init_writes_a_dodo_and_a_starter_network(in_project: Path) -> None:
    result = invoke(nixvms, "init")
    assert result.exit_code == 0
    assert (in_project / "dodo.py").read_text().startswith("from nixvms.dodo import *")
    assert "services.openssh.enable = true" in (in_project / "network.nix").read_text()


def test_init_keeps_an_existing_network(in_project: Path) -> None:
    (in_project / "network.nix").write_text("{ mine = { }; }\n")
    result = invoke(nixvms, "init")
    assert result.exit_code == 0
    assert "network.nix exists; left as it is" in result.stderr
    assert (in_project / "network.nix").read_text() == "{ mine = { }; }\n"


def test_plain_progress_is_one_line_per_step_that_says_something() -> None:
    from nixvms.events import Event, plain_line

    assert plain_line(Event("evaluating", "a")) == "evaluating a"
    assert plain_line(Event("building", "a")) == "building a"
    assert plain_line(Event("network")) == "making the network"
    assert plain_line(Event("build-log", "a", "building '/nix/store/x.drv'")) is None


def test_a_nix_call_stopped_by_ctrl_c_is_an_interrupted_run(
        in_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nix may see the user's Ctrl-C before Python does: the run is interrupted, not failed."""
    (in_project / "network.nix").write_text("{ a = { }; }\n")

    def stopped(*args: object, **kwargs: object) -> None:
        raise BuildFailed(["build of machine 'a' failed: interrupted by the user"], ["a"])

    monkeypatch.setattr(cli_common, "build", stopped)
    result = invoke(nixvms, "build")
    assert result.exit_code == 130
    assert result.output.splitlines()[-1] == "error: interrupted; the previous result is untouched"
