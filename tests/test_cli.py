"""Command-line parsing and the errors users see: one clear line, the right exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import nixvms, run_cli, write


def first_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert lines, f"no error line in: {stderr!r}"
    return lines[0]


def test_nixos_build_vms_without_a_network_is_a_usage_error(project: Path) -> None:
    run = run_cli("nixos-build-vms", cwd=project)
    assert run.code == 2
    assert "a network expression must be specified" in run.stderr


def test_nixos_build_vms_with_two_networks_is_a_usage_error(project: Path) -> None:
    run = run_cli("nixos-build-vms", "a.nix", "b.nix", cwd=project)
    assert run.code == 2
    assert "network expression already set" in run.stderr


def test_nixos_build_vms_help_names_its_flags(project: Path) -> None:
    run = run_cli("nixos-build-vms", "--help", cwd=project)
    assert run.code == 0
    for flag in ("--no-out-link", "--show-trace", "--option"):
        assert flag in run.stdout


def test_unknown_flag_is_a_usage_error(project: Path) -> None:
    run = nixvms("build", "--frobnicate", cwd=project)
    assert run.code == 2
    assert "Traceback" not in run.stderr


def test_option_needs_a_name_and_a_value(project: Path) -> None:
    run = nixvms("build", "--option", "cores", cwd=project)
    assert run.code == 2
    assert "--option" in run.stderr


def test_jobs_must_be_positive(project: Path) -> None:
    run = nixvms("build", "-j", "0", cwd=project)
    assert run.code == 2


def test_missing_network_file_is_named(project: Path) -> None:
    run = nixvms("build", "nowhere.nix", cwd=project)
    assert run.code == 1
    assert "nowhere.nix does not exist" in first_error_line(run.stderr)
    assert "Traceback" not in run.stderr


def test_network_file_that_is_a_directory_is_named(project: Path) -> None:
    (project / "net").mkdir()
    run = nixvms("build", "net", cwd=project)
    assert run.code == 1
    assert "is a directory" in first_error_line(run.stderr)


@pytest.mark.nix
def test_syntax_error_is_nix_message_with_location(project: Path) -> None:
    write(project / "network.nix", "{ a = ; }\n")
    run = nixvms("build", cwd=project)
    assert run.code == 1
    assert "syntax error" in first_error_line(run.stderr)
    assert "network.nix:1" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.nix
def test_network_that_is_not_an_attribute_set_is_named(project: Path) -> None:
    write(project / "network.nix", "[ 1 2 ]\n")
    run = nixvms("build", cwd=project)
    assert run.code == 1
    assert "must evaluate to an attribute set" in first_error_line(run.stderr)


@pytest.mark.nix
def test_empty_network_is_named(project: Path) -> None:
    write(project / "network.nix", "{ }\n")
    run = nixvms("build", cwd=project)
    assert run.code == 1
    assert "has no machines" in first_error_line(run.stderr)


@pytest.mark.nix
def test_machine_name_that_is_not_a_hostname_is_named(project: Path) -> None:
    write(project / "network.nix", '{ "web_1" = { }; }\n')
    run = nixvms("build", cwd=project)
    assert run.code == 1
    assert "'web_1' is not a valid hostname" in first_error_line(run.stderr)


@pytest.mark.nix
def test_machine_that_is_not_a_module_is_named(project: Path) -> None:
    write(project / "network.nix", "{ a = 42; }\n")
    run = nixvms("build", cwd=project)
    assert run.code == 1
    assert "machine 'a'" in first_error_line(run.stderr)
    assert "not a NixOS module" in first_error_line(run.stderr)


@pytest.mark.nix
def test_missing_include_path_is_named(project: Path) -> None:
    write(project / "network.nix", "{ a = { }; }\n")
    run = nixvms("build", "-I", "nixpkgs=/does/not/exist", cwd=project)
    assert run.code == 1
    assert "/does/not/exist" in first_error_line(run.stderr)


def test_init_writes_a_dodo_and_a_starter_network(project: Path) -> None:
    run = nixvms("init", cwd=project)
    assert run.code == 0
    assert (project / "dodo.py").read_text().startswith("from nixvms.dodo import *")
    assert "systemd.services" in (project / "network.nix").read_text()


def test_init_keeps_an_existing_network(project: Path) -> None:
    write(project / "network.nix", "{ mine = { }; }\n")
    nixvms("init", cwd=project)
    assert (project / "network.nix").read_text() == "{ mine = { }; }\n"
