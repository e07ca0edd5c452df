"""Which package set a build uses: a nixpkgs named in -I or NIX_PATH that does
not exist is an error naming it (never a quiet fallback to tinyos); tinyos
is announced once, on a project's first build."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from nixvms import nix
from nixvms.nix import NixError, NixSettings
from tests.conftest import BIN, Run, nixvms, write

NETWORK = "{ a = { ... }: { }; }\n"
TINYOS_NOTICE = "no nixpkgs in NIX_PATH or -I: building with nixvms's bundled tinyos"


def build_with_nix_path(project: Path, nix_path: str, *args: str) -> Run:
    proc = subprocess.run([str(BIN / "nixvms"), "build", *args], cwd=project,
                          capture_output=True, text=True, check=False, timeout=600,
                          env={**os.environ, "NIX_PATH": nix_path})
    return Run(proc.returncode, proc.stdout, proc.stderr)


def test_a_missing_nixpkgs_in_nix_path_is_an_error_naming_it(project: Path) -> None:
    write(project / "network.nix", NETWORK)
    run = build_with_nix_path(project, "nixpkgs=/no/such/nixpkgs")
    assert run.code == 1
    assert run.stderr.splitlines() == [
        "error: NIX_PATH's entry nixpkgs=/no/such/nixpkgs does not exist; correct or remove "
        "it (nixvms uses its bundled tinyos only where no nixpkgs is named)"]
    assert not (project / "result").exists()


def test_a_missing_nixpkgs_given_with_dash_i_is_an_error_naming_it(project: Path) -> None:
    write(project / "network.nix", NETWORK)
    run = nixvms("build", "-I", "nixpkgs=/no/such/nixpkgs", cwd=project)
    assert run.code == 1
    assert run.stderr.splitlines() == [
        "error: the search path entry -I nixpkgs=/no/such/nixpkgs does not exist"]


def test_a_missing_nixpkgs_after_one_that_exists_is_not_reached(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIX_PATH", f"nixpkgs={tmp_path}:nixpkgs=/no/such/nixpkgs")
    nix.check_include_paths(NixSettings())


def test_a_directory_entry_holding_nixpkgs_comes_before_a_missing_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "nixpkgs").mkdir()
    monkeypatch.setenv("NIX_PATH", f"/no/such/channels:{tmp_path}:nixpkgs=/no/such/nixpkgs")
    nix.check_include_paths(NixSettings())


def test_an_existing_dash_i_nixpkgs_comes_before_nix_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIX_PATH", "nixpkgs=/no/such/nixpkgs")
    nix.check_include_paths(NixSettings(include=(f"nixpkgs={tmp_path}",)))


def test_a_nix_path_naming_no_nixpkgs_leaves_the_choice_to_tinyos(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIX_PATH", "/no/such/channels:other=/no/such/other")
    nix.check_include_paths(NixSettings())


def test_the_missing_entry_is_named_even_behind_missing_channel_directories(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIX_PATH", "/no/such/channels:nixpkgs=/gone")
    with pytest.raises(NixError, match=r"NIX_PATH's entry nixpkgs=/gone does not exist"):
        nix.check_include_paths(NixSettings())


@pytest.mark.nix
def test_tinyos_is_announced_on_the_first_build_only(project: Path) -> None:
    write(project / "network.nix", NETWORK)
    env_without = {k: v for k, v in os.environ.items() if k != "NIX_PATH"}

    def build() -> str:
        return subprocess.run([str(BIN / "nixvms"), "build"], cwd=project, env=env_without,
                              capture_output=True, text=True, check=True,
                              timeout=600).stderr

    assert TINYOS_NOTICE in build().splitlines()
    write(project / "network.nix", NETWORK.replace("{ }", "{ networking.hostName = \"b\"; }"))
    again = build()
    assert "evaluating a" in again.splitlines()
    assert TINYOS_NOTICE not in again


@pytest.mark.nix
def test_verbose_says_the_package_set_on_every_build(project: Path) -> None:
    write(project / "network.nix", NETWORK)
    env_without = {k: v for k, v in os.environ.items() if k != "NIX_PATH"}
    for _ in range(2):
        stderr = subprocess.run([str(BIN / "nixvms"), "build", "-v"], cwd=project,
                                env=env_without, capture_output=True, text=True, check=True,
                                timeout=600).stderr
        [line] = [line for line in stderr.splitlines() if line.startswith("package set: ")]
        assert line.endswith("/tinyos (nixvms's bundled tinyos)")
