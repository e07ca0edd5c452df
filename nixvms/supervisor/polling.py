"""Timeouts as NixOS's driver takes them, and its polling conditions.

Every timeout of the driver's API is a number of seconds or a
datetime.timedelta (nixpkgs#542374). A polling condition (NixOS's
`polling_condition`) is a function checked before each command a machine
runs, at most every `seconds_interval`: a test fails as soon as it returns
False (or raises), not at the end.
"""

from __future__ import annotations

import datetime
import math
import time
from collections.abc import Callable
from typing import Any

from .errors import RequestedAssertionFailed, SupervisorError
from .testlog import Logger

Duration = datetime.timedelta | int | float
DEFAULT_TIMEOUT = 900          # NixOS's default for every wait and command


def seconds(duration: Duration | None) -> float | None:
    """A timeout in seconds (None stays None: no limit)."""
    if duration is None:
        return None
    if isinstance(duration, datetime.timedelta):
        return duration.total_seconds()
    if isinstance(duration, bool) or not isinstance(duration, (int, float)):
        raise TypeError(f"expected a duration (seconds or a datetime.timedelta), "
                        f"got {type(duration).__name__}: {duration!r}")
    return float(duration)


def must_seconds(duration: Duration) -> float:
    value = seconds(duration)
    assert value is not None
    return value


def retry(fn: Callable[[bool], bool], timeout_seconds: Duration = DEFAULT_TIMEOUT,
          what: str = "the condition", *, timeout: Duration | None = None) -> None:
    """Call fn(last_try) once a second until it returns True; after the
    timeout, call it a last time with last_try=True and raise if that fails
    too (NixOS's retry; `timeout=` as well as timeout_seconds)."""
    limit = must_seconds(timeout if timeout is not None else timeout_seconds)
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if fn(False):
            return
        time.sleep(1)
    if not fn(True):
        raise RequestedAssertionFailed(
            f"timed out after {time.monotonic() - start:.1f} s "
            f"(timeout={limit:g}) waiting for {what}")


class PollingConditionError(SupervisorError):
    """A polling condition failed (NixOS's PollingConditionError)."""


class PollingCondition:
    """A condition checked between commands, as NixOS's."""

    def __init__(self, condition: Callable[[], Any], logger: Logger,
                 seconds_interval: float = 2.0, description: str | None = None) -> None:
        self.condition = condition
        self.logger = logger
        self.seconds_interval = seconds_interval
        if description is None:
            description = condition.__doc__ or getattr(condition, "__name__", repr(condition))
        self.description = str(description).strip()
        self.last_called = -math.inf
        self.entry_count = 0

    @property
    def entered(self) -> bool:
        return self.entry_count > 0

    @property
    def overdue(self) -> bool:
        return self.last_called + self.seconds_interval < time.monotonic()

    def status_message(self, status: bool) -> str:
        return f"Polling condition {'succeeded' if status else 'failed'}: {self.description}"

    def check(self, force: bool = False) -> bool:
        """Whether the condition holds (True without calling it while it is
        running, or when it is not due, unless forced)."""
        if (self.entered or not self.overdue) and not force:
            return True
        self.entry_count += 1
        try:
            with self.logger.nested(f"checking polling condition {self.description!r}"):
                try:
                    result = self.condition()
                except Exception:
                    result = False
                ok = result is None or bool(result)
                self.logger.info(self.status_message(ok))
                return ok
        finally:
            self.entry_count -= 1
            self.last_called = time.monotonic()

    def maybe_raise(self) -> None:
        if not self.check():
            raise PollingConditionError(self.status_message(False))


class PollingBlock:
    """What the driver's polling_condition(f) gives: `with` it, f is checked
    before each command inside the block; `.wait()` waits until f holds."""

    def __init__(self, condition: PollingCondition, active: list[PollingCondition]) -> None:
        self.condition = condition
        self.active = active  # the driver's conditions in force

    def __enter__(self) -> None:
        self.active.append(self.condition)

    def __exit__(self, *exc: object) -> None:
        removed = self.active.pop()
        assert removed is self.condition

    def wait(self, timeout: Duration = DEFAULT_TIMEOUT) -> None:
        def holds(last: bool) -> bool:
            return self.condition.check(force=True)

        with self.condition.logger.nested(f"waiting for {self.condition.description}"):
            retry(holds, timeout, self.condition.description)
