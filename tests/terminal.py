"""A command on a pseudo-terminal, for tests of what people see and type."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import time
from pathlib import Path


class Terminal:
    """Runs `command` on a pseudo-terminal in `cwd`; read with until(), type with write()."""

    def __init__(self, command: list[str], cwd: Path) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: the command, on the terminal
            os.chdir(cwd)
            os.execv(command[0], command)
        self.pid, self.fd = pid, fd
        self.seen = b""

    def until(self, text: bytes, timeout: float = 60) -> bool:
        """Read until `text` has shown (True) or the time is up or the command ended."""
        deadline = time.monotonic() + timeout
        while text not in self.seen and time.monotonic() < deadline:
            if select.select([self.fd], [], [], 0.2)[0]:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                self.seen += chunk
        return text in self.seen

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def wait(self) -> int:
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
