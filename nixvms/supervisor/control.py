"""The supervisor's control socket: requests in, answers out, nothing kills it.

One JSON object per line in, one per line out, one request per connection:

    {"op": "status"}                                  -> {"ok": true, "pid": ...}
    {"op": "stop", "machines": [NAME, ...]}           -> {"ok": true, "stopped": [...]}
    {"op": "start", "machines": [...], "fresh": [...], "ready": [...]}
                                                      -> {"ok": true, "started": [...]}
    {"op": "converge", "network": PATH, "fresh": [...], "keep_disks": BOOL}
                                                      -> {"ok": true, "steps": [...],
                                                          "started": [...]}
    {"op": "snapshot-save"|"snapshot-restore"|"snapshot-delete", "name": NAME,
     "machines": [...]}                               -> {"ok": true, ...} (snapshots.py)
    {"op": "link", "machine": NAME, "vlan": N|null, "settings": {"delay": "100ms", ...}}
                                                      -> {"ok": true, "links": [...]} (links.py)
    {"op": "partition", "groups": [[NAME, ...], ...]} -> {"ok": true, "vlans": [...]}
    {"op": "heal"}                                    -> {"ok": true, "vlans": [...]}
    anything wrong                                    -> {"ok": false, "error": "...",
                                                          "kind": "<error class>"}

The socket is the user's alone (0600), but a client can still be buggy,
half-written or slow, and the supervisor owns a running network: so every
request is checked before it is acted on (size, JSON depth, types, names),
each client is read without blocking with a deadline of its own, and one
client never holds up another or the supervisor's watch over its machines.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SupervisorError, UsageError
from .statedir import remove_path

MAX_REQUEST = 64 * 1024      # bytes of one request line
READ_DEADLINE = 5.0          # seconds a client has to send its whole request
MAX_CLIENTS = 32             # connections read at once; more wait in the backlog
MAX_NAMES = 1024             # machine names in one request
MAX_NAME = 255               # characters of one name
MAX_PATH = 4096              # characters of a network directory's path
# Each request's fields and what each must be: machine names, a path, a flag, a
# snapshot's name (snapshots.check_name says which names are).
OPS: dict[str, dict[str, str]] = {
    "status": {},
    "stop": {"machines": "names"},
    "start": {"machines": "names", "fresh": "names", "ready": "names"},
    "converge": {"network": "path", "machines": "names", "fresh": "names",
                 "keep_disks": "flag"},
    "snapshot-save": {"name": "name", "machines": "names"},
    "snapshot-restore": {"name": "name", "machines": "names"},
    "snapshot-delete": {"name": "name"},
    "link": {"machine": "machine", "vlan": "vlan", "settings": "settings"},
    "partition": {"groups": "groups"},
    "heal": {},
}
MAX_SETTINGS = 16            # a link's settings in one request
MAX_SETTING = 64             # characters of one setting's name or value

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def error_reply(error: SupervisorError) -> dict[str, Any]:
    return {"ok": False, "error": error.message, "kind": type(error).__name__}


def parse_request(line: bytes) -> dict[str, Any]:
    """The request on one line, checked; UsageError saying what is wrong."""
    try:
        request = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UsageError("the request is not a line of JSON") from None
    if not isinstance(request, dict):
        raise UsageError("the request is not a JSON object")
    op = request.get("op")
    if not isinstance(op, str) or op not in OPS:
        raise UsageError(f"unknown request {op!r} (known: {', '.join(OPS)})")
    extra = sorted(set(request) - set(OPS[op]) - {"op"})
    if extra:
        raise UsageError(f"request {op!r} takes no {', '.join(map(repr, extra))}")
    for key, kind in OPS[op].items():
        if key not in request:
            if kind in ("path", "machine", "groups"):
                raise UsageError(f"request {op!r} needs {key!r}")
            continue
        value = request[key]
        if kind == "names" and (
                not isinstance(value, list) or len(value) > MAX_NAMES
                or not all(isinstance(n, str) and 0 < len(n) <= MAX_NAME for n in value)):
            raise UsageError(f"request {op!r}: {key!r} must be a list of machine names")
        if kind == "path" and not (isinstance(value, str) and value.startswith("/")
                                   and len(value) <= MAX_PATH and "\0" not in value):
            raise UsageError(f"request {op!r}: {key!r} must be an absolute path")
        if kind == "name" and not (isinstance(value, str) and len(value) <= MAX_NAME):
            raise UsageError(f"request {op!r}: {key!r} must be a snapshot's name")
        if kind == "flag" and not isinstance(value, bool):
            raise UsageError(f"request {op!r}: {key!r} must be true or false")
        if kind == "machine" and not (isinstance(value, str) and 0 < len(value) <= MAX_NAME):
            raise UsageError(f"request {op!r}: {key!r} must be a machine's name")
        if kind == "vlan" and value is not None and not (
                isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 255):
            raise UsageError(f"request {op!r}: {key!r} must be a VLAN (1 to 255) or null")
        if kind == "settings" and not (
                isinstance(value, dict) and len(value) <= MAX_SETTINGS
                and all(isinstance(k, str) and isinstance(v, str) and len(k) <= MAX_SETTING
                        and len(v) <= MAX_SETTING for k, v in value.items())):
            raise UsageError(f"request {op!r}: {key!r} must map setting names to text")
        if kind == "groups" and not (
                isinstance(value, list) and len(value) <= MAX_NAMES
                and all(isinstance(g, list) and len(g) <= MAX_NAMES and all(
                    isinstance(n, str) and 0 < len(n) <= MAX_NAME for n in g) for g in value)):
            raise UsageError(f"request {op!r}: {key!r} must be a list of lists of machine "
                             "names")
    return request


@dataclass
class _Client:
    sock: socket.socket
    deadline: float
    data: bytearray = field(default_factory=bytearray)


class ControlServer:
    """The listening socket and the clients being read, on the supervisor's selector."""

    def __init__(self, path: Path, selector: selectors.BaseSelector, handler: Handler) -> None:
        self.path = path
        self.selector = selector
        self.handler = handler
        self.listener: socket.socket | None = None
        self.clients: dict[int, _Client] = {}
        self.paused = False  # the listener is not watched while MAX_CLIENTS are read

    def listen(self) -> None:
        remove_path(self.path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        os.chmod(self.path, 0o600)
        listener.listen(64)
        listener.setblocking(False)
        self.listener = listener
        self.selector.register(listener, selectors.EVENT_READ, self)

    def ready(self, key: selectors.SelectorKey) -> None:
        """Something to do on the listener or a client (never blocks)."""
        if key.fileobj is self.listener:
            self._accept()
        elif isinstance(key.data, _Client):
            self._read(key.data)

    def _accept(self) -> None:
        assert self.listener is not None
        while len(self.clients) < MAX_CLIENTS:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            sock.setblocking(False)
            client = _Client(sock, time.monotonic() + READ_DEADLINE)
            self.clients[sock.fileno()] = client
            self.selector.register(sock, selectors.EVENT_READ, client)
        if not self.paused:  # full: the rest wait in the backlog, not in a busy loop
            self.selector.unregister(self.listener)
            self.paused = True

    def _read(self, client: _Client) -> None:
        try:
            chunk = client.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(client)
            return
        client.data += chunk
        line, newline, _rest = bytes(client.data).partition(b"\n")
        if len(line) > MAX_REQUEST:
            self._answer(client, error_reply(UsageError(
                f"the request is longer than {MAX_REQUEST} bytes")))
        elif newline or not chunk:
            self._answer(client, self._handle(line))

    def _handle(self, line: bytes) -> dict[str, Any]:
        try:
            return self.handler(parse_request(line))
        except SupervisorError as error:
            return error_reply(error)
        except Exception as error:  # a bug must not take the network down with it
            return error_reply(SupervisorError(
                f"the supervisor could not answer the request ({type(error).__name__}: "
                f"{error}); the network keeps running"))

    def _answer(self, client: _Client, reply: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            # A reply is small: it fits the socket's buffer, so this does not
            # wait on a client that does not read.
            client.sock.send(json.dumps(reply).encode() + b"\n")
        self._drop(client)

    def _drop(self, client: _Client) -> None:
        self.clients.pop(client.sock.fileno(), None)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(client.sock)
        client.sock.close()
        if self.paused and self.listener is not None:
            self.selector.register(self.listener, selectors.EVENT_READ, self)
            self.paused = False

    def expire(self) -> None:
        """Answer and close the clients whose requests did not arrive in time."""
        now = time.monotonic()
        for client in [c for c in self.clients.values() if c.deadline < now]:
            self._answer(client, error_reply(UsageError(
                f"the request did not arrive within {READ_DEADLINE:g} s")))

    def close(self) -> None:
        for client in list(self.clients.values()):
            self._drop(client)
        if self.listener is not None:
            if not self.paused:
                with contextlib.suppress(KeyError, ValueError):
                    self.selector.unregister(self.listener)
            self.listener.close()
            self.listener = None
        remove_path(self.path)
