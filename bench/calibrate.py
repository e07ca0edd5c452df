"""The weight of one machine: what one evaluation costs in a Nix process of its own.

    .venv/bin/python -m bench.calibrate [--weight heavy] [--modules N ...]

Writes a network of one machine (bench/network.py) and instantiates it
through the baseline's glue (nixvms/nix/baseline.nix: machine.nix, the glue
nixvms evaluates each machine with, plus one tiny runCommand), `repeat`
times, and reports the
median CPU (user + system), wall time and peak RSS of that one Nix process.
For the heavy weight it also measures parsing alone: one Nix process that
imports every module file (a function, so nothing is evaluated but the
parse). bench.run prints this with every run; the generator's defaults
(bench/heavy.py) are tuned so that the heavy figures match what the issue
quotes for real NixOS.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.baseline import baseline_command
from bench.heavy import HeavySpec
from bench.measure import Measured, measure
from bench.network import BenchNetwork, Weight

REPO = Path(__file__).resolve().parent.parent
TINYOS = REPO / "nixvms" / "tinyos"

PARSE_NIX = """\
let files = (import {modules}/default.nix).imports;
in builtins.length (builtins.filter (f: builtins.isFunction (import f)) files)
"""


@dataclass(frozen=True)
class Calibration:
    weight: str
    files: int  # .nix files of the module set (0: light)
    nix_bytes: int  # their size
    eval_cpu: float  # one machine's evaluation, CPU seconds (user + system), median
    eval_wall: float
    eval_rss_mb: float  # its peak RSS, median
    parse_cpu: float | None  # parsing the module set alone, CPU seconds, median
    runs: int

    def line(self) -> str:
        size = (f"{self.files} module files, {self.nix_bytes / 1e6:.1f} MB of Nix; "
                if self.files else "")
        parse = f", {self.parse_cpu:.2f} s of it parsing" if self.parse_cpu is not None else ""
        return (f"Calibration ({self.weight}): {size}one machine evaluated in its own "
                f"Nix process: {self.eval_cpu:.2f} s CPU (wall {self.eval_wall:.2f} s), "
                f"peak RSS {self.eval_rss_mb:.0f} MB{parse} (median of {self.runs}).")


def _checked(result: Measured, what: str) -> Measured:
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{result.stderr[-3000:]}")
    return result


def calibrate(weight: Weight, workdir: Path, env: dict[str, str], nixpkgs: str | None = None,
              repeat: int = 3) -> Calibration:
    """Measure one machine of this weight (see the module's docstring)."""
    net = BenchNetwork(workdir / "calibration", 1, "calibration", weight)
    net.write("0")
    command = baseline_command("nix-instantiate", net.network_file, nixpkgs or str(TINYOS),
                               net.names)
    evals = [_checked(measure(command, net.root, env), "the calibration evaluation")
             for _ in range(repeat)]
    parse: float | None = None
    files = nix_bytes = 0
    if weight.heavy is not None:
        modules = Path(weight.store_path) if weight.store_path else net.root / "modules"
        nix_files = sorted(modules.rglob("*.nix"))
        files = len(nix_files)
        nix_bytes = sum(p.stat().st_size for p in nix_files)
        expr = net.root / "parse.nix"
        expr.write_text(PARSE_NIX.format(modules=modules))
        parses = [_checked(measure(["nix-instantiate", "--eval", str(expr)], net.root, env),
                           "the parse measurement") for _ in range(repeat)]
        parse = statistics.median(p.cpu_seconds for p in parses)
    return Calibration(
        weight=weight.name,
        files=files,
        nix_bytes=nix_bytes,
        eval_cpu=statistics.median(e.cpu_seconds for e in evals),
        eval_wall=statistics.median(e.seconds for e in evals),
        eval_rss_mb=statistics.median(e.max_rss_kb for e in evals) / 1024,
        parse_cpu=parse,
        runs=repeat,
    )


def heavy_spec_args(parser: argparse.ArgumentParser) -> None:
    """The generator's knobs as command-line options (bench.run has them too)."""
    default = HeavySpec()
    parser.add_argument("--modules", type=int, default=default.modules,
                        help=f"heavy: module files (default {default.modules})")
    parser.add_argument("--extra-options", type=int, default=default.extra_options,
                        help=f"heavy: plain options per module (default {default.extra_options})")
    parser.add_argument("--description-words", type=int, default=default.description_words,
                        help="heavy: words per option description "
                             f"(default {default.description_words})")
    parser.add_argument("--enabled-every", type=int, default=default.enabled_every,
                        help="heavy: one module in this many is enabled "
                             f"(default {default.enabled_every})")


def spec_from(args: argparse.Namespace) -> HeavySpec:
    return HeavySpec(modules=args.modules, extra_options=args.extra_options,
                     description_words=args.description_words,
                     enabled_every=args.enabled_every)


def main(argv: Sequence[str] | None = None) -> Calibration:
    from bench.run import bench_env

    parser = argparse.ArgumentParser(prog="python -m bench.calibrate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weight", choices=("light", "heavy"), default="heavy")
    parser.add_argument("--repeat", type=int, default=3)
    heavy_spec_args(parser)
    args = parser.parse_args(argv)
    weight = Weight(spec_from(args) if args.weight == "heavy" else None)
    with tempfile.TemporaryDirectory(prefix="nixvms-calibrate-") as tmp:
        result = calibrate(weight, Path(tmp), bench_env(), repeat=args.repeat)
    print(result.line(), file=sys.stdout)
    return result


if __name__ == "__main__":
    main()
