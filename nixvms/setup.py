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

from nixvms.errors import NixvmsError
from nixvms.nix import tinyos_manifest
from nixvms.state import write_atomic

# What decides the manifest besides apt's candidates: the script and the
# package set's lists of Debian packages.
_INPUTS = ("setup-tinyos", "pkgs/platforms.nix", "pkgs/debian-packages.nix")


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


def _store_paths(data: dict[str, Any]) -> list[str] | None:
    try:
        return [d["storePath"] for s in data["systems"].values()
                for d in [*s["debs"].values(), s["bootstrap"]]]
    except (KeyError, TypeError, AttributeError):
        return None


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
    """The manifest was made from what it depends on now, and every file it names
    is in the store."""
    data = _load_manifest(manifest)
    paths = _store_paths(data) if data is not None else None
    if paths is None or not all(os.path.exists(p) for p in paths):
        return False
    try:
        recorded = stamp.read_text()
    except OSError:
        return False
    return recorded == _current_inputs(manifest)


def run_setup(say: Callable[[str], None]) -> Path:
    """Run setup-tinyos with the data directory; return the manifest it wrote.

    A second run with nothing changed (the same package lists, the same
    candidates in apt, every file still in the store) returns at once.
    """
    script = resources.files("nixvms") / "tinyos" / "setup-tinyos"
    manifest = tinyos_manifest()
    stamp = manifest.with_name("inputs")
    if _up_to_date(manifest, stamp):
        say(f"tinyos's Debian files are set up already ({manifest.parent})")
        return manifest
    env = {**os.environ, "NIXVMS_TINYOS_DEBS_DIR": str(manifest.parent)}
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
    # Asked after the script: it may have updated apt's lists.
    inputs = _current_inputs(manifest)
    if inputs is not None:
        write_atomic(stamp, inputs)
    return manifest
