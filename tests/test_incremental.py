"""Incremental builds with real Nix: each run redoes exactly the work its edits call for."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import LOCAL_STATE, REPO, Run, nixvms, write

pytestmark = pytest.mark.nix

NETWORK = """\
{
  alpha = import ./machines/alpha.nix;
  beta = import ./machines/beta.nix;
}
"""

MACHINE = """\
{ pkgs, ... }: {
  environment.etc."motd".text = "{motd}";
}
"""


# Each test's VMs are its own store paths (a unique text in each), so that
# collecting one test's garbage is not blocked by another test's roots.
RUN_ID = uuid.uuid4().hex

# The manual's style: machines inline in network.nix, with a shared binding.
INLINE = """\
let shared = "shared v1"; in
{{
  alpha = {{ ... }}: {{ environment.etc.motd.text = "{alpha} " + shared; }};
  beta = {{ ... }}: {{ environment.etc.motd.text = "{beta} " + shared; }};
}}
""".replace("shared v1", f"shared v1 {RUN_ID}")


def machine_file(motd: str) -> str:
    return MACHINE.replace("{motd}", f"{motd} {RUN_ID}")


@pytest.fixture
def network(project: Path) -> Path:
    """A two-machine network with one file per machine, built once."""
    write(project / "network.nix", NETWORK)
    write(project / "machines" / "alpha.nix", machine_file(f"alpha {project}"))
    write(project / "machines" / "beta.nix", machine_file(f"beta {project}"))
    first = nixvms("build", cwd=project)
    assert first.code == 0, first.stderr
    assert first.tasks("evaluating") == {"alpha", "beta"}
    assert first.tasks("building") == {"alpha", "beta"}
    return project


def result_target(project: Path) -> str:
    return os.readlink(project / "result")


def store_closure(path: str) -> list[str]:
    out = subprocess.run(["nix-store", "--query", "--requisites", path],
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_example_network_builds(tmp_path: Path) -> None:
    example = tmp_path / "two-machines"
    shutil.copytree(REPO / "examples" / "two-machines", example, ignore=LOCAL_STATE)
    run = nixvms("build", cwd=example)
    assert run.code == 0, run.stderr
    result = example / "result"
    assert os.access(result / "bin" / "run-vms", os.X_OK)
    assert os.readlink(result / "bin" / "nixos-run-vms") == "run-vms"  # the manual's name
    description = json.loads((result / "network.json").read_text())
    machines = {m["name"]: m for m in description["machines"]}
    assert set(machines) == {"client", "server"}
    assert machines["server"]["addresses"][0]["ip"] == "192.168.1.2"
    for name in ("client", "server"):
        assert (result / "vms" / name / "bin" / f"run-{name}-vm").exists()


def test_second_build_runs_no_eval_and_no_build(network: Path) -> None:
    before = result_target(network)
    run = nixvms("build", cwd=network)
    assert run.code == 0, run.stderr
    assert run.tasks("evaluating") == set()
    assert run.tasks("building") == set()
    assert not run.made_network
    assert result_target(network) == before


def test_editing_one_machine_file_redoes_only_that_machine(network: Path) -> None:
    write(network / "machines" / "beta.nix", machine_file("beta, edited"))
    run = nixvms("build", cwd=network)
    assert run.code == 0, run.stderr
    assert run.tasks("evaluating") == {"beta"}
    assert run.tasks("building") == {"beta"}
    assert run.made_network


def test_touching_a_file_without_change_redoes_nothing(network: Path) -> None:
    os.utime(network / "machines" / "alpha.nix")
    run = nixvms("build", cwd=network)
    assert run.tasks("evaluating") == set()


def test_a_comment_in_the_network_file_evaluates_nothing(network: Path) -> None:
    before = result_target(network)
    write(network / "network.nix", "# a comment\n" + NETWORK)
    run = nixvms("build", cwd=network)
    assert run.code == 0, run.stderr
    assert run.tasks("evaluating") == set()
    assert run.tasks("building") == set()
    assert result_target(network) == before
    again = nixvms("build", "-v", cwd=network)
    assert "$ nix-" not in again.stderr, again.stderr  # the new stamp was remembered


def test_editing_one_inline_machine_evaluates_only_that_machine(tmp_path: Path) -> None:
    project = tmp_path / "inline"
    write(project / "network.nix", INLINE.format(alpha="alpha v1", beta="beta v1"))
    assert nixvms("build", cwd=project).code == 0
    write(project / "network.nix", INLINE.format(alpha="alpha v2", beta="beta v1"))
    run = nixvms("build", cwd=project)
    assert (run.tasks("evaluating"), run.tasks("building")) == ({"alpha"}, {"alpha"}), run.stderr


def test_editing_a_shared_binding_of_the_network_file_evaluates_every_machine(
        tmp_path: Path) -> None:
    project = tmp_path / "inline"
    write(project / "network.nix", INLINE.format(alpha="alpha v1", beta="beta v1"))
    assert nixvms("build", cwd=project).code == 0
    write(project / "network.nix",
          INLINE.format(alpha="alpha v1", beta="beta v1").replace("shared v1", "shared v2"))
    run = nixvms("build", cwd=project)
    assert run.tasks("evaluating") == {"alpha", "beta"}, run.stderr


def test_a_machine_reading_another_through_nodes_follows_its_edits(tmp_path: Path) -> None:
    project = tmp_path / "nodes"
    text = """{{
  alpha = {{ nodes, ... }}: {{
    environment.etc.peer.text = nodes.beta.config.environment.etc.motd.text;
  }};
  beta = {{ ... }}: {{ environment.etc.motd.text = "{beta}"; }};
}}
"""
    write(project / "network.nix", text.format(beta=f"beta v1 {RUN_ID}"))
    assert nixvms("build", cwd=project).code == 0
    write(project / "network.nix", text.format(beta=f"beta v2 {RUN_ID}"))
    run = nixvms("build", cwd=project)
    assert run.tasks("evaluating") == {"alpha", "beta"}, run.stderr


def test_adding_a_machine_renumbers_and_rebuilds_all(network: Path) -> None:
    write(network / "machines" / "aardvark.nix", machine_file("aardvark"))
    added = "{\n  aardvark = import ./machines/aardvark.nix;\n"
    write(network / "network.nix", NETWORK.replace("{\n", added, 1))
    run = nixvms("build", cwd=network)
    assert run.code == 0, run.stderr
    assert run.tasks("evaluating") == {"aardvark", "alpha", "beta"}
    description = json.loads((network / "result" / "network.json").read_text())
    assert [m["name"] for m in description["machines"]] == ["aardvark", "alpha", "beta"]


def test_collected_vm_is_rebuilt_alone(network: Path) -> None:
    record = json.loads(
        (network / ".nixvms" / "records" / "build" / "alpha.json").read_text())["data"]
    (network / ".nixvms" / "gcroots" / "vm-alpha").unlink()
    (network / "result").unlink()
    (network / ".nixvms" / "gcroots" / "network").unlink()
    # Collect alpha's VM and what refers to it (the network directory and its .drv).
    referrers = subprocess.run(
        ["nix-store", "--query", "--referrers-closure", record["out_path"]],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    subprocess.run(["nix-store", "--delete", *referrers],
                   capture_output=True, text=True, check=True)
    assert not Path(record["out_path"]).exists()
    run = nixvms("build", cwd=network)
    assert run.code == 0, run.stderr
    assert run.tasks("building") == {"alpha"}
    assert Path(record["out_path"]).exists()


def test_garbage_collection_keeps_the_network_result_points_at(network: Path) -> None:
    shutil.rmtree(network / ".nixvms")
    closure = store_closure(result_target(network))
    vms = json.loads((network / "result" / "network.json").read_text())["machines"]
    assert all(m["vm"] in closure for m in vms)
    # A dry run: a store-wide collection would take what other users of the
    # store (concurrent tests, the user's own builds) have not rooted yet.
    dead = subprocess.run(["nix-store", "--gc", "--print-dead"],
                          capture_output=True, text=True, check=True).stdout.split()
    assert set(closure).isdisjoint(dead)


def test_deleted_state_means_a_full_rebuild_without_error(network: Path) -> None:
    shutil.rmtree(network / ".nixvms")
    run = nixvms("build", cwd=network)
    assert run.code == 0, run.stderr
    assert run.tasks("evaluating") == {"alpha", "beta"}


def test_no_out_link_prints_the_store_path(network: Path) -> None:
    (network / "result").unlink()
    run: Run = nixvms("build", "--no-out-link", cwd=network)
    assert run.code == 0, run.stderr
    assert run.stdout.strip().startswith("/nix/store/")
    assert not (network / "result").exists()


def test_failed_build_keeps_the_previous_result(network: Path) -> None:
    before = result_target(network)
    write(network / "machines" / "beta.nix", "{ ... }: { networking.noSuchOption = 1; }\n")
    run = nixvms("build", cwd=network)
    assert run.code == 1
    assert "networking.noSuchOption" in run.stderr
    assert "Traceback" not in run.stderr
    assert result_target(network) == before


def test_corrupt_state_database_is_set_aside_and_rebuilt(network: Path) -> None:
    before = result_target(network)
    (network / ".nixvms" / "doit.db").write_bytes(b"this is not a database" * 100)
    run = nixvms("build", cwd=network)
    assert run.code == 0, run.stderr
    assert "state database was unreadable" in run.stderr
    assert "Traceback" not in run.stderr
    assert result_target(network) == before
    again = nixvms("build", cwd=network)
    assert again.tasks("evaluating") == set()


def test_clean_removes_nixvms_roots_but_not_result(network: Path) -> None:
    run = nixvms("clean", cwd=network)
    assert run.code == 0, run.stderr
    assert list((network / ".nixvms" / "gcroots").iterdir()) == []
    assert (network / "result").is_symlink()
