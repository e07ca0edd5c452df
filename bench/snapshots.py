"""What snapshots cost and save: test reruns restored against booted, and the
time of `nixvms snapshot save`/`restore` by network size.

    .venv/bin/python -m bench.snapshots [--sizes 1,2,5] [--out FILE] [--json FILE]

Scenarios, in one run, on copies of examples/two-machines and its test
(examples/tests/two-machines.py):

no snapshots     `nixvms test --no-snapshots`: every machine boots (NixOS's way)
first run        `nixvms test` with no ready snapshot: boots, and snapshots each
                 machine once it is ready
unchanged        `nixvms test` again: every machine restored
one edited       one machine's file edited: that machine boots, the other is restored

then, per size N in --sizes, a network of N machines up (`nixvms up --detach`),
`nixvms snapshot save` and `nixvms snapshot restore` timed, and the disk
space each machine's snapshot took (the growth of its qcow2 disk). Times are
wall-clock seconds of the whole command, as a user waits for it; the ratios
are against `--no-snapshots` in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
NIXVMS = str(Path(sys.executable).parent / "nixvms")
MIB = 1024 * 1024


def run(*args: str, cwd: Path) -> float:
    """Run nixvms; its wall time (an error if it fails)."""
    began = time.monotonic()
    done = subprocess.run([NIXVMS, *args], cwd=cwd, capture_output=True, text=True,
                          check=False)
    took = time.monotonic() - began
    if done.returncode != 0:
        raise SystemExit(f"nixvms {' '.join(args)} failed ({done.returncode}):\n"
                         f"{done.stderr[-3000:]}")
    return took


def test_reruns(workdir: Path) -> dict[str, Any]:
    project = workdir / "two-machines"
    shutil.copytree(REPO / "examples" / "two-machines", project)
    shutil.copy(REPO / "examples" / "tests" / "two-machines.py", project / "test.py")
    run("build", cwd=project)
    times = {
        "no snapshots": run("test", "--no-snapshots", "test.py", cwd=project),
        "first run": run("test", "test.py", cwd=project),
        "unchanged": run("test", "test.py", cwd=project),
    }
    network = project / "network.nix"
    network.write_text(network.read_text().replace(
        "networking.firewall.enable = false;",
        'networking.firewall.enable = false; environment.etc.edited.text = "1";'))
    run("build", cwd=project)
    times["one edited"] = run("test", "test.py", cwd=project)
    sizes = {}
    for machine in ("client", "server"):
        ready = json.loads((project / ".nixvms" / "run" / machine / "ready.json").read_text())
        sizes[machine] = ready["data"]["size"]
    return {"times": times, "ready_sizes": sizes}


def network_of(size: int) -> str:
    machines = "\n".join(f"  m{i} = {{ ... }}: {{ }};" for i in range(1, size + 1))
    return ("{\n  defaults = { modulesPath, ... }: {\n    imports = [ (modulesPath + "
            "\"/testing/test-instrumentation.nix\") ];\n  };\n" + machines + "\n}\n")


def disk_bytes(project: Path) -> dict[str, int]:
    run_dir = project / ".nixvms" / "run"
    return {d.name: os.stat(d / f"{d.name}.qcow2").st_blocks * 512
            for d in run_dir.iterdir() if (d / f"{d.name}.qcow2").is_file()}


def save_restore(workdir: Path, size: int) -> dict[str, Any]:
    project = workdir / f"size-{size}"
    project.mkdir()
    (project / "network.nix").write_text(network_of(size))
    run("up", "--detach", "--timeout", "600", cwd=project)
    try:
        before = disk_bytes(project)
        save = run("snapshot", "save", cwd=project)
        after = disk_bytes(project)
        restore = run("snapshot", "restore", cwd=project)
    finally:
        subprocess.run([NIXVMS, "destroy"], cwd=project, capture_output=True, check=False)
    grown = [after[m] - before.get(m, 0) for m in after]
    return {"save": save, "restore": restore, "per_machine_bytes": sum(grown) / len(grown)}


def markdown(result: dict[str, Any]) -> str:
    times = result["reruns"]["times"]
    base = times["no snapshots"]
    lines = [
        "<!-- snapshots results begin -->",
        f"Measured {result['date']} on commit {result['commit']} (TCG, 2 shared cores).",
        "",
        "`nixvms test` of examples/two-machines with examples/tests/two-machines.py:",
        "",
        "| run | seconds | against --no-snapshots |",
        "|---|---|---|",
    ]
    for name in ("no snapshots", "first run", "unchanged", "one edited"):
        lines.append(f"| {name} | {times[name]:.1f} | {times[name] / base:.2f}x |")
    sizes = result["reruns"]["ready_sizes"]
    lines += ["", "Ready snapshot per machine (disk growth): " + ", ".join(
        f"{m} {b / MIB:.0f} MiB" for m, b in sorted(sizes.items())), "",
        "| machines | snapshot save (s) | snapshot restore (s) | disk per machine |",
        "|---|---|---|---|"]
    for size, row in sorted(result["sizes"].items(), key=lambda kv: int(kv[0])):
        lines.append(f"| {size} | {row['save']:.1f} | {row['restore']:.1f} | "
                     f"{row['per_machine_bytes'] / MIB:.0f} MiB |")
    lines.append("<!-- snapshots results end -->")
    return "\n".join(lines) + "\n"


def write_out(path: Path, text: str) -> None:
    """Replace the results section of `path` (or write the file)."""
    begin, end = "<!-- snapshots results begin -->", "<!-- snapshots results end -->"
    if path.exists() and begin in path.read_text():
        old = path.read_text()
        text = old[:old.index(begin)] + text.rstrip("\n") + old[old.index(end) + len(end):]
    path.write_text(text)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.snapshots")
    parser.add_argument("--sizes", default="1,2,5")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results-snapshots.json")
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True, check=False).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="nixvms-bench-snapshots-") as tmp:
        workdir = Path(tmp)
        result: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "commit": commit,
                                  "reruns": test_reruns(workdir), "sizes": {}}
        for size in (int(s) for s in args.sizes.split(",")):
            result["sizes"][str(size)] = save_restore(workdir, size)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    sys.stdout.write(text)
    if args.out:
        write_out(args.out, text)


if __name__ == "__main__":
    main()
