"""Faults: interrupted and killed builds, concurrent runs, GC roots.

An interruption at any moment (SIGINT or SIGKILL, during evaluation, build or
the final network step) leaves `result` at a complete network that Nix still
has — the previous one, or the new one when the link was already made — and
the next run converges to what a clean build makes. Two runs in one directory
wait for each other. nixvms's GC roots keep every built VM and the network
alive until `nixvms clean`.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import threading
import time
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import BIN, LOCAL_STATE, Run, nixvms, write

pytestmark = pytest.mark.nix

MACHINES = ("alpha", "beta")

NETWORK = """\
{
  alpha = import ./machines/alpha.nix;
  beta = import ./machines/beta.nix;
}
"""

# This run's VMs are its own store paths (a unique text in each).
RUN_ID = uuid.uuid4().hex


def machine_file(name: str, version: str) -> str:
    return (
        "{ pkgs, ... }: {\n"
        f'  environment.etc."motd".text = "{name} {version} {RUN_ID}";\n'
        "}\n"
    )


def write_version(project: Path, version: str, *, own: bool = True) -> None:
    """Every machine changes: the next build evaluates and builds all of them.

    With `own`, the test's directory name makes the VMs the test's own: no
    other test built them already, and no other test's roots keep them.
    """
    for name in MACHINES:
        marker = f"{version} {project.parent.name}" if own else version
        write(project / "machines" / f"{name}.nix", machine_file(name, marker))


def result_target(project: Path) -> str:
    return os.readlink(project / "result")


def valid(*paths: str) -> bool:
    check = subprocess.run(["nix-store", "--check-validity", *paths],
                           capture_output=True, text=True, check=False)
    return check.returncode == 0


def vm_paths(description: dict[str, object]) -> dict[str, str]:
    machines = description["machines"]
    assert isinstance(machines, list)
    return {m["name"]: m["vm"] for m in machines}


@dataclass(frozen=True)
class Built:
    """What a build made: the network's store path and what it holds."""

    target: str
    network_json: dict[str, object]
    run_vms: str

    @classmethod
    def of(cls, project: Path) -> Built:
        target = result_target(project)
        return cls(
            target=target,
            # What names the project (its ssh key, its state directory), normalised.
            network_json=json.loads(
                Path(target, "network.json").read_text().replace(str(project), "<project>")),
            run_vms=Path(target, "bin", "run-vms").read_text().replace(str(project), "<project>"),
        )


def clean_build(project: Path, tmp_path: Path) -> Built:
    """The network a clean build of the project's current files makes (in a fresh copy)."""
    fresh = tmp_path / f"clean-{uuid.uuid4().hex[:8]}"
    shutil.copytree(project, fresh, ignore=LOCAL_STATE)
    run = nixvms("build", cwd=fresh)
    assert run.code == 0, run.stderr
    return Built.of(fresh)


def build_network(project: Path, *, own: bool) -> Path:
    write(project / "network.nix", NETWORK)
    write_version(project, "v1", own=own)
    run = nixvms("build", cwd=project)
    assert run.code == 0, run.stderr
    return project


@pytest.fixture
def built(project: Path) -> Path:
    """A network, built once: the `result` an interruption must not lose.

    Its VMs are the same in every test (built once), to save time."""
    return build_network(project, own=False)


@pytest.fixture
def own_built(project: Path) -> Path:
    """A network whose VMs only this test built and roots."""
    return build_network(project, own=True)


def interrupted_build(
    project: Path, sig: signal.Signals, trigger: str | None, delay: float, jobs: int = 1
) -> Run:
    """`nixvms build`, sent `sig` (to its process group) `delay` seconds after it
    prints a line starting with `trigger` (or after it starts, with no trigger)."""
    proc = subprocess.Popen(
        [str(BIN / "nixvms"), "build", "-j", str(jobs)], cwd=project,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    assert proc.stderr is not None and proc.stdout is not None
    seen: list[str] = []

    def send() -> None:
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):  # it finished first
            os.killpg(proc.pid, sig)

    if trigger is None:
        threading.Thread(target=send, daemon=True).start()
    for line in proc.stderr:
        seen.append(line)
        if trigger is not None and line.startswith(trigger):
            threading.Thread(target=send, daemon=True).start()
            trigger = None
            continue
    stdout = proc.stdout.read()
    code = proc.wait(timeout=300)
    return Run(code, stdout, "".join(seen))


PHASES = {
    "evaluation": "evaluating ",
    "build": "building ",
    "network": "making the network",
    "anytime": None,
}


@pytest.mark.parametrize("phase", list(PHASES))
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_build_keeps_a_complete_result_and_the_next_run_converges(
    built: Path, tmp_path: Path, sig: signal.Signals, phase: str
) -> None:
    seed = zlib.crc32(f"{sig.name}-{phase}".encode())
    rng = random.Random(seed)
    before = result_target(built)
    write_version(built, "v2")
    trigger = PHASES[phase]
    # A few moments inside the phase, or any moment of the run (loading, lock,
    # machine list, ...) but Python's own start-up: Ctrl-C in its first ~25 ms
    # is Python's KeyboardInterrupt traceback, before any code of nixvms runs.
    delay = rng.uniform(0.0, 0.25) if trigger is not None else rng.uniform(0.1, 2.5)
    jobs = rng.choice([1, 2])

    run = interrupted_build(built, sig, trigger, delay, jobs)

    # The clean build comes after the interrupted one, so that the latter
    # really builds (the VMs are not in the store yet).
    clean = clean_build(built, tmp_path)
    context = f"seed={seed} delay={delay:.3f} jobs={jobs} code={run.code}\n{run.stderr}"
    assert "Traceback" not in run.stderr, context
    if sig == signal.SIGKILL:
        assert run.code in (-signal.SIGKILL, 0), context
    elif run.code == -signal.SIGINT:
        # Ctrl-C as the interpreter exits, after the run's work was done and said.
        assert run.stderr.splitlines()[-1].startswith("result -> "), context
    else:
        assert run.code in (130, 1, 0), context
        if run.code != 0:
            assert run.stderr.splitlines()[-1].startswith("error: "), context
    after = result_target(built)
    # The previous network, or the new one if the link was made before the signal:
    # never a half-made one, and always a path Nix has. (The new one is not
    # clean.target itself: run-vms names each project's own ssh key.)
    if after != before:
        now = Built.of(built)
        assert (now.network_json, now.run_vms) == (clean.network_json, clean.run_vms), context
    assert valid(after), context
    if run.code == 130:  # what it says of `result` is true
        said = run.stderr.splitlines()[-1]
        assert ("previous result is untouched" in said) == (after == before), context

    again = nixvms("build", cwd=built)
    assert again.code == 0, f"{context}\nnext run:\n{again.stderr}"
    assert "waiting for another nixvms run" not in again.stderr, "a stale lock"
    converged = Built.of(built)
    assert converged.network_json == clean.network_json, context
    assert vm_paths(converged.network_json) == vm_paths(clean.network_json), context
    assert converged.run_vms == clean.run_vms, context
    assert valid(converged.target, *vm_paths(converged.network_json).values()), context

    # And the state is consistent: one more run does no work.
    idle = nixvms("build", cwd=built)
    assert idle.code == 0, idle.stderr
    assert (idle.tasks("evaluating"), idle.tasks("building"), idle.made_network) == (
        set(), set(), False), f"{context}\nidle run:\n{idle.stderr}"


def test_a_temporary_file_left_by_a_killed_write_does_not_change_the_network(
    built: Path,
) -> None:
    # What SIGKILL during state.write_atomic leaves beside the rendered files.
    before = result_target(built)
    write(built / ".nixvms" / "network" / ".run-vms.k1ll3d", "#!/bin/sh\nhalf a scr")
    write(built / ".nixvms" / "network" / ".network.json.k1ll3d", '{"machines": [')
    (built / "result").unlink()  # the network step runs again
    run = nixvms("build", cwd=built)
    assert run.code == 0, run.stderr
    assert run.made_network
    assert result_target(built) == before


def test_a_failed_machine_build_keeps_the_previous_result(built: Path) -> None:
    before = result_target(built)
    write(built / "machines" / "beta.nix",
          "{ pkgs, ... }: {\n"
          f'  environment.etc."broken".source = pkgs.runCommand "broken-{RUN_ID}" {{ }}\n'
          "    ''echo this build fails on purpose; exit 1'';\n"
          "}\n")
    run = nixvms("build", cwd=built)
    assert run.code == 1
    assert "Traceback" not in run.stderr
    first = next(line for line in run.stderr.splitlines() if line.startswith("error:"))
    assert "machine 'beta'" in first
    assert "this build fails on purpose" in run.stderr
    assert result_target(built) == before
    assert valid(before)


# --- two runs at once ----------------------------------------------------------


def test_a_second_concurrent_run_waits_and_both_succeed(built: Path) -> None:
    write_version(built, "v2")
    first = subprocess.Popen(
        [str(BIN / "nixvms"), "build"], cwd=built,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert first.stderr is not None
    first_lines = []
    for line in first.stderr:
        first_lines.append(line)
        if line.startswith("evaluating "):
            break
    second = nixvms("build", cwd=built)  # starts while the first holds the lock
    first_lines += first.stderr.readlines()
    assert first.wait(timeout=300) == 0, "".join(first_lines)
    assert second.code == 0, second.stderr
    assert "waiting for another nixvms run" in second.stderr
    # The second found the first's work done: its database and records are intact.
    assert second.tasks("evaluating") == set()
    third = nixvms("build", cwd=built)
    assert third.code == 0, third.stderr
    assert (third.tasks("evaluating"), third.tasks("building"), third.made_network) == (
        set(), set(), False), third.stderr


# --- GC roots --------------------------------------------------------------------


def collectable(*paths: str) -> set[str]:
    """Those of `paths` that `nix-store --gc` would delete (a dry run)."""
    dead = subprocess.run(["nix-store", "--gc", "--print-dead"],
                          capture_output=True, text=True, check=True).stdout.split()
    return set(paths) & set(dead)


def test_without_result_nixvms_roots_keep_the_vms_and_the_network(own_built: Path) -> None:
    target = result_target(own_built)
    vms = vm_paths(Built.of(own_built).network_json)
    (own_built / "result").unlink()
    assert collectable(target, *vms.values()) == set()


def test_after_clean_and_without_result_the_vms_can_be_collected(own_built: Path) -> None:
    target = result_target(own_built)
    vms = list(vm_paths(Built.of(own_built).network_json).values())
    assert nixvms("clean", cwd=own_built).code == 0
    (own_built / "result").unlink()
    assert collectable(target, *vms) == {target, *vms}
    # Collect exactly these (and what refers to them, e.g. their .drv's outputs'
    # referrers): a store-wide `nix-store --gc` would also take what concurrent
    # test runs have not rooted yet.
    referrers = subprocess.run(
        ["nix-store", "--query", "--referrers-closure", *vms],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    subprocess.run(["nix-store", "--delete", *referrers],
                   capture_output=True, text=True, check=True)
    assert not any(Path(vm).exists() for vm in vms)
    assert not Path(target).exists()
