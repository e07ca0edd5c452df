"""The package installs like one: a wheel, installed outside the checkout, sets
tinyos up, builds and boots the two-machine example.

Nothing here writes to the checkout or to the user's data directory: the
wheel is built from a copy of the checkout (setuptools leaves build/ and
*.egg-info beside the sources, and a later wheel could ship build/'s stale
modules), and `nixvms setup` runs with a data directory of its own that
starts as a copy of the installed manifest, so it finds the files set up
and fetches nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nixvms.nix import tinyos_manifest
from tests.conftest import LOCAL_STATE, REPO

pytestmark = [pytest.mark.nix, pytest.mark.vm, pytest.mark.install]


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, check=False)


# What a checkout holds besides its sources: never part of a wheel's input.
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".mypy_cache",
    ".ruff_cache", ".pytest_cache", ".nixvms", "result", "vms-state")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source") / "nixvms"
    shutil.copytree(REPO, source, ignore=NOT_SOURCES, symlinks=True)
    dist = tmp_path_factory.mktemp("dist")
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, source,
                cwd=dist)
    assert built.returncode == 0, built.stderr
    (found,) = dist.glob("nixvms-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv outside the checkout with the wheel installed; its bin directory."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    assert run("python3", "-m", "venv", venv, cwd=venv.parent).returncode == 0
    pip = run(venv / "bin" / "pip", "install", "-q", wheel, cwd=venv.parent)
    assert pip.returncode == 0, pip.stderr
    yield venv / "bin"


def test_the_wheel_holds_nothing_machine_specific(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "nixvms/tinyos/setup-tinyos" in names
    assert not [n for n in names if "debs.json" in n or n.endswith("debs.nix")], names


def test_the_version_is_the_packages_one(installed: Path) -> None:
    from nixvms import __version__

    shown = run(installed / "nixvms", "--version", cwd=installed)
    assert shown.returncode == 0 and __version__ in shown.stdout


@pytest.fixture
def data_dir(tmp_path: Path) -> dict[str, str]:
    """The environment of a data directory of the test's own, holding a copy of
    the installed manifest (and the stamp of what it was made from)."""
    installed = tinyos_manifest().parent
    if not (installed / "debs.nix").exists():
        pytest.skip(f"tinyos is not set up in {installed} (scripts/setup)")
    own = tmp_path / "data"
    shutil.copytree(installed, own / "tinyos",
                    # not a half-written manifest, nor the installed data's GC roots
                    ignore=shutil.ignore_patterns(".*", "gcroots"))
    return {"NIXVMS_DATA_DIR": str(own)}


def test_building_the_wheel_leaves_no_build_directory_in_the_checkout(wheel: Path) -> None:
    assert not (REPO / "build").exists()


def test_setup_build_and_boot_from_the_wheel(installed: Path, tmp_path: Path,
                                             data_dir: dict[str, str]) -> None:
    nixvms = installed / "nixvms"
    setup = run(nixvms, "setup", cwd=tmp_path, env=data_dir, timeout=1800)
    assert setup.returncode == 0, setup.stderr[-3000:]
    project = tmp_path / "two-machines"
    shutil.copytree(REPO / "examples" / "two-machines", project, ignore=LOCAL_STATE)
    build = run(nixvms, "build", cwd=project, env=data_dir)
    assert build.returncode == 0, build.stderr
    assert (project / "result" / "bin" / "run-vms").exists()
    up = run(nixvms, "up", "--detach", "--timeout", "300", cwd=project, env=data_dir,
             timeout=600)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "ready" in up.stdout + up.stderr
    finally:
        stop = run(nixvms, "stop", cwd=project, env=data_dir)
        assert stop.returncode == 0, stop.stderr
