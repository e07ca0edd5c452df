"""The host side of the test instrumentation's backdoor: a root shell in the
guest reading commands from its virtio console (/dev/hvc0), which QEMU
connects to the unix socket <sockets>/<m>.shell.

The guest side is NixOS's nixos/modules/testing/test-instrumentation.nix (or
tinyos's module of the same path): a shell (bash on NixOS, busybox sh on
tinyos) that reads commands from the console and writes "Spawning backdoor
root shell..." when it starts. The protocol here is the driver's own and
uses only what both shells have (POSIX sh, base64, mktemp, timeout):

- a command travels base64-encoded, and runs in a child shell with
  `set -euo pipefail`, stdin from /dev/null, stdout into a temporary file
  (so a command that leaves a process behind does not hold the reply back),
  stderr on the guest's console, as NixOS's driver runs them;
- the reply is one line: RS (0x1e), a token unique to the request, the exit
  status, and the output in base64. Lines without the token (a reply to an
  abandoned request, the banner) are skipped.

Connecting does not depend on having seen the banner: QEMU drops what the
guest writes while no client is connected, so the driver asks "are you
there" (a probe with a fresh token) every second until the shell answers,
then once more to make sure every earlier probe has been consumed.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import SupervisorError

BANNER = b"Spawning backdoor root shell..."
RECORD = b"\x1e"
PROBE_INTERVAL = 1.0
# probes left unanswered at most: a guest that does not read its console
# yet must not fill QEMU's buffers (and the socket's) with them
MAX_PROBES = 3
SEND_TIMEOUT = 60.0
CONNECT_LOG_INTERVAL = 30.0
# seconds the host waits for a reply beyond the guest's own timeout
REPLY_GRACE = 60.0


class BackdoorError(SupervisorError):
    """The backdoor cannot be reached or stopped answering."""


class BackdoorClosed(BackdoorError):
    """The socket closed (QEMU exited, or the shell ended)."""


def _b64(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.b64encode(data).decode()


def command_line(command: str, token: str, timeout: float | None) -> bytes:
    """The line that runs `command` in the guest and replies with token."""
    limit = f"timeout {max(1, int(timeout))} " if timeout is not None else ""
    decoded = f"$(printf %s {_b64(command)} | base64 -d)"
    return (
        f'__f=$(mktemp); {limit}sh -c "set -euo pipefail; {decoded}" </dev/null >"$__f"; '
        f"__s=$?; printf '\\036%s %s ' {token} \"$__s\"; "
        f"base64 <\"$__f\" | tr -d '\\n'; printf '\\n'; rm -f \"$__f\"\n"
    ).encode()


def probe_line(token: str) -> bytes:
    return f"printf '\\036%s 0 \\n' {token}\n".encode()


def interactive_line(line: str, token: str) -> bytes:
    """A line typed in shell_interact: evaluated in the backdoor shell itself
    (cd and variables persist), output streamed, then the reply marker."""
    return (
        f'eval "$(printf %s {_b64(line)} | base64 -d)" </dev/null 2>&1; '
        f"printf '\\036%s %s \\n' {token} \"$?\"\n"
    ).encode()


class Backdoor:
    """One connection to one machine's backdoor shell."""

    def __init__(self, path: Path, name: str, log: Callable[[str], None]) -> None:
        self.path = path
        self.name = name
        self.log = log
        self.sock: socket.socket | None = None
        self.buffer = b""

    @property
    def connected(self) -> bool:
        return self.sock is not None

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        self.sock = None
        self.buffer = b""

    # --- connecting ------------------------------------------------------------
    def connect(self, timeout: float, alive: Callable[[], bool],
                why_dead: Callable[[], str]) -> float:
        """Connect and wait until the shell answers; the seconds it took."""
        if self.sock is not None:
            return 0.0
        start = time.monotonic()
        deadline = start + timeout
        sock = self._open_socket(deadline, alive, why_dead)
        self.sock = sock
        self.buffer = b""
        tokens: set[str] = set()
        next_probe = 0.0
        next_note = start + CONNECT_LOG_INTERVAL
        try:
            while True:
                now = time.monotonic()
                if now >= next_probe and len(tokens) < MAX_PROBES:
                    token = secrets.token_hex(6)
                    tokens.add(token)
                    self._send(probe_line(token))
                    next_probe = now + PROBE_INTERVAL
                if now >= next_note:
                    self.log("the backdoor root shell has not answered yet "
                             "(in the guest: systemctl status backdoor.service)")
                    next_note = now + CONNECT_LOG_INTERVAL
                if self._take_any(tokens):
                    break
                if BANNER in self.buffer:
                    # a shell that has just started: what was sent before is lost
                    self.buffer = self.buffer.replace(BANNER, b"")
                    tokens.clear()
                    next_probe = 0.0
                    continue
                if not alive():
                    raise BackdoorClosed(why_dead())
                if now > deadline:
                    raise BackdoorError(
                        f"the backdoor root shell did not answer within {timeout:g} s (does the "
                        "machine import nixos/modules/testing/test-instrumentation.nix?)")
                self._fill(0.25)
            # every probe sent so far has been read once this one answers
            final = secrets.token_hex(6)
            self._send(probe_line(final))
            self._reply(final, deadline=time.monotonic() + 30)
        except BaseException:
            self.close()
            raise
        return time.monotonic() - start

    def _open_socket(self, deadline: float, alive: Callable[[], bool],
                     why_dead: Callable[[], str]) -> socket.socket:
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.path))
                return sock
            except OSError as error:
                sock.close()
                if not alive():
                    raise BackdoorClosed(why_dead()) from error
                if time.monotonic() > deadline:
                    raise BackdoorError(f"cannot connect to {self.path}: {error}") from error
                time.sleep(0.1)

    # --- the wire --------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        assert self.sock is not None
        try:
            self.sock.settimeout(SEND_TIMEOUT)
            self.sock.sendall(data)
        except OSError as error:
            self.close()
            raise BackdoorClosed(f"the backdoor's socket closed ({error})") from error

    def _fill(self, wait: float | None) -> bool:
        """Read what is there (waiting up to `wait` seconds); False on timeout."""
        assert self.sock is not None
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return False
        except OSError as error:
            self.close()
            raise BackdoorClosed(f"the backdoor's socket closed ({error})") from error
        if not chunk:
            self.close()
            raise BackdoorClosed("the backdoor's socket closed")
        self.buffer += chunk
        return True

    def _find(self, token: str) -> tuple[int, int] | None:
        """(start, end) of token's complete reply line in the buffer."""
        start = self.buffer.find(RECORD + token.encode() + b" ")
        if start < 0:
            return None
        end = self.buffer.find(b"\n", start)
        return None if end < 0 else (start, end)

    def _take_any(self, tokens: set[str]) -> bool:
        for token in tokens:
            found = self._find(token)
            if found:
                self.buffer = self.buffer[found[1] + 1:]
                return True
        return False

    def _reply(self, token: str, deadline: float | None) -> tuple[int, bytes]:
        while True:
            found = self._find(token)
            if found:
                start, end = found
                line = self.buffer[start + 1:end]
                self.buffer = self.buffer[end + 1:]
                parts = line.split(b" ", 2)
                status = int(parts[1])
                body = base64.b64decode(parts[2]) if len(parts) > 2 and parts[2] else b""
                return status, body
            # what precedes an RS that is not ours is stale; keep the buffer small
            if len(self.buffer) > 1 << 20 and RECORD not in self.buffer[-4096:]:
                self.buffer = self.buffer[-4096:]
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError
            self._fill(None if remaining is None else min(remaining, 1.0))

    # --- commands --------------------------------------------------------------
    def run(self, command: str, timeout: float | None) -> tuple[int, bytes]:
        """Run a command; (exit status, stdout)."""
        token = secrets.token_hex(8)
        self._send(command_line(command, token, timeout))
        deadline = None if timeout is None else time.monotonic() + timeout + REPLY_GRACE
        return self._reply(token, deadline)

    def send_raw(self, data: bytes) -> None:
        """Send bytes to the shell as they are (poweroff: no reply comes)."""
        self._send(data)

    def interact_line(self, line: str, out: BinaryIO = sys.stdout.buffer) -> int:
        """Run one typed line, streaming its output to `out`; its status."""
        token = secrets.token_hex(8)
        self._send(interactive_line(line, token))
        marker = RECORD + token.encode() + b" "
        while True:
            at = self.buffer.find(marker)
            if at >= 0 and self.buffer.find(b"\n", at) >= 0:
                end = self.buffer.find(b"\n", at)
                out.write(self.buffer[:at])
                out.flush()
                status = int(self.buffer[at + len(marker):end].split()[0])
                self.buffer = self.buffer[end + 1:]
                return status
            # write everything that cannot be the start of the marker
            safe = len(self.buffer) - len(marker)
            cut = self.buffer.rfind(RECORD)
            if cut >= 0:
                safe = min(safe, cut)
            if safe > 0:
                out.write(self.buffer[:safe])
                out.flush()
                self.buffer = self.buffer[safe:]
            self._fill(None)
