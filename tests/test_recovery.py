"""recovery.stop: a network found by its processes is stopped whole, including
a supervisor that had already let go of its lock but not yet exited."""

from __future__ import annotations

import subprocess
from pathlib import Path

from nixvms.supervisor import procs, recovery, statedir


def _found_earlier(pid: int, started: int) -> recovery.Found:
    return recovery.Found(supervisors=(pid,), vms=(), switches=(), identities=((pid, started),))


def test_a_supervisor_found_earlier_and_still_exiting_is_stopped_too(tmp_path: Path) -> None:
    run_dir = statedir.prepare(tmp_path / "state")
    exiting = subprocess.Popen(["sleep", "60"])  # holds no lock: `find` cannot see it
    try:
        started = procs.start_time(exiting.pid)
        assert started is not None
        left = recovery.stop(run_dir, timeout=0.5, earlier=_found_earlier(exiting.pid, started))
        assert left.pids == ()
        assert exiting.wait(timeout=10) != 0
    finally:
        exiting.kill()
        exiting.wait()


def test_a_process_that_took_an_earlier_number_is_left_alone(tmp_path: Path) -> None:
    run_dir = statedir.prepare(tmp_path / "state")
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        started = procs.start_time(stranger.pid)
        assert started is not None
        recovery.stop(run_dir, timeout=0.5, earlier=_found_earlier(stranger.pid, started - 1))
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()
