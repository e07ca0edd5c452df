"""A memory bound on the evaluations that run at once.

A real NixOS machine takes 300-600 MB to evaluate; `-j` evaluations at once
may not fit. Each evaluation holds, while it runs, what it took the last
time (its record says; a machine never evaluated is assumed to take as much
as the largest one known), and waits while the sum would pass the bound —
as colmena sizes its evaluation batches and nix-eval-jobs restarts workers
past --max-memory-size. One evaluation always runs, whatever it needs.

On a cold run nothing is known: the first evaluation runs alone and the
others wait for its peak, then count as taking the largest peak seen.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from nixvms.errors import UsageError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1, "M": 1024, "G": 1024**2, "T": 1024**3}


def parse_size_kb(text: str) -> int:
    """'8G', '512M', '2048K' or a number of KiB, as KiB."""
    match = _SIZE.match(text)
    if not match:
        raise UsageError(f"--max-eval-memory {text!r} is not a size (e.g. 8G, 512M)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def default_limit_kb() -> int:
    """Three quarters of the memory available now (at least 1 GiB)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return max(int(line.split()[1]) * 3 // 4, 1024**2)
    except OSError:
        pass
    return 4 * 1024**2


class MemoryBudget:
    """Admits evaluations while the memory they are expected to take fits the limit.

    An evaluation expected to take 0 is one of unknown size: while it runs it
    counts as the largest peak seen, so a peak reported later (seen()) also
    sizes the evaluations admitted before it.
    """

    def __init__(self, limit_kb: int) -> None:
        self.limit_kb = limit_kb
        self._known_kb = 0  # the sum of the running evaluations of known size
        self._unknown = 0  # running evaluations of unknown size
        self._running = 0
        self._waiting = 0
        self._largest_seen = 0
        self._changed = threading.Condition()

    def expect(self, last_kb: int | None) -> int:
        """What an evaluation is expected to take: its last peak, else the largest seen."""
        return last_kb if last_kb else self._largest_seen

    def seen(self, peak_kb: int) -> None:
        with self._changed:
            if peak_kb > self._largest_seen:
                self._largest_seen = peak_kb
                # Waiters of unknown size may now be sized, and the running
                # ones of unknown size weigh more.
                self._changed.notify_all()

    @property
    def waiting(self) -> int:
        """Evaluations waiting for memory now."""
        with self._changed:
            return self._waiting

    def _fits(self, expected_kb: int) -> bool:
        if self._running == 0:
            return True
        if self._largest_seen == 0 and (expected_kb == 0 or self._unknown):
            # Something here is of unknown size and there is nothing to size it by.
            return False
        in_use = self._known_kb + self._unknown * self._largest_seen
        return in_use + (expected_kb or self._largest_seen) <= self.limit_kb

    @contextmanager
    def hold(self, expected_kb: int) -> Iterator[None]:
        with self._changed:
            self._waiting += 1
            try:
                self._changed.wait_for(lambda: self._fits(expected_kb))
            finally:
                self._waiting -= 1
            self._running += 1
            if expected_kb:
                self._known_kb += expected_kb
            else:
                self._unknown += 1
        try:
            yield
        finally:
            with self._changed:
                self._running -= 1
                if expected_kb:
                    self._known_kb -= expected_kb
                else:
                    self._unknown -= 1
                self._changed.notify_all()
