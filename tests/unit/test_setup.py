"""nixvms setup returns at once when nothing that decides the manifest changed."""

from __future__ import annotations

import json
from pathlib import Path

from nixvms import setup


def manifest_naming(tmp_path: Path, store_path: str) -> Path:
    directory = tmp_path / "tinyos"
    directory.mkdir()
    system = {"debs": {"busybox": {"storePath": store_path}}, "bootstrap": {"storePath": "/"}}
    (directory / "debs.json").write_text(json.dumps({"systems": {"x86_64-linux": system}}))
    (directory / "debs.nix").write_text("{ }")
    return directory / "debs.nix"


def test_a_manifest_from_the_same_inputs_with_its_files_in_the_store_is_kept(
        tmp_path: Path) -> None:
    manifest = manifest_naming(tmp_path, "/")
    (tmp_path / "tinyos" / "inputs").write_text("digest")
    assert setup._up_to_date(manifest, tmp_path / "tinyos" / "inputs", "digest")


def test_other_inputs_make_setup_run_again(tmp_path: Path) -> None:
    manifest = manifest_naming(tmp_path, "/")
    (tmp_path / "tinyos" / "inputs").write_text("older digest")
    assert not setup._up_to_date(manifest, tmp_path / "tinyos" / "inputs", "digest")


def test_a_file_gone_from_the_store_makes_setup_run_again(tmp_path: Path) -> None:
    manifest = manifest_naming(tmp_path, str(tmp_path / "gone"))
    (tmp_path / "tinyos" / "inputs").write_text("digest")
    assert not setup._up_to_date(manifest, tmp_path / "tinyos" / "inputs", "digest")


def test_the_inputs_include_the_package_lists() -> None:
    assert len(setup._inputs_digest()) == 64
