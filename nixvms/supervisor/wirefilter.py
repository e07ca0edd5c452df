"""vde2's wirefilter: how a link's behaviour is written, and its management socket.

A shaped link is `wirefilter -v MACHINE_SIDE:VLAN_SWITCH -M MGMT` (links.py
starts it): the left side is the machine's own small switch, the right the
VLAN's. Every value applies left to right only, from the machine towards the
VLAN, as `tc qdisc ... netem` on the machine's NIC would: a ping from a machine
whose link has 100 ms of delay comes back 100 ms later, not 200.

The values are written as people write them for netem (`100ms`, `5%`,
`10mbit`); wirefilter itself takes milliseconds, percentages and bytes per
second, and accepts anything it cannot read as zero, so every value is read
here, and a bad one is one UsageError naming it.

The management socket speaks lines: a banner and the prompt "VDEwf$ ", then
for each command a reply whose last line is "<code> <text>" (1000 Success)
followed by the prompt again.

Standard library only: the supervisor is copied into the network directory.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import LinkError, UsageError

PROMPT = b"VDEwf$ "
SUCCESS = 1000
REPLY_TIMEOUT = 5.0
MAX_REPLY = 64 * 1024

_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
_DURATION = re.compile(rf"^{_NUMBER}(us|ms|s)$")
_PERCENT = re.compile(rf"^{_NUMBER}%$")
_RATE = re.compile(rf"^{_NUMBER}(bit|kbit|mbit|gbit)$")
_DURATION_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_RATE_BITS = {"bit": 1, "kbit": 1000, "mbit": 1000_000, "gbit": 1000_000_000}
MAX_DELAY_MS = 3600_000.0
MAX_MTU = 65535

# The settings one may give, as the network file's virtualisation.vlanLinks
# spells them (and `nixvms link`'s options, and the driver's set()).
FIELDS = ("delay", "jitter", "loss", "lossBurst", "duplicate", "bandwidth", "mtu")


@dataclass(frozen=True)
class Shape:
    """A link's behaviour in wirefilter's own units; zero is "none"."""

    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_percent: float = 0.0
    loss_burst: float = 0.0     # mean length of a burst of lost frames (Gilbert model)
    duplicate_percent: float = 0.0
    bandwidth_bytes: int = 0    # per second
    mtu: int = 0                # longer frames are dropped

    def describe(self) -> dict[str, str]:
        """The settings as a user writes them (zero ones left out)."""
        out: dict[str, str] = {}
        if self.delay_ms:
            out["delay"] = f"{number(self.delay_ms)}ms"
        if self.jitter_ms:
            out["jitter"] = f"{number(self.jitter_ms)}ms"
        if self.loss_percent:
            out["loss"] = f"{number(self.loss_percent)}%"
        if self.loss_burst:
            out["lossBurst"] = number(self.loss_burst)
        if self.duplicate_percent:
            out["duplicate"] = f"{number(self.duplicate_percent)}%"
        if self.bandwidth_bytes:
            out["bandwidth"] = f"{self.bandwidth_bytes * 8}bit"
        if self.mtu:
            out["mtu"] = str(self.mtu)
        return out


def number(value: float) -> str:
    """A number as wirefilter reads it: no exponent, no trailing zeros."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def parse_duration(field: str, text: str) -> float:
    """Milliseconds of `100ms`, `1.5s`, `250us` or `0`."""
    if text.strip() == "0":
        return 0.0
    found = _DURATION.match(text.strip())
    if not found:
        raise UsageError(f"link {field} {text!r} is not a duration (write it as 100ms, 1.5s "
                         "or 0)")
    value = float(found.group(1)) * _DURATION_MS[found.group(2)]
    if value > MAX_DELAY_MS:
        raise UsageError(f"link {field} {text!r} is longer than an hour")
    return value


def parse_percent(field: str, text: str, below: float = 100.0, inclusive: bool = True) -> float:
    """A percentage of `5%` or `0`."""
    if text.strip() == "0":
        return 0.0
    found = _PERCENT.match(text.strip())
    value = float(found.group(1)) if found else -1.0
    if not found or value > below or (value == below and not inclusive):
        limit = f"at most {number(below)}%" if inclusive else f"below {number(below)}%"
        raise UsageError(f"link {field} {text!r} is not a percentage {limit} (write it as "
                         "5% or 0)")
    return value


def parse_rate(field: str, text: str) -> int:
    """Bytes per second of `10mbit`, `512kbit`, `1gbit` (netem's bits per second) or `0`."""
    if text.strip() == "0":
        return 0
    found = _RATE.match(text.strip().lower())
    if not found:
        raise UsageError(f"link {field} {text!r} is not a rate (write it as 10mbit, 512kbit "
                         "or 0 for none)")
    bits = float(found.group(1)) * _RATE_BITS[found.group(2)]
    return max(1, round(bits / 8))


def parse_count(field: str, text: str, most: float) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= most:
        raise UsageError(f"link {field} {text!r} is not a number from 0 to {number(most)}")
    return value


def updated(shape: Shape, settings: Mapping[str, str]) -> Shape:
    """The shape with the given settings (FIELDS, as text) changed; UsageError for a bad one."""
    unknown = sorted(set(settings) - set(FIELDS))
    if unknown:
        raise UsageError(f"a link has no setting {unknown[0]!r} (settings: {', '.join(FIELDS)})")
    changes: dict[str, float | int] = {}
    for field, text in settings.items():
        if field == "delay":
            changes["delay_ms"] = parse_duration(field, text)
        elif field == "jitter":
            changes["jitter_ms"] = parse_duration(field, text)
        elif field == "loss":
            changes["loss_percent"] = parse_percent(field, text)
        elif field == "lossBurst":
            changes["loss_burst"] = parse_count(field, text, 1000_000)
        elif field == "duplicate":
            # wirefilter sends a frame duplicated at 100% for ever
            changes["duplicate_percent"] = parse_percent(field, text, inclusive=False)
        elif field == "bandwidth":
            changes["bandwidth_bytes"] = parse_rate(field, text)
        else:
            changes["mtu"] = int(parse_count(field, text, MAX_MTU))
    result = dataclasses.replace(shape, **changes)  # type: ignore[arg-type]
    if result.jitter_ms > result.delay_ms:
        raise UsageError(f"link jitter {number(result.jitter_ms)}ms is more than its delay "
                         f"{number(result.delay_ms)}ms (a frame cannot leave before it came)")
    return result


def commands(shape: Shape, directions: Sequence[str] = ("LR",)) -> list[str]:
    """The management commands that give a wirefilter this shape, machine to VLAN
    (LR); the other direction stays as it is (untouched: nothing). A cable
    between hosts is shaped both ways (LR and RL)."""
    return [line for way in directions for line in (
        f"delay {way}{number(shape.delay_ms)}+{number(shape.jitter_ms)}U",
        f"loss {way}{number(shape.loss_percent)}",
        f"lostburst {way}{number(shape.loss_burst)}",
        f"dup {way}{number(shape.duplicate_percent)}",
        f"bandwidth {way}{shape.bandwidth_bytes}",
        f"mtu {way}{shape.mtu}",
    )]


def argv(program: str, left: Path, right: Path, management: Path) -> list[str]:
    """wirefilter joining two switches, managed through `management`."""
    for side in (left, right):
        if ":" in str(side):  # -v splits its argument at the colon
            raise LinkError(f"a switch socket path holds a colon: {side}")
    return [program, "-v", f"{left}:{right}", "-M", str(management)]


class ManagementClient:
    """One session on a wirefilter's management socket."""

    def __init__(self, path: Path, who: str, timeout: float = REPLY_TIMEOUT) -> None:
        self.path = path
        self.who = who
        self.timeout = timeout
        self.sock: socket.socket | None = None

    def __enter__(self) -> ManagementClient:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.path))
        except OSError as error:
            sock.close()
            raise LinkError(f"the wirefilter of {self.who} does not answer on {self.path} "
                            f"({error.strerror or error})") from error
        self.sock = sock
        self._until_prompt()  # the banner
        return self

    def __exit__(self, *exc: object) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _until_prompt(self) -> str:
        assert self.sock is not None
        data = b""
        deadline = time.monotonic() + self.timeout
        while not data.endswith(PROMPT):
            if time.monotonic() > deadline or len(data) > MAX_REPLY:
                raise LinkError(f"the wirefilter of {self.who} did not answer in time")
            try:
                chunk = self.sock.recv(4096)
            except OSError as error:
                raise LinkError(f"the wirefilter of {self.who} did not answer: {error}") \
                    from error
            if not chunk:
                raise LinkError(f"the wirefilter of {self.who} closed its management session")
            data += chunk
        return data[:-len(PROMPT)].decode(errors="replace")

    def send(self, command: str) -> str:
        """Run one command; its reply's text. LinkError unless it succeeded."""
        assert self.sock is not None
        if "\n" in command:
            raise LinkError(f"a wirefilter command is one line: {command!r}")
        try:
            self.sock.sendall(command.encode() + b"\n")
        except OSError as error:
            raise LinkError(f"the wirefilter of {self.who} did not take {command!r}: "
                            f"{error}") from error
        reply = self._until_prompt()
        code = reply_code(reply)
        if code != SUCCESS:
            raise LinkError(f"the wirefilter of {self.who} refused {command!r}: "
                            f"{last_line(reply)}")
        return reply

    def run(self, lines: Sequence[str]) -> None:
        for line in lines:
            self.send(line)


def reply_code(reply: str) -> int | None:
    """The status code of a reply ("1000 Success" -> 1000)."""
    found = re.match(r"^([0-9]{4}) ", last_line(reply))
    return int(found.group(1)) if found else None


def last_line(reply: str) -> str:
    lines = [line for line in reply.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
