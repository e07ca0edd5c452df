"""Test reruns restore instead of booting (real QEMU under TCG): `nixvms test`
keeps a ready snapshot per machine and build; a rerun restores the unchanged
machines, boots the changed ones; --no-snapshots boots everything; the
driver's snapshot_save/snapshot_restore; a machine QEMU cannot snapshot
boots, and nixvms says why once.

The runs of one project follow each other in file order (each depends on the
ready snapshots the ones before left)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import Run, nixvms, write

pytestmark = [pytest.mark.nix, pytest.mark.vm]

NETWORK = """\
{
  defaults = { modulesPath, ... }: {
    imports = [ (modulesPath + "/testing/test-instrumentation.nix") ];
    virtualisation.memorySize = 512;
  };
  a = { ... }: { };
  b = import ./b.nix;
}
"""
B = "{ ... }: { }\n"
# passes only on a machine nothing wrote to before: from a fresh boot's state
FRESH = """\
start_all()
for m in machines:
    m.succeed("test ! -e /var/lib/mark")
    m.succeed("touch /var/lib/mark")
"""
BRANCHES = """\
start_all()
a.succeed("echo 1 > /var/lib/x")
snapshot_save("branch")
a.succeed("echo 2 > /var/lib/x")
snapshot_restore("branch")
assert a.succeed("cat /var/lib/x").strip() == "1"
a.snapshot_save("one")
a.succeed("rm /var/lib/x")
a.snapshot_restore("one")
a.succeed("test -e /var/lib/x")
"""


def started(run: Run) -> dict[str, str]:
    """How each machine started in a run: "booted" or "restored"."""
    how = {}
    for machine, verb in re.findall(r"\]\s+(\w+): (booted|restored) ", run.stderr):
        how[machine] = verb
    return how


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("reruns")
    write(directory / "network.nix", NETWORK)
    write(directory / "b.nix", B)
    write(directory / "fresh.py", FRESH)
    write(directory / "branches.py", BRANCHES)
    return directory


@pytest.fixture(scope="module")
def first(project: Path) -> Run:
    return nixvms("test", "fresh.py", cwd=project)


@pytest.fixture(scope="module")
def second(project: Path, first: Run) -> Run:
    return nixvms("test", "fresh.py", cwd=project)


def test_a_test_that_asserts_a_file_it_writes_was_absent_passes_twice_in_a_row(
        first: Run, second: Run) -> None:
    assert first.code == 0, first.stderr
    assert second.code == 0, second.stderr


def test_the_first_run_boots_and_the_second_restores_every_machine(
        first: Run, second: Run) -> None:
    assert started(first) == {"a": "booted", "b": "booted"}
    assert started(second) == {"a": "restored", "b": "restored"}
    assert "a: restored from its ready snapshot (not booted)" in second.stderr


def test_editing_one_machine_boots_only_that_one(project: Path, second: Run) -> None:
    write(project / "b.nix", '{ ... }: { environment.etc.edited.text = "1"; }\n')
    edited = nixvms("test", "fresh.py", cwd=project)
    assert edited.code == 0, edited.stderr
    assert started(edited) == {"a": "restored", "b": "booted"}


def test_no_snapshots_boots_every_machine_from_a_new_disk(project: Path, second: Run) -> None:
    booted = nixvms("test", "--no-snapshots", "fresh.py", cwd=project)
    assert booted.code == 0, booted.stderr
    assert started(booted) == {"a": "booted", "b": "booted"}


def test_a_script_branches_from_the_drivers_snapshots(project: Path, second: Run) -> None:
    branched = nixvms("test", "branches.py", cwd=project)
    assert branched.code == 0, branched.stderr


UNSNAPSHOTTABLE = """\
{
  solo = { modulesPath, ... }: {
    imports = [ (modulesPath + "/testing/test-instrumentation.nix") ];
    # shared memory without a master: QEMU refuses to migrate (and to savevm) it
    virtualisation.qemu.options = [
      "-object memory-backend-ram,id=hm,size=1M,share=on -device ivshmem-plain,memdev=hm" ];
  };
}
"""


def test_a_machine_qemu_cannot_snapshot_boots_and_nixvms_says_why_once(
        tmp_path: Path) -> None:
    write(tmp_path / "network.nix", UNSNAPSHOTTABLE)
    write(tmp_path / "t.py", "solo.succeed('true')\n")
    run = nixvms("test", "t.py", cwd=tmp_path)
    assert run.code == 0, run.stderr
    said = [line for line in run.stderr.splitlines() if "cannot be snapshotted" in line]
    assert len(said) == 1
    assert "'ivshmem'" in said[0] and "virtualisation.qemu.options" in said[0]
    assert said[0].endswith("it boots instead of being restored")
    assert started(run) == {"solo": "booted"}
