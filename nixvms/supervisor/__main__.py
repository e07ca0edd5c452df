"""Run the supervisor's command line (run-vms) from this directory.

Works as `python3 -m nixvms.supervisor` and as `python3 <dir>/__main__.py`,
the way result/bin/run-vms runs the copy in the network directory (then the
package is loaded from this file's directory under the name nixvms_supervisor).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys


def _main_module() -> object:
    if __package__:
        return importlib.import_module(f"{__package__}.main")
    directory = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        "nixvms_supervisor", os.path.join(directory, "__init__.py"),
        submodule_search_locations=[directory],
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"run-vms: cannot load the supervisor from {directory}")
    package = importlib.util.module_from_spec(spec)
    sys.modules["nixvms_supervisor"] = package
    spec.loader.exec_module(package)
    return importlib.import_module("nixvms_supervisor.main")


if __name__ == "__main__":
    sys.exit(_main_module().main(sys.argv[1:]))  # type: ignore[attr-defined]
