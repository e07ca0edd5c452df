"""How a build's progress looks: live lines on a terminal, plain lines elsewhere.

`Display` takes the build's events (nixvms/events.py) and shows them:

- on a terminal, one live line per machine (waiting, evaluating, building
  with the last line of Nix's log, up to date, failed) with its elapsed
  time, and an overall count, redrawn in place by rich's `Live`; notices
  and log records are printed above the live lines;
- elsewhere (CI, a pipe, a dumb terminal), the plain lines of
  `events.plain_line`, one per event, exactly as before;
- in both, a summary line at the end: `5 machines: 2 evaluated, 1 built,
  3 up to date, 12.4 s` (and `, 1 failed` when one did).

Quiet (`-q`) shows nothing: the command prints the errors. Verbose (`-v`)
adds each line of Nix's build log (plain: `machine | line`; live: above
the live lines).

Events come from doit's worker threads; a lock guards the display's state.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from nixvms.events import Event, plain_line

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType
    from rich.live import Live
    from rich.text import Text

# rich draws the live lines: a well-kept library for terminal work (widths,
# cursor movement, redraws from another thread) instead of hand-made escape
# codes. It is imported only when the lines are live: a build into a pipe,
# or a no-op in a script, does not pay for it.

# How many lines of a machine's build log the display keeps for its failure.
LOG_TAIL = 12
# Live redraws per second.
REFRESH_PER_SECOND = 8

QUIET = -1
# Nix's warnings that only say it waited for its store (another Nix held the lock).
_TRANSIENT = re.compile(r"SQLite database .* is busy|waiting for (the big garbage collector "
                        r"lock|lock on)")


@dataclass
class MachineProgress:
    """What the display knows of one machine so far."""

    name: str
    state: str = "waiting"
    started: float | None = None
    finished: float | None = None
    work: float = 0.0            # seconds of its own evaluating and building so far
    since: float | None = None   # when its current evaluation or build began
    evaluated: bool = False
    built: bool = False
    eval_up_to_date: bool = False
    build_up_to_date: bool = False
    failure: str | None = None
    last_line: str = ""  # building: Nix's last log line; evaluating: why, if said
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_TAIL))

    @property
    def done(self) -> bool:
        return self.finished is not None

    @property
    def did_nothing(self) -> bool:
        return self.done and not (self.evaluated or self.built or self.failure)

    @property
    def waiting(self) -> bool:
        """Queued for an evaluation or build slot: no clock runs for it."""
        return self.since is None and not self.done

    def elapsed(self, now: float) -> float | None:
        """Its own work's seconds (not its waits for a slot)."""
        if self.started is None:
            return None
        return self.work + (now - self.since if self.since is not None else 0.0)

    def begin(self, now: float) -> None:
        if self.since is None:
            self.since = now

    def pause(self, now: float) -> None:
        if self.since is not None:
            self.work += now - self.since
            self.since = None

    def outcome(self) -> str:
        """The machine's final word."""
        if self.failure is not None:
            return "failed"
        if self.built:
            return "built"
        if self.evaluated:
            return "evaluated, VM unchanged"
        return "up to date"


@dataclass
class Summary:
    machines: int
    evaluated: int
    built: int
    up_to_date: int
    failed: int
    seconds: float

    def line(self) -> str:
        noun = "machine" if self.machines == 1 else "machines"
        text = (f"{self.machines} {noun}: {self.evaluated} evaluated, {self.built} built, "
                f"{self.up_to_date} up to date")
        if self.failed:
            text += f", {self.failed} failed"
        return f"{text}, {self.seconds:.1f} s"


class Tracker:
    """The state of every machine of one build, from its events (no output)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.machines: dict[str, MachineProgress] = {}
        self.making_network = False
        self.transient: list[str] = []  # Nix's passing store warnings, shown below the lines
        self.lock = threading.Lock()

    def expect(self, names: Sequence[str]) -> None:
        """Machines the build will report on: shown as waiting until they start."""
        with self.lock:
            for name in names:
                self.machines.setdefault(name, MachineProgress(name))

    def machine(self, name: str) -> MachineProgress:
        if name not in self.machines:
            self.machines[name] = MachineProgress(name)
        return self.machines[name]

    def update(self, event: Event) -> None:
        with self.lock:
            self._update(event)

    def _update(self, event: Event) -> None:
        now = self.clock()
        if event.kind == "network":
            self.making_network = True
            return
        if event.machine is None:
            return
        m = self.machine(event.machine)
        if event.kind in ("evaluating", "building") and m.started is None:
            m.started = now
        if event.kind in ("evaluating", "building"):
            m.begin(now)
        elif event.kind in ("evaluated", "built", "up-to-date", "failed"):
            m.pause(now)
        if event.kind == "evaluating":
            m.state, m.finished, m.last_line = "evaluating", None, event.text
        elif event.kind == "evaluated":
            m.evaluated = True
            m.state = "waiting to build"
        elif event.kind == "building":
            m.state, m.last_line, m.finished = "building", "", None
        elif event.kind == "build-log":
            text = event.text.strip()
            if text:
                m.last_line = text
                m.tail.append(event.text)
        elif event.kind == "built":
            m.built = True
            m.state, m.finished = "built", now
        elif event.kind == "up-to-date":
            if event.text == "eval":
                m.eval_up_to_date = True
                m.state = "waiting to build"
            else:
                m.build_up_to_date = True
                m.state = m.outcome()
                m.finished = now
        elif event.kind == "failed":
            m.failure = event.text
            m.state, m.finished = "failed", now

    def summary(self) -> Summary:
        with self.lock:
            ms = list(self.machines.values())
            return Summary(
                machines=len(ms),
                evaluated=sum(m.evaluated for m in ms),
                built=sum(m.built for m in ms),
                up_to_date=sum(m.did_nothing for m in ms),
                failed=sum(m.failure is not None for m in ms),
                seconds=self.clock() - self.started,
            )


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f} s"


_STYLE = {
    "waiting": "dim", "evaluating": "yellow", "waiting to build": "dim",
    "building": "yellow", "built": "green",
    "evaluated, VM unchanged": "green", "up to date": "green", "failed": "bold red",
}
_MARK = {"failed": "✗", "built": "✓", "evaluated, VM unchanged": "✓", "up to date": "✓"}


def live_lines(tracker: Tracker, width: int, height: int = 1000) -> list[Text]:
    """The live lines, each cut to `width`: one per machine, then the overall count.

    More machines than `height` lines hold: the busy and failed ones first, the
    rest counted in one line.
    """
    from rich.text import Text

    with tracker.lock:
        now = tracker.clock()
        machines = sorted(tracker.machines.values(), key=lambda m: m.name)
        names = max((len(m.name) for m in machines), default=1)
        states = max((len(m.state) for m in machines), default=1)
        shown = machines
        if len(machines) > max(height - 1, 2):
            room = max(height - 2, 1)
            busy = [m for m in machines if m.failure is not None
                    or m.state in ("evaluating", "building")]
            rest = [m for m in machines if m not in busy]
            shown = sorted((busy + rest)[:room], key=lambda m: m.name)
        lines = []
        for m in shown:
            style = _STYLE.get(m.state, "")
            mark = _MARK.get(m.state, " " if m.waiting else "…")
            detail = ""
            if m.state in ("evaluating", "building"):
                detail = m.last_line
            elif m.failure is not None:
                detail = m.failure.splitlines()[0] if m.failure else ""
            line = Text.assemble(
                (mark, style), " ", (m.name.ljust(names), "bold"), "  ",
                (m.state.ljust(states), style), "  ",
                ("" if m.waiting else _seconds(m.elapsed(now))).rjust(7),
                "  ", (detail, "dim"), no_wrap=True)
            line.truncate(width, overflow="ellipsis")
            lines.append(line)
        hidden = [m for m in machines if m not in shown]
        if hidden:
            done = sum(m.done for m in hidden)
            lines.append(Text(f"  … {len(hidden)} more: {done} done, "
                              f"{len(hidden) - done} waiting"[:width], style="dim"))
        if machines:  # no "0/0 machines done" before the listing says what there is
            done = sum(m.done for m in machines)
            footer = f"{done}/{len(machines)} machines done, {now - tracker.started:.1f} s"
            if tracker.making_network:
                footer += "; making the network"
            lines.append(Text(footer[:width], style="bold"))
        for note in tracker.transient:
            lines.append(Text(note[:width], style="dim"))
        return lines


class _LiveLines:
    """The live lines as rich renders them: cut to the terminal's size each time."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    def __rich_console__(self, console: Console,
                         options: ConsoleOptions) -> Iterator[RenderableType]:
        yield from live_lines(self.tracker, options.max_width, console.size.height - 1)


def is_live_terminal(stream: TextIO) -> bool:
    """Whether live lines can be drawn on the stream (a terminal that is not dumb)."""
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):
        return False
    return terminal and os.environ.get("TERM", "") not in ("", "dumb")


class Display:
    """A build's progress on a stream; use as a context manager around the build.

    verbosity: QUIET (-1: nothing), 0, or 1 and more (-v: also Nix's build log).
    live: None decides from the stream (a terminal that is not dumb).
    expected: called at the first machine event; the machines to show as waiting.
    """

    def __init__(self, stream: TextIO, *, verbosity: int = 0, live: bool | None = None,
                 expected: Callable[[], Sequence[str]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.verbosity = verbosity
        self.live = is_live_terminal(stream) if live is None else live
        self.tracker = Tracker(clock)
        self._expected = expected
        self._console: Console | None = None
        self._live: Live | None = None
        self._handlers: list[tuple[logging.StreamHandler[TextIO], TextIO]] = []

    @property
    def quiet(self) -> bool:
        return self.verbosity <= QUIET

    def __enter__(self) -> Display:
        if self.live and not self.quiet:
            from rich.console import Console
            from rich.live import Live

            self._console = Console(file=self.stream, force_terminal=True, highlight=False)
            self._live = Live(get_renderable=lambda: _LiveLines(self.tracker),
                              console=self._console, refresh_per_second=REFRESH_PER_SECOND,
                              transient=False, redirect_stdout=False, redirect_stderr=False)
            self._live.start()
            self._route_logging()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the live lines (leaving their last state) and print the summary."""
        if self._live is not None:
            self._live.refresh()
            self._live.stop()
            self._live = None
            self._restore_logging()
        if not self.quiet and self.tracker.machines:
            self._say(self.tracker.summary().line())

    def __call__(self, event: Event) -> None:
        if event.machine is not None and self._expected is not None:
            expected, self._expected = self._expected, None
            # Only a nicety: without it the machines show as they start.
            with contextlib.suppress(OSError, ValueError):
                self.tracker.expect(expected())
        self.tracker.update(event)
        if self.quiet:
            return
        if event.kind == "build-log" and self.verbosity >= 1:
            self._say(f"{event.machine} | {event.text}")
        elif self._live is None:
            line = plain_line(event)
            if line is not None:
                self._say(line)
        elif event.kind == "notice":
            self._say(event.text)

    def failed_machines(self) -> list[MachineProgress]:
        with self.tracker.lock:
            return [m for m in self.tracker.machines.values() if m.failure is not None]

    def _say(self, text: str) -> None:
        if self._console is not None and self._live is not None:
            from rich.text import Text

            self._console.print(Text(text), soft_wrap=True)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def _above(self, text: str) -> None:
        """A log line while the lines are live: above them, except Nix's passing
        store warnings, shown once below them (they say Nix waited, nothing more)."""
        if _TRANSIENT.search(text):
            with self.tracker.lock:
                if text not in self.tracker.transient:
                    self.tracker.transient.append(text)
            return
        self._say(text)

    def _route_logging(self) -> None:
        """While the lines are live, log records (Nix's warnings, -v's command lines)
        go above them rather than through them."""
        writer = _LineWriter(self._above)
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is self.stream:
                self._handlers.append((handler, handler.stream))
                handler.setStream(writer)

    def _restore_logging(self) -> None:
        for handler, stream in self._handlers:
            handler.setStream(stream)
        self._handlers.clear()


class _LineWriter(io.TextIOBase):
    """A text stream that hands each complete line to a function."""

    def __init__(self, say: Callable[[str], None]) -> None:
        super().__init__()
        self._say = say
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._say(line)
        return len(text)
