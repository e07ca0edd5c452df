"""The boot benchmark keeps working: one machine, 10 commands (issue 28).

No timing assertions: the numbers live in bench/README.md. Only that a boot
was followed to ready through every stage and that the tables were written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import boot
from bench.bootwatch import MARKS

pytestmark = [pytest.mark.nix, pytest.mark.vm]


def test_bench_boot_smoke(tmp_path: Path) -> None:
    out = tmp_path / "boot.md"
    results = boot.main(["--sizes", "1", "--commands", "10", "--out", str(out),
                         "--workdir", str(tmp_path / "work")], say=lambda line: None)
    [run] = results.runs
    assert not run.boot.timed_out
    machine = run.boot.machines["m001"]
    assert set(MARKS) <= set(machine.marks)
    assert machine.rss_kb > 0
    # the banner was seen by the bench's own probe (the machines run openssh),
    # so how long the ready event took after its condition is known
    assert set(run.boot.condition_lag) == {"m001"}
    assert run.commands is not None and len(run.commands.times) == 10
    assert len(run.commands.exec_times) == 5
    text = out.read_text()
    assert text.startswith(boot.BEGIN) and boot.END in text
    assert "| 1 | this |" in text
    assert "round trip median ms" in text
    assert '`succeed("bash -c true")` median ms' in text
