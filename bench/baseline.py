"""The baseline's command: one nix-build (or nix-instantiate) of the whole network.

tinyos's Debian files are given as nixvms gives them (`-I
nixvms-tinyos-debs=...`, where nixvms has it). `nixvms/nix/baseline.nix`
computes a default address plan of its own; when
nixvms's Python can make the plan (nixvms.network.make_plan, the code nixvms
itself passes to every evaluation), the bench passes that one instead
(`--argstr planJSON`), so that the baseline keeps evaluating exactly what
nixvms evaluates even while the plan's format changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BASELINE_NIX = REPO / "nixvms" / "nix" / "baseline.nix"


def plan_json(names: Sequence[str]) -> str | None:
    """nixvms's address plan for machines of default VLAN and hostName, if it says."""
    try:
        from nixvms.network import make_plan, number_machines
    except ImportError:
        return None
    try:
        plan = make_plan(number_machines(names), {}, "")
    except (TypeError, AttributeError):
        return None
    # A method in some versions of nixvms, a cached property in others.
    value: object = getattr(plan, "as_json", None)
    if callable(value):
        value = value()
    return value if isinstance(value, str) else None


def tinyos_search_path() -> list[str]:
    """The `-I` nixvms gives Nix for tinyos's Debian files, in nixvms versions that have one.

    Since tinyos's manifest of Debian files moved to the user's data
    directory, tinyos finds it as <nixvms-tinyos-debs>; nixvms passes it to
    every Nix call, so the baseline must too.
    """
    try:
        from nixvms import nix
    except ImportError:
        return []
    prefix = getattr(nix, "TINYOS_MANIFEST_PREFIX", None)
    manifest = getattr(nix, "tinyos_manifest", None)
    if not isinstance(prefix, str) or not callable(manifest):
        return []
    path = manifest()
    return ["-I", f"{prefix}={path}"] if isinstance(path, Path) and path.exists() else []


def baseline_command(tool: str, network_file: Path, nixpkgs: str,
                     names: Sequence[str]) -> list[str]:
    """`tool` (nix-build or nix-instantiate) of baseline.nix for this network."""
    command = [tool, str(BASELINE_NIX),
               "--arg", "networkFile", str(network_file),
               "--arg", "nixpkgs", nixpkgs, *tinyos_search_path()]
    plan = plan_json(names)
    if plan is not None:
        command += ["--argstr", "planJSON", plan]
    return command
