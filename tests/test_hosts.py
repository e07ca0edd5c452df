"""A network over two hosts (issue 27, points 1 and 2): machine a here, machine b
on "another host" that is this machine over an sshd on 127.0.0.1 with a state
directory of its own. `nixvms up` copies the network there (nix-copy-closure),
starts a supervisor there over ssh, and joins VLANs 1 and 2 with a cable each.
One network, booted once; the last test cuts it and stops it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.sshd import SSHD, running_sshd
from tests.conftest import nixvms, write

pytestmark = [pytest.mark.nix, pytest.mark.vm]


class TwoHosts:
    def __init__(self, project: Path, state: Path) -> None:
        self.project = project
        self.state = ["--state-dir", str(state)]
        self.run = state / "run"


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoHosts]:
    if not SSHD.exists() or os.geteuid() != 0:
        pytest.skip("needs openssh-server and root (sshd's privilege separation)")
    project = tmp_path_factory.mktemp("hosts")
    short = Path(tempfile.mkdtemp(prefix="hosts-"))
    with running_sshd(short / "sshd") as sshd:
        options = " ".join(f'"{o}"' for o in sshd.ssh_options())
        write(project / "network.nix", f"""{{
  meta.vmHosts.other = {{
    ssh = "root@127.0.0.1"; port = {sshd.port}; identity = "{sshd.client_key}";
    stateDir = "{short}/o"; sshOptions = [ {options} ];
  }};
  defaults = {{ modulesPath, ... }}: {{
    imports = [ (modulesPath + "/testing/test-instrumentation.nix") ];
    networking.firewall.enable = false;
    virtualisation.vlans = [ 1 2 ];
  }};
  a = {{ ... }}: {{ }};
  b = {{ ... }}: {{ deployment.vmHost = "other"; }};
}}
""")
        hosts = TwoHosts(project, short / "s")
        try:
            up = nixvms("up", *hosts.state, "--detach", cwd=project)
            assert up.code == 0, up.stderr
            assert "copying the network to host other (root@127.0.0.1)" in up.stderr
            yield hosts
        finally:
            nixvms("stop", *hosts.state, cwd=project)
            shutil.rmtree(short, ignore_errors=True)


def ours(marker: str) -> list[int]:
    """Processes whose command line names marker (the remote state directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_status_shows_each_machines_host(two_hosts: TwoHosts) -> None:
    status = nixvms("status", *two_hosts.state, cwd=two_hosts.project)
    rows = {line.split()[0]: line.split()[1:3] for line in status.stdout.splitlines()[1:]}
    assert rows["a"] == ["running", "local"]
    assert rows["b"] == ["running", "other"]


def test_the_machines_reach_each_other_by_name_and_over_both_vlans(
        two_hosts: TwoHosts) -> None:
    run = nixvms("exec", *two_hosts.state, "--on", "a", "--",
                 "ping -c 2 -W 3 b && ping -c 2 -W 3 192.168.2.2", cwd=two_hosts.project)
    assert run.code == 0, run.stdout + run.stderr
    assert run.stdout.count("2 packets received") == 2


def test_b_runs_under_a_supervisor_of_its_own_in_the_hosts_state_directory(
        two_hosts: TwoHosts) -> None:
    remote = two_hosts.run.parent.parent / "o" / "run"
    assert (remote / "b.console").exists()
    assert not (two_hosts.run / "b.console").exists()


def test_a_lost_cable_and_a_lost_host_are_said_and_stop_cleans_both_hosts(
        two_hosts: TwoHosts) -> None:
    remote = str(two_hosts.run.parent.parent / "o")
    log = two_hosts.run / "supervisor.log"
    cables = [p for p in ours(f"{remote}/run/vde1.ctl") if _command(p).startswith("ssh ")]
    assert cables, "VLAN 1's cable runs ssh"
    os.kill(cables[0], signal.SIGKILL)  # the cable's ssh
    _wait_for(log, "the cable of VLAN 1 to host other (root@127.0.0.1) was lost")
    session = [p for p in ours("--json-events") if _command(p).startswith("ssh ")]
    assert len(session) == 1
    os.kill(session[0], signal.SIGKILL)
    _wait_for(log, "the connection to host other (root@127.0.0.1) was lost; its machines "
                   "are unreachable: b")
    stop = nixvms("stop", *two_hosts.state, cwd=two_hosts.project)
    assert stop.code == 0, stop.stderr
    deadline = time.monotonic() + 30  # the host's supervisor got SIGHUP: it stops b
    while ours(remote) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ours(remote) == [], [_command(p) for p in ours(remote)]
    assert ours(str(two_hosts.run)) == []


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _wait_for(log: Path, text: str, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in re.sub(r"\s+", " ", log.read_text(errors="replace")):
            return
        time.sleep(0.5)
    pytest.fail(f"{log} does not say {text!r}:\n{log.read_text(errors='replace')[-2000:]}")
