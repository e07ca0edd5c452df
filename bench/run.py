"""nixvms against the one-nix-build baseline, side by side, on generated networks.

    .venv/bin/python -m bench.run [--sizes 1,5,20,50] [--repeat 5] [--out FILE]

For each size N it generates two identical tinyos networks of N machines
(bench/network.py) with distinct tags, one built only by nixvms and one only
by the baseline, so that neither finds the other's derivations in the store.
The baseline is `nix-build nixvms/nix/baseline.nix`: every machine through
the same glue (machine.nix), in one evaluation and one build, which is what
nixos-build-vms does. Scenarios, in this order:

cold           fresh state and a new marker in the shared module (every VM new)
cold -j 2      the same with `nixvms build -j 2` against `nix-build --max-jobs 2`
no-op          the same command again, nothing edited
one machine    one machine's file edited (its derivation changes)
shared module  the module every machine imports edited (every derivation changes)
comment        a comment appended to network.nix (no derivation changes)

Per run: wall time; evaluations and builds as each tool reports them (nixvms's
`evaluating <m>` / `building <m>` lines; the baseline's one evaluation and
nix-build's "these N derivations will be built"); derivations built, counted
the same way for both (Nix's build logs of the result's derivations written
during the run); Nix processes started (nixvms -v); the nixvms process's own
peak RSS (bench/nixvms_rss.py). Times are medians over the repeats.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.network import BenchNetwork

REPO = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
RSS_WRAPPER = REPO / "bench" / "nixvms_rss.py"
BASELINE_NIX = REPO / "nixvms" / "nix" / "baseline.nix"
TINYOS = REPO / "nixvms" / "tinyos"
NIX_LOG_DIR = Path("/nix/var/log/nix/drvs")
RSS_PREFIX = "bench: maxrss-kb "

SCENARIOS = ("cold", "cold -j 2", "no-op", "one machine", "shared module", "comment")

# Issue 7, point 2.
TARGET_NOOP_SECONDS = 0.3
TARGET_NOOP_SPEEDUP = 20.0
TARGET_COLD_RATIO = 1.1
TARGET_RSS_MB = 100.0

Log = Callable[[str], None]


class BenchError(Exception):
    """A build under measurement failed."""


@dataclass(frozen=True)
class Sample:
    """One run of one tool."""

    seconds: float
    evaluations: int
    builds: int  # machines (nixvms) or derivations (nix-build), as each reports them
    drvs: int  # derivations built, counted from Nix's build logs for both tools
    nix_calls: int | None = None  # Nix processes started (nixvms only)
    rss_kb: int | None = None  # peak RSS of the nixvms process (nixvms only)


@dataclass
class Cell:
    """The samples of one tool in one scenario at one size."""

    samples: list[Sample] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    def counts(self, attr: str) -> str:
        values = sorted({getattr(s, attr) for s in self.samples} - {None})
        if not values:
            return "-"
        if len(values) == 1:
            return str(values[0])
        return f"{values[0]}-{values[-1]}"

    def single(self, attr: str) -> int | None:
        """The count when every repeat gave the same one, else None."""
        values = {getattr(s, attr) for s in self.samples}
        return values.pop() if len(values) == 1 else None

    @property
    def rss_mb(self) -> float | None:
        values = [s.rss_kb for s in self.samples if s.rss_kb is not None]
        return max(values) / 1024 if values else None


@dataclass
class Row:
    size: int
    scenario: str
    nixvms: Cell = field(default_factory=Cell)
    baseline: Cell = field(default_factory=Cell)

    @property
    def ratio(self) -> float:
        return self.nixvms.seconds / self.baseline.seconds


# --- running the two tools ---------------------------------------------------------


def bench_env() -> dict[str, str]:
    """The environment of every measured command: tinyos, no binary cache wait.

    NIX_PATH is removed so that both tools use the bundled tinyos (nixvms
    falls back to it; the baseline is given it). Without NIX_CONFIG, the same
    probe as scripts/nix-cache-env turns substituters off when the cache
    cannot be reached (each nix-store call would otherwise retry for ~5 s).
    """
    env = {k: v for k, v in os.environ.items() if k != "NIX_PATH"}
    if "NIX_CONFIG" not in env:
        probe = subprocess.run(
            ["bash", "-c", '. scripts/nix-cache-env; printf %s "${NIX_CONFIG-}"'],
            cwd=REPO, capture_output=True, text=True, check=False,
        )
        if probe.stdout:
            env["NIX_CONFIG"] = probe.stdout
    return env


def _run(command: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(
        list(command), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, check=False,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(command)} failed in {cwd}:\n{proc.stderr[-3000:]}")
    return seconds, proc.stderr


def run_nixvms(
    net: BenchNetwork, env: dict[str, str], jobs: int = 1, extra: Sequence[str] = ()
) -> Sample:
    command = [str(PYTHON), str(RSS_WRAPPER), "build", "-v", *extra]
    if jobs > 1:
        command += ["-j", str(jobs)]
    started = time.time()
    seconds, stderr = _run(command, net.root, env)
    lines = stderr.splitlines()
    rss = [int(line[len(RSS_PREFIX):]) for line in lines if line.startswith(RSS_PREFIX)]
    return Sample(
        seconds=seconds,
        evaluations=sum(1 for line in lines if re.fullmatch(r"evaluating \S+", line)),
        builds=sum(1 for line in lines if re.fullmatch(r"building \S+", line)),
        drvs=derivations_built(net.root / "result", started, env),
        nix_calls=sum(1 for line in lines if re.match(r"\$ nix(-[a-z]+)? ", line)),
        rss_kb=rss[-1] if rss else None,
    )


def run_baseline(
    net: BenchNetwork, env: dict[str, str], nixpkgs: str, max_jobs: int | None = None
) -> Sample:
    command = [
        "nix-build", str(BASELINE_NIX),
        "--arg", "networkFile", str(net.network_file),
        "--arg", "nixpkgs", nixpkgs,
        "-o", "result",
    ]
    if max_jobs is not None:
        command += ["--max-jobs", str(max_jobs)]
    started = time.time()
    seconds, stderr = _run(command, net.root, env)
    return Sample(
        seconds=seconds,
        evaluations=1,
        builds=nix_build_count(stderr),
        drvs=derivations_built(net.root / "result", started, env),
    )


def nix_build_count(stderr: str) -> int:
    """Derivations nix-build said it would build."""
    found = re.search(r"^these (\d+) derivations will be built:", stderr, re.MULTILINE)
    if found:
        return int(found.group(1))
    return 1 if re.search(r"^this derivation will be built:", stderr, re.MULTILINE) else 0


def derivations_built(result: Path, since: float, env: dict[str, str]) -> int:
    """Derivations of `result` and its VMs whose build log was written since `since`.

    Nix writes one log per derivation it builds (keep-build-log, on by
    default), so this counts the same thing for both tools, and only this
    network's derivations (other builds may share the store meanwhile).
    """
    if not NIX_LOG_DIR.is_dir():
        return -1
    top = os.path.realpath(result)
    refs = _nix_store(["--query", "--references", top], env)
    outputs = [top, *(p for p in refs if p != top)]
    derivers = [d for d in _nix_store(["--query", "--deriver", *outputs], env)
                if d != "unknown-deriver" and os.path.exists(d)]
    closure = _nix_store(["--query", "--requisites", *derivers], env) if derivers else []
    count = 0
    for drv in closure:
        if not drv.endswith(".drv"):
            continue
        base = os.path.basename(drv)
        for suffix in ("", ".bz2"):
            log = NIX_LOG_DIR / base[:2] / (base[2:] + suffix)
            if log.exists() and log.stat().st_mtime >= since:
                count += 1
                break
    return count


def _nix_store(args: Sequence[str], env: dict[str, str]) -> list[str]:
    proc = subprocess.run(["nix-store", *args], env=env, capture_output=True, text=True,
                          check=True)
    return proc.stdout.split()


# --- the scenarios -------------------------------------------------------------------


def fresh_state(net: BenchNetwork) -> None:
    shutil.rmtree(net.root / ".nixvms", ignore_errors=True)
    (net.root / "result").unlink(missing_ok=True)


def gc_race(message: str) -> bool:
    return "missing derivation" in message or "don't know how to build" in message


def bench_size(
    size: int,
    repeat: int,
    full_repeat: int,
    workdir: Path,
    env: dict[str, str],
    nixpkgs: str | None,
    say: Log,
    retries: list[str],
) -> list[Row]:
    run_id = uuid.uuid4().hex[:8]
    ours = BenchNetwork(workdir / f"n{size}-nixvms", size, f"nixvms-{run_id}")
    theirs = BenchNetwork(workdir / f"n{size}-baseline", size, f"baseline-{run_id}")
    ours.write("0")
    theirs.write("0")
    extra = ["-I", f"nixpkgs={nixpkgs}"] if nixpkgs else []
    base_pkgs = nixpkgs or str(TINYOS)
    rows = {name: Row(size, name) for name in SCENARIOS}
    counter = iter(range(1, 1_000_000))

    def nixvms(scenario: str, jobs: int = 1, redo: Callable[[], None] | None = None) -> None:
        try:
            sample = run_nixvms(ours, env, jobs, extra)
        except BenchError as error:
            if redo is None or not gc_race(str(error)):
                raise
            # Another process collected garbage between an evaluation and its
            # build (nixvms does not root the .drv files it writes): rebuild,
            # unmeasured, and measure the step again with a new edit.
            say(f"  {size:>3} {scenario:<14} nixvms    lost a .drv to a GC; measuring again")
            retries.append(f"{size} {scenario}")
            run_nixvms(ours, env, jobs, extra)
            redo()
            sample = run_nixvms(ours, env, jobs, extra)
        rows[scenario].nixvms.samples.append(sample)
        say(f"  {size:>3} {scenario:<14} nixvms    {sample.seconds:8.3f} s "
            f"evals {sample.evaluations} builds {sample.builds} drvs {sample.drvs}")

    def baseline(scenario: str, max_jobs: int | None = None) -> None:
        sample = run_baseline(theirs, env, base_pkgs, max_jobs)
        rows[scenario].baseline.samples.append(sample)
        say(f"  {size:>3} {scenario:<14} baseline  {sample.seconds:8.3f} s "
            f"evals {sample.evaluations} builds {sample.builds} drvs {sample.drvs}")

    def both(scenario: str, runs: int, edit: Callable[[BenchNetwork, str], None] | None) -> None:
        def apply(net: BenchNetwork) -> None:
            if edit is not None:
                edit(net, str(next(counter)))

        for _ in range(runs):
            value = str(next(counter))
            if edit is not None:
                edit(ours, value)
                edit(theirs, value)
            nixvms(scenario, redo=lambda: apply(ours))
            baseline(scenario)

    # Warm-up, unmeasured: what every VM shares (kernel, busybox, ...) is built
    # or already in the store, so the cold runs build only the machines.
    run_nixvms(ours, env, 1, extra)
    run_baseline(theirs, env, base_pkgs)
    for _ in range(full_repeat):
        for scenario, jobs in (("cold", 1), ("cold -j 2", 2)):
            def cold() -> None:
                fresh_state(ours)
                ours.set_marker(f"cold-{next(counter)}")

            value = f"cold-{next(counter)}"
            fresh_state(ours)
            ours.set_marker(value)
            nixvms(scenario, jobs, redo=cold)
            fresh_state(theirs)
            theirs.set_marker(value)
            baseline(scenario, None if jobs == 1 else jobs)
    both("no-op", repeat, None)
    both("one machine", repeat, lambda net, v: net.edit_machine(net.names[0], v))
    both("shared module", full_repeat, lambda net, v: net.set_marker(f"shared-{v}"))
    both("comment", repeat, lambda net, v: net.add_comment(f"comment {v}"))
    return [rows[name] for name in SCENARIOS]


# --- the report ------------------------------------------------------------------------


def machine_info() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    nix = subprocess.run(["nix-store", "--version"], capture_output=True, text=True,
                         check=False).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "os": platform.platform(),
        "python": platform.python_version(),
        "nix": nix,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"


def table(rows: Sequence[Row]) -> str:
    head = (
        "| N | scenario | nixvms s | baseline s | nixvms/baseline | nixvms evals | "
        "nixvms builds | baseline builds (drvs) | drvs built nixvms / baseline | "
        "nixvms Nix calls | nixvms peak RSS MB | runs |\n"
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for row in rows:
        ours, theirs = row.nixvms, row.baseline
        rss = ours.rss_mb
        lines.append(
            f"| {row.size} | {row.scenario} | {_fmt_seconds(ours.seconds)} | "
            f"{_fmt_seconds(theirs.seconds)} | {row.ratio:.3f} | {ours.counts('evaluations')} | "
            f"{ours.counts('builds')} | {theirs.counts('builds')} | "
            f"{ours.counts('drvs')} / {theirs.counts('drvs')} | {ours.counts('nix_calls')} | "
            f"{'-' if rss is None else f'{rss:.1f}'} | {len(ours.samples)} |"
        )
    return head + "\n".join(lines) + "\n"


def targets(rows: Sequence[Row]) -> str:
    """Issue 7's targets, checked at the largest size measured."""
    size = max(row.size for row in rows)
    by = {row.scenario: row for row in rows if row.size == size}
    noop, edit, cold = by["no-op"], by["one machine"], by["cold -j 2"]
    rss = max((r.nixvms.rss_mb or 0.0) for r in rows if r.size == size)
    speedup = noop.baseline.seconds / noop.nixvms.seconds
    checks = [
        (f"no-op rebuild <= {TARGET_NOOP_SECONDS} s",
         noop.nixvms.seconds <= TARGET_NOOP_SECONDS, f"{noop.nixvms.seconds:.3f} s"),
        (f"no-op >= {TARGET_NOOP_SPEEDUP:.0f}x faster than the baseline",
         speedup >= TARGET_NOOP_SPEEDUP, f"{speedup:.1f}x"),
        ("one-machine edit: 1 evaluation, 1 build",
         edit.nixvms.single("evaluations") == 1 and edit.nixvms.single("builds") == 1,
         f"{edit.nixvms.counts('evaluations')} evaluation(s), "
         f"{edit.nixvms.counts('builds')} build(s)"),
        (f"cold with -j 2 <= {TARGET_COLD_RATIO}x the baseline (--max-jobs 2)",
         cold.ratio <= TARGET_COLD_RATIO, f"{cold.ratio:.2f}x"),
        (f"peak RSS of nixvms <= {TARGET_RSS_MB:.0f} MB",
         rss <= TARGET_RSS_MB, f"{rss:.1f} MB"),
    ]
    lines = [f"Targets (issue 7) at N = {size}:\n",
             "| target | measured | met |", "|---|---:|---|"]
    lines += [f"| {name} | {value} | {'yes' if ok else '**no**'} |"
              for name, ok, value in checks]
    return "\n".join(lines) + "\n"


def report(rows: Sequence[Row], info: dict[str, str], args_line: str) -> str:
    machine = (
        f"Run on {info['date']}: {info['nproc']} cores ({info['cpu']}), {info['ram']} RAM, "
        f"{info['os']}, Python {info['python']}, {info['nix']}; load average at the end "
        f"{info['load']} (other work on the machine shows in the times).\n"
        f"Command: `{args_line}`.\n"
    )
    return machine + "\n" + table(rows) + "\n" + targets(rows)


BEGIN = "<!-- bench results: begin -->"
END = "<!-- bench results: end -->"


def write_report(out: Path, text: str) -> None:
    """Replace the marked results section of `out` if it has one, else write `out`."""
    if out.exists():
        old = out.read_text()
        if BEGIN in old and END in old:
            before, rest = old.split(BEGIN, 1)
            _, after = rest.split(END, 1)
            out.write_text(f"{before}{BEGIN}\n{text}{END}{after}")
            return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"# nixvms benchmark results\n\n{text}")


# --- command line ---------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,5,20,50",
                        help="network sizes, comma separated (default 1,5,20,50)")
    parser.add_argument("--repeat", type=int, default=5,
                        help="runs per scenario (default 5; the median time is reported)")
    parser.add_argument("--full-repeat", default=None,
                        help="runs of the scenarios that rebuild every machine (cold, "
                             "cold -j 2, shared module): one number, or SIZE:N pairs like "
                             "20:3,50:3 (default: --repeat)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results.md",
                        help="the markdown file to write; a file with the results "
                             "markers (bench/README.md) gets that section replaced")
    parser.add_argument("--nixpkgs", default=None,
                        help="build with this nixpkgs instead of the bundled tinyos")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where to generate the networks (default: a temporary "
                             "directory, removed afterwards)")
    return parser.parse_args(argv)


def full_repeats(spec: str | None, sizes: Sequence[int], repeat: int) -> dict[int, int]:
    counts = dict.fromkeys(sizes, repeat)
    if spec is None:
        return counts
    for part in spec.split(","):
        if ":" in part:
            size, n = part.split(":", 1)
            counts[int(size)] = int(n)
        else:
            counts = dict.fromkeys(sizes, int(part))
    return counts


def main(argv: Sequence[str] | None = None, say: Log | None = None) -> list[Row]:
    args = parse_args(argv)
    log: Log = say or (lambda line: print(line, file=sys.stderr, flush=True))
    sizes = [int(s) for s in args.sizes.split(",") if s]
    fulls = full_repeats(args.full_repeat, sizes, args.repeat)
    env = bench_env()
    rows: list[Row] = []
    retries: list[str] = []
    with tempfile.TemporaryDirectory(prefix="nixvms-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        for size in sizes:
            log(f"N = {size}")
            started = time.perf_counter()
            rows += bench_size(size, args.repeat, fulls[size], workdir, env, args.nixpkgs, log,
                               retries)
            log(f"N = {size} took {time.perf_counter() - started:.0f} s")
    args_line = "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report(rows, machine_info(), args_line.strip())
    if retries:
        text += ("\nMeasured again after another process's garbage collection removed a "
                 f"nixvms .drv between its evaluation and its build: {', '.join(retries)}.\n")
    print(text)
    write_report(args.out, text)
    return rows


if __name__ == "__main__":
    main()
