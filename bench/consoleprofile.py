"""Where a boot's CPU goes, console line by console line (issue 28).

    .venv/bin/python -m bench.consoleprofile NETWORK [--machine m001] [--boots 3]

NETWORK is a built network directory (its `bin/run-vms`). Each boot starts the
machine with `run-vms --detach` on a fresh state directory (a first boot, as
bench/boot.py's) and, while it runs, stamps every new line of its console log
with QEMU's CPU time (utime + stime, all threads) at the moment the line was
read. Lines are printed with the CPU spent since the previous line, so the
large gaps show what the emulated CPU was doing. With several boots, the
per-line deltas are shown for the first boot and the CPU at the last line for
each (the noise between boots on a shared machine is a few tenths of a second).

With --against OTHER (another built network), the two are booted in turn,
BOOTS times each, and the medians of QEMU's CPU at the stage marks are
compared: the kernel's /init, the tinyos banner (stage 2 begins), multi-user
and ready, and the stage-2 span (banner to multi-user), which a change to the
guest's user space moves without the kernel's noise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.bootwatch import _ready_events, _state_pids, process_times

POLL = 0.005
# console lines that mark a stage: (name, text the line contains)
MARKS = (("init", "Run /init"), ("banner", "<<< tinyos:"),
         ("multi-user", "reached multi-user.target"), ("ready", "== ready"))


def marks(lines: list[tuple[float, str]]) -> dict[str, float]:
    """QEMU CPU at the first line of each mark."""
    found: dict[str, float] = {}
    for cpu, text in lines:
        for name, needle in MARKS:
            if name not in found and needle in text:
                found[name] = cpu
    return found


def profile_boot(network: Path, machine: str, timeout: float) -> list[tuple[float, str]]:
    """Boot `machine` once; (QEMU CPU seconds when read, line) per console line."""
    state = Path(tempfile.mkdtemp(prefix="consoleprofile-"))
    run_dir = state / "run"
    env = dict(os.environ, NIXVMS_ACCEL="tcg")
    starter = subprocess.Popen(
        [str(network / "bin" / "run-vms"), "--state-dir", str(state), "--detach",
         "--timeout", str(int(timeout)), machine],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines: list[tuple[float, str]] = []
    try:
        deadline = time.monotonic() + timeout
        pid = 0
        offset = 0
        pending = b""
        while time.monotonic() < deadline:
            if starter.poll():  # run-vms refused (an unknown machine, ...) or the boot failed
                assert starter.stderr is not None
                problem = starter.stderr.read().decode(errors="replace").strip()
                raise SystemExit(f"run-vms failed: {problem.splitlines()[-1] if problem else ''}")
            pid = pid or _state_pids(run_dir).get(machine, 0)
            times = process_times(pid) if pid else None
            log = run_dir / f"{machine}.log"
            if times is not None and log.exists():
                with log.open("rb") as f:
                    f.seek(offset)
                    data = f.read()
                offset += len(data)
                pending += data
                *complete, pending = pending.split(b"\n")
                for raw in complete:
                    lines.append((times[0], raw.decode(errors="replace").rstrip("\r")))
                if machine in _ready_events(run_dir):
                    lines.append((times[0], "== ready (the supervisor's event)"))
                    break
            time.sleep(POLL)
    finally:
        subprocess.run([str(network / "bin" / "run-vms"), "--state-dir", str(state), "--stop"],
                       env=env, capture_output=True, check=False)
        if starter.poll() is None:
            starter.kill()
        starter.wait()
        shutil.rmtree(state, ignore_errors=True)
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.consoleprofile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("network", type=Path, help="a built network directory (result)")
    parser.add_argument("--machine", default="m001")
    parser.add_argument("--boots", type=int, default=1)
    parser.add_argument("--min-delta", type=float, default=0.0,
                        help="print only lines that came this much CPU (s) after the previous")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--against", type=Path, help="another built network, booted in turn")
    args = parser.parse_args(argv)
    for network in (args.network, args.against):
        if network is not None and not (network / "bin" / "run-vms").is_file():
            parser.error(f"{network} is not a built network (it has no bin/run-vms)")
    if args.against:
        compare(args.network, args.against, args.machine, args.boots, args.timeout)
        return
    totals = []
    for n in range(args.boots):
        lines = profile_boot(args.network, args.machine, args.timeout)
        if n == 0:
            previous = 0.0
            for cpu, text in lines:
                if cpu - previous >= args.min_delta:
                    print(f"{cpu:7.2f} {cpu - previous:+6.2f}  {text[:110]}")
                previous = cpu
        totals.append(lines[-1][0] if lines else float("nan"))
    print("CPU to the last line per boot: " + ", ".join(f"{t:.2f}" for t in totals))


def compare(first: Path, second: Path, machine: str, boots: int, timeout: float) -> None:
    runs: dict[Path, list[dict[str, float]]] = {first: [], second: []}
    for _ in range(boots):
        for network in (first, second):
            runs[network].append(marks(profile_boot(network, machine, timeout)))
    medians = {}
    for network, found in runs.items():
        row = {name: statistics.median(m[name] for m in found if name in m) for name, _ in MARKS}
        row["stage 2"] = statistics.median(m["multi-user"] - m["banner"] for m in found
                                           if "banner" in m and "multi-user" in m)
        medians[network] = row
    print(f"medians of {boots} boots each, QEMU CPU s (load {os.getloadavg()[0]:.1f} at the end)")
    print("| mark | " + " | ".join(str(n) for n in runs) + " | second / first |")
    for name in (*(n for n, _ in MARKS), "stage 2"):
        a, b = medians[first][name], medians[second][name]
        print(f"| {name} | {a:.2f} | {b:.2f} | {b / a:.2f} |")


if __name__ == "__main__":
    main()
