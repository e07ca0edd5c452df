"""Profile one `nixvms build` by CPU time, not wall time.

    cd <a built network> && python -m bench.profile [--top 30] [nixvms build arguments]

On a machine whose cores are shared (here: other engineers' VMs on 2 cores),
a wall-clock profiler (pyinstrument) mostly measures waiting for a core.
This runs the nixvms command line in this process under cProfile with
`time.process_time` as its clock, so each function's figure is the CPU it
used, and prints the functions with the most cumulative CPU, then the
process's CPU and peak RSS. Imports are included (nixvms.cli is imported
under the profiler). Nix processes nixvms starts are not in the profile
(their CPU is not this process's).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import resource
import sys
import time
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top", type=int, default=30, help="functions to print (default 30)")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key")
    args, rest = parser.parse_known_args(argv)
    profiler = cProfile.Profile(time.process_time)
    start = time.process_time()
    profiler.enable()
    code = 0
    try:
        from nixvms.cli import nixvms

        sys.argv = ["nixvms", "build", *rest]
        nixvms()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 0
    finally:
        profiler.disable()
    cpu = time.process_time() - start
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"process CPU {cpu:.3f} s, peak RSS {maxrss / 1024:.1f} MB, exit {code}")


if __name__ == "__main__":
    main()
