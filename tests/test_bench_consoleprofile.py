"""bench/consoleprofile.py finds the boot's stage marks among console lines."""

from __future__ import annotations

from bench.consoleprofile import marks


def test_marks_take_the_cpu_of_the_first_line_of_each_stage() -> None:
    lines = [
        (0.9, "[    0.000000] Linux version 6.1.0"),
        (2.5, "[    2.1] Run /init as init process"),
        (3.0, "<<< tinyos: m001 (x86_64-linux) >>>"),
        (5.5, "tinyos: m001 reached multi-user.target"),
        (5.6, "tinyos: m001 reached multi-user.target"),
        (5.8, "== ready (the supervisor's event)"),
    ]
    assert marks(lines) == {"init": 2.5, "banner": 3.0, "multi-user": 5.5, "ready": 5.8}


def test_a_boot_cut_short_has_only_the_marks_it_reached() -> None:
    assert marks([(1.0, "[ 1.0] Run /init as init process")]) == {"init": 1.0}
