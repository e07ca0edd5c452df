"""Machines booting, as people watch them: a live line per machine, or plain lines.

Under TCG a boot is the longest part of `nixvms up` (half a minute and
more); without this the screen would freeze between the build's last line
and the first "ready". On a terminal each machine gets a live line — its
stage (QEMU started, kernel, init, services, multi-user, login prompt), the
seconds since it started, and its console's last line, dimmed — until it is
ready or dead; elsewhere each stage is a plain line (`server: kernel
(3.1 s)`). The stages are read from the consoles themselves (the
supervisor's boot.py, incrementally), and the supervisor's events say ready
and died.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TextIO

from nixvms.progress import is_live_terminal
from nixvms.supervisor.boot import BootWatch
from nixvms.supervisor.statedir import RunDir
from nixvms.supervisor.views import describe_event

REFRESH = 0.2
WORDS = {"qemu": "QEMU started", "kernel": "kernel", "init": "init",
         "services": "starting services", "multi-user": "multi-user",
         "login": "login prompt", "ready": "ready", "dead": "died"}


@dataclass
class _Machine:
    watch: BootWatch
    began: float
    stage: str = "qemu"
    done: str = ""  # "ready" or "dead" once the supervisor said so
    took: float = 0.0


@dataclass
class BootView:
    """Use around a start: `with BootView(...) as view: start(on_event=view.event)`."""

    stream: TextIO
    run_dir: RunDir
    names: Sequence[str]
    say: Callable[[str], None]
    live: bool | None = None
    machines: dict[str, _Machine] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.live is None:
            self.live = is_live_terminal(self.stream)
        now = time.monotonic()
        for name in self.names:
            watch = BootWatch(self.run_dir.console_log(name))
            watch.skip_to_end()  # an earlier boot's lines; a new boot starts the log anew
            self.machines[name] = _Machine(watch, now)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._live: Any = None

    def __enter__(self) -> BootView:
        if self.live:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream, force_terminal=True, highlight=False)
            self._live = Live(get_renderable=self._render, console=console,
                              refresh_per_second=1 / REFRESH, transient=True)
            self._live.start()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._live is not None:
            self._live.stop()

    def event(self, event: dict[str, Any]) -> None:
        """A supervisor event: ready and died end a machine's line; the rest is said."""
        name = str(event.get("machine") or "")
        with self._lock:
            machine = self.machines.get(name)
            if machine is not None and event.get("event") in ("ready", "died"):
                machine.done = "ready" if event.get("event") == "ready" else "dead"
                machine.took = float(event.get("after") or time.monotonic() - machine.began)
        if event.get("event") == "stage":
            return  # read from the console here, as it comes
        for line in describe_event(event):
            if self._live is not None:
                self._live.console.print(line, markup=False, highlight=False)
            elif event.get("event") == "ready":
                self.stream.write(line + "\n")
                self.stream.flush()
            else:
                self.say(line)

    def _watch(self) -> None:
        while not self._stop.wait(REFRESH):
            with self._lock:
                for name, machine in self.machines.items():
                    if machine.done or not machine.watch.read():
                        continue
                    machine.stage = machine.watch.stage
                    if not self.live:
                        took = time.monotonic() - machine.began
                        self.say(f"{name}: {WORDS.get(machine.stage, machine.stage)} "
                                 f"({took:.1f} s)")

    def _render(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        table = Table.grid(padding=(0, 1))
        width = max((len(n) for n in self.machines), default=0)
        with self._lock:
            for name, machine in self.machines.items():
                state = machine.done or machine.stage
                took = machine.took if machine.done else time.monotonic() - machine.began
                mark = {"ready": "[green]✓[/]", "dead": "[red]✗[/]"}.get(machine.done,
                                                                          "[cyan]…[/]")
                line = Text(machine.watch.last_line[-70:], style="dim")
                table.add_row(Text.from_markup(mark), name.ljust(width),
                              WORDS.get(state, state).ljust(17), f"{took:5.1f} s", line)
        return table
