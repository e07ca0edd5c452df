"""The daily commands on a running network: ssh-config, exec, cp, logs, status, start.

One network (real QEMU) serves them all: `server` runs an ssh server,
`client` none (exec and cp reach it through the test backdoor).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BIN, Run, nixvms, write
from tests.terminal import Terminal

pytestmark = [pytest.mark.nix, pytest.mark.vm]

NETWORK = """\
{
  defaults = { modulesPath, ... }: {
    imports = [ (modulesPath + "/testing/test-instrumentation.nix") ];
  };
  server = { ... }: {
    services.openssh.enable = true;
    networking.firewall.enable = false;
    deployment.targetHost = "server.example.net";
  };
  client = { ... }: { deployment.tags = [ "edge" ]; };
}
"""


class Project:
    def __init__(self, directory: Path, state: Path) -> None:
        self.directory = directory
        self.state = state
        self.first_up = Run(0, "", "")

    def run(self, command: str, *args: str) -> Run:
        return nixvms(command, "--state-dir", str(self.state), *args, cwd=self.directory)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    short = Path(tempfile.mkdtemp(prefix="dy-"))
    p = Project(tmp_path_factory.mktemp("daily"), short / "s")
    write(p.directory / "network.nix", NETWORK)
    p.first_up = p.run("up", "--detach")
    assert p.first_up.code == 0, p.first_up.stderr
    yield p
    p.run("stop")
    shutil.rmtree(short, ignore_errors=True)


def test_booting_shows_each_machines_stages_before_it_is_ready(project: Project) -> None:
    """Off a terminal: a plain line per stage (on one, the same as live lines)."""
    err = project.first_up.stderr
    for machine in ("client", "server"):
        kernel = err.find(f"{machine}: kernel (")
        init = err.find(f"{machine}: init (")
        ready = project.first_up.stdout.find(f"{machine} ready in")
        assert kernel >= 0 and init > kernel, err
        assert ready >= 0, project.first_up.stdout


def test_booting_on_a_terminal_draws_live_lines_with_the_stage_and_console(
        project: Project, tmp_path: Path) -> None:
    from tests.test_lifecycle import in_terminal

    assert project.run("stop", "client").code == 0
    shown = in_terminal([str(BIN / "nixvms"), "start", "--state-dir", str(project.state),
                         "client"], cwd=project.directory, answer=b"", timeout=300)
    assert "client ready in" in shown, shown
    before_ready = shown.split("client ready in")[0]
    assert "kernel" in before_ready or "init" in before_ready, shown
    assert "\x1b[" in before_ready  # drawn: colours and cursor movements


def ssh_with_config(config: str, tmp_path: Path, host: str, command: str) -> int:
    path = tmp_path / "ssh_config"
    path.write_text(config)
    return subprocess.run(["ssh", "-F", str(path), "-o", "BatchMode=yes", host, command],
                          capture_output=True, timeout=60, check=False).returncode


def test_ssh_config_entries_reach_the_machine_and_survive_stop_and_up(
        project: Project, tmp_path: Path) -> None:
    config = project.run("ssh-config")
    assert config.code == 0, config.stderr
    assert re.search(r"^Host server server\.example\.net$", config.stdout, re.MULTILINE)
    assert "Host client" not in config.stdout  # no ssh server there
    assert ssh_with_config(config.stdout, tmp_path, "server", "true") == 0
    assert project.run("stop").code == 0  # the whole network, then up again
    assert project.run("up", "--detach").code == 0
    again = project.run("ssh-config", "server")
    assert again.stdout == config.stdout  # the same port: a copied entry stays right
    assert ssh_with_config(config.stdout, tmp_path, "server.example.net", "true") == 0


def test_exec_runs_on_every_machine_prefixed_and_fails_if_one_fails(project: Project) -> None:
    result = project.run("exec", "--", "hostname; test \"$(hostname)\" = server")
    assert result.code == 1
    assert re.search(r"^client \| client$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^server \| server$", result.stdout, re.MULTILINE), result.stdout
    assert "client: exit status 1" in result.stderr
    assert "server: ok" in result.stderr
    assert "error: 1 of 2 machines failed" in result.stderr


def test_exec_on_a_tag_runs_only_there(project: Project) -> None:
    result = project.run("exec", "--on", "@edge", "--", "hostname")
    assert result.code == 0, result.stderr
    assert result.stdout == "client | client\n"


def test_exec_on_an_unknown_tag_is_one_clear_line(project: Project) -> None:
    result = project.run("exec", "--on", "@nosuchtag", "--", "true")
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [
        "error: --on @nosuchtag: no machine has the tag 'nosuchtag' (deployment.tags)"]


def test_cp_a_file_with_spaces_to_and_from_a_machine_without_openssh(
        project: Project, tmp_path: Path) -> None:
    source = tmp_path / "a file with spaces.txt"
    source.write_bytes(b"hello \x00\xff there\n")
    sent = project.run("cp", str(source), "client:/tmp/")
    assert sent.code == 0, sent.stderr
    assert "client: copied" in sent.stderr and "MB/s" in sent.stderr
    back = tmp_path / "back.txt"
    got = project.run("cp", "client:/tmp/a file with spaces.txt", str(back))
    assert got.code == 0, got.stderr
    assert back.read_bytes() == source.read_bytes()


def test_cp_r_copies_a_directory_from_a_machine(project: Project, tmp_path: Path) -> None:
    assert project.run("exec", "--on", "client", "--",
                       "mkdir -p /tmp/tree/sub && echo a > /tmp/tree/sub/f").code == 0
    refused = project.run("cp", "client:/tmp/tree", str(tmp_path / "t"))
    assert refused.code == 1 and "-r copies directories" in refused.stderr
    result = project.run("cp", "-r", "client:/tmp/tree", str(tmp_path / "t"))
    assert result.code == 0, result.stderr
    assert (tmp_path / "t" / "sub" / "f").read_text() == "a\n"


def test_cp_to_an_unknown_machine_or_a_missing_path_is_one_clear_line(
        project: Project, tmp_path: Path) -> None:
    unknown = project.run("cp", "nosuch:/etc/hosts", str(tmp_path / "x"))
    assert unknown.code == 2
    assert len(unknown.stderr.strip().splitlines()) == 1
    assert "no machine named 'nosuch'" in unknown.stderr
    missing = project.run("cp", "client:/no/such/file", str(tmp_path / "x"))
    assert missing.code == 1
    assert missing.stderr.strip() == "error: /no/such/file does not exist on the machine"


def test_logs_of_every_machine_are_prefixed(project: Project) -> None:
    result = project.run("logs", "-n", "5")
    assert result.code == 0, result.stderr
    prefixes = {line.split(" | ", 1)[0].strip() for line in result.stdout.splitlines()}
    assert prefixes == {"client", "server"}


def test_status_of_one_machine_shows_its_row_only(project: Project) -> None:
    result = project.run("status", "client")
    assert result.code == 0, result.stderr
    rows = [line.split()[0] for line in result.stdout.splitlines()[2:]]
    assert rows == ["client"]


def test_start_without_names_starts_every_stopped_machine(project: Project) -> None:
    assert project.run("stop", "client").code == 0
    result = project.run("start")
    assert result.code == 0, result.stderr
    assert "client ready in" in result.stdout
    assert re.search(r"^client\s+running", project.run("status").stdout, re.MULTILINE)


def test_root_logs_in_on_the_serial_console(project: Project) -> None:
    """As on NixOS test VMs: `nixvms console`, then root, then a shell."""
    term = Terminal([str(BIN / "nixvms"), "console", "--state-dir", str(project.state),
                     "client"], project.directory)
    try:
        assert term.until(b"press Ctrl-] to detach"), term.seen
        term.write(b"\r")
        assert term.until(b"login:"), term.seen
        term.write(b"root\r")
        term.until(b"#", timeout=10)
        term.write(b"echo logged-in-as-$(id -un)-$((20+22))\r")
        assert term.until(b"logged-in-as-root-42"), term.seen
        term.write(b"exit\r\x1d")
        assert term.until(b"detached from client's console"), term.seen
    finally:
        term.close()
