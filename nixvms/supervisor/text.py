"""Console text: terminal control sequences stripped, for logs and reports.

The raw console log keeps everything the guest wrote (SeaBIOS clears the
screen and turns line wrapping off); what a person reads has the escape
sequences, carriage returns and other control characters taken out.
"""

from __future__ import annotations

import re
from pathlib import Path

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), other two-byte escapes
# (ESC c, ESC 7, ESC ( B, ...), and the C1 CSI byte.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[ -/]*[0-~]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def strip_controls(text: str) -> str:
    """The text without escape sequences, with CRLF as LF and no other controls."""
    text = _ESCAPES.sub("", text)
    text = text.replace("\r\n", "\n")
    # A lone CR returns to the line's start: keep what was written last.
    lines = []
    for line in text.split("\n"):
        if "\r" in line:
            line = next((part for part in reversed(line.split("\r")) if part), "")
        lines.append(_CONTROLS.sub("", line))
    return "\n".join(lines)


def read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""


def tail_lines(path: Path, count: int) -> list[str]:
    """The last `count` non-empty lines of a console log, controls stripped."""
    lines = [line.rstrip() for line in strip_controls(read_text(path)).split("\n")]
    lines = [line for line in lines if line.strip()]
    return lines[-count:] if count > 0 else []
