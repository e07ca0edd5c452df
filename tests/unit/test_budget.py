"""The memory bound on concurrent evaluations."""

from __future__ import annotations

import threading
import time

import pytest

from nixvms.budget import MemoryBudget, parse_size_kb
from nixvms.errors import UsageError


@pytest.mark.parametrize(("text", "kb"), [("8G", 8 * 1024**2), ("512M", 512 * 1024),
                                          ("2048", 2048), ("1.5GiB", 3 * 512 * 1024)])
def test_sizes_are_read_in_kib(text: str, kb: int) -> None:
    assert parse_size_kb(text) == kb


def test_a_size_that_is_not_one_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not a size"):
        parse_size_kb("lots")


def run_concurrently(budget: MemoryBudget, needs: list[int]) -> int:
    """Run holders of `needs` at once; return the most memory held at one time."""
    held, peak, lock = [0], [0], threading.Lock()

    def work(need: int) -> None:
        with budget.hold(need):
            with lock:
                held[0] += need
                peak[0] = max(peak[0], held[0])
            time.sleep(0.05)
            with lock:
                held[0] -= need

    threads = [threading.Thread(target=work, args=(n,)) for n in needs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return peak[0]


def test_evaluations_at_once_stay_under_the_limit() -> None:
    assert run_concurrently(MemoryBudget(1000), [400, 400, 400, 400]) <= 1000


def test_one_evaluation_runs_even_if_it_needs_more_than_the_limit() -> None:
    assert run_concurrently(MemoryBudget(100), [500, 500]) == 500


def test_an_unknown_evaluation_is_expected_to_take_the_largest_seen() -> None:
    budget = MemoryBudget(1000)
    budget.seen(300)
    budget.seen(200)
    assert budget.expect(None) == 300
    assert budget.expect(120) == 120


class Evaluation:
    """A thread that holds the budget, as an evaluation does, until it is let go."""

    def __init__(self, budget: MemoryBudget, expected_kb: int) -> None:
        self.admitted = threading.Event()
        self._finish = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(budget, expected_kb),
                                        daemon=True)
        self._thread.start()

    def _run(self, budget: MemoryBudget, expected_kb: int) -> None:
        with budget.hold(expected_kb):
            self.admitted.set()
            self._finish.wait(timeout=10)

    def finish(self) -> None:
        self._finish.set()

    def join(self) -> None:
        self._thread.join(timeout=10)
        assert not self._thread.is_alive()


def finish(*evaluations: Evaluation) -> None:
    """Let them all go (one still waiting leaves once admitted), then wait for them."""
    for evaluation in evaluations:
        evaluation.finish()
    for evaluation in evaluations:
        evaluation.join()


def settle(budget: MemoryBudget, started: list[Evaluation], waiting: int) -> list[Evaluation]:
    """Wait until `waiting` evaluations wait and the others are admitted; return the admitted.

    An evaluation that waits does so until the budget changes, so once the
    counts match they stay so.
    """
    deadline = time.monotonic() + 10
    while True:
        admitted = [e for e in started if e.admitted.is_set()]
        if budget.waiting == waiting and len(admitted) == len(started) - waiting:
            return admitted
        assert time.monotonic() < deadline, (budget.waiting, len(admitted))
        time.sleep(0.001)


def test_with_nothing_known_the_first_evaluation_runs() -> None:
    budget = MemoryBudget(1000)
    first = Evaluation(budget, budget.expect(None))
    assert first.admitted.wait(timeout=10)
    finish(first)


def test_with_nothing_known_a_second_evaluation_waits_for_the_first_to_finish() -> None:
    budget = MemoryBudget(1000)
    first = Evaluation(budget, budget.expect(None))
    second = Evaluation(budget, budget.expect(None))
    assert settle(budget, [first, second], waiting=1) in ([first], [second])
    running, waiting = (first, second) if first.admitted.is_set() else (second, first)
    finish(running)
    assert waiting.admitted.wait(timeout=10)
    finish(waiting)


def test_once_a_peak_is_known_two_fit_a_bound_of_two_and_a_half_times_it_three_do_not() -> None:
    budget = MemoryBudget(250)
    budget.seen(100)
    evaluations = [Evaluation(budget, budget.expect(None)) for _ in range(3)]
    admitted = settle(budget, evaluations, waiting=1)
    assert len(admitted) == 2
    finish(admitted[0])
    settle(budget, evaluations, waiting=0)
    finish(*evaluations)


def test_the_peak_of_the_first_evaluation_admits_the_waiting_ones_as_that_peak() -> None:
    budget = MemoryBudget(250)
    first = Evaluation(budget, budget.expect(None))
    assert first.admitted.wait(timeout=10)
    waiting = [Evaluation(budget, budget.expect(None)) for _ in range(3)]
    settle(budget, [first, *waiting], waiting=3)
    # As tasks.py does: the hold ends, then the peak is reported.
    finish(first)
    budget.seen(100)
    assert len(settle(budget, waiting, waiting=1)) == 2
    finish(*waiting)


def test_an_evaluation_admitted_before_any_peak_counts_as_the_largest_once_one_is_seen() -> None:
    budget = MemoryBudget(250)
    unsized = Evaluation(budget, budget.expect(None))
    assert unsized.admitted.wait(timeout=10)
    budget.seen(100)
    # 100 for the one running + 100 each: one more fits, not two.
    later = [Evaluation(budget, budget.expect(None)) for _ in range(2)]
    assert len(settle(budget, later, waiting=1)) == 1
    finish(unsized, *later)


def test_an_evaluation_of_known_size_waits_while_one_of_unknown_size_runs() -> None:
    budget = MemoryBudget(1000)
    unsized = Evaluation(budget, 0)
    assert unsized.admitted.wait(timeout=10)
    sized = Evaluation(budget, 100)
    settle(budget, [unsized, sized], waiting=1)
    finish(unsized)
    assert sized.admitted.wait(timeout=10)
    finish(sized)
