"""`nixvms up` on a running network converges it to the network file (real QEMU)."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nixvms.supervisor import runstate, statedir
from tests.conftest import Run, nixvms, write

pytestmark = [pytest.mark.nix, pytest.mark.vm]

BASE = """\
{
  server = { ... }: { networking.firewall.enable = false; };
  client = { ... }: { environment.etc."motd".text = "MOTD"; };
}
"""


class Project:
    def __init__(self, directory: Path, state: Path) -> None:
        self.directory = directory
        self.state = state  # the project's state directory (--state-dir)

    def nixvms(self, *args: str) -> Run:
        return nixvms(*args[:1], "--state-dir", str(self.state), *args[1:],
                      cwd=self.directory)

    def up(self, *args: str) -> Run:
        return self.nixvms("up", "--detach", *args)

    def write(self, text: str) -> None:
        write(self.directory / "network.nix", text)

    def pids(self) -> dict[str, int | None]:
        state = runstate.load(statedir.prepare(self.state / "run", create=False))
        assert state is not None
        return {name: (m.process.pid if m.process and m.phase.up else None)
                for name, m in state.machines.items()}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    short = Path(tempfile.mkdtemp(prefix="cv-"))
    p = Project(tmp_path_factory.mktemp("converge"), short / "s")
    p.write(BASE)
    first = p.up()
    assert first.code == 0, first.stderr
    yield p
    p.nixvms("stop")
    shutil.rmtree(short, ignore_errors=True)


def test_up_with_nothing_changed_exits_0_and_touches_nothing(project: Project) -> None:
    before = project.pids()
    again = project.up()
    assert again.code == 0, again.stderr
    assert "client: unchanged" in again.stdout and "server: unchanged" in again.stdout
    assert "all 2 machines are up; nothing changed" in again.stderr
    assert project.pids() == before


def test_an_edited_machine_is_restarted_alone_naming_what_changed(project: Project) -> None:
    before = project.pids()
    project.write(BASE.replace('"MOTD"', '"MOTD, edited"'))
    result = project.up()
    assert result.code == 0, result.stderr
    assert 'client: its system changed (environment.etc."motd")' in result.stdout
    assert "server: unchanged" in result.stdout
    after = project.pids()
    assert after["server"] == before["server"]
    assert after["client"] is not None and after["client"] != before["client"]
    ssh = project.nixvms("status")
    assert re.search(r"^client\s+running", ssh.stdout, re.MULTILINE), ssh.stdout


def test_dry_run_prints_the_plan_and_changes_nothing(project: Project) -> None:
    before = project.pids()
    project.write(BASE.replace('"MOTD"', '"MOTD, dry"'))
    result = project.up("--dry-run")
    assert result.code == 0, result.stderr
    assert 'client: its system changed (environment.etc."motd")' in result.stdout
    assert project.pids() == before


def test_added_and_removed_machines_are_started_and_stopped(project: Project) -> None:
    project.write(BASE.replace("client = ", "web = { ... }: { };\n  client = "))
    added = project.up()
    assert added.code == 0, added.stderr
    assert "web: new" in added.stdout
    assert project.pids()["web"] is not None
    project.write(BASE)
    removed = project.up()
    assert removed.code == 0, removed.stderr
    assert "web: removed from the network: stopping it" in removed.stdout
    assert "web" not in project.pids()


def test_up_starts_the_stopped_machines_of_a_running_network(project: Project) -> None:
    project.write(BASE)
    project.up()
    assert project.nixvms("stop", "client").code == 0
    result = project.up()
    assert result.code == 0, result.stderr
    assert "client: unchanged, stopped: starting it" in result.stdout
    assert project.pids()["client"] is not None


def test_dry_run_of_a_broken_network_file_is_one_error_and_the_network_runs(
        project: Project) -> None:
    before = project.pids()
    project.write("{ server = { ... }: { networking.firewall.enable = ; }; }\n")
    result = project.up("--dry-run")
    assert result.code == 1
    assert "Traceback" not in result.stderr
    assert project.pids() == before
    project.write(BASE)


def test_a_test_run_on_a_running_network_converges_it_by_the_same_rule(
        project: Project) -> None:
    before = project.pids()
    project.write(BASE.replace('"MOTD"', '"MOTD, via test"'))
    write(project.directory / "check.py",
          "client.succeed(\"grep -q 'MOTD, via test' /etc/motd\")\n")
    result = project.nixvms("test", "--keep-vms", "check.py")
    assert result.code == 0, result.stderr
    assert 'client: its system changed (environment.etc."motd")' in result.stderr
    after = project.pids()
    assert after["server"] == before["server"]
    assert after["client"] != before["client"]
    project.write(BASE)
