"""The supervisor's control socket survives any input (issue: trust nothing).

A running network (stand-in VMs, the real supervisor and vde_switch) gets
thousands of malformed, truncated, oversized, deeply nested, wrongly typed
and slow requests; it keeps every machine running and answers `status`
throughout, and a slow client never holds up another.
"""

from __future__ import annotations

import json
import random
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nixvms.supervisor import client, statedir
from tests.test_run_vms import Net, is_alive, kill_recorded, make_net

pytestmark = pytest.mark.processes

MESSAGES = 10_000


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    import tempfile
    short = Path(tempfile.mkdtemp(prefix="fz-"))
    net = make_net(tmp_path_factory.mktemp("fuzz"), short / "s", {"a": (1,), "b": (1,)})
    assert net.run("--detach").returncode == 0
    yield net
    net.run("--stop")
    kill_recorded(short)


def control(net: Net) -> Path:
    return statedir.prepare(net.state, create=False).control_socket


def send(net: Net, payload: bytes, timeout: float = 10.0) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(control(net)))
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError:  # the supervisor answered and closed before all was sent
            pass
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
        return reply


def status(net: Net) -> dict[str, object]:
    answer = client.request(statedir.prepare(net.state, create=False), {"op": "status"}, 10)
    assert answer["ok"] is True
    return answer


def malformed(rng: random.Random) -> bytes:
    """One hostile request: a shape the protocol does not have."""
    kinds: list[Callable[[], bytes]] = [
        lambda: b"",
        lambda: b"\n",
        lambda: bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))),
        lambda: b'{"op": "stop", "machines": 5}\n',
        lambda: b'{"op": "start", "machines": [1, 2], "fresh": "a"}\n',
        lambda: b'{"op": "start", "machines": [{"x": 1}]}\n',
        lambda: b'{"op": ["status"]}\n',
        lambda: b'{"op": "status", "extra": true}\n',
        lambda: b'{"op": "launch-missiles"}\n',
        lambda: b"[" * rng.randint(1000, 60000) + b"\n",
        lambda: b'{"op": "stop", "machines": ["' + b"x" * 300 + b'"]}\n',
        lambda: json.dumps({"op": "stop", "machines": ["nosuch"]}).encode() + b"\n",
        lambda: b'{"op": "stop", "machines": ["a"' + b"," * rng.randint(1, 50),
        lambda: b'{"op": "st',  # truncated
        lambda: b"x" * (70 * 1024) + b"\n",  # oversized
        lambda: b"null\n",
        lambda: b"123\n",
        lambda: b'"status"\n',
        lambda: b'{"op": "status"}' + b"\xff\xfe\n",
    ]
    return rng.choice(kinds)()


def test_thousands_of_malformed_requests_leave_the_network_running(running: Net) -> None:
    pids = running.all_pids()
    rng = random.Random(20261204)
    answered = 0
    for index in range(MESSAGES):
        reply = send(running, malformed(rng))
        if reply:
            answer = json.loads(reply)
            assert answer["ok"] is False, (index, answer)
            assert isinstance(answer["error"], str) and answer["error"]
            answered += 1
        if index % 500 == 0:
            status(running)
    assert answered > MESSAGES * 0.9
    status(running)
    assert all(is_alive(p) for p in pids)


def test_a_wrongly_typed_request_is_answered_with_an_error_naming_the_field(
        running: Net) -> None:
    answer = json.loads(send(running, b'{"op": "stop", "machines": 5}\n'))
    assert answer == {"ok": False, "kind": "UsageError",
                      "error": "request 'stop': 'machines' must be a list of machine names"}


def test_slow_clients_do_not_hold_up_another_request(running: Net) -> None:
    tricklers = []
    for _ in range(8):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(control(running)))
        s.sendall(b'{"op": ')  # and nothing more for now
        tricklers.append(s)
    try:
        began = time.monotonic()
        status(running)  # answered while eight requests are still arriving
        assert time.monotonic() - began < 20  # not after their read deadlines (8 x 5 s)
        for s in tricklers:
            s.sendall(b'"st')
        status(running)
    finally:
        for s in tricklers:
            s.close()


def test_a_client_that_never_finishes_gets_an_error_at_its_deadline(running: Net) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(str(control(running)))
        s.sendall(b'{"op": "status"')
        answer = json.loads(s.recv(65536))
    assert answer["ok"] is False and "did not arrive within" in answer["error"]
