"""The host side of the test instrumentation's backdoor: a root shell in the
guest reading commands from its virtio console (/dev/hvc0), which QEMU
connects to the unix socket <sockets>/<m>.shell.

The guest side is NixOS's nixos/modules/testing/test-instrumentation.nix (or
tinyos's module of the same path): bash, reading commands from the console,
raw and without echo, that writes "Spawning backdoor root shell..." when it
starts. The protocol here is the driver's own and uses only POSIX sh and
what both userlands have (mktemp, md5sum, base64 -w 0, head -c, tee):

- Once per connection the driver defines its shell functions (SETUP) and
  makes the file that holds a command's output.
- A command travels verbatim in a here-document (no encoding, no process to
  decode it) and runs in the background, in a child shell with `set -euo
  pipefail`, stdin from /dev/null, stdout into that file, stderr on the
  guest's console, as NixOS's driver runs them. The file is open for
  appending, so that, as on NixOS's pipe, output that goes through
  /dev/stdout opened again (`>>/dev/stdout`, `tee -a /dev/stdout`) comes
  after what was written before, never over it. The backdoor shell goes
  straight back to reading, so the driver can still reach it while the
  command runs: at its timeout it sends `__nixvms_kill`, which kills every
  process the command started (found through /proc: a non-interactive
  shell has no job control to give it a process group; in the one-fork form
  below also the shell running it, and the backdoor shell replies for it),
  and the status is 124, as `timeout`'s.
- When the command ends its job writes the reply, framed: a line of RS
  (0x1e), the request's token, the exit status, the number of chunks, then
  the MD5 of the output ("-" when empty), then the output in base64, one
  line per chunk of CHUNK bytes. The driver checks the checksum, so output
  lost on its way is an error naming the machine and the command, never
  wrong output with status 0; and it reads the reply as it comes, of any
  size, into memory or a file.
- QEMU drops virtconsole output that the socket does not take at once (it
  cannot throttle a console without stalling the guest's kernel), so a
  host that reads slower than the guest writes, as under load, would lose
  large replies. So the guest sends one chunk, then waits until the driver,
  having read it, runs `__nixvms_ack TOKEN` in the backdoor shell: at most
  one chunk (64 kB of base64) is ever in flight, well within the socket's
  buffer. A reply of one chunk needs no acknowledgement.
- A command with no output costs the guest one fork and no exec (`[ -s ]`
  is a builtin, where `wc -c` would be a process): its child shell runs it
  and replies from its EXIT trap. A command that may `exec` or set its own
  EXIT trap (command_line looks for the words) runs in a grandchild instead,
  a fork more.
- In that one-fork form, the trap also reads how far the command's stdout
  got, where it wrote anything (the `pos` of /proc/self/fdinfo/1, by
  `read`, no process): a reply of one chunk then says that size ("=SIZE"
  where the MD5 goes) and costs one exec (base64), where `wc` and `md5sum`
  made three (~11 ms each under TCG). The size is the output's only when
  everything went through that descriptor: a command that reopened
  /dev/stdout or seeked it wrote otherwise, so the host checks the size it
  decoded, and where it differs asks again with `__nixvms_resend`, which
  sends the reply the checksummed way (broken base64 is an error, as in
  any damaged reply). Any other reply has the MD5 and costs three execs
  (wc, md5sum, base64), and two per further chunk (dd, base64).
- bash reads its console a byte at a time (a system call each, tens of µs
  under TCG), so what is sent per command is short: the functions' names
  (__nv1, __nv2), an 8-digit token, and the here-document's end word
  E<token>.
- Bytes for the guest (copy_from_host, `nixvms cp`) go the other way with
  `put`: a line naming a file, the size and the MD5; when the guest answers
  that it is ready, the bytes in base64, which `head -c` reads off the
  console and appends, decoded, to the file; the reply's status says
  whether the MD5 matched. The console carries 1.25 MB/s this way under TCG,
  against 0.08 MB/s in a here-document that bash reads a byte at a time.

Connecting does not depend on having seen the banner: QEMU drops what the
guest writes while no client is connected, so the driver asks "are you
there" (a probe with a fresh token) every second until the shell answers,
then once more to make sure every earlier probe has been consumed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import re
import secrets
import shlex
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

from .errors import SupervisorError

BANNER = b"Spawning backdoor root shell..."
RECORD = b"\x1e"
PROBE_INTERVAL = 1.0
# probes left unanswered at most: a guest that does not read its console
# yet must not fill QEMU's buffers (and the socket's) with them
MAX_PROBES = 3
SEND_TIMEOUT = 60.0
SEND_PIECE = 1 << 16  # bytes per send(): each may wait SEND_TIMEOUT for room
CONNECT_LOG_INTERVAL = 30.0
# seconds the host waits, after asking the guest to kill a command at its
# timeout, for the reply that says it is gone
KILL_GRACE = 15.0
TIMED_OUT = 124  # the status of a command killed at its timeout, as `timeout`'s
READ_SIZE = 1 << 20
# bytes of output per chunk of a reply: 64 kB of base64 in flight at most
CHUNK = 48 * 1024
# the status of a put whose bytes arrived with another MD5 (EX_DATAERR)
PUT_DAMAGED = 65

# Defined in the backdoor shell once per connection (POSIX sh; bash also gets
# the one-fork path).
# __nv2 TOKEN 3<<'END' (the command) END: runs it in the background and
# writes its framed reply when it ends: a child shell that writes the reply
# and, in it, a grandchild that runs the command (NixOS's `( set -euo
# pipefail; cmd )`), so neither `exec` nor the command's own EXIT trap can
# take the reply away. __nv1: the same in one child, the reply written by
# its EXIT trap: a fork less (~6 ms of the guest's CPU under TCG), for
# commands with neither `exec` nor `trap` (command_line chooses).
# __nixvms_reply TOKEN STATUS [SIZE]: the framed reply of the output file;
# SIZE (how far the command's stdout got): a reply of one chunk is sent
# with that size instead of the MD5 (fewer execs), checked by the host.
# __nixvms_resend TOKEN STATUS: that reply again, with the MD5, in the
# background (a reply of several chunks waits for acknowledgements).
# __nixvms_recv TOKEN SIZE FILE MD5: says it is ready, then reads SIZE bytes
# of base64 from the console (in the foreground), appends them decoded to FILE
# and replies with the status, PUT_DAMAGED if the MD5 differs. The bytes are
# sent only once it is ready: a shell that reads its input in blocks (busybox
# sh) would otherwise swallow some of them with the command line.
# __nixvms_kill: kills every process the running command started
# (descendants of its job, found in /proc), and a one-fork job itself, for
# which it then replies.
SETUP = r"""__nixvms_out=$(mktemp) && __nixvms_job= && __nixvms_tok= && __nixvms_path=$PATH && \
__nixvms_reply() {
  set +eu; set +o pipefail 2>/dev/null; PATH=$__nixvms_path
  case ${3-} in
    ''|0|*[!0-9]*) ;;
    *) if [ "$3" -le @CHUNK@ ]; then
         printf '\036%s %s 1 =%s\n' "$1" "$2" "$3"
         base64 -w 0 <"$__nixvms_out"; echo
         return 0
       fi ;;
  esac
  __nixvms_n=0
  if [ -s "$__nixvms_out" ]; then
    __nixvms_size=$(wc -c <"$__nixvms_out")
    __nixvms_n=$(( (__nixvms_size + @CHUNK@ - 1) / @CHUNK@ ))
  fi
  if [ "$__nixvms_n" -eq 0 ]; then
    printf '\036%s %s 0 -\n\n' "$1" "$2"
  elif [ "$__nixvms_n" -eq 1 ]; then
    printf '\036%s %s 1 ' "$1" "$2"; md5sum <"$__nixvms_out"
    base64 -w 0 <"$__nixvms_out"; echo
  else
    mkfifo "$__nixvms_out.$1" && exec 4<>"$__nixvms_out.$1"
    printf '\036%s %s %s ' "$1" "$2" "$__nixvms_n"; md5sum <"$__nixvms_out"
    __nixvms_i=0
    while [ "$__nixvms_i" -lt "$__nixvms_n" ]; do
      dd if="$__nixvms_out" bs=@CHUNK@ skip="$__nixvms_i" count=1 2>/dev/null | base64 -w 0
      echo
      __nixvms_i=$((__nixvms_i + 1))
      [ "$__nixvms_i" -eq "$__nixvms_n" ] || read -r __nixvms_l <&4
    done
    exec 4<&-; rm -f "$__nixvms_out.$1"
  fi
} && __nixvms_resend() {
  ( __nixvms_reply "$1" "$2" ) &
  __nixvms_job=$! __nixvms_tok=
} && __nv2() {
  (
    [ ! -s "$__nixvms_out" ] || : >"$__nixvms_out"
    ( set -euo pipefail; . /proc/self/fd/3 ) </dev/null >>"$__nixvms_out"
    __nixvms_reply "$1" "$?"
  ) &
  __nixvms_job=$! __nixvms_tok=
} && __nv1() { __nv2 "$@"; } && __nixvms_recv() {
  printf '\036%s ready\n' "$1"
  head -c "$2" >"$3.b64"
  __nixvms_sum=$(set -o pipefail; base64 -d <"$3.b64" | tee -a "$3" | md5sum)
  __nixvms_s=$?
  rm -f "$3.b64"
  [ "$__nixvms_s" -ne 0 ] || [ "${__nixvms_sum%% *}" = "$4" ] || __nixvms_s=@DAMAGED@
  printf '\036%s %s 0 -\n\n' "$1" "$__nixvms_s"
} && __nixvms_ack() {
  [ -p "$__nixvms_out.$1" ] && echo 1<>"$__nixvms_out.$1"
  return 0
} && __nixvms_kill() {
  __nixvms_round=$__nixvms_job __nixvms_all=
  while [ -n "$__nixvms_round" ]; do
    __nixvms_next=
    for __nixvms_p in /proc/[0-9]*; do
      read -r __nixvms_l 2>/dev/null <"$__nixvms_p/stat" || continue
      set -- ${__nixvms_l##*) }
      for __nixvms_q in $__nixvms_round; do
        [ "$2" = "$__nixvms_q" ] && __nixvms_next="$__nixvms_next ${__nixvms_p#/proc/}"
      done
    done
    __nixvms_all="$__nixvms_all $__nixvms_next" __nixvms_round=$__nixvms_next
  done
  # a one-fork job is killed first: were its command killed first, it could
  # run its EXIT trap and start a reply that the kill then cuts short
  [ -z "$__nixvms_tok" ] || __nixvms_all="$__nixvms_job $__nixvms_all"
  [ -z "${__nixvms_all# }" ] || kill -9 $__nixvms_all 2>/dev/null
  if [ -n "$__nixvms_tok" ]; then
    wait "$__nixvms_job" 2>/dev/null
    printf '\036%s %s 0 -\n\n' "$__nixvms_tok" 137
    __nixvms_tok=
  fi
  return 0
} && if [ -n "${BASH_VERSION-}" ]; then
  exec {__nixvms_console}>&1
  __nv1() {
    (
      trap "__nixvms_s=\$?; set +eu; __nixvms_pos=
        [ ! -s \"\$__nixvms_out\" ] || read -r __nixvms_pos </proc/self/fdinfo/1
        __nixvms_reply $1 \$__nixvms_s \"\${__nixvms_pos##*[!0-9]}\" >&$__nixvms_console" EXIT
      [ ! -s "$__nixvms_out" ] || : >"$__nixvms_out"
      exec </dev/null >>"$__nixvms_out"
      set -euo pipefail
      . /proc/self/fd/3
    ) &
    __nixvms_job=$! __nixvms_tok=$1
  }
fi
""".replace("@CHUNK@", str(CHUNK)).replace("@DAMAGED@", str(PUT_DAMAGED))


class BackdoorError(SupervisorError):
    """The backdoor cannot be reached or stopped answering."""


class BackdoorClosed(BackdoorError):
    """The socket closed (QEMU exited, or the shell ended)."""


class ReplyDamaged(BackdoorError):
    """A reply arrived, but not whole: bytes were lost on the way."""


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


def _b64(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.b64encode(data).decode()


# A command that may replace its shell (`exec`) or set its own EXIT trap
# (`trap`, or text that could: eval, source, `.`) runs in the two-process
# form, which survives both; the rest in the one-fork form. A false match
# costs a fork, never a reply.
_NEEDS_TWO_SHELLS = re.compile(r"\b(exec|trap|eval|source)\b|(^|[\s;&|(`{])\.\s")


def command_line(command: str, token: str) -> bytes:
    """The line that runs `command` in the guest and replies with token."""
    end = f"E{token}"
    body = command if command.endswith("\n") else command + "\n"
    run = "__nv2" if _NEEDS_TWO_SHELLS.search(command) else "__nv1"
    return f"{run} {token} 3<<'{end}'\n{body}{end}\n".encode()


def put_line(token: str, size: int, path: str, digest: str) -> bytes:
    """The line that has the backdoor shell append the next `size` bytes of
    base64 on its console, decoded, to `path`."""
    return f"__nixvms_recv {token} {size} {shlex.quote(path)} {digest}\n".encode()


def probe_line(token: str) -> bytes:
    return f"printf '\\036%s 0 \\n' {token}\n".encode()


def interactive_line(line: str, token: str) -> bytes:
    """A line typed in shell_interact: evaluated in the backdoor shell itself
    (cd and variables persist), output streamed, then the reply marker."""
    return (
        f'eval "$(printf %s {_b64(line)} | base64 -d)" </dev/null 2>&1; '
        f"printf '\\036%s %s \\n' {token} \"$?\"\n"
    ).encode()


def short(command: str, limit: int = 80) -> str:
    flat = " ".join(command.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


class Backdoor:
    """One connection to one machine's backdoor shell."""

    def __init__(self, path: Path, name: str, log: Callable[[str], None]) -> None:
        self.path = path
        self.name = name
        self.log = log
        self.sock: socket.socket | None = None
        self.buffer = bytearray()

    @property
    def connected(self) -> bool:
        return self.sock is not None

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        self.sock = None
        self.buffer = bytearray()

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
        self.buffer = bytearray()
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
            # the functions commands use; then every probe sent so far has been
            # read once this one answers
            final = secrets.token_hex(6)
            self._send(SETUP.encode() + probe_line(final))
            self._wait_probe(final, deadline=time.monotonic() + 30)
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
        """All of data, at the guest's pace: SEND_TIMEOUT bounds a stall (the
        guest taking nothing), not the whole. (A socket's timeout bounds all
        of a sendall: a copy's 4 MB command, which the guest's shell reads a
        byte at a time from its console, took longer than that under TCG.)"""
        assert self.sock is not None
        view = memoryview(data)
        try:
            self.sock.settimeout(SEND_TIMEOUT)
            while view:
                view = view[self.sock.send(view[:SEND_PIECE]):]
        except OSError as error:
            self.close()
            raise BackdoorClosed(f"the backdoor's socket closed ({error})") from error

    def _fill(self, wait: float | None) -> bool:
        """Read what is there (waiting up to `wait` seconds); False on timeout."""
        assert self.sock is not None
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(READ_SIZE)
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
        """(start, end) of token's complete header line in the buffer."""
        start = self.buffer.find(RECORD + token.encode() + b" ")
        if start < 0:
            return None
        end = self.buffer.find(b"\n", start)
        return None if end < 0 else (start, end)

    def _take_any(self, tokens: set[str]) -> bool:
        for token in tokens:
            found = self._find(token)
            if found:
                del self.buffer[:found[1] + 1]
                return True
        return False

    def _drop_stale(self) -> None:
        """What precedes the last RS cannot hold a reply still to come."""
        at = self.buffer.rfind(RECORD)
        if at > 0:
            del self.buffer[:at]
        elif at < 0:
            self.buffer.clear()

    def _wait_probe(self, token: str, deadline: float) -> None:
        while self._find(token) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BackdoorError("the backdoor root shell stopped answering")
            self._fill(min(remaining, 1.0))
        self._take_any({token})

    # --- commands --------------------------------------------------------------
    def run(self, command: str, timeout: float | None,
            sink: Sink | None = None) -> tuple[int, bytes]:
        """Run a command; (exit status, stdout). With a sink the output goes
        there as it arrives (and b"" is returned). At `timeout` (None: none)
        every process of the command is killed and the status is 124."""
        token = secrets.token_hex(4)
        self._send(command_line(command, token))
        deadline = None if timeout is None else time.monotonic() + timeout
        timed_out = resent = False
        while True:
            while (found := self._find(token)) is None:
                if deadline is not None and time.monotonic() >= deadline:
                    if timed_out:
                        raise TimeoutError
                    timed_out = True
                    self._send(b"__nixvms_kill\n")
                    deadline = time.monotonic() + KILL_GRACE
                self._drop_stale()
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                self._fill(None if remaining is None else min(remaining, 1.0))
            start, end = found
            header = bytes(self.buffer[start + 1:end]).split()
            del self.buffer[:end + 1]
            try:
                status, chunks, digest = int(header[1]), int(header[2]), header[3].decode()
            except (IndexError, ValueError):
                raise ReplyDamaged(self._damaged(command, "its header is incomplete")) from None
            if not digest.startswith("="):
                break
            # one chunk and the size the command's stdout said, unchecked by the guest
            first, got = io.BytesIO(), _Received()
            self._body(first, command, got)
            if str(got.size) == digest[1:]:
                output = first.getvalue()
                if sink is not None:
                    sink.write(output)
                    output = b""
                return (TIMED_OUT if timed_out else status), output
            if resent:
                raise ReplyDamaged(self._damaged(
                    command, f"{got.size} bytes arrived where {digest[1:]} were said, twice"))
            # the command wrote its stdout by another way too (it reopened
            # /dev/stdout, or seeked): the reply again, checksummed
            self._send(f"__nixvms_resend {token} {status}\n".encode())
            resent = True
        collected = io.BytesIO()
        got = _Received()
        for chunk in range(max(chunks, 1)):
            if chunk > 0:
                self._send(f"__nixvms_ack {token}\n".encode())
            self._body(sink if sink is not None else collected, command, got)
        if got.hexdigest() != digest and not (digest == "-" and got.size == 0):
            raise ReplyDamaged(self._damaged(
                command, f"{got.size} bytes arrived and their checksum does not match"))
        return (TIMED_OUT if timed_out else status), collected.getvalue()

    def put(self, data: bytes, path: str, timeout: float | None) -> int:
        """Append `data` to the guest's file `path`; the exit status (0, or
        PUT_DAMAGED when the guest's MD5 of what arrived differs).

        The bytes follow on the console once the guest says it is ready, and
        `head -c` takes them: bash reads its console a byte at a time (it must
        not read past a line that a command may want as its stdin), so a
        here-document of a few MB in a command took minutes under TCG.
        Nothing else is sent until the reply: the shell is busy reading. At
        `timeout` the connection is closed (the shell may still be reading)
        and TimeoutError raised."""
        token = secrets.token_hex(8)
        encoded = base64.b64encode(data)
        what = f"appending {len(data)} bytes to {path}"
        deadline = None if timeout is None else time.monotonic() + timeout
        self._send(put_line(token, len(encoded), path, hashlib.md5(data).hexdigest()))
        self._await_header(token, deadline, what)
        self._send(encoded)
        header = self._await_header(token, deadline, what)
        try:
            status = int(header[1])
        except (IndexError, ValueError):
            raise ReplyDamaged(self._damaged(what, "its header is incomplete")) from None
        self._body(io.BytesIO(), what, _Received())
        return status

    def _await_header(self, token: str, deadline: float | None, what: str) -> list[bytes]:
        """The fields of token's next header, taken from the buffer; at the
        deadline the connection is closed and TimeoutError raised."""
        while (found := self._find(token)) is None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                self.close()
                raise TimeoutError(what)
            self._drop_stale()
            self._fill(None if remaining is None else min(remaining, 1.0))
        start, end = found
        header = bytes(self.buffer[start + 1:end]).split()
        del self.buffer[:end + 1]
        return header

    def _damaged(self, command: str, why: str) -> str:
        return (f"machine {self.name}: the reply to `{short(command)}` was damaged on its way "
                f"({why}); QEMU drops console output it cannot pass on")

    def _body(self, output: Sink, command: str, got: _Received) -> None:
        """Decode one line of base64 (a chunk) into `output`, as it comes."""
        while True:
            newline = self.buffer.find(b"\n")
            usable = newline if newline >= 0 else len(self.buffer) - len(self.buffer) % 4
            if usable > 0:
                if RECORD in self.buffer[:usable]:
                    raise ReplyDamaged(self._damaged(command, "another reply interrupted it"))
                try:
                    data = binascii.a2b_base64(bytes(self.buffer[:usable]))
                except binascii.Error:
                    raise ReplyDamaged(self._damaged(command, "its base64 is broken")) from None
                got.add(data)
                output.write(data)
                del self.buffer[:usable]
            if newline >= 0:
                del self.buffer[:1]
                return
            if not self._fill(SEND_TIMEOUT):
                raise ReplyDamaged(self._damaged(
                    command, f"nothing more came for {SEND_TIMEOUT:g} s"))

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
                del self.buffer[:end + 1]
                return status
            # write everything that cannot be the start of the marker
            safe = len(self.buffer) - len(marker)
            cut = self.buffer.rfind(RECORD)
            if cut >= 0:
                safe = min(safe, cut)
            if safe > 0:
                out.write(self.buffer[:safe])
                out.flush()
                del self.buffer[:safe]
            self._fill(None)


class _Received:
    """The size and MD5 of what a reply brought."""

    def __init__(self) -> None:
        self.size = 0
        self._md5 = hashlib.md5(usedforsecurity=False)

    def add(self, data: bytes) -> None:
        self.size += len(data)
        self._md5.update(data)

    def hexdigest(self) -> str:
        return self._md5.hexdigest()
