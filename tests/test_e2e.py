"""End to end with real QEMU under TCG: build the example, boot it, reach the server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import LOCAL_STATE, REPO, nixvms

pytestmark = [pytest.mark.nix, pytest.mark.vm]


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention `text` (e.g. a state directory)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline and ("qemu" in cmdline or "vde_switch" in cmdline):
            found.append(cmdline)
    return found


def wait_for(path: Path, text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        time.sleep(0.5)
    return False


def test_client_reaches_server_by_name_and_sigterm_stops_everything(tmp_path: Path) -> None:
    example = tmp_path / "two-machines"
    shutil.copytree(REPO / "examples" / "two-machines", example, ignore=LOCAL_STATE)
    built = nixvms("build", cwd=example)
    assert built.code == 0, built.stderr
    project_state = tmp_path / "vm state"  # a space: run-vms must quote it
    state = project_state / "run"  # where --state-dir puts the running network's files
    run_vms = subprocess.Popen(
        [str(example / "result" / "bin" / "run-vms"), "--state-dir", str(project_state)],
        cwd=example, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        assert wait_for(state / "server.log", "server login:", 120), "server did not boot"
        booted = time.monotonic()
        assert wait_for(state / "client.log", "client reached server", 60), (
            (state / "client.log").read_text(errors="replace")[-3000:]
        )
        assert time.monotonic() - booted < 60
        assert processes_mentioning(str(state))
    finally:
        run_vms.send_signal(signal.SIGTERM)
        try:
            run_vms.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(run_vms.pid, signal.SIGKILL)
            raise
    time.sleep(0.5)
    assert processes_mentioning(str(state)) == []
