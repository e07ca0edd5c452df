"""nixvms setup returns at once when nothing that decides the manifest changed:
the package set's lists and apt's candidates, asked in one query, not apt's
directory times."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from nixvms import setup


def manifest_naming(tmp_path: Path, store_path: str) -> Path:
    directory = tmp_path / "tinyos"
    directory.mkdir()
    debs = {
        "busybox-static": {"package": "busybox-static", "file": "busybox-static_1_amd64.deb",
                           "storePath": store_path},
        "lynx-common": {"package": "lynx-common", "file": "lynx-common_2_all.deb",
                        "storePath": store_path},
        "linux-image-cloud-amd64": {"package": "linux-image-6.1.0-1-cloud-amd64",
                                    "file": "linux-image-6.1.0-1-cloud-amd64_6_amd64.deb",
                                    "storePath": store_path},
    }
    system = {"debArch": "amd64", "debs": debs, "bootstrap": {"storePath": "/"}}
    (directory / "debs.json").write_text(json.dumps({"systems": {"x86_64-linux": system}}))
    (directory / "debs.nix").write_text("{ }")
    return directory / "debs.nix"


@pytest.fixture
def apt_says(monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    """What apt answers for the candidates (set "now"), and the names it was asked."""
    answer: dict[str, str | None] = {"now": "candidates v1\n"}

    def candidates(names: list[str]) -> str | None:
        answer["asked"] = " ".join(names)
        return answer["now"]

    monkeypatch.setattr(setup, "_apt_candidates", candidates)
    return answer


def test_a_manifest_whose_candidates_apt_still_has_is_kept(
        tmp_path: Path, apt_says: dict[str, str | None]) -> None:
    manifest = manifest_naming(tmp_path, "/")
    (tmp_path / "tinyos" / "inputs").write_text(setup._inputs_digest("candidates v1\n"))
    assert setup._up_to_date(manifest, tmp_path / "tinyos" / "inputs")


def test_a_new_candidate_in_apt_makes_setup_run_again(
        tmp_path: Path, apt_says: dict[str, str | None]) -> None:
    manifest = manifest_naming(tmp_path, "/")
    (tmp_path / "tinyos" / "inputs").write_text(setup._inputs_digest("candidates v1\n"))
    apt_says["now"] = "candidates v2\n"
    assert not setup._up_to_date(manifest, tmp_path / "tinyos" / "inputs")


def test_a_package_apt_no_longer_has_makes_setup_run_again(
        tmp_path: Path, apt_says: dict[str, str | None]) -> None:
    manifest = manifest_naming(tmp_path, "/")
    (tmp_path / "tinyos" / "inputs").write_text(setup._inputs_digest("candidates v1\n"))
    apt_says["now"] = None
    assert not setup._up_to_date(manifest, tmp_path / "tinyos" / "inputs")


def test_a_file_gone_from_the_store_makes_setup_run_again(
        tmp_path: Path, apt_says: dict[str, str | None]) -> None:
    manifest = manifest_naming(tmp_path, str(tmp_path / "gone"))
    (tmp_path / "tinyos" / "inputs").write_text(setup._inputs_digest("candidates v1\n"))
    assert not setup._up_to_date(manifest, tmp_path / "tinyos" / "inputs")


def test_a_stamp_of_older_inputs_makes_setup_run_again(
        tmp_path: Path, apt_says: dict[str, str | None]) -> None:
    manifest = manifest_naming(tmp_path, "/")
    (tmp_path / "tinyos" / "inputs").write_text("a digest of apt's directory times")
    assert not setup._up_to_date(manifest, tmp_path / "tinyos" / "inputs")


def test_apt_is_asked_for_every_file_and_metapackage_as_it_was_fetched(
        tmp_path: Path, apt_says: dict[str, str | None]) -> None:
    manifest = manifest_naming(tmp_path, "/")
    (tmp_path / "tinyos" / "inputs").write_text(setup._inputs_digest("candidates v1\n"))
    setup._up_to_date(manifest, tmp_path / "tinyos" / "inputs")
    assert apt_says["asked"] == ("busybox-static:amd64 linux-image-6.1.0-1-cloud-amd64:amd64 "
                                 "linux-image-cloud-amd64:amd64 lynx-common:all")


def test_the_candidates_are_one_apt_call(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        out = "".join(f"'http://x/{n}.deb' {n.split(':')[0]}_1_amd64.deb 1 SHA256:00\n"
                      for n in command[3:])
        return subprocess.CompletedProcess(command, 0, out, "")

    monkeypatch.setattr(subprocess, "run", run)
    names = [f"p{i}:amd64" for i in range(150)]
    assert setup._apt_candidates(names) is not None
    assert calls == [["apt-get", "download", "--print-uris", *names]]


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt (Debian)")
def test_a_package_apt_does_not_know_has_no_candidates() -> None:
    assert setup._apt_candidates(["busybox-static:amd64", "no-such-package-xyz:amd64"]) is None
