"""A network built from builtins.readDir: after any replacement of the listed
directory, a build makes what a clean build of the same files makes, whether
the no-op is answered from the last run's record (lastrun.py) or the full
pipeline decides (deps.py, tasks.py). Issue 21, point 0."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from nixvms.state import StateDir
from tests.conftest import LOCAL_STATE, nixvms, write

pytestmark = pytest.mark.nix

# Every entry of machines/ is a machine: its name (without .nix) and nothing else.
BY_NAME = """\
builtins.listToAttrs (map (file: {
  name = builtins.replaceStrings [ ".nix" ] [ "" ] file;
  value = { environment.etc."listed-as".text = file; };
}) (builtins.attrNames (builtins.readDir ./machines)))
"""

# As sites-enabled: the machines are the symbolic links in enabled/.
BY_LINK = """\
let entries = builtins.readDir ./enabled; in
builtins.listToAttrs (map (file: {
  name = builtins.replaceStrings [ ".nix" ] [ "" ] file;
  value = import (./available + "/${file}");
}) (builtins.filter (file: entries.${file} == "symlink") (builtins.attrNames entries)))
"""


def built_vms(project: Path) -> dict[str, str]:
    """machine -> VM store path, from the last build's result."""
    vms = project / "result" / "vms"
    return {entry.name: os.readlink(entry) for entry in vms.iterdir()}


def clean_build(project: Path, tmp_path: Path) -> dict[str, str]:
    """The VMs a build from scratch of a copy of the project's files makes."""
    clean = tmp_path / "clean"
    shutil.copytree(project, clean, ignore=LOCAL_STATE, symlinks=True)
    # The same ssh key, so that both builds give the machines the same plan.
    shutil.copytree(project / ".nixvms" / "ssh", clean / ".nixvms" / "ssh")
    run = nixvms("build", cwd=clean)
    assert run.code == 0, run.stderr
    return built_vms(clean)


def build(project: Path) -> None:
    run = nixvms("build", cwd=project)
    assert run.code == 0, run.stderr


def forget_the_last_run(project: Path) -> None:
    """The next build goes to the full pipeline, not to the last run's record."""
    StateDir(project / ".nixvms").last_run_record.unlink()


def swap_for_a_copy_with_the_same_mtime(project: Path) -> None:
    """machines/ (a.nix, b.nix) replaced by `cp -a` of another directory (a.nix)
    whose mtime is the one machines/ had."""
    listed, other = project / "machines", project.parent / "other"
    write(other / "a.nix", "")
    was = listed.stat()
    os.utime(other, ns=(was.st_atime_ns, was.st_mtime_ns))
    shutil.rmtree(listed)
    subprocess.run(["cp", "-a", str(other), str(listed)], check=True)
    assert listed.stat().st_mtime_ns == was.st_mtime_ns


def listed_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    write(project / "network.nix", BY_NAME)
    write(project / "machines" / "a.nix", "")
    write(project / "machines" / "b.nix", "")
    build(project)
    assert set(built_vms(project)) == {"a", "b"}
    return project


def linked_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    write(project / "network.nix", BY_LINK)
    for name in ("a", "b"):
        write(project / "available" / f"{name}.nix",
              f'{{ environment.etc."machine".text = "{name}"; }}\n')
        (project / "enabled").mkdir(exist_ok=True)
        (project / "enabled" / f"{name}.nix").symlink_to(f"../available/{name}.nix")
    build(project)
    assert set(built_vms(project)) == {"a", "b"}
    return project


def link_becomes_a_regular_file(project: Path) -> None:
    """enabled/b.nix, a symbolic link, becomes a copy of what it pointed to."""
    link = project / "enabled" / "b.nix"
    content = link.read_text()
    link.unlink()
    link.write_text(content)


def test_a_listed_directory_swapped_for_a_copy_with_the_same_mtime_builds_as_clean(
        tmp_path: Path) -> None:
    project = listed_project(tmp_path)
    swap_for_a_copy_with_the_same_mtime(project)
    build(project)
    assert built_vms(project) == clean_build(project, tmp_path)
    assert set(built_vms(project)) == {"a"}


def test_a_listed_directory_swapped_for_a_copy_with_the_same_mtime_builds_as_clean_in_the_pipeline(
        tmp_path: Path) -> None:
    project = listed_project(tmp_path)
    swap_for_a_copy_with_the_same_mtime(project)
    forget_the_last_run(project)
    build(project)
    assert built_vms(project) == clean_build(project, tmp_path)
    assert set(built_vms(project)) == {"a"}


def test_a_listed_symlink_becoming_a_regular_file_builds_as_clean(tmp_path: Path) -> None:
    project = linked_project(tmp_path)
    link_becomes_a_regular_file(project)
    build(project)
    assert built_vms(project) == clean_build(project, tmp_path)
    assert set(built_vms(project)) == {"a"}


def test_a_listed_symlink_becoming_a_regular_file_builds_as_clean_in_the_pipeline(
        tmp_path: Path) -> None:
    project = linked_project(tmp_path)
    link_becomes_a_regular_file(project)
    forget_the_last_run(project)
    build(project)
    assert built_vms(project) == clean_build(project, tmp_path)
    assert set(built_vms(project)) == {"a"}
