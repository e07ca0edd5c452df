"""Shell completion: `nixvms completion SHELL` and what it offers (no Nix runs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from nixvms import records
from nixvms.state import StateDir
from nixvms.supervisor import spec
from tests.conftest import BIN, nixvms, write
from tests.unit.test_facts import machine_facts


def complete(cwd: Path, *words: str) -> list[str]:
    """What bash completion offers for the last of `words` (as click's script asks)."""
    env = {**os.environ, "_NIXVMS_COMPLETE": "bash_complete",
           "COMP_WORDS": " ".join(("nixvms", *words)), "COMP_CWORD": str(len(words))}
    proc = subprocess.run([str(BIN / "nixvms")], cwd=cwd, env=env, capture_output=True,
                          text=True, check=True, timeout=60)
    return [line.partition(",")[2] for line in proc.stdout.splitlines() if line]


def built_project(project: Path, names: list[str]) -> Path:
    """A project whose last build (result/network.json) has these machines."""
    write(project / "network.nix", "{ }\n")
    machines = [machine_facts(name, number) for number, name in enumerate(names, 1)]
    write(project / "result" / "network.json", json.dumps(spec.network_data(machines)))
    return project


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_the_script_for_each_shell(shell: str, tmp_path: Path) -> None:
    run = nixvms("completion", shell, cwd=tmp_path)
    assert run.code == 0
    assert "_NIXVMS_COMPLETE" in run.stdout
    assert f"{shell}_complete" in run.stdout


def test_completion_of_an_unknown_shell_is_a_usage_error(tmp_path: Path) -> None:
    run = nixvms("completion", "tcsh", cwd=tmp_path)
    assert run.code == 2
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in run.stderr


def test_commands_are_completed(tmp_path: Path) -> None:
    assert complete(tmp_path, "gr") == ["graph"]
    assert complete(tmp_path, "lo") == ["log", "logs"]


def test_options_are_completed(tmp_path: Path) -> None:
    assert complete(tmp_path, "build", "--out") == ["--out-link"]


@pytest.mark.parametrize("command", ["ssh", "logs", "log", "console", "why", "stop"])
def test_machine_names_of_the_last_build_are_offered(command: str, project: Path) -> None:
    built_project(project, ["web", "db", "worker"])
    assert complete(project, command, "w") == ["web", "worker"]


def test_build_on_offers_machine_names(project: Path) -> None:
    built_project(project, ["web", "db"])
    assert complete(project, "build", "--on", "") == ["db", "web"]


def test_machine_names_are_offered_from_a_subdirectory(project: Path) -> None:
    built_project(project, ["web"])
    (project / "deep").mkdir()
    assert complete(project / "deep", "ssh", "") == ["web"]


def test_without_a_build_the_last_machine_listing_is_offered(project: Path) -> None:
    write(project / "network.nix", "{ }\n")
    state = StateDir.for_network(project / "network.nix")
    records.save(records.MachineList("params", ("alpha", "beta"), (), "stamp", "parse"),
                 state.machine_list_record)
    assert complete(project, "ssh", "") == ["alpha", "beta"]


def test_nothing_is_offered_outside_a_project(tmp_path: Path) -> None:
    assert complete(tmp_path, "ssh", "") == []


def test_a_broken_network_json_offers_nothing_rather_than_failing(project: Path) -> None:
    write(project / "network.nix", "{ }\n")
    write(project / "result" / "network.json", "{ not json")
    assert complete(project, "ssh", "") == []


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_machine_names_through_the_printed_script(project: Path) -> None:
    built_project(project, ["web", "db"])
    script = (f'source <("{BIN}/nixvms" completion bash); '
              f'COMP_WORDS=(nixvms ssh ""); COMP_CWORD=2; _nixvms_completion nixvms; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    proc = subprocess.run(["bash", "-c", script], cwd=project, capture_output=True,
                          text=True, check=True, timeout=60,
                          env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"})
    assert proc.stdout.split() == ["db", "web"]
