"""Running a measured command: wall time, CPU, and the memory of its Nix processes.

`measure()` starts a command, samples its process tree in /proc while it
runs, and reaps it with wait4, so that it knows:

- wall time, and the CPU (user + system) of the command and every descendant
  it waited for (the rusage wait4 returns covers the reaped children);
- `max_rss_kb`: the peak RSS of the largest single process of the tree,
  from the kernel (wait4's ru_maxrss is the maximum over the process and
  its reaped descendants; exact, not sampled);
- `nix_peak_kb` / `nix_sum_kb`: the largest RSS of one Nix process and the
  largest sum of the RSS of the Nix processes alive at the same time
  (nix-instantiate, nix-build, nix-store, ...), sampled from
  /proc/<pid>/status every `interval` seconds; a Nix process forked by a
  Nix process (a builder before its exec) shares its parent's pages and is
  not counted. A sum needs sampling: the
  kernel keeps no peak of the sum. Short-lived processes between two samples
  are missed, so the sum is a lower bound of the true peak; the single
  largest process comes from wait4 too (max_rss_kb) when that is a Nix
  process.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

NIX_COMMANDS = ("nix", "nix-build", "nix-instantiate", "nix-store", "nix-env", "nix-shell",
                "nix-daemon")


@dataclass(frozen=True)
class Measured:
    """What one run of a command cost."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    cpu_seconds: float  # user + system of the command and its reaped descendants
    max_rss_kb: int  # the largest single process of the tree (kernel's peak)
    nix_peak_kb: int  # the largest Nix process seen (sampled)
    nix_sum_kb: int  # the largest sum of concurrent Nix processes (sampled)


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        after = stat[stat.rfind(b")") + 2:].split()
        if len(after) < 2:
            continue
        children.setdefault(int(after[1]), []).append(int(entry.name))
    return children


def _process_rss(pid: int) -> tuple[str, int] | None:
    """(command name, VmRSS in KiB) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            status = handle.read().decode(errors="replace")
    except OSError:
        return None
    name, rss = "", 0
    for line in status.splitlines():
        if line.startswith("Name:"):
            name = line.split(None, 1)[1] if len(line.split()) > 1 else ""
        elif line.startswith("VmRSS:"):
            rss = int(line.split()[1])
            break
    return name, rss


class TreeSampler:
    """Samples the RSS of the Nix processes below one pid in a background thread."""

    def __init__(self, root: int, interval: float) -> None:
        self.root = root
        self.interval = interval
        self.peak_kb = 0
        self.sum_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        children = _children_map()
        todo: list[tuple[int, bool]] = [(self.root, False)]
        total = 0
        while todo:
            pid, parent_is_nix = todo.pop()
            found = _process_rss(pid)
            if found is None:
                continue
            name, rss = found
            is_nix = name in NIX_COMMANDS
            # A Nix process whose parent is a Nix process is a fork that has not
            # exec'd its builder yet: it shares its parent's pages, not counted.
            if is_nix and not parent_is_nix:
                total += rss
                self.peak_kb = max(self.peak_kb, rss)
            todo += [(child, is_nix) for child in children.get(pid, [])]
        self.sum_kb = max(self.sum_kb, total)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


def measure(
    command: Sequence[str],
    cwd: Path,
    env: dict[str, str],
    sample_interval: float = 0.1,
) -> Measured:
    """Run `command` to its end and say what it cost (see the module's docstring)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(command), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err)
        sampler = TreeSampler(proc.pid, sample_interval)
        sampler.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            sampler.stop()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    return Measured(
        returncode=proc.returncode,
        stdout=stdout,
        stderr=stderr,
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        max_rss_kb=usage.ru_maxrss,
        nix_peak_kb=sampler.peak_kb,
        nix_sum_kb=sampler.sum_kb,
    )
