"""What a build reports as it goes: one event per step of a machine or notice.

The pipeline emits events; the front door decides how they look (the CLI:
one live line per machine on a terminal, plain lines otherwise; plain doit:
plain lines). `plain_line` is the plain form, one line per event that says
something, and the form the tests read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "notice",       # a line for the user (a wait, a fallback, a file edited meanwhile)
    "evaluating",   # machine's evaluation started
    "evaluated",    # ... and finished
    "building",     # machine's build started
    "build-log",    # a line of Nix's log while it builds the machine
    "built",        # machine's build finished
    "up-to-date",   # a task of the machine had nothing to do (text: eval or build)
    "failed",       # a task of the machine failed (text: Nix's message)
    "network",      # the network directory is being made
]


@dataclass(frozen=True)
class Event:
    kind: Kind
    machine: str | None = None
    text: str = ""


Progress = Callable[[Event], None]


def notice(text: str) -> Event:
    return Event("notice", None, text)


def plain_line(event: Event) -> str | None:
    """The event as one plain line, or None for events plain output leaves out."""
    if event.kind == "notice":
        return event.text
    if event.kind in ("evaluating", "building"):
        return f"{event.kind} {event.machine}"
    if event.kind == "network":
        return "making the network"
    return None
