"""The QEMU client: exactly the QMP messages it sends, and what it makes of the answers."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nixvms.supervisor.qemu import QemuClient, QemuError

GREETING = {"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}},
                    "capabilities": []}}

Answer = Callable[[dict[str, object]], list[dict[str, object]]]


class FakeQemu:
    """A QMP server on a unix socket: records each request, answers as told."""

    def __init__(self, path: Path, answer: Answer) -> None:
        self.path = path
        self.answer = answer
        self.requests: list[dict[str, object]] = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn, conn.makefile("rwb") as stream:
                stream.write(json.dumps(GREETING).encode() + b"\n")
                stream.flush()
                for line in stream:
                    request = json.loads(line)
                    self.requests.append(request)
                    if request["execute"] == "qmp_capabilities":
                        replies: list[dict[str, object]] = [{"return": {}}]
                    else:
                        replies = self.answer(request)
                    for reply in replies:
                        stream.write(json.dumps(reply).encode() + b"\n")
                    stream.flush()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[Callable[[Answer], FakeQemu]]:
    made: list[FakeQemu] = []

    def make(answer: Answer) -> FakeQemu:
        made.append(FakeQemu(tmp_path / "m.qmp", answer))
        return made[-1]

    yield make
    for server in made:
        server.close()


def test_a_command_is_sent_after_capabilities_and_its_return_comes_back(
        fake: Callable[[Answer], FakeQemu], tmp_path: Path) -> None:
    server = fake(lambda request: [{"return": {"status": "running", "running": True}}])
    assert QemuClient(tmp_path / "m.qmp", "web").status() == "running"
    assert server.requests == [{"execute": "qmp_capabilities"}, {"execute": "query-status"}]


def test_a_monitor_command_goes_through_qmp_as_typed(
        fake: Callable[[Answer], FakeQemu], tmp_path: Path) -> None:
    server = fake(lambda request: [{"return": "net0: index=0,type=nic\r\n"}])
    answer = QemuClient(tmp_path / "m.qmp", "web").human("info network")
    assert answer == "net0: index=0,type=nic\n"
    assert server.requests[1] == {"execute": "human-monitor-command",
                                  "arguments": {"command-line": "info network"}}


def test_a_refusal_is_an_error_naming_the_machine_and_qemus_reason(
        fake: Callable[[Answer], FakeQemu], tmp_path: Path) -> None:
    fake(lambda request: [{"error": {"class": "GenericError", "desc": "no such device"}}])
    with pytest.raises(QemuError, match="machine web: QEMU refused set_link: no such device"):
        QemuClient(tmp_path / "m.qmp", "web").execute("set_link", {"name": "x", "up": False})


def test_events_before_the_reply_are_kept_not_taken_for_it(
        fake: Callable[[Answer], FakeQemu], tmp_path: Path) -> None:
    fake(lambda request: [{"event": "STOP", "timestamp": {}}, {"return": {}}])
    with QemuClient(tmp_path / "m.qmp", "web").session() as session:
        assert session.execute("stop") == {}
        assert session.next_event(0.1) == {"event": "STOP", "timestamp": {}}
        assert session.next_event(0.1) is None


def test_a_missing_socket_is_one_error_and_quit_says_it_could_not_ask(tmp_path: Path) -> None:
    client = QemuClient(tmp_path / "absent.qmp", "web")
    with pytest.raises(QemuError, match=r"machine web: QEMU's QMP socket .* does not answer"):
        client.status()
    assert client.quit() is False


def test_quit_asks_qemu_even_when_it_closes_before_replying(
        fake: Callable[[Answer], FakeQemu], tmp_path: Path) -> None:
    server = fake(lambda request: [])
    assert QemuClient(tmp_path / "m.qmp", "web").quit(timeout=0.5) is True
    assert server.requests[-1] == {"execute": "quit"}


def test_a_socket_that_is_not_qmp_is_refused(tmp_path: Path) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / "m.qmp"))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        conn.sendall(b'{"hello": 1}\n')
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    with pytest.raises(QemuError, match="is not a QMP socket"):
        QemuClient(tmp_path / "m.qmp", "web").status()
    listener.close()
