"""Shared fixtures: real networks in tmp directories, built with the real CLI."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _nix_cache_env() -> None:
    """Don't wait on unreachable binary caches (scripts/nix-cache-env decides)."""
    if "NIX_CONFIG" in os.environ:
        return
    probe = subprocess.run(
        ["bash", "-c", '. scripts/nix-cache-env; printf %s "${NIX_CONFIG-}"'],
        cwd=REPO, capture_output=True, text=True, check=False,
    )
    if probe.stdout:
        os.environ["NIX_CONFIG"] = probe.stdout


_nix_cache_env()


# The second tier runs a file per xdist worker at a time (--dist loadfile), in
# collection order (scripts/test: --no-loadscope-reorder; by default xdist
# starts the files with the most tests first). The files that take longest go
# first, so that the others fill the workers around them: test_property.py
# (two tests, ~10 min) started last and ran alone on one worker for its last
# ten minutes (CI of 2026-12-07, --durations). Longest first, from CI's
# per-file totals (junit, 2026-12-07 03:20, less what that day's cuts took).
LONGEST_FIRST = (
    "tests/test_lifecycle.py",
    "tests/test_property.py",
    "tests/test_hosts.py",
    "tests/test_bench.py",
    "tests/tinyos/test_boot.py",
    "tests/test_incremental.py",
    "tests/test_driver.py",
    "tests/test_nixos_tests.py",
    "tests/test_converge.py",
    "tests/test_faults.py",
    "tests/test_snapshots.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: n for n, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


def _interruptible_children() -> None:
    """Tests send SIGINT to what they start, as a terminal's Ctrl-C does. A suite
    started as a background job inherits SIGINT ignored, and so would every
    process it starts (an ignored signal stays ignored across exec): give the
    children the default disposition back."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


_interruptible_children()


def _private_runtime_dir() -> None:
    """nixvms keeps its KVM probe's answer in $XDG_RUNTIME_DIR: the suite's
    own, never the user's."""
    runtime = tempfile.mkdtemp(prefix="nixvms-tests-runtime-")
    os.environ["XDG_RUNTIME_DIR"] = runtime
    atexit.register(shutil.rmtree, runtime, ignore_errors=True)


_private_runtime_dir()


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    def tasks(self, kind: str) -> set[str]:
        """Machines for which this run did `kind` ("evaluating" or "building")."""
        return set(re.findall(rf"^{kind} (\S+)$", self.stderr, re.MULTILINE))

    @property
    def made_network(self) -> bool:
        return "making the network" in self.stderr.splitlines()


# What a build or a run leaves in an example directory: not part of the example.
LOCAL_STATE = shutil.ignore_patterns(".nixvms", "result", "vms-state")


def run_cli(program: str, *args: str, cwd: Path, env: dict[str, str] | None = None) -> Run:
    proc = subprocess.run(
        [str(BIN / program), *args], cwd=cwd, capture_output=True, text=True,
        env={**os.environ, **(env or {})}, check=False, timeout=900,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def nixvms(*args: str, cwd: Path) -> Run:
    return run_cli("nixvms", *args, cwd=cwd)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory."""
    directory = tmp_path / "project"
    directory.mkdir()
    return directory
