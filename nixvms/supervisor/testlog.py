"""The test driver's log: timestamped lines on the terminal and per machine.

Each event goes to the terminal with the seconds since the driver started
(nested steps indented) and to <state>/<m>.driver.log with the wall-clock
time and any detail (a command's output), as NixOS's driver logs.

A test script's `log` is this object, as NixOS's is its logger: log.info,
log.warning, log.error, log.log, `with log.nested(...)`, and log("...").
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Mapping
from typing import TextIO

from .statedir import RunDir, open_private


def first_line(error: BaseException) -> str:
    """An error's first line (its type's name if it has no message)."""
    text = str(error).strip() or type(error).__name__
    return text.split("\n", 1)[0]


class Logger:
    """Timestamped lines on the terminal and in each machine's own log."""

    def __init__(self, run_dir: RunDir, stream: TextIO | None) -> None:
        self.run_dir = run_dir
        self.stream = stream
        self.start = time.monotonic()
        self.files: dict[str, TextIO] = {}
        self.depth = 0
        self.level = logging.INFO  # --log-level: messages below it are not shown
        self.serial = False         # serial_stdout_on(): console lines shown too

    def _file(self, machine: str) -> TextIO:
        handle = self.files.get(machine)
        if handle is None:
            fd = open_private(self.run_dir.driver_log(machine), append=True)
            handle = os.fdopen(fd, "a", encoding="utf-8", errors="replace")
            self.files[machine] = handle
        return handle

    def log(self, message: str, machine: str | Mapping[str, str] | None = None, *,
            detail: str = "", level: int = logging.INFO) -> None:
        """One event: on the terminal (elapsed seconds, machine), and in the
        machine's log file (wall-clock time, with `detail`: a command's output).
        machine: its name, or NixOS's attributes {"machine": name}."""
        machine = _machine_of(machine)
        elapsed = time.monotonic() - self.start
        indent = "  " * self.depth
        if self.stream is not None and level >= self.level:
            who = f"{machine}: " if machine else ""
            self.stream.write(f"[{elapsed:8.2f}] {indent}{who}{message}\n")
            self.stream.flush()
        if machine:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            stamp += f".{int(time.time() % 1 * 1000):03d}Z"
            handle = self._file(machine)
            handle.write(f"{stamp} {message}\n")
            if detail:
                for line in detail.rstrip("\n").split("\n"):
                    handle.write(f"{stamp}   | {line}\n")
            handle.flush()

    def __call__(self, message: str) -> None:
        self.log(message)

    def info(self, message: str, attributes: Mapping[str, str] | None = None) -> None:
        self.log(message, attributes)

    def warning(self, message: str, attributes: Mapping[str, str] | None = None) -> None:
        self.log(f"warning: {message}", attributes, level=logging.WARNING)

    def error(self, message: str, attributes: Mapping[str, str] | None = None) -> None:
        self.log(f"error: {message}", attributes, level=logging.ERROR)

    def log_test_error(self, message: str) -> None:
        self.error(message)

    def print_serial_logs(self, enable: bool) -> None:
        self.serial = enable

    def log_serial(self, message: str, machine: str) -> None:
        """A console line (shown only after serial_stdout_on())."""
        if self.serial and self.stream is not None:
            self.stream.write(f"{machine} # {message}\n")
            self.stream.flush()

    @contextlib.contextmanager
    def nested(self, message: str,
               machine: str | Mapping[str, str] | None = None) -> Iterator[None]:
        """Log a step, then how it ended and how long it took."""
        machine = _machine_of(machine)
        self.log(message, machine)
        began = time.monotonic()
        self.depth += 1
        try:
            yield
        except BaseException as error:
            self.depth -= 1
            self.log(f"failed after {time.monotonic() - began:.2f} s: {message}"
                     f" ({first_line(error)})", machine)
            raise
        self.depth -= 1
        self.log(f"(finished in {time.monotonic() - began:.2f} s: {message})", machine)

    def close(self) -> None:
        for handle in self.files.values():
            with contextlib.suppress(OSError):
                handle.close()
        self.files.clear()


def _machine_of(machine: str | Mapping[str, str] | None) -> str | None:
    if machine is None or isinstance(machine, str):
        return machine
    return machine.get("machine")
