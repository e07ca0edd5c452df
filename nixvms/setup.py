"""`nixvms setup`: fetch the Debian files tinyos is built from, into the user's data.

The work is tinyos/setup-tinyos (shipped with the package): apt-get download
of each package and its Depends closure for every tinyos platform, each
.deb added to the Nix store as nixpkgs' requireFile expects, and the
manifest (debs.json, debs.nix) written to <data dir>/tinyos, where nixvms
passes it to tinyos as <nixvms-tinyos-debs>. Root is needed for
`dpkg --add-architecture i386` and for writing to a single-user Nix store.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from nixvms.errors import NixvmsError
from nixvms.nix import tinyos_manifest


def run_setup(say: Callable[[str], None]) -> Path:
    """Run setup-tinyos with the data directory; return the manifest it wrote."""
    script = resources.files("nixvms") / "tinyos" / "setup-tinyos"
    manifest = tinyos_manifest()
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
    return manifest
