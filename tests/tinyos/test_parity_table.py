"""nixvms/tinyos/PARITY.md is the table of every option tinyos declares, made
from the module tree: current, complete, each option compared with NixOS's
default, and the tests it names for an option's runtime effect exist."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.tinyos.conftest import REPO, TINYOS, run_nix

pytestmark = pytest.mark.nix

GENERATOR = TINYOS / "nixos" / "lib" / "parity.py"
FACTS = TINYOS / "nixos" / "lib" / "parity-nixos.json"


def declared_options() -> list[str]:
    res = run_nix("nix-instantiate", "--eval", "--strict", "--json",
                  str(TINYOS / "nixos" / "lib" / "parity-options.nix"))
    assert res.code == 0, res.stderr
    return [o["name"] for o in json.loads(res.stdout)]


def test_parity_table_is_current(debs_ready: None) -> None:
    proc = subprocess.run([sys.executable, str(GENERATOR), "--check"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_every_declared_option_has_a_row(debs_ready: None) -> None:
    table = (TINYOS / "PARITY.md").read_text()
    rows = set(re.findall(r"^\| `([^`]+)` \|", table, re.M))
    options = declared_options()
    assert len(options) > 200
    assert set(options) == rows


def test_every_option_is_compared_with_nixos_default(debs_ready: None) -> None:
    facts = json.loads(FACTS.read_text())
    assert [o for o in declared_options() if "nixos" not in facts.get(o, {})] == []


def test_named_runtime_tests_exist() -> None:
    facts = json.loads(FACTS.read_text())
    for option, fact in facts.items():
        for ref in fact.get("tests", []):
            path, _, name = ref.partition("::")
            assert re.search(rf"^def {re.escape(name)}\(", (REPO / path).read_text(), re.M), \
                f"{option}: {ref}"


def test_an_option_without_runtime_test_is_listed_as_such() -> None:
    table = (TINYOS / "PARITY.md").read_text()
    untested = [line for line in table.splitlines() if line.endswith("| **none** |")]
    assert untested and all(line.startswith("| `") for line in untested)
