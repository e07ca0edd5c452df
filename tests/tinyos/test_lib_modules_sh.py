"""nixpkgs' own module-system test suite (lib/tests/modules.sh of the
nix-community/nixpkgs.lib mirror) passes against tinyos's lib (issue 29).

The suite is not part of nixvms: point NIXVMS_NIXPKGS_LIB at a checkout of
https://github.com/nix-community/nixpkgs.lib (or at its git directory) to run it.
It runs in a scratch copy whose lib/*.nix are tinyos's, as nixpkgs would run it
against its own lib.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.nix

LIB = Path(__file__).resolve().parents[2] / "nixvms" / "tinyos" / "lib"
MIRROR = os.environ.get("NIXVMS_NIXPKGS_LIB", "")


def scratch_tree(mirror: Path, into: Path) -> Path:
    """lib/tests of the mirror and tinyos's lib files, as `into`/lib."""
    if (mirror / "lib" / "tests" / "modules.sh").is_file():
        shutil.copytree(mirror / "lib" / "tests", into / "lib" / "tests")
    else:  # a (bare) git directory
        archive = subprocess.run(["git", "--git-dir", str(mirror), "archive", "HEAD", "lib/tests"],
                                 capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    for path in LIB.iterdir():
        shutil.copy(path, into / "lib" / path.name)
    return into / "lib" / "tests" / "modules.sh"


@pytest.mark.skipif(not MIRROR, reason="NIXVMS_NIXPKGS_LIB is not set: it names a checkout (or"
                    " git directory) of github.com/nix-community/nixpkgs.lib, whose"
                    " lib/tests/modules.sh this test runs against tinyos's lib")
def test_nixpkgs_module_system_suite_passes_on_tinyos_lib(tmp_path: Path) -> None:
    script = scratch_tree(Path(MIRROR), tmp_path)
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False,
                          timeout=3600, env={**os.environ, "NIX_CONFIG": "substituters ="})
    output = proc.stdout + proc.stderr
    summary = re.search(r"(\d+) Pass\s+(\d+) Fail", output)
    assert summary, output[-3000:]
    lines = script.read_text().splitlines()
    failed = [lines[int(n) - 1] for n in re.findall(r"TEST FAILED\S* at modules\.sh:(\d+)", output)]
    # The abort-on-warn cases need Nix's `abort-on-warn` setting (Nix >= 2.23);
    # nixpkgs' own lib fails them on an older Nix too.
    unexpected = [line for line in failed if not line.startswith("ABORT_ON_WARN=1 ")]
    assert unexpected == [], "\n".join(unexpected)
