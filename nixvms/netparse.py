"""The network file's parsed form, and the part of it each machine depends on.

`nix-instantiate --parse` prints an expression without comments or layout,
every string in double quotes with escapes, and sub-expressions in
parentheses. An edit that leaves that form unchanged (a comment, spacing)
changes no evaluation. Where the file is an attribute set of machines,
possibly under `let … in`, a function header or `with …;`, machine m's
*view* is the parsed form with every other machine's expression replaced by
a hole: editing machine b's expression leaves a's view as it was, while
editing a shared binding, `defaults`, or the set of names changes every
view. A machine that read another's configuration through `nodes` keeps
that machine's expression in its view. Anything this module does not
recognise (a `rec` set, a set built by a function call) gives every machine
the whole parsed form: correctness first.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_'-]*) = ")


@dataclass(frozen=True)
class ParsedNetwork:
    text: str
    # Where the machines' attribute set is: text[:body_start] + bindings + text[body_end:]
    head: str
    bindings: tuple[tuple[str | None, str], ...]  # (name or None, the binding's text)
    tail: str
    split: bool  # False: every machine depends on the whole text

    def view(self, machine: str, also: Iterable[str] = ()) -> str:
        """Digest of what `machine` depends on (with the machines in `also` kept whole)."""
        if not self.split:
            return _digest(self.text)
        keep = {machine, *also}
        parts = [self.head]
        for name, text in self.bindings:
            if name is None or name in keep:
                parts.append(text)
            else:
                parts.append(f"{name} = <machine>;")
        parts.append(self.tail)
        return _digest("\x00".join(parts))

    @property
    def digest(self) -> str:
        return _digest(self.text)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode(errors="surrogateescape")).hexdigest()


def parse(text: str, machines: Iterable[str]) -> ParsedNetwork:
    """Split `nix-instantiate --parse`'s output around the machines' attribute set."""
    names = set(machines)
    whole = ParsedNetwork(text, "", (), "", split=False)
    start = _machines_set(text)
    if start is None:
        return whole
    end = _closing(text, start)
    if end is None or text[end + 1:].strip(") \n") != "":
        return whole
    bindings = []
    for binding in _bindings(text[start + 1:end]):
        match = _NAME.match(binding)
        name = match.group(1) if match else None
        bindings.append((name if name in names else None, binding))
    return ParsedNetwork(text, text[:start + 1], tuple(bindings), text[end:], split=True)


def _machines_set(text: str) -> int | None:
    """Index of the `{` that opens the network's attribute set, through its wrappers."""
    i = 0
    while True:
        while i < len(text) and text[i] in "( \n":
            i += 1
        rest = text[i:]
        if rest.startswith("let "):
            j = _find_top(text, i + 4, " in ")
            if j is None:
                return None
            i = j + 4
        elif rest.startswith("with "):
            j = _find_top(text, i + 5, "; ")
            if j is None:
                return None
            i = j + 2
        elif rest.startswith("{"):
            close = _closing(text, i)
            if close is None:
                return None
            if text[close + 1:].startswith(": "):  # a function's argument set
                i = close + 3
                continue
            return i
        else:
            lam = re.match(r"[A-Za-z_][A-Za-z0-9_'-]*(@\{.*?\})?: ", rest)
            if lam and "{" not in (lam.group(1) or ""):
                i += lam.end()
                continue
            return None


def _scan(text: str, start: int) -> Iterable[tuple[int, int]]:
    """(index, depth) of each character outside strings, from `start`."""
    depth = 0
    i = start
    in_string = False
    while i < len(text):
        c = text[i]
        if in_string:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_string = False
            i += 1
            continue
        if c == '"':
            in_string = True
        elif c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        yield i, depth
        i += 1


def _closing(text: str, open_index: int) -> int | None:
    for i, depth in _scan(text, open_index):
        if depth == 0:
            return i
    return None


def _find_top(text: str, start: int, needle: str) -> int | None:
    for i, depth in _scan(text, start):
        if depth == 0 and text.startswith(needle, i):
            return i
        if depth < 0:
            return None
    return None


def _bindings(body: str) -> list[str]:
    """The `name = value;` and `inherit …;` bindings of an attribute set's body."""
    found = []
    begin = 0
    for i, depth in _scan(body, 0):
        if depth == 0 and body[i] == ";":
            found.append(body[begin:i + 1].strip())
            begin = i + 1
    return [b for b in found if b]
