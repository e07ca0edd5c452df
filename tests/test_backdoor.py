"""The backdoor protocol against real shells: bash (the backdoor of NixOS and
tinyos) and busybox sh (a shell that reads its input in blocks).

A unix socket stands for QEMU's virtconsole: each connection is served by a
shell reading commands from it and writing to it, as the guest's backdoor
shell reads /dev/hvc0 (raw, without echo). So the framing, the checksums,
output of any size, binary output and the timeout's kill run for real,
without a VM.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nixvms.supervisor import backdoor as backdoor_module
from nixvms.supervisor.backdoor import Backdoor, ReplyDamaged

pytestmark = pytest.mark.processes

SHELLS = {"busybox sh": ["busybox", "sh", "-s"], "bash": ["bash", "-s"]}


class Guest:
    """A socket whose every client talks to a fresh shell; drop_after: the
    shell's output loses bytes from that offset on; drop_unread: what the
    socket does not take at once is lost (as QEMU's virtconsole does)."""

    def __init__(self, path: Path, shell: list[str], drop_after: int | None = None,
                 drop_unread: bool = False, slow_input: bool = False) -> None:
        self.path = path
        self.shell = shell
        self.drop_after = drop_after
        self.drop_unread = drop_unread
        self.slow_input = slow_input
        self.procs: list[subprocess.Popen[bytes]] = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(2)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if self.slow_input:
                self._slow(conn)
            elif self.drop_after is None and not self.drop_unread:
                proc = subprocess.Popen(self.shell, stdin=conn.fileno(), stdout=conn.fileno(),
                                        stderr=subprocess.DEVNULL, cwd="/tmp")
                self.procs.append(proc)
                conn.close()
            else:
                self._lossy(conn)

    def _lossy(self, conn: socket.socket) -> None:
        proc = subprocess.Popen(self.shell, stdin=conn.fileno(), stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, cwd="/tmp")
        self.procs.append(proc)

        def relay() -> None:
            assert proc.stdout is not None
            sent = 0
            while chunk := os.read(proc.stdout.fileno(), 4096):
                if self.drop_unread:
                    with contextlib.suppress(BlockingIOError):
                        conn.send(chunk, socket.MSG_DONTWAIT)
                    continue
                assert self.drop_after is not None
                if sent + len(chunk) > self.drop_after > sent:
                    cut = self.drop_after - sent
                    chunk = chunk[:cut] + chunk[cut + 4096:]  # 4 kB vanish
                sent += len(chunk)
                conn.sendall(chunk)

        threading.Thread(target=relay, daemon=True).start()

    def _slow(self, conn: socket.socket) -> None:
        """A shell that takes its input 16 kB every 20 ms (800 kB/s)."""
        proc = subprocess.Popen(self.shell, stdin=subprocess.PIPE, stdout=conn.fileno(),
                                stderr=subprocess.DEVNULL, cwd="/tmp")
        self.procs.append(proc)

        def relay() -> None:
            assert proc.stdin is not None
            with contextlib.suppress(OSError):
                while chunk := conn.recv(16384):
                    proc.stdin.write(chunk)
                    proc.stdin.flush()
                    time.sleep(0.02)

        threading.Thread(target=relay, daemon=True).start()

    def close(self) -> None:
        self.listener.close()
        for proc in self.procs:
            proc.kill()
            proc.wait()


@pytest.fixture(params=list(SHELLS))
def shell(request: pytest.FixtureRequest) -> list[str]:
    if shutil.which(SHELLS[request.param][0]) is None:
        pytest.skip(f"{request.param} is not installed")
    return SHELLS[request.param]


@pytest.fixture
def door(tmp_path: Path, shell: list[str]) -> Iterator[Backdoor]:
    guest = Guest(tmp_path / "m.shell", shell)
    backdoor = Backdoor(tmp_path / "m.shell", "m", lambda message: None)
    backdoor.connect(30, lambda: True, lambda: "gone")
    yield backdoor
    backdoor.close()
    guest.close()


def test_a_command_s_output_and_status_come_back(door: Backdoor) -> None:
    assert door.run("echo hello; echo world", 30) == (0, b"hello\nworld\n")


def sent_by(door: Backdoor, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """What the host sends the guest from now on."""
    sent: list[bytes] = []
    send = door._send

    def record(data: bytes) -> None:
        sent.append(data)
        send(data)

    monkeypatch.setattr(door, "_send", record)
    return sent


def test_a_short_reply_is_taken_as_first_sent(
    door: Backdoor, monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = sent_by(door, monkeypatch)
    assert door.run("echo hello", 30) == (0, b"hello\n")
    assert not any(b"__nixvms_resend" in data for data in sent)


def test_output_appended_through_a_reopened_stdout_comes_in_order(door: Backdoor) -> None:
    # as through NixOS's pipe: nothing written before is overwritten
    assert door.run("echo a; echo bb >>/dev/stdout; echo c", 30) == (0, b"a\nbb\nc\n")


def test_output_whose_size_the_stdout_did_not_count_comes_back_whole(
    door: Backdoor, shell: list[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # bash's one-fork form sends the size its stdout counted; what went
    # through /dev/stdout opened again, last, is past it: the host asks again
    if shell != SHELLS["bash"]:
        pytest.skip("only bash's one-fork form sends a size")
    sent = sent_by(door, monkeypatch)
    assert door.run("echo a; echo bb >>/dev/stdout", 30) == (0, b"a\nbb\n")
    assert sum(b"__nixvms_resend" in data for data in sent) == 1
    assert door.run("echo next", 30) == (0, b"next\n")  # and the shell reads on


def test_a_failing_command_stops_at_its_error_with_its_status(door: Backdoor) -> None:
    assert door.run("echo before; false; echo after", 30) == (1, b"before\n")
    assert door.run("exit 7", 30) == (7, b"")


def test_a_command_without_output_replies_empty(door: Backdoor) -> None:
    assert door.run("true", 30) == (0, b"")


def test_quotes_dollars_backslashes_and_lines_arrive_as_written(door: Backdoor) -> None:
    command = "x='a \"b\" $c \\\\ d'\nprintf '%s\\n' \"$x\"\necho 'second line'"
    assert door.run(command, 30) == (0, b'a "b" $c \\\\ d\nsecond line\n')


def test_binary_output_arrives_byte_for_byte(door: Backdoor) -> None:
    status, out = door.run("printf '\\000\\001\\036\\377\\n\\r'", 30)
    assert (status, out) == (0, b"\x00\x01\x1e\xff\n\r")


def test_output_of_several_megabytes_arrives_whole(door: Backdoor) -> None:
    status, out = door.run("head -c 3000000 /dev/zero | tr '\\000' x", 60)
    assert status == 0 and out == b"x" * 3_000_000


def test_put_appends_bytes_that_arrive_whole_and_the_shell_reads_on(
        door: Backdoor, tmp_path: Path) -> None:
    first, second = os.urandom(300_000), bytes(range(256)) * 4
    target = tmp_path / "put.bin"
    assert door.put(first, str(target), 60) == 0
    assert door.put(second, str(target), 60) == 0
    assert target.read_bytes() == first + second
    assert door.run("echo after", 30) == (0, b"after\n")


def test_a_put_whose_checksum_differs_is_refused(
        door: Backdoor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    genuine = backdoor_module.put_line
    monkeypatch.setattr(backdoor_module, "put_line",
                        lambda token, size, path, digest: genuine(token, size, path, "0" * 32))
    assert door.put(b"some bytes", str(tmp_path / "f"), 30) == backdoor_module.PUT_DAMAGED
    assert door.run("echo after", 30) == (0, b"after\n")


def test_output_can_go_to_a_file_as_it_arrives(door: Backdoor, tmp_path: Path) -> None:
    with open(tmp_path / "out", "wb") as sink:
        status, kept = door.run("seq 1 200000", 60, sink=sink)
    assert (status, kept) == (0, b"")
    lines = (tmp_path / "out").read_text().split("\n")
    assert lines[0] == "1" and lines[-2] == "200000"


def test_a_command_past_its_timeout_is_killed_with_everything_it_started(
        door: Backdoor) -> None:
    marker = f"{time.time_ns() % 10**9}"
    began = time.monotonic()
    status, _ = door.run(f"trap '' TERM; sleep 1{marker} & sleep 2{marker}", 2)
    took = time.monotonic() - began
    assert status == 124
    assert took < 2 + 10  # the timeout plus a small bound, not the old 65 s
    left = subprocess.run(["pgrep", "-f", f"sleep [12]{marker}"], capture_output=True,
                          text=True, check=False).stdout
    assert left == ""
    assert door.run("echo still here", 30) == (0, b"still here\n")


def test_a_command_without_exec_or_trap_past_its_timeout_is_killed_and_answers(
        door: Backdoor) -> None:
    """The one-fork form: the job that runs the command is killed too, and the
    backdoor shell answers for it."""
    marker = f"{time.time_ns() % 10**9}"
    assert door.run(f"sleep 1{marker} & while :; do :; done", 2)[0] == 124
    left = subprocess.run(["pgrep", "-f", f"sleep 1{marker}"], capture_output=True,
                          text=True, check=False).stdout
    assert left == ""
    assert door.run("echo still here", 30) == (0, b"still here\n")


def test_a_command_that_execs_still_replies_with_its_output_and_status(door: Backdoor) -> None:
    assert door.run("echo first; exec sh -c 'echo second; exit 5'", 30) == (
        5, b"first\nsecond\n")


def test_a_command_with_its_own_exit_trap_still_replies(door: Backdoor) -> None:
    assert door.run("trap 'echo cleanup' EXIT; echo body", 30) == (0, b"body\ncleanup\n")


def test_output_written_before_exit_comes_back_with_exit_s_status(door: Backdoor) -> None:
    assert door.run("echo kept; exit 3; echo never", 30) == (3, b"kept\n")


def test_a_command_that_changes_path_and_directory_still_replies(door: Backdoor) -> None:
    assert door.run("cd /; PATH=/nonexistent; echo $PWD", 30) == (0, b"/\n")


def test_commands_run_one_after_another_on_one_connection(door: Backdoor) -> None:
    for i in range(50):
        assert door.run(f"echo {i}", 30) == (0, f"{i}\n".encode())


def test_a_reply_that_lost_bytes_is_an_error_naming_machine_and_command(
        tmp_path: Path, shell: list[str]) -> None:
    guest = Guest(tmp_path / "m.shell", shell, drop_after=20000)
    door = Backdoor(tmp_path / "m.shell", "web", lambda message: None)
    try:
        door.connect(30, lambda: True, lambda: "gone")
        with pytest.raises(ReplyDamaged, match=r"machine web: the reply to `seq 1 100000` "
                           r"was damaged on its way"):
            door.run("seq 1 100000", 30)
    finally:
        door.close()
        guest.close()


class SlowSink:
    """A host that reads slower than the guest writes, as under load."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data
        time.sleep(0.002)


def test_a_large_reply_arrives_whole_when_the_host_reads_slowly_and_unread_output_is_dropped(
        tmp_path: Path, shell: list[str]) -> None:
    guest = Guest(tmp_path / "m.shell", shell, drop_unread=True)
    door = Backdoor(tmp_path / "m.shell", "m", lambda message: None)
    try:
        door.connect(30, lambda: True, lambda: "gone")
        sink = SlowSink()
        assert door.run("seq 1 300000", 60, sink) == (0, b"")
        assert bytes(sink.data) == b"".join(b"%d\n" % i for i in range(1, 300001))
        assert door.run("echo still in step", 30) == (0, b"still in step\n")
    finally:
        door.close()
        guest.close()


def test_a_command_longer_than_the_send_timeout_to_take_in_arrives_at_the_guests_pace(
        tmp_path: Path, shell: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backdoor_module, "SEND_TIMEOUT", 0.5)
    guest = Guest(tmp_path / "m.shell", shell, slow_input=True)
    door = Backdoor(tmp_path / "m.shell", "m", lambda message: None)
    text = "x" * 2_000_000  # 2.5 s at the guest's pace: the timeout is 0.5 s
    try:
        door.connect(30, lambda: True, lambda: "gone")
        assert door.run(f"wc -c <<'END'\n{text}\nEND", 60) == (0, b"2000001\n")
    finally:
        door.close()
        guest.close()
