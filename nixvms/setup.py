"""`nixvms setup`: fetch the Debian files tinyos is built from, into the user's data.

The work is tinyos/setup-tinyos (shipped with the package): apt-get download
of each package and its Depends closure for every tinyos platform, each
.deb added to the Nix store as nixpkgs' requireFile expects, and the
manifest (debs.json, debs.nix) written to <data dir>/tinyos, where nixvms
passes it to tinyos as <nixvms-tinyos-debs>. Root is needed for
`dpkg --add-architecture i386` and for writing to a single-user Nix store.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from nixvms.errors import NixvmsError
from nixvms.nix import tinyos_manifest

# What decides the manifest: the script, the package set's lists of Debian
# packages, and apt's package lists (a newer candidate after apt-get update).
_INPUTS = ("setup-tinyos", "pkgs/platforms.nix", "pkgs/debian-packages.nix")
_APT_LISTS = Path("/var/lib/apt/lists")


def _inputs_digest() -> str:
    tinyos = resources.files("nixvms") / "tinyos"
    digest = hashlib.sha256()
    for name in _INPUTS:
        digest.update(name.encode() + b"\0" + (tinyos / name).read_bytes() + b"\0")
    try:
        for entry in sorted(os.scandir(_APT_LISTS), key=lambda e: e.name):
            digest.update(f"{entry.name}\0{entry.stat().st_mtime_ns}\n".encode())
    except OSError:
        pass
    return digest.hexdigest()


def _up_to_date(manifest: Path, stamp: Path, inputs: str) -> bool:
    """The manifest was made from these inputs and every file it names is in the store."""
    try:
        if stamp.read_text() != inputs:
            return False
        data = json.loads(manifest.with_name("debs.json").read_text())
        paths = [d["storePath"] for s in data["systems"].values()
                 for d in [*s["debs"].values(), s["bootstrap"]]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    return all(os.path.exists(p) for p in paths)


def run_setup(say: Callable[[str], None]) -> Path:
    """Run setup-tinyos with the data directory; return the manifest it wrote.

    A second run with nothing changed (the same package lists, apt's lists
    untouched, every file still in the store) returns at once.
    """
    script = resources.files("nixvms") / "tinyos" / "setup-tinyos"
    manifest = tinyos_manifest()
    stamp = manifest.with_name("inputs")
    inputs = _inputs_digest()
    if _up_to_date(manifest, stamp, inputs):
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
    stamp.write_text(_inputs_digest())  # after: the script may have updated apt's lists
    return manifest
