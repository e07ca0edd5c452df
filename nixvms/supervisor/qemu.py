"""One client for a VM's QEMU: its QMP socket, and the human monitor through it.

Every VM is started with a QMP socket (<sockets>/<m>.qmp) beside its human
monitor (<m>.monitor, for people: `socat - UNIX:...`). The supervisor, the
test driver, and later snapshots and screenshots reach QEMU only through
`QemuClient`: QMP is QEMU's machine protocol (JSON, a reply per command,
errors with a class, asynchronous events), and `human-monitor-command` runs
the monitor's commands with their text answers where QMP has no equivalent.

A session: connect, read the greeting, `qmp_capabilities`, then commands.
QEMU serves one QMP client per socket at a time, so sessions are short; a
caller waiting for events holds one open (`QmpSession.next_event`).
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import SupervisorError

DEFAULT_TIMEOUT = 30.0
MAX_MESSAGE = 16 * 1024 * 1024  # a QMP line (screendump answers are small; query-* too)

Event = dict[str, Any]


class QemuError(SupervisorError):
    """QEMU refused a command, or its QMP socket cannot be reached."""


class QmpSession:
    """An open QMP connection (after capabilities negotiation)."""

    def __init__(self, path: Path, name: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.path = path
        self.name = name
        self.events: list[Event] = []
        self._buffer = b""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(str(path))
            greeting = self._message(time.monotonic() + timeout)
            if "QMP" not in greeting:
                raise QemuError(f"machine {name}: {path} is not a QMP socket")
            self.execute("qmp_capabilities")
        except OSError as error:
            self.close()
            raise QemuError(f"machine {name}: QEMU's QMP socket {path} does not answer "
                            f"({error.strerror or error})") from None
        except QemuError:
            self.close()
            raise

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> QmpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise QemuError(f"machine {self.name}: QEMU did not answer on QMP in time")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                raise QemuError(f"machine {self.name}: QEMU closed its QMP socket")
            self._buffer += chunk
            if len(self._buffer) > MAX_MESSAGE:
                raise QemuError(f"machine {self.name}: a QMP message over {MAX_MESSAGE} bytes")
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            message = json.loads(line)
        except ValueError:
            raise QemuError(f"machine {self.name}: QEMU sent a line that is not JSON") from None
        if not isinstance(message, dict):
            raise QemuError(f"machine {self.name}: QEMU sent a message that is not an object")
        return message

    def execute(self, command: str, arguments: dict[str, Any] | None = None,
                timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Run a QMP command; its "return" value (QemuError with QEMU's own
        description when it fails). Events read meanwhile are kept."""
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        try:
            self.sock.sendall(json.dumps(request).encode() + b"\n")
        except OSError as error:
            raise QemuError(f"machine {self.name}: QEMU's QMP socket closed ({error})") from None
        deadline = time.monotonic() + timeout
        while True:
            message = self._message(deadline)
            if "event" in message:
                self.events.append(message)
            elif "return" in message:
                return message["return"]
            elif "error" in message:
                refusal = message["error"]
                desc = refusal.get("desc") if isinstance(refusal, dict) else refusal
                raise QemuError(f"machine {self.name}: QEMU refused {command}: {desc}")

    def next_event(self, timeout: float) -> Event | None:
        """The next asynchronous event (kept ones first); None after timeout."""
        if self.events:
            return self.events.pop(0)
        try:
            message = self._message(time.monotonic() + timeout)
        except QemuError as error:
            if "in time" in error.message:
                return None
            raise
        return message if "event" in message else None


class QemuClient:
    """The QEMU of one machine, by its QMP socket."""

    def __init__(self, qmp_socket: Path, name: str) -> None:
        self.path = qmp_socket
        self.name = name

    @contextlib.contextmanager
    def session(self, timeout: float = DEFAULT_TIMEOUT) -> Iterator[QmpSession]:
        with QmpSession(self.path, self.name, timeout) as session:
            yield session

    def execute(self, command: str, arguments: dict[str, Any] | None = None,
                timeout: float = DEFAULT_TIMEOUT) -> Any:
        with self.session(timeout) as session:
            return session.execute(command, arguments, timeout)

    def human(self, command: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        """A human monitor command (as typed at `(qemu)`); its text answer."""
        answer = self.execute("human-monitor-command", {"command-line": command}, timeout)
        return str(answer).replace("\r\n", "\n")

    def status(self) -> str:
        """QEMU's run state: "running", "paused", "shutdown", ..."""
        answer = self.execute("query-status")
        return str(answer.get("status")) if isinstance(answer, dict) else "unknown"

    def quit(self, timeout: float = 5.0) -> bool:
        """Ask QEMU to exit now (it closes its disk images first); whether it was
        asked (False: its QMP socket did not answer)."""
        try:
            session = QmpSession(self.path, self.name, timeout)
        except QemuError:
            return False
        with session, contextlib.suppress(QemuError):  # it may close before replying
            session.execute("quit", timeout=timeout)
        return True

    def wait_event(self, matches: Callable[[Event], bool], timeout: float) -> Event:
        """Wait for an event that matches; QemuError after timeout."""
        deadline = time.monotonic() + timeout
        with self.session() as session:
            while (remaining := deadline - time.monotonic()) > 0:
                event = session.next_event(remaining)
                if event is not None and matches(event):
                    return event
        raise QemuError(f"machine {self.name}: no matching QMP event within {timeout:g} s")
