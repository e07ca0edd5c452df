"""Watching machines boot: wall and CPU time at each boot stage (bench/boot.py).

The CPU is QEMU's own (utime + stime of the VM process from /proc/<pid>/stat,
every thread: the vCPU's TCG thread and QEMU's I/O), sampled every
SAMPLE_INTERVAL while the console log is read with the supervisor's own
BootWatch: on a busy shared machine the wall clock measures waiting, the CPU
time measures the boot. The process is the VM script's, which execs QEMU, so
its pid (in the run directory's state.json) is QEMU's.

Marks, in boot order: `kernel` (the kernel's first line on the console),
`init` (the kernel runs /init), `multi-user` (the init says so), `login`
(the login prompt) and `ready` (the supervisor's ready event: the prompt, and
an SSH banner where openssh is on). Times count from the process's start.

The watch also asks each machine's ssh forward itself (with the supervisor's
probe, machines.BannerProbe, a new connection SSH_RETRY after a close) from
its `multi-user` mark on (its network is up: earlier, QEMU's user-mode
network may hold a connection the guest dropped),
to know when the ready condition came to hold: the later of the login prompt
and the first banner. How long after that the ready event came is point 4
of issue 28.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nixvms.supervisor.boot import BootWatch
from nixvms.supervisor.machines import BannerProbe

SAMPLE_INTERVAL = 0.02
SSH_RETRY = 0.05
MARKS = ("kernel", "init", "multi-user", "login", "ready")
_TICK = os.sysconf("SC_CLK_TCK")
_BOOT_TIME = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                  if line.startswith("btime "))


def process_times(pid: int) -> tuple[float, float] | None:
    """(CPU seconds, start as epoch seconds) of a process; None once gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3): utime is field 14, stime 15, starttime 22
    cpu = (int(fields[11]) + int(fields[12])) / _TICK
    return cpu, _BOOT_TIME + int(fields[19]) / _TICK


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB, from smaps_rollup (0, 0 if the process is gone)."""
    values = {"Rss:": 0, "Pss:": 0}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            parts = line.split()
            if parts and parts[0] in values:
                values[parts[0]] = int(parts[1])
    except OSError:
        pass
    return values["Rss:"], values["Pss:"]


@dataclass
class MachineBoot:
    """One machine's boot: per mark, (wall seconds, CPU seconds) since its start."""

    name: str
    pid: int = 0
    started: float = 0.0
    marks: dict[str, tuple[float, float]] = field(default_factory=dict)
    cpu: float = 0.0
    rss_kb: int = 0
    pss_kb: int = 0


@dataclass
class BootRecord:
    machines: dict[str, MachineBoot]
    supervisor_rss_kb: int = 0
    timed_out: bool = False
    # (login on the console, ready event) wall seconds per machine
    readiness_lag: dict[str, float] = field(default_factory=dict)
    # (the condition held: login and the first SSH banner, ready event) wall
    # seconds per machine: point 4
    condition_lag: dict[str, float] = field(default_factory=dict)


def _state_machines(run_dir: Path) -> dict[str, Any]:
    """The machines of the run directory's state.json ({} until it is there)."""
    try:
        machines = json.loads((run_dir / "state.json").read_text())["data"]["machines"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return machines if isinstance(machines, dict) else {}


def _pids(machines: dict[str, Any]) -> dict[str, int]:
    return {name: int(m["process"]["pid"]) for name, m in machines.items()
            if (m.get("process") or {}).get("pid")}


def _ssh_ports(machines: dict[str, Any]) -> dict[str, int]:
    return {name: int(m["ssh_port"]) for name, m in machines.items() if m.get("ssh_port")}


def _state_pids(run_dir: Path) -> dict[str, int]:
    return _pids(_state_machines(run_dir))


def _ready_events(run_dir: Path) -> set[str]:
    try:
        text = (run_dir / "supervisor.log").read_text()
    except OSError:
        return set()
    ready = set()
    for line in text.splitlines():
        if '"ready"' in line:
            try:
                ready.add(json.loads(line)["machine"])
            except (ValueError, KeyError):
                continue
    return ready


def _supervisor_pid(run_dir: Path) -> int | None:
    try:
        data = json.loads((run_dir / "state.json").read_text())["data"]
        return int(data["supervisor"]["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def watch(run_dir: Path, names: list[str], timeout: float) -> BootRecord:
    """Follow the machines' boots in run_dir until every one is ready."""
    boots = {n: MachineBoot(n) for n in names}
    watches = {n: BootWatch(run_dir / f"{n}.log") for n in names}
    banners = {n: BannerProbe(SSH_RETRY) for n in names}
    banner_at: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    record = BootRecord(boots)
    while True:
        now = time.time()
        machines = _state_machines(run_dir)
        pids, ports = _pids(machines), _ssh_ports(machines)
        ready = _ready_events(run_dir)
        for name, boot in boots.items():
            if "ready" in boot.marks:
                continue
            if not boot.pid and pids.get(name):
                boot.pid = pids[name]
            if not boot.pid:
                continue
            times = process_times(boot.pid)
            if times is None:
                continue
            boot.cpu, boot.started = times
            since = now - boot.started
            watch_ = watches[name]
            watch_.read()
            stage = "init" if watch_.stage == "services" else watch_.stage
            reached = {"kernel": ("kernel", "init", "multi-user", "login"),
                       "init": ("init", "multi-user", "login"),
                       "multi-user": ("multi-user", "login"), "login": ("login",)}
            for mark, stages in reached.items():
                if mark not in boot.marks and stage in stages:
                    boot.marks[mark] = (since, boot.cpu)
            if ("multi-user" in boot.marks and name not in banner_at
                    and banners[name].look(ports.get(name), time.monotonic())):
                banner_at[name] = since
            if name in ready:
                boot.marks["ready"] = (since, boot.cpu)
                record.readiness_lag[name] = since - boot.marks["login"][0] \
                    if "login" in boot.marks else 0.0
                banner = banner_at.get(name)
                if "login" in boot.marks and banner is not None:
                    record.condition_lag[name] = since - max(boot.marks["login"][0], banner)
                boot.rss_kb, boot.pss_kb = memory_kb(boot.pid)
        if all("ready" in b.marks for b in boots.values()):
            break
        if time.monotonic() > deadline:
            record.timed_out = True
            break
        time.sleep(SAMPLE_INTERVAL)
    for probe in banners.values():
        probe.close()
    supervisor = _supervisor_pid(run_dir)
    if supervisor:
        record.supervisor_rss_kb = memory_kb(supervisor)[0]
    return record
