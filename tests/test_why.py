"""`nixvms why MACHINE` names what makes the next build redo a machine, without Nix."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import BIN, Run, nixvms, write

pytestmark = pytest.mark.nix

@pytest.fixture
def built(tmp_path: Path) -> Path:
    project = tmp_path / "p"
    # Its own VMs: a test that collects one must not meet another test's root.
    write(project / "machines" / "a.nix",
          f'{{ ... }}: {{ environment.etc.a.text = "{uuid.uuid4().hex}"; }}\n')
    write(project / "network.nix", """{
  a = ./machines/a.nix;
  b = { ... }: {
    environment.etc.flag.text = if builtins.pathExists ./flag then "yes" else "no";
  };
}
""")
    assert nixvms("build", cwd=project).code == 0
    return project


def why(project: Path, *args: str) -> Run:
    return nixvms("why", *args, cwd=project)


def test_after_a_build_both_steps_are_up_to_date(built: Path) -> None:
    run = why(built, "a")
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines() == ["a's evaluation is up to date", "a's build is up to date"]


def test_an_edited_file_is_named(built: Path) -> None:
    write(built / "machines" / "a.nix", '{ ... }: { environment.etc.a.text = "edited"; }\n')
    run = why(built, "a")
    assert "a will be evaluated again:" in run.stdout
    assert f"{built}/machines/a.nix changed" in run.stdout


def test_a_file_that_appeared_is_named(built: Path) -> None:
    write(built / "flag", "here\n")
    run = why(built, "b")
    assert f"{built}/flag appeared" in run.stdout
    assert "machines/a.nix" not in run.stdout


def test_a_changed_parameter_is_named(built: Path) -> None:
    write(built / "motd.txt", "x\n")
    run = why(built, "a", "--extra-dep", "motd.txt")
    assert f'--extra-dep changed: [] -> ["{built}/motd.txt"]' in run.stdout


def test_a_collected_vm_is_named(built: Path) -> None:
    record = json.loads((built / ".nixvms" / "records" / "build" / "a.json").read_text())
    (built / ".nixvms" / "gcroots" / "vm-a").unlink()
    (built / "result").unlink()
    (built / ".nixvms" / "gcroots" / "network").unlink()
    referrers = subprocess.run(
        ["nix-store", "--query", "--referrers-closure", record["data"]["out_path"]],
        capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["nix-store", "--delete", *referrers], capture_output=True, check=True)
    assert not os.path.exists(record["data"]["out_path"])
    run = why(built, "a")
    assert f"its VM {record['data']['out_path']} is no longer in the Nix store" in run.stdout


def test_an_unknown_machine_is_one_error_naming_the_machines(built: Path) -> None:
    run = why(built, "zz")
    assert run.code == 2 and "Traceback" not in run.stderr
    assert run.stderr.startswith("error: no machine 'zz'") and "a, b" in run.stderr


def test_why_runs_no_nix(built: Path, tmp_path: Path) -> None:
    fake_bin = tmp_path / "no-nix"
    for program in ("nix-instantiate", "nix-store"):
        write(fake_bin / program, "#!/bin/sh\necho nix was run >&2\nexit 99\n").chmod(0o755)
    proc = subprocess.run([str(BIN / "nixvms"), "why", "a"], cwd=built, capture_output=True,
                          text=True, check=False,
                          env={**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}"})
    assert proc.returncode == 0 and "nix was run" not in proc.stderr, proc.stderr
