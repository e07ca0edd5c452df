"""`nixvms setup`'s GC roots in the real Nix store: each data directory roots
the files its manifest names in its own gcroots directory, so a setup for
one data directory leaves another's roots alone, and the fast path adds a
file gone from the store again from the .deb cache.

The manifests here name files the test makes (unique content, so nothing
else in the store shares them), in tmp data directories and a tmp .deb
cache: no apt, no Debian download, the shared data directory untouched.
apt's answer is replaced (as in tests/unit/test_setup.py) and the script
must not run."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from pathlib import Path

import pytest

from nixvms import setup

pytestmark = pytest.mark.nix

SYSTEM = "x86_64-linux"


def nix_store(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nix-store", *args], capture_output=True, text=True, check=False)


def add_fixed(path: Path) -> str:
    proc = nix_store("--add-fixed", "sha256", str(path))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


class DataDir:
    """A data directory set up already: its manifest names one .deb (kept in
    the cache) and a bootstrap, both added to the store, and is stamped
    current."""

    def __init__(self, root: Path, cache: Path) -> None:
        self.root = root
        self.manifest = root / "tinyos" / "debs.nix"
        self.manifest.parent.mkdir(parents=True)
        content = f"a .deb for {root} {uuid.uuid4()}".encode()
        name = f"fake-{uuid.uuid4().hex[:8]}_1_amd64.deb"
        (cache / "amd64").mkdir(parents=True, exist_ok=True)
        (cache / "amd64" / name).write_bytes(content)
        self.deb = add_fixed(cache / "amd64" / name)
        bootstrap = root / "busybox-bootstrap"
        bootstrap.write_text(f"a bootstrap for {root} {uuid.uuid4()}")
        self.bootstrap = add_fixed(bootstrap)
        deb = {"package": "fake", "version": "1", "file": name, "name": name,
               "sha256": hashlib.sha256(content).hexdigest(), "storePath": self.deb}
        system = {"debArch": "amd64", "debs": {"fake": deb},
                  "bootstrap": {"storePath": self.bootstrap}}
        (root / "tinyos" / "debs.json").write_text(json.dumps({"systems": {SYSTEM: system}}))
        self.manifest.write_text("{ }")
        (root / "tinyos" / "inputs").write_text(setup._inputs_digest("candidates v1\n"))

    @property
    def roots(self) -> Path:
        return setup.roots_dir(self.manifest)

    def set_up(self, monkeypatch: pytest.MonkeyPatch) -> None:
        with monkeypatch.context() as patch:
            patch.setenv("NIXVMS_DATA_DIR", str(self.root))
            setup.run_setup(lambda line: None)

    def rooted(self) -> set[str]:
        return {str(link.readlink()) for link in self.roots.iterdir()}


@pytest.fixture
def data_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[DataDir, DataDir]:
    def no_script(manifest: Path, say: object) -> None:
        raise AssertionError("the script ran")

    monkeypatch.setattr(setup, "_apt_candidates", lambda names: "candidates v1\n")
    monkeypatch.setattr(setup, "_run_script", no_script)
    monkeypatch.setenv("NIXVMS_DEB_CACHE", str(tmp_path / "cache"))
    return DataDir(tmp_path / "a", tmp_path / "cache"), DataDir(tmp_path / "b", tmp_path / "cache")


def test_setup_roots_the_manifests_files_in_its_data_directory(
        data_dirs: tuple[DataDir, DataDir], monkeypatch: pytest.MonkeyPatch) -> None:
    a, _ = data_dirs
    a.set_up(monkeypatch)
    assert a.rooted() == {a.deb, a.bootstrap}
    refused = nix_store("--delete", a.deb)
    assert refused.returncode != 0 and "still alive" in refused.stderr


def test_setup_for_one_data_directory_leaves_anothers_roots_alone(
        data_dirs: tuple[DataDir, DataDir], monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = data_dirs
    a.set_up(monkeypatch)
    b.set_up(monkeypatch)
    assert a.rooted() == {a.deb, a.bootstrap}
    refused = nix_store("--delete", a.deb, a.bootstrap)
    assert refused.returncode != 0 and "still alive" in refused.stderr


def test_the_fast_path_adds_a_deb_gone_from_the_store_again(
        data_dirs: tuple[DataDir, DataDir], monkeypatch: pytest.MonkeyPatch) -> None:
    a, _ = data_dirs
    a.set_up(monkeypatch)
    for link in a.roots.iterdir():
        link.unlink()
    deleted = nix_store("--delete", a.deb)
    assert deleted.returncode == 0, deleted.stderr
    assert nix_store("--check-validity", a.deb).returncode != 0
    a.set_up(monkeypatch)
    assert nix_store("--check-validity", a.deb).returncode == 0
    assert a.rooted() == {a.deb, a.bootstrap}


def test_a_copy_of_a_data_directory_that_followed_its_root_links_sets_up_again(
        data_dirs: tuple[DataDir, DataDir], monkeypatch: pytest.MonkeyPatch) -> None:
    a, _ = data_dirs
    a.set_up(monkeypatch)
    for link in a.roots.iterdir():  # what `cp -r` or shutil.copytree leaves
        content = link.read_bytes()
        link.unlink()
        link.write_bytes(content)
    a.set_up(monkeypatch)
    assert all(link.is_symlink() for link in a.roots.iterdir())
    assert a.rooted() == {a.deb, a.bootstrap}
