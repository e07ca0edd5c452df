"""Run the nixvms command line in this process and report its peak memory.

`python bench/nixvms_rss.py build ...` is `nixvms build ...` (the console
script does the same import and call), plus one line on stderr at exit:
`bench: maxrss-kb <n>`, the peak resident set size of this Python process
alone (RUSAGE_SELF: the Nix processes it starts are not counted). At start
it also writes `bench: default-eval-limit-kb <n>`, the memory bound nixvms
takes without --max-eval-memory (budget.default_limit_kb(), which follows
the memory available), read just before nixvms starts.
"""

from __future__ import annotations

import atexit
import os
import resource
import sys

RSS_PREFIX = "bench: maxrss-kb "
LIMIT_PREFIX = "bench: default-eval-limit-kb "


def _report() -> None:
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    sys.stderr.write(f"{RSS_PREFIX}{maxrss}\n")
    sys.stderr.flush()


def main() -> None:
    atexit.register(_report)
    # Run as a script, this directory is sys.path[0]: drop it so that the
    # bench's own modules cannot shadow anything nixvms imports.
    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    from nixvms.cli import nixvms  # imported after the hook: its cost is counted

    try:
        from nixvms.budget import default_limit_kb
    except ImportError:  # a nixvms from before the memory bound
        pass
    else:
        sys.stderr.write(f"{LIMIT_PREFIX}{default_limit_kb()}\n")

    sys.argv[0] = "nixvms"
    nixvms()


if __name__ == "__main__":
    main()
