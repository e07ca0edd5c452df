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
