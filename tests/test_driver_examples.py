"""The example tests pass, run as the README says:
`nixvms test examples/network.nix examples/tests/manual.py` (the manual's
network: an i686 and an x86_64 machine) and examples/tests/two-machines.py,
on copies of the examples (real Nix, real QEMU under TCG)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import LOCAL_STATE, REPO, nixvms
from tests.test_driver_cli import left_running

pytestmark = [pytest.mark.nix, pytest.mark.vm]

GLUE = REPO / "nixvms" / "nix" / "machine.nix"


def examples(tmp_path: Path) -> Path:
    """A copy of examples/. Until nixvms's machine glue imports the test
    instrumentation into every machine, the copies' networks import it."""
    copy = tmp_path / "examples"
    shutil.copytree(REPO / "examples", copy, ignore=LOCAL_STATE)
    if "testing/test-instrumentation.nix" not in GLUE.read_text():
        for network in (copy / "network.nix", copy / "two-machines" / "network.nix"):
            original = network.with_name("original.nix")
            network.rename(original)
            network.write_text(
                "import ./original.nix // { defaults = { modulesPath, ... }: { imports = "
                "[ (modulesPath + \"/testing/test-instrumentation.nix\") ]; }; }\n")
    return copy


def test_the_manual_networks_test_passes(tmp_path: Path) -> None:
    copy = examples(tmp_path)
    run = nixvms("test", "examples/network.nix", "examples/tests/manual.py", cwd=tmp_path)
    assert run.code == 0, run.stderr[-4000:]
    assert len(re.findall(r"^  ok   ", run.stdout, re.M)) == 4, run.stdout
    assert left_running(copy) == []


def test_the_two_machines_test_passes(tmp_path: Path) -> None:
    copy = examples(tmp_path)
    run = nixvms("test", "examples/two-machines/network.nix", "examples/tests/two-machines.py",
                 cwd=tmp_path)
    assert run.code == 0, run.stderr[-4000:]
    assert len(re.findall(r"^  ok   ", run.stdout, re.M)) == 3, run.stdout
    assert left_running(copy / "two-machines") == []
