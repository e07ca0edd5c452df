"""The manual pages: made from the click commands, committed, installed with the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from nixvms import manpage
from nixvms.cli import nixos_build_vms, nixvms
from tests.conftest import REPO


def test_the_committed_pages_are_what_the_commands_make() -> None:
    for relative, text in manpage.pages().items():
        committed = REPO / "man" / relative
        assert committed.read_text() == text, (
            f"{committed} is out of date: run `.venv/bin/python -m nixvms.manpage`")


def test_nixvms_1_has_a_section_for_every_command() -> None:
    page = manpage.pages()["man1/nixvms.1"]
    for name, command in nixvms.commands.items():
        if name == command.name:
            assert f'.SS "nixvms {manpage.escape(name)} ' in page
        else:
            assert f"(also \\fBnixvms {name}\\fR)" in page


def test_every_option_of_a_command_is_in_its_page() -> None:
    page = manpage.pages()["man1/nixvms.1"]
    for command in nixvms.commands.values():
        for param in command.params:
            if isinstance(param, click.Option):
                for name in param.opts:
                    assert f"\\fB{manpage.escape(name)}\\fR" in page, (command.name, name)


def test_nixos_build_vms_8_has_its_options_and_the_network_example() -> None:
    page = manpage.pages()["man8/nixos-build-vms.8"]
    assert page.splitlines()[1].startswith(".TH NIXOS-BUILD-VMS 8 ")
    for option in ("\\-\\-no\\-out\\-link", "\\-\\-show\\-trace", "\\-\\-option"):
        assert f"\\fB{option}\\fR" in page
    assert "deployment.targetHost = \"test1.example.net\";" in page


def test_roff_escapes_hyphens_backslashes_and_leading_dots() -> None:
    assert manpage.escape("a-b \\n\n.x\n'y") == "a\\-b \\en\n\\&.x\n\\&'y"


@pytest.mark.parametrize("name", sorted(nixvms.commands))
def test_every_command_s_help_ends_with_examples(name: str) -> None:
    result = CliRunner().invoke(nixvms, [name, "--help"])
    assert result.exit_code == 0
    tail = result.output.rstrip().split("\n\n")[-1]
    assert tail.lstrip().startswith(("Example:\n", "Examples:\n")), result.output
    assert f"nixvms {'up' if name == 'run' else name}" in tail


def test_nixos_build_vms_help_ends_with_examples() -> None:
    result = CliRunner().invoke(nixos_build_vms, ["--help"])
    assert result.output.rstrip().split("\n\n")[-1].lstrip().startswith(
        ("Example:\n", "Examples:\n"))


def man_render(bin_dir: Path, page: str) -> subprocess.CompletedProcess[str]:
    """`man PAGE` as a user with bin_dir first on PATH (no MANPATH) sees it."""
    env = {k: v for k, v in os.environ.items() if k != "MANPATH"}
    env |= {"PATH": f"{bin_dir}:/usr/bin:/bin", "MANPAGER": "cat", "PAGER": "cat",
            "MANWIDTH": "100"}
    return subprocess.run(["man", page], env=env, capture_output=True, text=True,
                          check=False, timeout=60)


@pytest.mark.install
@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_man_finds_both_pages_after_a_plain_install_into_a_fresh_venv(
        tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", ".debs.json.*")
    for name in ("nixvms", "man"):
        shutil.copytree(REPO / name, source / name, ignore=ignore)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    # The fresh venv's own pip (never this one with --prefix: that uninstalls the
    # nixvms this environment has). No dependencies: the pages are tested here.
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", str(source)],
                   check=True, timeout=600)
    assert (venv / "share/man/man1/nixvms.1").is_file()
    nixvms_page = man_render(venv / "bin", "nixvms")
    assert nixvms_page.returncode == 0, nixvms_page.stderr
    assert "nixvms - build and run networks of NixOS virtual machines" in nixvms_page.stdout
    assert "nixvms graph [OPTIONS] [NETWORK]" in nixvms_page.stdout
    compat = man_render(venv / "bin", "nixos-build-vms")
    assert compat.returncode == 0, compat.stderr
    assert "NIXOS-BUILD-VMS(8)" in compat.stdout
