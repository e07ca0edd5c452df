"""`nixvms setup`: fetch the Debian files tinyos is built from, into the user's data.

The work is tinyos/setup-tinyos (shipped with the package): apt-get download
of each package and its Depends closure for every tinyos platform, each
.deb added to the Nix store as nixpkgs' requireFile expects, and the
manifest (debs.json, debs.nix) written to <data dir>/tinyos, where nixvms
passes it to tinyos as <nixvms-tinyos-debs>. Root is needed for
`dpkg --add-architecture i386` and for writing to a single-user Nix store.

Whether the work must be redone is decided from what it depends on, not
from apt's directory times (any apt run on the machine touches those):
the script and the package set's lists of Debian packages, and apt's
candidate for every package the manifest names (its file and SHA-256),
asked with one `apt-get download --print-uris` over all of them. The
closures the script computes follow from those: a package's dependencies
change only with its version.

The store paths the manifest names are kept by GC roots of the data
directory's own (<data dir>/tinyos/gcroots/<system>, <system>-2, ...:
indirect roots, as `nix-build -o` makes), so a setup for one data directory
(a test's, another checkout's) never drops another's roots, and a data
directory that is deleted stops rooting anything. Every run checks that the
files are still valid in the store (one nix-store call): one that is gone
(a `nix-store --delete`, a GC while unrooted) is added again from the .deb
cache, as the script added it; the roots are made again and this data
directory's stale ones removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from nixvms import nix
from nixvms.errors import NixvmsError
from nixvms.nix import NixSettings, tinyos_manifest
from nixvms.state import write_atomic

# What decides the manifest besides apt's candidates: the script and the
# package set's lists of Debian packages.
_INPUTS = ("setup-tinyos", "pkgs/platforms.nix", "pkgs/debian-packages.nix")
# Where the script keeps the .debs it downloads (passed to it; its own default
# is the same), one directory per Debian architecture.
_DEB_CACHE = "/var/cache/nixvms/debs"


def deb_cache() -> Path:
    return Path(os.environ.get("NIXVMS_DEB_CACHE") or _DEB_CACHE)


def roots_dir(manifest: Path) -> Path:
    """The directory of the data directory's GC roots of the manifest's files."""
    return manifest.with_name("gcroots")


def _inputs_digest(candidates: str) -> str:
    """A digest of the inputs and of apt's candidates (`_apt_candidates`)."""
    tinyos = resources.files("nixvms") / "tinyos"
    digest = hashlib.sha256()
    for name in _INPUTS:
        digest.update(name.encode() + b"\0" + (tinyos / name).read_bytes() + b"\0")
    digest.update(b"apt candidates\0" + candidates.encode())
    return digest.hexdigest()


def _load_manifest(manifest: Path) -> dict[str, Any] | None:
    """debs.json beside the manifest, or None when it is missing or unreadable."""
    try:
        data = json.loads(manifest.with_name("debs.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _store_paths(data: dict[str, Any]) -> dict[str, list[str]] | None:
    """Each system's store paths: its .debs, then its bootstrap busybox."""
    try:
        return {name: [d["storePath"] for d in [*s["debs"].values(), s["bootstrap"]]]
                for name, s in data["systems"].items()}
    except (KeyError, TypeError, AttributeError):
        return None


def _debs_by_path(data: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each .deb's store path -> (its Debian architecture, its manifest entry)."""
    return {d["storePath"]: (s["debArch"], d) for s in data["systems"].values()
            for d in s["debs"].values()}


def _readd_debs(data: dict[str, Any], missing: list[str], settings: NixSettings) -> bool:
    """Add the missing .debs to the store again from the .deb cache, under the
    names the script gave them (the same content and name: the same store
    path). False when one cannot be (not a .deb, its file no longer cached
    as the manifest says): then the script must run."""
    debs = _debs_by_path(data)
    with tempfile.TemporaryDirectory() as stage:
        files = []
        for path in missing:
            if path not in debs:
                return False
            arch, deb = debs[path]
            try:
                content = (deb_cache() / arch / deb["file"]).read_bytes()
            except (OSError, KeyError, TypeError):
                return False
            if hashlib.sha256(content).hexdigest() != deb.get("sha256"):
                return False
            staged = Path(stage) / deb["name"]
            staged.write_bytes(content)
            files.append(staged)
        return nix.add_fixed(files, settings) == missing


def _root_manifest(data: dict[str, Any], roots: Path, settings: NixSettings) -> None:
    """Make every file the manifest names a GC root in `roots` (one nix-store
    call per system) and remove the links there that no longer name one.
    Nothing outside `roots` is touched."""
    systems = _store_paths(data) or {}
    # Nix refuses to replace anything but a link into the store; a copy of the
    # data directory that followed the links (cp -r, shutil.copytree) leaves
    # the .debs themselves here. The directory is ours: they go.
    for entry in roots.iterdir() if roots.is_dir() else ():
        if entry.is_file() and not entry.is_symlink():
            entry.unlink()
    made: set[str] = set()
    for system, paths in systems.items():
        made.update(link.name for link in nix.add_roots(paths, roots / system, settings))
    for link in roots.iterdir() if roots.is_dir() else ():
        if link.is_symlink() and link.name not in made:
            link.unlink()


def _store_is_whole(data: dict[str, Any], settings: NixSettings) -> bool:
    """Every file the manifest names is valid in the store, or was added again."""
    systems = _store_paths(data)
    if systems is None:
        return False
    wanted = list(dict.fromkeys(p for paths in systems.values() for p in paths))
    missing = nix.invalid_store_paths(wanted, settings)
    return not missing or _readd_debs(data, missing, settings)


def query_names(data: dict[str, Any]) -> list[str] | None:
    """Every package the manifest names, qualified as apt is asked for it: the
    packages fetched (pkg:all for an architecture-independent file, else
    pkg:<arch>) and the names they were fetched for (a kernel metapackage)."""
    names: set[str] = set()
    try:
        for system in data["systems"].values():
            arch = system["debArch"]
            for name, deb in system["debs"].items():
                package, file = deb["package"], deb["file"]
                names.add(f"{package}:{'all' if file.endswith('_all.deb') else arch}")
                if name != package:
                    names.add(f"{name}:{arch}")
    except (KeyError, TypeError, AttributeError):
        return None
    return sorted(names)


def _apt_candidates(names: list[str]) -> str | None:
    """apt's candidate of each name ("'URI' file size SHA256:…" lines, sorted),
    from one apt-get call; None when apt has no candidate for one of them."""
    if not names:
        return None
    # From an empty directory: apt-get prints nothing for a file already in the working one.
    with tempfile.TemporaryDirectory() as empty:
        try:
            proc = subprocess.run(["apt-get", "download", "--print-uris", *names], cwd=empty,
                                  capture_output=True, text=True, check=False)
        except OSError:
            return None
    lines = sorted(line for line in proc.stdout.splitlines() if line.startswith("'"))
    if proc.returncode != 0 or len(lines) != len(names):
        return None
    return "\n".join(lines) + "\n"


def _current_inputs(manifest: Path) -> str | None:
    """The digest of what the manifest at `manifest` depends on now, or None
    when that cannot be known (no manifest, a package apt no longer has)."""
    data = _load_manifest(manifest)
    names = query_names(data) if data is not None else None
    candidates = _apt_candidates(names) if names is not None else None
    return _inputs_digest(candidates) if candidates is not None else None


def _up_to_date(manifest: Path, stamp: Path) -> bool:
    """The manifest was made from what it depends on now."""
    try:
        recorded = stamp.read_text()
    except OSError:
        return False
    return recorded == _current_inputs(manifest)


def run_setup(say: Callable[[str], None]) -> Path:
    """Run setup-tinyos with the data directory; return the manifest it wrote.

    A second run with nothing changed (the same package lists, the same
    candidates in apt) returns at once, once every file is in the store
    (added again from the .deb cache if it was not) and rooted.
    """
    manifest = tinyos_manifest()
    stamp = manifest.with_name("inputs")
    settings = NixSettings()
    data = _load_manifest(manifest)
    if data is not None and _up_to_date(manifest, stamp) and _store_is_whole(data, settings):
        _root_manifest(data, roots_dir(manifest), settings)
        say(f"tinyos's Debian files are set up already ({manifest.parent})")
        return manifest
    _run_script(manifest, say)
    data = _load_manifest(manifest)
    if data is None:
        raise NixvmsError(f"setting up tinyos wrote no readable {manifest.with_name('debs.json')}")
    _root_manifest(data, roots_dir(manifest), settings)
    # Asked after the script: it may have updated apt's lists.
    inputs = _current_inputs(manifest)
    if inputs is not None:
        write_atomic(stamp, inputs)
    return manifest


def _run_script(manifest: Path, say: Callable[[str], None]) -> None:
    """Run setup-tinyos: fetch what the .deb cache lacks, add every file to the
    store, root them in the data directory, write the manifest."""
    script = resources.files("nixvms") / "tinyos" / "setup-tinyos"
    env = {**os.environ, "NIXVMS_TINYOS_DEBS_DIR": str(manifest.parent),
           "NIXVMS_DEB_CACHE": str(deb_cache())}
    say(f"fetching tinyos's Debian files; the manifest goes to {manifest.parent}")
    try:
        proc = subprocess.run(["bash", str(script)], env=env, check=False)
    except OSError as error:
        raise NixvmsError(f"cannot run {script}: {error.strerror}") from error
    if proc.returncode != 0:
        raise NixvmsError(f"setting up tinyos failed (exit {proc.returncode}); its last "
                          "lines above say why")
    if not manifest.exists():
        raise NixvmsError(f"setting up tinyos wrote no {manifest}")
