"""A real build's progress as users see it: live lines on a terminal (under a
pseudo-terminal), plain lines in a pipe, nothing but errors with -q, and a
failed machine's build log through `nixvms log`."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pexpect
import pytest

from tests.conftest import BIN, nixvms, write

pytestmark = pytest.mark.nix

def two_machines() -> str:
    """A network with VMs of its own: the builds really run, so their live lines show."""
    return (f'{{ a = {{ ... }}: {{ environment.etc.run.text = "{uuid.uuid4().hex}"; }}; '
            "b = { ... }: { virtualisation.vlans = [ 1 2 ]; }; }\n")
FAILING = """{
  a = { ... }: { };
  bad = { pkgs, ... }: {
    environment.systemPackages = [
      (pkgs.runCommand "fails" { } "echo the-builder-says-no; exit 3")
    ];
  };
}
"""
SUMMARY = re.compile(r"^(\d+) machines?: (\d+) evaluated, (\d+) built, (\d+) up to date"
                     r"(, (\d+) failed)?, \d+\.\d s$")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_terminal(project: Path, *args: str) -> tuple[int, str]:
    """Run nixvms on a pseudo-terminal; its exit status and what it showed."""
    child = pexpect.spawn(str(BIN / "nixvms"), list(args), cwd=str(project),
                          env={**os.environ, "TERM": "xterm-256color"},
                          encoding="utf-8", dimensions=(40, 120), timeout=600)
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus if child.exitstatus is not None else -1, child.before or ""


def test_a_terminal_shows_live_lines_per_machine_then_the_summary(project: Path) -> None:
    write(project / "network.nix", two_machines())
    code, shown = on_terminal(project, "build")
    assert code == 0, shown
    assert "\x1b[1A" in shown  # the live lines are redrawn in place
    plain = ANSI.sub("", shown).replace("\r", "")
    assert re.search(r"\ba\s+building\b", plain)
    assert re.search(r"\bb\s+built\s+\d+\.\d s", plain)
    assert "2/2 machines done" in plain
    lines = [line.strip() for line in plain.splitlines() if line.strip()]
    assert SUMMARY.match(lines[-2]), lines[-2]
    assert lines[-2].startswith("2 machines: 2 evaluated, 2 built, 0 up to date")
    assert lines[-1].startswith("result -> /nix/store/")


def test_a_pipe_gets_one_plain_line_per_step_and_the_summary(project: Path) -> None:
    write(project / "network.nix", two_machines())
    first = nixvms("build", cwd=project)
    assert first.code == 0, first.stderr
    lines = first.stderr.splitlines()
    assert {"evaluating a", "evaluating b", "building a", "building b",
            "making the network"} <= set(lines)
    assert "\x1b" not in first.stderr
    assert lines[-2].startswith("2 machines: 2 evaluated, 2 built, 0 up to date, ")
    again = nixvms("build", cwd=project)
    assert again.stderr.splitlines()[0].startswith(
        "2 machines: 0 evaluated, 0 built, 2 up to date, ")


def test_quiet_shows_nothing_on_success(project: Path) -> None:
    write(project / "network.nix", two_machines())
    run = nixvms("build", "-q", cwd=project)
    assert run.code == 0
    assert run.stderr == ""
    assert (project / "result" / "network.json").exists()


def test_quiet_still_shows_the_error(project: Path) -> None:
    write(project / "network.nix", FAILING)
    run = nixvms("build", "-q", cwd=project)
    assert run.code == 1
    assert run.stderr.startswith("error: build of machine 'bad' failed")


def test_a_failed_machine_is_named_with_the_end_of_its_log_on_a_terminal(
        project: Path) -> None:
    write(project / "network.nix", FAILING)
    code, shown = on_terminal(project, "build")
    assert code == 1
    plain = ANSI.sub("", shown).replace("\r", "")
    assert re.search(r"✗\s+bad\s+failed", plain)
    assert "the-builder-says-no" in plain
    assert "nixvms log bad" in plain
    assert SUMMARY.match(next(line.strip() for line in plain.splitlines()
                              if "machines:" in line))


def test_nixvms_log_prints_the_machine_s_last_build_log(project: Path) -> None:
    write(project / "network.nix", FAILING)
    assert nixvms("build", cwd=project).code == 1
    (project / "sub").mkdir()
    log = nixvms("log", "bad", cwd=project / "sub")
    assert log.code == 0, log.stderr
    assert "the-builder-says-no" in log.stdout


def test_nixvms_log_of_an_unknown_machine_lists_the_machines(project: Path) -> None:
    write(project / "network.nix", two_machines())
    assert nixvms("build", cwd=project).code == 0
    run = nixvms("log", "zz", cwd=project)
    assert run.code == 2
    assert run.stderr == "error: the network has no machine 'zz' (its machines: a, b)\n"
