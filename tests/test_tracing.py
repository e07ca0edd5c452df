"""What an evaluation depends on: every file the network reads, however it reads it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import nixvms, run_cli, write

pytestmark = pytest.mark.nix

NETWORK = """\
{
  reader = import ./machines/reader.nix;
  nested = ./machines/nested.nix;
}
"""

READER = """\
{ ... }: {
  environment.etc.motd.text = builtins.readFile ./motd.txt
    + (if builtins.pathExists ./optional.txt then "with optional" else "")
    + toString (builtins.attrNames (builtins.readDir ../listed));
}
"""


@pytest.fixture
def traced(project: Path) -> Path:
    write(project / "network.nix", NETWORK)
    write(project / "machines" / "reader.nix", READER)
    write(project / "machines" / "nested.nix", "{ ... }: { imports = [ ./inner.nix ]; }\n")
    write(project / "machines" / "inner.nix",
          '{ ... }: { environment.etc.motd.text = builtins.readFile ./inner.txt; }\n')
    write(project / "machines" / "motd.txt", f"hello from {project}\n")
    write(project / "machines" / "inner.txt", "inner\n")
    write(project / "listed" / "one", "1\n")
    first = nixvms("build", cwd=project)
    assert first.code == 0, first.stderr
    return project


def evaluated_after_build(project: Path) -> set[str]:
    run = nixvms("build", cwd=project)
    assert run.code == 0, run.stderr
    return run.tasks("evaluating")


def test_editing_a_file_read_with_readfile_reevaluates_its_reader(traced: Path) -> None:
    write(traced / "machines" / "motd.txt", "changed\n")
    assert evaluated_after_build(traced) == {"reader"}


def test_creating_a_file_probed_with_pathexists_reevaluates(traced: Path) -> None:
    write(traced / "machines" / "optional.txt", "now here\n")
    assert evaluated_after_build(traced) == {"reader"}


def test_adding_an_entry_to_a_directory_read_with_readdir_reevaluates(traced: Path) -> None:
    write(traced / "listed" / "two", "2\n")
    assert evaluated_after_build(traced) == {"reader"}


def test_editing_a_file_inside_a_listed_directory_does_not(traced: Path) -> None:
    write(traced / "listed" / "one", "changed content, same listing\n")
    assert evaluated_after_build(traced) == set()


def test_files_read_by_modules_imported_from_a_path_module_are_traced(traced: Path) -> None:
    write(traced / "machines" / "inner.txt", "changed\n")
    assert evaluated_after_build(traced) == {"nested"}


def test_touching_every_file_without_change_reevaluates_nothing(traced: Path) -> None:
    for path in traced.rglob("*"):
        if ".nixvms" not in path.parts and path.is_file():
            os.utime(path)
    assert evaluated_after_build(traced) == set()


def test_reverting_an_edit_still_gives_the_first_build(traced: Path) -> None:
    first = os.readlink(traced / "result")
    original = (traced / "machines" / "motd.txt").read_text()
    write(traced / "machines" / "motd.txt", "changed\n")
    assert evaluated_after_build(traced) == {"reader"}
    write(traced / "machines" / "motd.txt", original)
    assert evaluated_after_build(traced) == {"reader"}
    assert os.readlink(traced / "result") == first


def test_path_module_errors_still_name_the_module_file(project: Path) -> None:
    write(project / "network.nix", "{ bad = ./bad.nix; }\n")
    write(project / "bad.nix", "{ ... }: { networking.noSuchOption = true; }\n")
    run = nixvms("build", cwd=project)
    assert run.code == 1
    assert "networking.noSuchOption" in run.stderr
    assert str(project / "bad.nix") in run.stderr


def test_extra_dep_names_a_file_the_evaluation_reads_unseen(project: Path) -> None:
    # builtins.getEnv hides which file is read: --extra-dep tells nixvms.
    write(project / "network.nix",
          "{ a = { environment.etc.x.text =\n"
          '    builtins.readFile (builtins.getEnv "SECRET_FILE"); }; }\n')
    secret = write(project / "secret.txt", f"one {project}\n")
    env = {"SECRET_FILE": str(secret)}
    first = run_cli("nixvms", "build", "--extra-dep", str(secret), cwd=project, env=env)
    assert first.code == 0, first.stderr
    write(secret, "two\n")
    again = run_cli("nixvms", "build", "--extra-dep", str(secret), cwd=project, env=env)
    assert again.tasks("evaluating") == {"a"}
