"""`nixvms up` refuses machines whose virtualisation.memorySize together is more
than the host's MemAvailable, naming them and the host, before any starts
(issue 27, point 4). Nothing boots: the refusal comes first."""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from nixvms.supervisor import capacity
from tests.conftest import nixvms, write

pytestmark = [pytest.mark.nix, pytest.mark.processes]


def test_up_refuses_machines_the_hosts_memory_cannot_hold(tmp_path: Path) -> None:
    available = capacity.available_kib()
    assert available is not None
    too_much = available // 1024 + 1024  # MiB: more than is available, with a margin
    write(tmp_path / "network.nix", f"""{{
  big = {{ ... }}: {{ virtualisation.memorySize = {too_much}; }};
  small = {{ ... }}: {{ virtualisation.memorySize = 256; }};
}}
""")
    short = Path(tempfile.mkdtemp(prefix="mem-"))
    state = ["--state-dir", str(short)]
    try:
        up = nixvms("up", *state, "--detach", cwd=tmp_path)
        assert up.code != 0
        refusal = [line for line in up.stderr.splitlines() if "MemAvailable" in line]
        assert len(refusal) == 1, up.stderr
        assert f"host {socket.gethostname()} has" in refusal[0]
        assert f"big {too_much} MiB, small 256 MiB" in refusal[0]
        assert "Traceback" not in up.stderr
        status = nixvms("status", *state, cwd=tmp_path)
        assert ": not running" in status.stdout, status.stdout
        assert [line.split()[:2] for line in status.stdout.splitlines()[-2:]] == [
            ["big", "stopped"], ["small", "stopped"]]
        assert not any(short.glob("run/*.console")), "a machine was started"
    finally:
        nixvms("stop", *state, cwd=tmp_path)
        shutil.rmtree(short, ignore_errors=True)
