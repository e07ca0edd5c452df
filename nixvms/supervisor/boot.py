"""How far a machine has booted, read from its serial console as it goes.

A boot passes stages that the console shows the same way on NixOS and
tinyos (the kernel's own lines, then the init's): QEMU started (nothing on
the console yet), the kernel, the init, services starting, multi-user, the
login prompt. `BootWatch` reads the console log's new bytes on each call
(never the whole file again) and says the stage reached and the last line
shown, for `nixvms up`'s live lines; the login prompt is what the
supervisor takes as booted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .text import strip_controls

LOGIN_PROMPT = b"login:"

# (stage, what on a console line says the boot reached it), in boot order
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("qemu", ()),
    ("kernel", ("Linux version",)),
    ("init", ("Run /init as init process", "<<< NixOS Stage", "<<< tinyos")),
    ("services", ("[  OK  ]", "Starting ", "systemd[1]:")),
    ("multi-user", ("reached multi-user.target", "Reached target Multi-User",
                    "Reached target multi-user")),
    ("login", ("login:",)),
)
STAGE_NAMES = tuple(name for name, _ in STAGES)


@dataclass
class BootWatch:
    """The stage a console log shows, read incrementally."""

    log: Path
    offset: int = 0
    partial: bytes = b""
    stage: str = "qemu"
    last_line: str = ""
    login_seen: bool = False

    def skip_to_end(self) -> None:
        """Ignore what the log holds now (an earlier boot's lines)."""
        try:
            self.offset = self.log.stat().st_size
        except OSError:
            self.offset = 0

    def reset(self) -> None:
        self.offset, self.partial, self.stage = 0, b"", "qemu"
        self.last_line, self.login_seen = "", False

    def read(self) -> bool:
        """Take in what the console wrote since; whether the stage changed."""
        try:
            with open(self.log, "rb") as handle:
                if os.fstat(handle.fileno()).st_size < self.offset:
                    self.reset()  # a new boot: the log was started anew
                handle.seek(self.offset)
                data = handle.read()
        except OSError:
            return False
        if not data:
            return False
        self.offset += len(data)
        text = self.partial + data
        if not self.login_seen and LOGIN_PROMPT in text:
            self.login_seen = True
        *lines, self.partial = text.split(b"\n")
        before = self.stage
        for raw in [*lines, self.partial]:  # a prompt has no newline yet
            line = strip_controls(raw.decode("utf-8", "replace")).strip()
            if not line:
                continue
            if raw is not self.partial:
                self.last_line = line
            self._advance(line)
        if self.login_seen:
            self.stage = "login"
        return self.stage != before

    def _advance(self, line: str) -> None:
        index = STAGE_NAMES.index(self.stage)
        for later, (name, markers) in enumerate(STAGES):
            if later > index and any(marker in line for marker in markers):
                self.stage, index = name, later
