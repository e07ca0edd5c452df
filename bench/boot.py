"""Boot and command speed under TCG (issue 28), before and after in one run.

    .venv/bin/python -m bench.boot [--sizes 1,2,5,10] [--commands 100] [--baseline REV]

For each variant — this checkout, and with --baseline REV an export of that
commit (`git archive`, run with PYTHONPATH pointing at it, so its tinyos and
its supervisor are used) — it builds one network of the largest size (every
machine with openssh, as `nixvms init`'s starter network), then, for each
size N, boots machines m001..mN with the network's own `run-vms --detach`
on a fresh state directory (fresh disks: a first boot, as `nixvms up`'s and
a test's), the variants one after the other at each size so both see the
same load. Per boot (bench/bootwatch.py): wall and QEMU CPU at each stage,
RSS and PSS per VM, the supervisor's RSS, and how long after the login
prompt the supervisor said ready. Then, on the running network, a test script
run by the network's own `nixos-test-driver` times COMMANDS `succeed("true")`
(median, p90, and QEMU's CPU per command), COMMANDS/5 `succeed("bash -c
true")` (a dynamically linked program started, as most test commands do),
the output throughput of `succeed` and `copy_from_vm` (MB/s, 16 MB), and
the network is stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.bootwatch import MARKS, BootRecord, process_times, watch

REPO = Path(__file__).resolve().parent.parent
BEGIN = "<!-- boot results: begin -->"
END = "<!-- boot results: end -->"
BOOT_TIMEOUT = 900.0
BLOB_MB = 16
Log = Callable[[str], None]

NETWORK = """\
# bench/boot.py: machines as `nixvms init`'s starter has them (ssh on each).
{
  defaults = { ... }: { services.openssh.enable = true; networking.firewall.enable = false; };
@MACHINES@}
"""

COMMAND_SCRIPT = """\
# bench/boot.py's measurement of the backdoor (run by nixos-test-driver).
import json, os, statistics, time
from pathlib import Path
m = @MACHINE@
pid = int(os.environ["BENCH_QEMU_PID"])
def cpu():
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
m.succeed("true")  # connects
times = []
c0 = cpu()
for _ in range(@COUNT@):
    t = time.perf_counter()
    m.succeed("true")
    times.append(time.perf_counter() - t)
c1 = cpu()
# a command that starts a dynamically linked program, as most test commands
# do (where `true` is bash's builtin): what exec costs under TCG
exec_times = []
for _ in range(max(5, @COUNT@ // 5)):
    t = time.perf_counter()
    m.succeed("bash -c true")
    exec_times.append(time.perf_counter() - t)
size = @MB@ * 1024 * 1024
def timed(what):
    # a damaged reply (QEMU drops virtconsole output it cannot pass on) is
    # recorded as such: the bench measures, it does not fail
    t = time.perf_counter()
    try:
        what()
    except Exception as error:
        print(f"bench: {error}", flush=True)
        return None
    return @MB@ / (time.perf_counter() - t)
def output():
    assert len(m.succeed(f"head -c {size} /dev/zero")) == size
succeed_mbs = timed(output)
m.succeed(f"head -c {size} /dev/urandom > /tmp/bench-blob")
copy_mbs = timed(lambda: m.copy_from_vm("/tmp/bench-blob", "bench-copy"))
print("BENCH-JSON " + json.dumps({"times": times, "cpu": c1 - c0, "exec_times": exec_times,
      "succeed_mbs": succeed_mbs, "copy_mbs": copy_mbs}), flush=True)
"""


@dataclass
class Variant:
    name: str
    root: Path  # where its nixvms package is
    network: Path = Path()  # its built network directory (result)


@dataclass
class Commands:
    times: list[float]
    cpu: float
    succeed_mbs: float | None  # None: the reply was damaged
    copy_mbs: float | None
    exec_times: list[float] = field(default_factory=list)  # succeed("bash -c true")


@dataclass
class Run:
    variant: str
    size: int
    boot: BootRecord
    commands: Commands | None = None
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass
class Results:
    runs: list[Run] = field(default_factory=list)
    info: dict[str, str] = field(default_factory=dict)


def machine_names(size: int) -> list[str]:
    return [f"m{i:03d}" for i in range(1, size + 1)]


def write_network(directory: Path, size: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    body = "".join(f"  {n} = {{ ... }}: {{ }};\n" for n in machine_names(size))
    (directory / "network.nix").write_text(NETWORK.replace("@MACHINES@", body))


def export(rev: str, into: Path) -> Path:
    """`git archive rev` of this repository, unpacked into `into`."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def build(variant: Variant, directory: Path, say: Log) -> Path:
    """Build the network in `directory` with the variant's nixvms; its result."""
    env = dict(os.environ, PYTHONPATH=str(variant.root))
    say(f"building {directory.name} with {variant.name}")
    subprocess.run([sys.executable, "-c", "import sys; from nixvms.cli import nixvms; "
                    "sys.argv[0] = 'nixvms'; nixvms()", "build", "-q"],
                   cwd=directory, env=env, check=True)
    return (directory / "result").resolve()


def boot(variant: Variant, size: int, workdir: Path, commands: int, say: Log) -> Run:
    state = Path(tempfile.mkdtemp(prefix=f"{variant.name}-{size}-", dir=workdir))
    run_dir = state / "run"
    names = machine_names(size)
    load = os.getloadavg()
    say(f"{variant.name}: booting {size} machine(s), load {load[0]:.1f}")
    env = dict(os.environ, NIXVMS_ACCEL="tcg")
    starter = subprocess.Popen(
        [str(variant.network / "bin" / "run-vms"), "--state-dir", str(state), "--detach",
         "--timeout", str(int(BOOT_TIMEOUT)), *names],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        record = watch(run_dir, names, BOOT_TIMEOUT)
        _, err = starter.communicate(timeout=60)
        if starter.returncode != 0:
            raise SystemExit(f"run-vms failed: {err.decode(errors='replace')}")
        result = Run(variant.name, size, record, load=load)
        if commands and not record.timed_out:
            result.commands = measure_commands(variant, state, record, commands)
        return result
    finally:
        subprocess.run([str(variant.network / "bin" / "run-vms"), "--state-dir", str(state),
                        "--stop"], env=env, capture_output=True, check=False)
        if starter.poll() is None:
            starter.kill()
        shutil.rmtree(state, ignore_errors=True)


def measure_commands(variant: Variant, state: Path, record: BootRecord,
                     count: int) -> Commands:
    first = record.machines["m001"]
    script = state / "bench-commands.py"
    script.write_text(COMMAND_SCRIPT.replace("@MACHINE@", "m001")
                      .replace("@COUNT@", str(count)).replace("@MB@", str(BLOB_MB)))
    out = subprocess.run(
        [str(variant.network / "bin" / "nixos-test-driver"), "--state-dir", str(state),
         "--keep-vms", str(script)],
        cwd=state, env=dict(os.environ, BENCH_QEMU_PID=str(first.pid)),
        capture_output=True, text=True, check=False)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH-JSON "):
            data = json.loads(line[len("BENCH-JSON "):])
            return Commands(data["times"], data["cpu"], data["succeed_mbs"], data["copy_mbs"],
                            data.get("exec_times", []))
    raise SystemExit(f"the command script failed:\n{out.stdout}\n{out.stderr[-3000:]}")


# --- the report -------------------------------------------------------------
def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _rate(mbs: float | None) -> str:
    return "damaged" if mbs is None else f"{mbs:.1f}"


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def per_vm(run: Run) -> dict[str, float]:
    """Means over the run's machines: CPU and wall at each mark, memory."""
    boots = list(run.boot.machines.values())
    row: dict[str, float] = {}
    for mark in MARKS:
        row[f"wall {mark}"] = _mean([b.marks[mark][0] for b in boots if mark in b.marks])
        row[f"cpu {mark}"] = _mean([b.marks[mark][1] for b in boots if mark in b.marks])
    row["last ready"] = max((b.marks["ready"][0] for b in boots if "ready" in b.marks),
                            default=0.0)
    row["rss"] = _mean([b.rss_kb / 1024 for b in boots])
    row["pss"] = _mean([b.pss_kb / 1024 for b in boots])
    row["lag"] = max(run.boot.readiness_lag.values(), default=0.0)
    row["condition lag"] = max(run.boot.condition_lag.values(), default=-1.0)
    return row


def boot_table(results: Results) -> str:
    head = ("| N | variant | load | CPU to kernel / init / multi-user / login / ready s (per VM) "
            "| wall to kernel / init / multi-user / login / ready s (mean) | last ready s "
            "| login → ready s (max) | condition → ready s (max) | RSS / PSS MB per VM "
            "| supervisor RSS MB |\n"
            "|---:|---|---:|---|---|---:|---:|---:|---|---:|\n")
    lines = []
    for run in results.runs:
        row = per_vm(run)
        cpu = " / ".join(f"{row[f'cpu {m}']:.2f}" for m in MARKS)
        wall = " / ".join(f"{row[f'wall {m}']:.1f}" for m in MARKS)
        timed_out = " (timed out)" if run.boot.timed_out else ""
        lines.append(f"| {run.size} | {run.variant}{timed_out} | {run.load[0]:.1f} | {cpu} | "
                     f"{wall} | {row['last ready']:.1f} | {row['lag']:.2f} | "
                     f"{_seconds(row['condition lag'])} | "
                     f"{row['rss']:.0f} / {row['pss']:.0f} | "
                     f"{run.boot.supervisor_rss_kb / 1024:.0f} |")
    return head + "\n".join(lines) + "\n"


def _seconds(value: float) -> str:
    return "-" if value < 0 else f"{value:.2f}"


def _median_ms(times: list[float]) -> str:
    return f"{statistics.median(times) * 1000:.1f}" if times else "-"


def command_table(results: Results) -> str:
    head = ("| N | variant | commands | round trip median ms | p90 ms | QEMU CPU per command ms "
            "| `succeed(\"bash -c true\")` median ms "
            f"| `succeed` MB/s ({BLOB_MB} MB) | `copy_from_vm` MB/s ({BLOB_MB} MB) |\n"
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
    lines = []
    for run in results.runs:
        c = run.commands
        if c is None:
            continue
        lines.append(f"| {run.size} | {run.variant} | {len(c.times)} | "
                     f"{statistics.median(c.times) * 1000:.1f} | {_pct(c.times, 0.9) * 1000:.1f} "
                     f"| {c.cpu / len(c.times) * 1000:.1f} "
                     f"| {_median_ms(c.exec_times)} | {_rate(c.succeed_mbs)} "
                     f"| {_rate(c.copy_mbs)} |")
    return head + "\n".join(lines) + "\n"


def ratio_table(results: Results) -> str:
    """After / before per size, where both variants ran."""
    by = {(r.variant, r.size): r for r in results.runs}
    sizes = sorted({r.size for r in results.runs})
    lines = []
    for size in sizes:
        before, after = by.get(("before", size)), by.get(("after", size))
        if before is None or after is None:
            continue
        b, a = per_vm(before), per_vm(after)
        cells = [f"{a['cpu ready'] / b['cpu ready']:.2f}" if b["cpu ready"] else "-",
                 f"{a['last ready'] / b['last ready']:.2f}" if b["last ready"] else "-"]
        if before.commands and after.commands:
            ratio = (statistics.median(after.commands.times)
                     / statistics.median(before.commands.times))
            cells.append(f"{ratio:.2f}")
        else:
            cells.append("-")
        lines.append(f"| {size} | {' | '.join(cells)} |")
    if not lines:
        return ""
    return ("| N | CPU to ready per VM, after / before | last ready (wall), after / before "
            "| command round trip, after / before |\n|---:|---:|---:|---:|\n"
            + "\n".join(lines) + "\n")


def report(results: Results) -> str:
    info = results.info
    parts = [BEGIN, "",
             f"Measured {info.get('date', '')} on {info.get('machine', '')}; "
             f"{info.get('command', '')}. Variants: {info.get('variants', '')}. Load average "
             "(1 min) at each boot's start in the table: other work on the machine shows in "
             "the wall times, much less in the CPU times.", "",
             boot_table(results), command_table(results)]
    ratios = ratio_table(results)
    if ratios:
        parts.append(ratios)
    parts.append(END)
    return "\n".join(parts) + "\n"


def write_report(out: Path, text: str) -> None:
    """Replace the marked section of `out` (or write the whole file)."""
    if out.exists():
        old = out.read_text()
        if BEGIN in old and END in old:
            head, rest = old.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            out.write_text(head + text.rstrip("\n") + tail)
            return
    out.write_text(text)


def to_json(results: Results) -> dict[str, Any]:
    return {"info": results.info, "runs": [asdict(r) for r in results.runs]}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.boot", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1,2,5,10", help="machines booted at once (1,2,5,10)")
    p.add_argument("--commands", type=int, default=100, help="succeed('true') timed (100)")
    p.add_argument("--baseline", metavar="REV",
                   help="also measure this commit (an export of it), as 'before'")
    p.add_argument("--out", type=Path, help="markdown to write (a file with the boot results "
                   "markers, bench/README.md, gets only that section replaced)")
    p.add_argument("--json", type=Path, help="every figure, saved")
    p.add_argument("--workdir", type=Path, help="where the networks are made (default: a "
                   "temporary directory, removed)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None, say: Log | None = None) -> Results:
    args = parse_args(argv)
    log: Log = say or (lambda line: print(f"bench: {line}", file=sys.stderr, flush=True))
    sizes = [int(s) for s in args.sizes.split(",")]
    own = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="nixvms-boot-")) if own else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        variants = [Variant("after" if args.baseline else "this", REPO)]
        if args.baseline:
            root = export(args.baseline, workdir / "baseline-src")
            variants.insert(0, Variant("before", root))
        for variant in variants:
            directory = workdir / f"net-{variant.name}"
            write_network(directory, max(sizes))
            variant.network = build(variant, directory, log)
        results = Results(info={
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.node()}, {os.cpu_count()} cores, "
                       f"{platform.platform()}",
            "command": "`python -m bench.boot " + " ".join(argv or sys.argv[1:]) + "`",
            "variants": ", ".join(
                f"{v.name} = {rev_of(v, args.baseline)}" for v in variants)})
        for size in sizes:
            for variant in variants:
                results.runs.append(boot(variant, size, workdir, args.commands, log))
        text = report(results)
        if args.out:
            write_report(args.out, text)
        else:
            sys.stdout.write(text)
        if args.json:
            args.json.write_text(json.dumps(to_json(results), indent=1) + "\n")
        return results
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


def rev_of(variant: Variant, baseline: str | None) -> str:
    rev = baseline if variant.name == "before" and baseline else "HEAD"
    found = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", rev],
                           capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "nixvms"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return found + (" with uncommitted changes in nixvms/" if dirty and rev == "HEAD" else "")


__all__ = ["main", "process_times"]

if __name__ == "__main__":
    main()
