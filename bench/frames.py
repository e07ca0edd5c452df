"""Ethernet frames through vde_plug's stdin and stdout (vde2's stream form: a
2-byte big-endian length, then the frame), for tests and benchmarks of links
and cables without a VM."""

from __future__ import annotations

import os
import select
import struct
import subprocess
import time
from pathlib import Path

BROADCAST = b"\xff" * 6


def frame(source: int, payload: bytes) -> bytes:
    """A broadcast Ethernet frame (a hub sends it to every other port)."""
    mac = b"\x02\x00\x00\x00\x00" + bytes([source])
    return BROADCAST + mac + b"\x88\xb5" + payload  # 0x88b5: local experimental ethertype


class Plug:
    """vde_plug on a switch: frames in and out through its stdin and stdout."""

    def __init__(self, switch: Path) -> None:
        self.process = subprocess.Popen(["vde_plug", str(switch)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.process.stdin is not None and self.process.stdout is not None
        self.out = self.process.stdin
        self.fd = self.process.stdout.fileno()
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.out.write(struct.pack(">H", len(data)) + data)
        self.out.flush()

    def receive(self, timeout: float) -> bytes | None:
        """The next frame, or None when none came within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buffer) >= 2:
                (size,) = struct.unpack(">H", self.buffer[:2])
                if len(self.buffer) >= 2 + size:
                    data, self.buffer = self.buffer[2:2 + size], self.buffer[2 + size:]
                    return data
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self.buffer += chunk

    def receive_payload(self, payload: bytes, timeout: float) -> bool:
        """Whether a frame carrying payload arrives within timeout (others are skipped)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            got = self.receive(left)
            if got is None:
                return False
            if got[14:] == payload:
                return True
        return False

    def close(self) -> None:
        self.out.close()
        self.process.terminate()
        self.process.wait(timeout=5)
