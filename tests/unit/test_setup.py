"""nixvms setup returns at once when nothing that decides the manifest changed:
the package set's lists and apt's candidates, asked in one query, not apt's
directory times. The fast path still checks the store (a file gone is added
again from the .deb cache) and makes the data directory's roots again. Nix is
replaced at nix.py's seam here; tests/test_setup_roots.py uses the real store."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from nixvms import nix, setup


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


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """nix.py's store calls, answered: which paths are invalid ("invalid"), what
    add_fixed was given ("added": name -> content); the script must not run."""
    seen: dict[str, Any] = {"invalid": [], "added": {}, "roots": []}

    def add_fixed(files: list[Path], settings: object) -> list[str]:
        seen["added"].update({f.name: f.read_bytes() for f in files})
        return list(seen["invalid"])

    def add_roots(paths: list[str], link: Path, settings: object) -> list[Path]:
        seen["roots"].append((list(paths), link))
        link.parent.mkdir(parents=True, exist_ok=True)
        links = [link, *(link.with_name(f"{link.name}-{i}") for i in range(2, len(paths) + 1))]
        for made, path in zip(links, paths, strict=True):
            made.unlink(missing_ok=True)
            made.symlink_to(path)
        return links

    def no_script(manifest: Path, say: object) -> None:
        raise AssertionError("the script ran")

    monkeypatch.setattr(nix, "invalid_store_paths", lambda paths, s: list(seen["invalid"]))
    monkeypatch.setattr(nix, "add_fixed", add_fixed)
    monkeypatch.setattr(nix, "add_roots", add_roots)
    monkeypatch.setattr(setup, "_run_script", no_script)
    monkeypatch.setenv("NIXVMS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NIXVMS_DEB_CACHE", str(tmp_path / "cache"))
    return seen


def set_up_already(tmp_path: Path, deb: bytes) -> Path:
    """A data directory whose manifest names one cached .deb, stamped current."""
    manifest = manifest_naming(tmp_path, "/")
    data = json.loads(manifest.with_name("debs.json").read_text())
    busybox = data["systems"]["x86_64-linux"]["debs"]["busybox-static"]
    busybox.update(storePath="/nix/store/aaa-busybox-static_1_amd64.deb",
                   name="busybox-static_1_amd64.deb", sha256=hashlib.sha256(deb).hexdigest())
    manifest.with_name("debs.json").write_text(json.dumps(data))
    (tmp_path / "cache" / "amd64").mkdir(parents=True)
    (tmp_path / "cache" / "amd64" / "busybox-static_1_amd64.deb").write_bytes(deb)
    manifest.with_name("inputs").write_text(setup._inputs_digest("candidates v1\n"))
    return manifest


def test_the_fast_path_roots_every_file_in_the_data_directory(
        tmp_path: Path, apt_says: dict[str, str | None], store: dict[str, Any]) -> None:
    set_up_already(tmp_path, b"a deb")
    setup.run_setup(lambda line: None)
    assert store["roots"] == [(["/nix/store/aaa-busybox-static_1_amd64.deb", "/", "/", "/"],
                               tmp_path / "tinyos" / "gcroots" / "x86_64-linux")]


def test_the_fast_path_removes_its_own_stale_roots_only(
        tmp_path: Path, apt_says: dict[str, str | None], store: dict[str, Any]) -> None:
    set_up_already(tmp_path, b"a deb")
    roots = tmp_path / "tinyos" / "gcroots"
    roots.mkdir()
    (roots / "x86_64-linux-busybox-static").symlink_to("/nix/store/old-busybox")
    elsewhere = tmp_path / "other" / "tinyos" / "gcroots"
    elsewhere.mkdir(parents=True)
    (elsewhere / "x86_64-linux-9").symlink_to("/nix/store/theirs")
    setup.run_setup(lambda line: None)
    assert sorted(p.name for p in roots.iterdir()) == [
        "x86_64-linux", "x86_64-linux-2", "x86_64-linux-3", "x86_64-linux-4"]
    assert os.readlink(elsewhere / "x86_64-linux-9") == "/nix/store/theirs"


def test_a_deb_gone_from_the_store_is_added_again_from_the_cache(
        tmp_path: Path, apt_says: dict[str, str | None], store: dict[str, Any]) -> None:
    set_up_already(tmp_path, b"a deb")
    store["invalid"] = ["/nix/store/aaa-busybox-static_1_amd64.deb"]
    setup.run_setup(lambda line: None)
    assert store["added"] == {"busybox-static_1_amd64.deb": b"a deb"}


@pytest.mark.parametrize("cached", [b"another deb", None], ids=["changed", "gone"])
def test_a_deb_gone_from_the_store_and_not_cached_as_recorded_runs_the_script(
        tmp_path: Path, apt_says: dict[str, str | None], store: dict[str, Any],
        cached: bytes | None) -> None:
    set_up_already(tmp_path, b"a deb")
    cache_file = tmp_path / "cache" / "amd64" / "busybox-static_1_amd64.deb"
    if cached is None:
        cache_file.unlink()
    else:
        cache_file.write_bytes(cached)
    store["invalid"] = ["/nix/store/aaa-busybox-static_1_amd64.deb"]
    with pytest.raises(AssertionError, match="the script ran"):
        setup.run_setup(lambda line: None)
    assert store["added"] == {}


def test_a_bootstrap_gone_from_the_store_runs_the_script(
        tmp_path: Path, apt_says: dict[str, str | None], store: dict[str, Any]) -> None:
    set_up_already(tmp_path, b"a deb")
    store["invalid"] = ["/"]
    with pytest.raises(AssertionError, match="the script ran"):
        setup.run_setup(lambda line: None)
