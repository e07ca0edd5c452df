"""A machine's consoles, screen and keyboard: NixOS's driver API for them.

The serial console (wait_for_console_text, send_console, console_interact),
the virtual consoles (get_tty_text, wait_until_tty_matches,
dump_tty_contents), the keyboard (send_key, send_chars), the screen
(screenshot, get_screen_text, wait_for_text: QEMU's `screendump` to PNG,
tesseract for OCR), QEMU itself (send_monitor_command, wait_for_qmp_event,
block, unblock, forward_port) and the interactive shell. Machine (machine.py)
has them all; QEMU is reached through QMP (qemu.py).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import hostreach
from .backdoor import Backdoor, BackdoorClosed
from .errors import MachineError, RequestedAssertionFailed, SupervisorError
from .polling import DEFAULT_TIMEOUT, Duration, must_seconds, retry, seconds
from .qemu import QemuClient, QemuError
from .text import read_text, strip_controls

if TYPE_CHECKING:
    from .machine import MachineOwner

QMP_EVENT_TIMEOUT = 600  # NixOS's wait_for_qmp_event default


def _key_names() -> dict[str, str]:
    """QEMU key names (its QKeyCode) for the characters a US keyboard types."""
    keys = {c: c for c in "abcdefghijklmnopqrstuvwxyz0123456789"}
    keys.update({c.upper(): f"shift-{c}" for c in "abcdefghijklmnopqrstuvwxyz"})
    plain = {" ": "spc", "\n": "ret", "\t": "tab", "-": "minus", "=": "equal",
             "[": "bracket_left", "]": "bracket_right", ";": "semicolon",
             "'": "apostrophe", "`": "grave_accent", "\\": "backslash", ",": "comma",
             ".": "dot", "/": "slash"}
    keys.update(plain)
    shifted = {"_": "-", "+": "=", "{": "[", "}": "]", ":": ";", '"': "'", "~": "`",
               "|": "\\", "<": ",", ">": ".", "?": "/", "!": "1", "@": "2", "#": "3",
               "$": "4", "%": "5", "^": "6", "&": "7", "*": "8", "(": "9", ")": "0"}
    keys.update({c: f"shift-{keys[base]}" for c, base in shifted.items()})
    return keys


CHAR_TO_KEY = _key_names()


class QmpEventTimeout(MachineError, TimeoutError):
    """wait_for_qmp_event saw no matching event in time (NixOS: TimeoutError)."""


class Consoles:
    """What Machine has of its consoles, screen and keyboard (a mixin)."""

    name: str
    driver: MachineOwner
    qemu: QemuClient
    backdoor: Backdoor
    console: socket.socket | None
    console_offset: int
    console_identity: tuple[int, int] | None

    if TYPE_CHECKING:
        def is_up(self) -> bool: ...
        def _why_down(self) -> str: ...
        def _error(self, message: str) -> MachineError: ...
        def log(self, message: str, detail: str = "") -> None: ...
        def nested(self, message: str) -> contextlib.AbstractContextManager[None]: ...
        def connect(self) -> None: ...
        def execute(self, command: str, check_return: bool = True,
                    check_output: bool = True,
                    timeout: Duration | None = DEFAULT_TIMEOUT) -> tuple[int, str]: ...
        def run_callbacks(self) -> None: ...

    # --- the serial console ----------------------------------------------------
    def _console_text(self) -> str:
        """The console since the last matched wait_for_console_text (or since
        the machine started), escapes stripped."""
        path = self.driver.run_dir.console_log(self.name)
        try:
            st = path.stat()
        except OSError:
            return ""
        identity = (st.st_ino, st.st_dev)
        if identity != self.console_identity or st.st_size < self.console_offset:
            self.console_identity = identity
            self.console_offset = 0
        with open(path, "rb") as handle:
            handle.seek(self.console_offset)
            data = handle.read()
        return data.decode(errors="replace")

    def get_console_log(self) -> str:
        """The whole serial console since the machine started."""
        return strip_controls(read_text(self.driver.run_dir.console_log(self.name)))

    def wait_for_console_text(self, regex: str, timeout: Duration | None = None) -> None:
        """Wait until the regular expression matches the serial console's
        output (the text after the previous match of this method); with no
        timeout, as long as it takes (NixOS's default)."""
        pattern = re.compile(regex, re.MULTILINE)
        limit = seconds(timeout)
        with self.nested(f"waiting for /{regex}/ on the console"):
            start = time.monotonic()
            while True:
                raw = self._console_text()
                text = strip_controls(raw)
                match = pattern.search(text)
                if match:
                    # consume up to the end of the match's line, in raw bytes
                    line_end = text.find("\n", match.end())
                    consumed_lines = text[:line_end if line_end >= 0 else len(text)].count("\n")
                    raw_lines = raw.split("\n")
                    taken = "\n".join(raw_lines[:consumed_lines + 1])
                    self.console_offset += len(taken.encode(errors="replace"))
                    return
                if limit is not None and time.monotonic() - start > limit:
                    raise RequestedAssertionFailed(
                        f"machine {self.name}: timed out after {limit:g} s waiting for "
                        f"/{regex}/ on the console", self.name)
                if not self.is_up() and not pattern.search(strip_controls(self._console_text())):
                    raise self._error(f"{self._why_down()}; /{regex}/ never appeared on its "
                                      "console")
                time.sleep(0.2)

    def send_console(self, chars: str) -> None:
        r"""Type characters on the serial console, e.g. send_console("root\n").

        The console's socket stays connected until the machine stops: QEMU
        takes bytes only as fast as the guest's UART reads them, and drops
        what it has not taken when the client goes."""
        with self.nested(f"sending {chars!r} to the console"):
            if not self.is_up():
                raise self._error(self._why_down())
            try:
                if self.console is None:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    sock.settimeout(10)
                    try:
                        sock.connect(str(self.driver.run_dir.console_socket(self.name)))
                    except OSError:
                        sock.close()
                        raise
                    self.console = sock
                self.console.sendall(chars.encode())
            except OSError as error:
                self.close_console()
                raise self._error(f"cannot write to the console of {self.name}: {error} "
                                  "(is `nixvms console` attached?)") from None

    def close_console(self) -> None:
        if self.console is not None:
            with contextlib.suppress(OSError):
                self.console.close()
            self.console = None

    def console_interact(self) -> None:
        """Type on the serial console from this terminal, a character at a
        time; Ctrl-D returns (its output is in the console log: `nixvms
        console` shows it live)."""
        self.log("typing on the serial console (Ctrl-D returns)")
        while True:
            try:
                char = sys.stdin.buffer.read(1)
            except KeyboardInterrupt:
                return
            if not char:
                return
            self.send_console(char.decode(errors="replace"))

    # --- QEMU ------------------------------------------------------------------
    def send_monitor_command(self, command: str) -> str:
        """A QEMU human monitor command; its answer (through QMP: qemu.py)."""
        self.run_callbacks()
        if not self.is_up():
            raise self._error(self._why_down())
        try:
            return self.qemu.human(command)
        except QemuError as error:
            if command == "quit":
                return ""
            raise self._error(error.message) from None

    def wait_for_qmp_event(self, event_filter: Callable[[dict[str, Any]], bool],
                           timeout: Duration = QMP_EVENT_TIMEOUT) -> dict[str, Any]:
        """Wait for a QMP event for which event_filter returns True; the event
        (events before the call are not seen)."""
        limit = must_seconds(timeout)
        if not self.is_up():
            raise self._error(self._why_down())
        try:
            return self.qemu.wait_event(event_filter, limit)
        except QemuError as error:
            if "no matching QMP event" in error.message:
                raise QmpEventTimeout(error.message, self.name) from None
            raise self._error(error.message) from None

    def _vlan_nics(self) -> list[str]:
        """The NICs of the machine's VLANs (not the user-mode eth0), as the
        QEMU monitor's `info network` names them."""
        info = self.send_monitor_command("info network")
        nics: list[str] = []
        current = None
        for line in info.split("\n"):
            nic = re.match(r"^(\S+): index=\d+,type=nic", line)
            if nic:
                current = nic[1]
                continue
            peer = re.match(r"^\s*\\\s*(\S+): index=\d+,type=(\w+)", line)
            if peer and current and peer[2] != "user":
                nics.append(current)
                current = None
        return nics

    def block(self) -> None:
        """Unplug the machine from its VLANs (link down on each VLAN NIC);
        eth0, the user-mode network, stays up."""
        with self.nested("unplugging its VLAN NICs"):
            for nic in self._vlan_nics():
                self.send_monitor_command(f"set_link {nic} off")

    def unblock(self) -> None:
        """Undo block()."""
        with self.nested("plugging its VLAN NICs back in"):
            for nic in self._vlan_nics():
                self.send_monitor_command(f"set_link {nic} on")

    def forward_port(self, host_port: int = 8080, guest_port: int = 80) -> None:
        """Forward 127.0.0.1:host_port to the machine's guest_port (eth0)."""
        self.send_monitor_command(f"hostfwd_add tcp:127.0.0.1:{host_port}-:{guest_port}")

    # --- keyboard and virtual consoles ---------------------------------------------
    def send_key(self, key: str, delay: float | None = 0.01, log: bool | None = True) -> None:
        """Press a key (QEMU's names: "ctrl-alt-delete", "alt-f2", "ret"; a
        character is its key) on the virtual keyboard."""
        key = CHAR_TO_KEY.get(key, key)
        context = self.nested(f"sending key {key!r}") if log else contextlib.nullcontext()
        with context:
            self.send_monitor_command(f"sendkey {key}")
            if delay is not None:
                time.sleep(delay)

    def send_chars(self, chars: str, delay: float | None = 0.01) -> None:
        r"""Type characters on the virtual keyboard, e.g. send_chars("root\n")."""
        with self.nested(f"sending keys {chars!r}"):
            for char in chars:
                self.send_key(char, delay, log=False)

    def get_tty_text(self, tty: str | int) -> str:
        """What virtual console tty<n> shows (/dev/vcs<n>), a line per row."""
        _, output = self.execute(
            f"fold -w$(stty -F /dev/tty{tty} size | awk '{{print $2}}') /dev/vcs{tty}")
        return output

    def wait_until_tty_matches(self, tty: str | int, regexp: str,
                               timeout: Duration = DEFAULT_TIMEOUT) -> None:
        """Wait until what tty<n> shows matches the regular expression."""
        pattern = re.compile(regexp)

        def matches(last_try: bool) -> bool:
            text = self.get_tty_text(tty)
            if last_try:
                self.log(f"last chance to match /{regexp}/ on tty{tty}, which shows: {text}")
            return pattern.search(text) is not None

        with self.nested(f"waiting for /{regexp}/ on tty{tty}"):
            self._retry_here(matches, timeout, f"/{regexp}/ on tty{tty}")

    def dump_tty_contents(self, tty: str | int) -> None:
        """Log what tty<n> shows (and send it to the journal where there is one)."""
        _, text = self.execute(f"fold -w 80 /dev/vcs{tty} | tee /dev/stderr | "
                               "{ command -v systemd-cat >/dev/null && systemd-cat || cat; }")
        self.log(f"tty{tty} shows:", detail=text)

    def _retry_here(self, fn: Callable[[bool], bool], timeout: Duration, what: str) -> None:
        try:
            retry(fn, timeout, f"{what} on {self.name}")
        except RequestedAssertionFailed as error:
            raise RequestedAssertionFailed(str(error), self.name) from None

    # --- the screen ----------------------------------------------------------------
    def _screendump(self, path: Path) -> None:
        """QEMU's screendump of the display, as PNG, to an absolute path."""
        if not self.is_up():
            raise self._error(self._why_down())
        # QEMU writes it on its own host: one on another host, there, then fetched
        there = hostreach.placement_of(self.driver.run_dir, self.name)
        target = hostreach.remote_file(self.driver.run_dir, there, f"{self.name}/screen.png") \
            if there is not None else str(path.resolve())
        try:
            self.qemu.execute("screendump", {"filename": target, "format": "png"})
            if there is not None:
                path.write_bytes(hostreach.fetch(self.driver.run_dir, there, target))
        except QemuError as error:
            raise self._error(error.message) from None
        except SupervisorError as error:
            raise self._error(error.message) from None

    @contextlib.contextmanager
    def _managed_screenshot(self) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="nixvms-screen-") as tmp:
            path = Path(tmp) / "screen.png"
            self._screendump(path)
            yield path

    def screenshot(self, filename: str) -> None:
        """A PNG of the machine's display: filename.png in the output
        directory (-o), or where filename says when it has a /."""
        if "." not in filename:
            filename += ".png"
        path = Path(filename) if "/" in filename else self.driver.out_dir / filename
        with self.nested(f"making screenshot {path}"):
            path.parent.mkdir(parents=True, exist_ok=True)
            self._screendump(path)

    def _ocr(self, image: Path, *options: str) -> str:
        if not self.driver.enable_ocr:
            raise self._error("OCR needs enableOCR = true in the test (as in NixOS)")
        tesseract = shutil.which("tesseract")
        if tesseract is None:
            raise self._error("OCR needs tesseract on the host (Debian: apt-get install "
                              "tesseract-ocr; scripts/setup installs it)")
        done = subprocess.run([tesseract, str(image), "-", *options], capture_output=True,
                              text=True, check=False)
        if done.returncode != 0:
            raise self._error(f"tesseract failed (exit status {done.returncode}): "
                              f"{done.stderr.strip()}")
        return done.stdout

    def get_screen_text_variants(self) -> list[str]:
        """What the screen shows, read by OCR (tesseract) two ways."""
        with self._managed_screenshot() as image:
            return [self._ocr(image), self._ocr(image, "--psm", "6")]

    def get_screen_text(self) -> str:
        """What the screen shows, read by OCR (tesseract)."""
        with self._managed_screenshot() as image:
            return self._ocr(image)

    def wait_for_text(self, regex: str, timeout: Duration = DEFAULT_TIMEOUT) -> None:
        """Wait until OCR of the screen matches the regular expression."""
        def matches(last_try: bool) -> bool:
            variants = self.get_screen_text_variants()
            if last_try:
                self.log(f"last OCR attempt; the screen read: {variants}")
            return any(re.search(regex, text) for text in variants)

        with self.nested(f"waiting for /{regex}/ on the screen"):
            self._retry_here(matches, timeout, f"/{regex}/ on the screen")

    # --- X11: none here ------------------------------------------------------------
    def _no_x11(self, what: str) -> MachineError:
        return self._error(f"{what} is not available on this machine: nixvms's machines have "
                           "no X11 server to ask (use screenshot(), get_screen_text(), "
                           "wait_for_text() on the screen instead)")

    def wait_for_x(self, timeout: Duration = DEFAULT_TIMEOUT) -> None:
        raise self._no_x11("wait_for_x")

    def get_window_names(self) -> list[str]:
        raise self._no_x11("get_window_names")

    def wait_for_window(self, regexp: str, timeout: Duration = DEFAULT_TIMEOUT) -> None:
        raise self._no_x11("wait_for_window")

    # --- interactive -------------------------------------------------------------
    def shell_interact(self, address: str | None = None) -> None:
        """A root shell on the machine, through the backdoor: one line at a
        time, its output as it comes. Ctrl-D (or `exit`) returns to Python;
        the machine's backdoor stays up. (NixOS's `address`, a socat address,
        is not taken.)"""
        if address is not None:
            raise self._error("shell_interact(address): nixvms's shell is this terminal; "
                              "for another client use `nixvms ssh`")
        self.connect()
        self.log("interactive shell (lines run in the backdoor's shell; Ctrl-D leaves)")
        while True:
            try:
                line = input(f"{self.name}# ")
            except (EOFError, KeyboardInterrupt):
                print()
                return
            if line.strip() in ("exit", "logout"):
                return
            if not line.strip():
                continue
            try:
                self.backdoor.interact_line(line)
            except KeyboardInterrupt:
                print("\n(interrupted; the command goes on in the guest)")
                return
            except BackdoorClosed:
                raise self._error(f"{self._why_down()}") from None
