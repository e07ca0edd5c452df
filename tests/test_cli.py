"""Errors found by Nix, as users see them: one clear line, exit code 1.

(Usage errors, found before Nix runs, are in tests/unit/test_cli.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import nixvms, write


def first_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert lines, f"no error line in: {stderr!r}"
    return lines[0]


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
    write(project / "network.nix", '{ "web.1" = { }; }\n')
    run = nixvms("build", cwd=project)
    assert run.code == 1
    assert "'web.1' is not a valid hostname" in first_error_line(run.stderr)


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
