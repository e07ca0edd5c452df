"""The build's progress display (nixvms/progress.py), fed events by hand."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from nixvms.events import Event, notice
from nixvms.progress import QUIET, Display, Summary, Tracker, live_lines


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def feed(display: Display | Tracker, *events: Event) -> None:
    for event in events:
        if isinstance(display, Tracker):
            display.update(event)
        else:
            display(event)


A_BUILT = (Event("evaluating", "a"), Event("evaluated", "a"), Event("building", "a"),
           Event("build-log", "a", "building '/nix/store/x-a.drv'..."), Event("built", "a"))
B_UP_TO_DATE = (Event("up-to-date", "b", "eval"), Event("up-to-date", "b", "build"))
C_SAME_VM = (Event("evaluating", "c"), Event("evaluated", "c"), Event("up-to-date", "c", "build"))


def test_summary_counts_evaluated_built_and_untouched_machines() -> None:
    clock = Clock()
    tracker = Tracker(clock)
    feed(tracker, *A_BUILT, *B_UP_TO_DATE, *C_SAME_VM)
    clock.now += 12.44
    assert tracker.summary().line() == (
        "3 machines: 2 evaluated, 1 built, 1 up to date, 12.4 s")


def test_summary_names_failures_only_when_there_are_some() -> None:
    assert "failed" not in Summary(2, 1, 1, 1, 0, 1.0).line()
    assert Summary(1, 1, 0, 0, 1, 0.5).line() == (
        "1 machine: 1 evaluated, 0 built, 0 up to date, 1 failed, 0.5 s")


def test_a_machine_evaluated_to_the_same_vm_says_so() -> None:
    tracker = Tracker(Clock())
    feed(tracker, *C_SAME_VM)
    assert tracker.machines["c"].state == "evaluated, VM unchanged"
    assert tracker.machines["c"].done


def test_a_building_machine_shows_the_last_line_of_nix_log() -> None:
    tracker = Tracker(Clock())
    feed(tracker, Event("building", "a"), Event("build-log", "a", "one"),
         Event("build-log", "a", "two"), Event("build-log", "a", "  "))
    assert tracker.machines["a"].last_line == "two"


def test_elapsed_time_runs_from_the_first_step_to_the_last() -> None:
    clock = Clock()
    tracker = Tracker(clock)
    feed(tracker, Event("evaluating", "a"))
    clock.now += 3.0
    feed(tracker, Event("evaluated", "a"), Event("building", "a"))
    clock.now += 2.0
    feed(tracker, Event("built", "a"))
    clock.now += 50.0
    assert tracker.machines["a"].elapsed(clock.now) == pytest.approx(5.0)


def test_expected_machines_wait_until_their_first_event() -> None:
    tracker = Tracker(Clock())
    tracker.expect(["a", "b"])
    feed(tracker, Event("evaluating", "a"))
    assert tracker.machines["b"].state == "waiting"
    assert not tracker.machines["b"].done


def test_plain_output_is_the_plain_lines_then_the_summary() -> None:
    stream = io.StringIO()
    with Display(stream, live=False, clock=Clock()) as display:
        feed(display, notice("hello"), *A_BUILT, *B_UP_TO_DATE, Event("network"))
    assert stream.getvalue().splitlines() == [
        "hello", "evaluating a", "building a", "making the network",
        "2 machines: 1 evaluated, 1 built, 1 up to date, 0.0 s"]


def test_plain_verbose_output_adds_each_build_log_line_after_the_machine() -> None:
    stream = io.StringIO()
    with Display(stream, live=False, verbosity=1, clock=Clock()) as display:
        feed(display, *A_BUILT)
    assert "a | building '/nix/store/x-a.drv'..." in stream.getvalue().splitlines()


def test_quiet_output_is_empty() -> None:
    stream = io.StringIO()
    with Display(stream, live=False, verbosity=QUIET) as display:
        feed(display, notice("hello"), *A_BUILT, Event("failed", "b", "boom"))
    assert stream.getvalue() == ""


def test_a_build_that_reached_no_machine_prints_no_summary() -> None:
    stream = io.StringIO()
    with Display(stream, live=False) as display:
        feed(display, notice("waiting for another nixvms run"))
    assert stream.getvalue().splitlines() == ["waiting for another nixvms run"]


def test_the_failed_machine_keeps_its_message_and_the_end_of_its_log() -> None:
    display = Display(io.StringIO(), live=False)
    lines = [Event("build-log", "a", f"line {i}") for i in range(30)]
    feed(display, Event("building", "a"), *lines, Event("failed", "a", "build failed\nmore"))
    [failed] = display.failed_machines()
    assert failed.name == "a"
    assert failed.failure == "build failed\nmore"
    assert list(failed.tail)[-1] == "line 29"
    assert len(failed.tail) < 30


def test_the_expected_machines_are_asked_for_once_at_the_first_machine_event() -> None:
    asked: list[int] = []

    def expected() -> list[str]:
        asked.append(1)
        return ["a", "z"]

    display = Display(io.StringIO(), live=False, expected=expected)
    feed(display, notice("n"))
    assert asked == []
    feed(display, Event("evaluating", "a"), Event("evaluating", "a"))
    assert asked == [1]
    assert sorted(display.tracker.machines) == ["a", "z"]


@pytest.fixture
def root_handler() -> Iterator[tuple[logging.StreamHandler[io.StringIO], io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    yield handler, stream
    logging.getLogger().removeHandler(handler)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_live_lines_name_each_machine_and_end_in_the_summary() -> None:
    stream = Terminal()
    with Display(stream, live=True, clock=Clock()) as display:
        feed(display, *A_BUILT, *B_UP_TO_DATE)
    text = stream.getvalue()
    assert "a" in text and "built" in text and "up to date" in text
    assert "2/2 machines done" in text
    assert text.rstrip().splitlines()[-1].endswith(
        "2 machines: 1 evaluated, 1 built, 1 up to date, 0.0 s")


def test_log_records_go_above_the_live_lines_and_back_afterwards(
        root_handler: tuple[logging.StreamHandler[io.StringIO], io.StringIO]) -> None:
    handler, _ = root_handler
    stream = Terminal()
    handler.setStream(stream)
    with Display(stream, live=True, clock=Clock()):
        assert handler.stream is not stream
        logging.getLogger("nixvms.nix").warning("warning: a cache is unreachable")
    assert handler.stream is stream
    assert "warning: a cache is unreachable" in stream.getvalue()


def test_more_machines_than_the_terminal_holds_show_the_busy_ones_and_a_count() -> None:
    tracker = Tracker(Clock())
    tracker.expect([f"m{i:02}" for i in range(30)])
    feed(tracker, Event("building", "m25"), Event("failed", "m07", "boom"),
         Event("up-to-date", "m01", "eval"), Event("up-to-date", "m01", "build"))
    lines = [line.plain for line in live_lines(tracker, width=80, height=6)]
    assert len(lines) == 6
    assert [line[2:].split()[0] for line in lines[:4]] == ["m00", "m01", "m07", "m25"]
    assert lines[4].strip() == "… 26 more: 0 done, 26 waiting"
    assert lines[5].startswith("2/30 machines done")


def test_live_lines_are_cut_to_the_width() -> None:
    tracker = Tracker(Clock())
    feed(tracker, Event("building", "a"), Event("build-log", "a", "x" * 500))
    assert all(len(line.plain) <= 40 for line in live_lines(tracker, width=40))


def test_a_machine_waiting_for_a_build_slot_says_so_without_a_clock() -> None:
    clock = Clock()
    tracker = Tracker(clock)
    feed(tracker, Event("evaluating", "a"))
    clock.now += 2
    feed(tracker, Event("evaluated", "a"))
    clock.now += 30  # waiting for a slot
    line = live_lines(tracker, width=80)[0].plain
    assert "waiting to build" in line and " s" not in line.split("waiting to build")[1]


def test_a_machines_time_counts_only_its_own_work() -> None:
    clock = Clock()
    tracker = Tracker(clock)
    feed(tracker, Event("evaluating", "a"))
    clock.now += 2
    feed(tracker, Event("evaluated", "a"))
    clock.now += 30
    feed(tracker, Event("building", "a"))
    clock.now += 3
    feed(tracker, Event("built", "a"))
    assert tracker.machines["a"].elapsed(clock.now) == 5


def test_no_count_of_machines_is_shown_before_any_is_known() -> None:
    assert live_lines(Tracker(Clock()), width=80) == []


def test_nix_s_store_busy_warnings_show_once_below_the_lines() -> None:
    stream = io.StringIO()
    display = Display(stream, live=True)
    display.tracker.expect(["a"])
    for _ in range(3):
        display._above("warning: SQLite database '/nix/var/nix/db/db.sqlite' is busy")
    lines = [line.plain for line in live_lines(display.tracker, width=120)]
    assert lines[-1] == "warning: SQLite database '/nix/var/nix/db/db.sqlite' is busy"
    assert sum("is busy" in line for line in lines) == 1
    assert "is busy" not in stream.getvalue()
