"""How the running network looks to a person: event lines, the status table."""

from __future__ import annotations

import os
from typing import Any

from . import procs
from .client import NetworkStatus, Stopped

Event = dict[str, Any]


def describe_stopped(stopped: Stopped, run_dir: str | os.PathLike[str]) -> str:
    """The line `stop` says: what it stopped, or that there was nothing to stop."""
    if not stopped.running:
        return f"no network is running from {run_dir}; nothing to stop"
    if stopped.recovered is not None:
        return (f"the state file of {run_dir} was damaged; stopped the network's processes "
                f"found by their lock and environment ({stopped.recovered.describe()})")
    what = ", ".join(stopped.machines) or "no machine was running"
    return f"stopped {what}" + ("; the network is down" if stopped.everything else "")



def describe_event(event: Event) -> list[str]:
    """The lines a person reads for an event ([] for those said elsewhere)."""
    kind = event.get("event")
    machine = event.get("machine")
    if kind == "ready":
        restored = event.get("restored")
        how = f"restored from {restored}" if restored else "ready"
        return [f"{machine} {how} in {float(event.get('after', 0)):.1f} s"]
    if kind == "died":
        lines = [f"{machine} died ({event.get('status')}); its last console lines:"]
        return lines + [f"  | {line}" for line in event.get("lines") or []]
    if kind == "warning":
        return [f"warning: {event.get('message')}"]
    if kind == "info":
        return [str(event.get("message"))]
    return []


def table(st: NetworkStatus) -> list[str]:
    """status as a table: one row per machine."""
    rows: list[tuple[str, ...]] = [
        ("MACHINE", "STATE", "IP", "SSH", "FORWARDS", "PID", "UPTIME", "DISK")]
    for m in st.machines:
        state = m.state
        if m.state == "dead" and m.exit_status is not None:
            state = f"dead ({procs.describe_status(m.exit_status)})"
        ips = ",".join(f"{ip}" if len(m.ips) == 1 else f"v{v}:{ip}" for v, ip in m.ips) or "-"
        forwards = [f"127.0.0.1:{f.host_port}->{f.guest_port}" for f in m.forwards]
        forwards += [g.describe() for g in m.guest_forwards]
        uptime = f"{m.uptime:.0f} s" if m.uptime is not None else "-"
        rows.append((m.name, state, ips, str(m.ssh_port) if m.ssh_port else "-",
                     ",".join(forwards) or "-", str(m.pid) if m.pid else "-", uptime,
                     "older build" if m.stale_disk else "-"))
    if any(m.host for m in st.machines):  # machines on other hosts: a HOST column
        rows = [(*rows[0][:2], "HOST", *rows[0][2:])] + [
            (*r[:2], m.host or "local", *r[2:])
            for r, m in zip(rows[1:], st.machines, strict=True)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]
