"""NixOS test files: what `nixvms test FILE.nix` reads of one before it runs it.

A NixOS test (nixpkgs' nixos/lib/testing: `{ name; nodes; defaults;
testScript; ... }`, as a runTest module or through make-test-python.nix) is
a network file too: nixvms/nix/network-file.nix reads its nodes as the
machines and `defaults` as every machine's module, so the machines are
built through the same per-machine graph as a network's. What else the test
says (its name, options, script) comes from nixvms/nix/test-info.nix, read
here through nix.py.
"""

from __future__ import annotations

import importlib.metadata
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nixvms import context, nix
from nixvms.errors import NixvmsError
from nixvms.keys import project_key
from nixvms.network import make_plan, number_machines
from nixvms.state import StateDir


class TestFileError(NixvmsError):
    """A NixOS test file nixvms cannot run as it is (an option it does not
    support, a Python package the host lacks)."""


@dataclass(frozen=True)
class TestInfo:
    """A NixOS test, as test-info.nix describes it."""

    file: Path
    name: str
    node_names: tuple[str, ...]
    skip_lint: bool
    skip_type_check: bool
    global_timeout: int
    enable_ocr: bool
    script_is_function: bool
    test_script: str | None  # None: a function of `nodes`, read after the build
    extra_python_packages: tuple[str, ...]

    @classmethod
    def from_data(cls, file: Path, data: dict[str, Any]) -> TestInfo:
        return cls(
            file=file,
            name=str(data.get("name") or file.stem),
            node_names=tuple(str(n) for n in data.get("nodeNames") or ()),
            skip_lint=bool(data.get("skipLint")),
            skip_type_check=bool(data.get("skipTypeCheck")),
            global_timeout=int(data.get("globalTimeout") or 3600),
            enable_ocr=bool(data.get("enableOCR")),
            script_is_function=bool(data.get("scriptIsFunction")),
            test_script=data.get("testScript") if isinstance(data.get("testScript"), str)
            else None,
            extra_python_packages=tuple(str(p) for p in data.get("extraPythonPackages") or ()),
        )


def host_python_packages() -> list[str]:
    """The distributions the Python running nixvms has, by every name a
    nixpkgs python3Packages attribute may give them (lower case, - and _)."""
    names: set[str] = set()
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        names.add(name)
        lower = name.lower()
        names.update({lower, lower.replace("-", "_"), lower.replace("_", "-")})
    return sorted(names)


_MISSING_ATTRIBUTE = re.compile(r"attribute '([^']+)' missing")


def read_test(file: Path, nixpkgs: str, settings: nix.NixSettings,
              plan_json: str | None = None) -> TestInfo:
    """Evaluate a NixOS test file's description; TestFileError for an option
    nixvms does not support or a Python package the host lacks."""
    path = str(file.resolve())
    data = nix.evaluate_test(path, nixpkgs, settings, plan_json)
    unsupported = [str(u) for u in data.get("unsupported") or ()]
    if unsupported:
        raise TestFileError(
            f"{file}: nixvms does not support the NixOS test option"
            f"{'s' if len(unsupported) > 1 else ''} {', '.join(unsupported)} (it runs name, "
            "nodes, defaults, testScript, skipLint, skipTypeCheck, globalTimeout, "
            "extraPythonPackages, enableOCR, meta, passthru and interactive.nodes)")
    if data.get("hasExtraPythonPackages"):
        try:
            data = nix.evaluate_test(path, nixpkgs, settings, plan_json,
                                     host_python=host_python_packages())
        except nix.NixError as error:
            missing = _MISSING_ATTRIBUTE.search(error.message)
            if missing is None:
                raise
            raise TestFileError(
                f"{file}: extraPythonPackages asks for the Python package {missing[1]}, which "
                "the Python running nixvms does not have (the test script runs in it: "
                f"install {missing[1]} there, e.g. with pip)") from None
    return TestInfo.from_data(file, data)


def plan_json(file: Path, state_dir: Path | None, names: tuple[str, ...]) -> str:
    """The address plan the test's machines were last built with (as the
    build made it: context.prepare)."""
    state = StateDir.for_network(file, state_dir)
    naming, _memory = context.recorded_naming(state, tuple(sorted(names)))
    return make_plan(number_machines(names), naming, project_key(state).public_key).as_json


def interactive_file(file: Path, state_dir: Path | None) -> Path:
    """The file an interactive run builds: the test with its interactive.nodes
    applied (nixos-test.nix reads the wrapper), in the project's state."""
    state = StateDir.for_network(file, state_dir)
    wrapper = state.root / "interactive" / f"{file.stem}.nix"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    text = ("# Made by `nixvms test --interactive`: the test with interactive.nodes.\n"
            f"{{ __nixvmsInteractive = import {nix_path(file.resolve())}; }}\n")
    if not wrapper.exists() or wrapper.read_text() != text:
        wrapper.write_text(text)
    return wrapper


def nix_path(path: Path) -> str:
    """An absolute path as a Nix expression (a string path if it needs quoting)."""
    text = str(path)
    if re.fullmatch(r"[A-Za-z0-9._+/-]+", text):
        return text
    return '(/. + "' + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '")'
