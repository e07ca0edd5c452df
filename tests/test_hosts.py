"""A network over two hosts (issue 27, points 1 and 2): machine a here, machine b
on "another host" that is this machine over an sshd on 127.0.0.1 with a state
directory of its own. `nixvms up` copies the network there (nix-copy-closure),
starts a supervisor there over ssh, and joins VLANs 1 and 2 with a cable each.
b is reached from here as a machine here is (its sockets, ssh port and console
log forwarded through one ssh ControlMaster): exec, cp, logs, ssh, console and
the test driver (shell_interact too) do not know where it runs. One network,
booted once; the last test on it cuts it and stops it. Ctrl-C, which ends a
network, is tried on networks of its own (own_two_hosts)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.sshd import SSHD, Sshd, running_sshd
from nixvms.supervisor import link_client
from tests.conftest import BIN, nixvms, write
from tests.terminal import Terminal

pytestmark = [pytest.mark.nix, pytest.mark.vm]

CABLE_DELAY_MS = 40   # meta.vmHosts.other.cable's delay, each way
LINK_DELAY_MS = 100   # set on b's link to VLAN 2, on its host
TOLERANCE_MS = 120    # above a delay, never below it (tests/test_links.py)


class TwoHosts:
    def __init__(self, project: Path, state: Path, remote: Path, sshd_config: Path) -> None:
        self.project = project
        self.state = ["--state-dir", str(state)]
        self.run = state / "run"
        self.remote = remote / "run"  # b's host's
        self.sshd_config = sshd_config


def network_nix(sshd: Sshd, remote_state: Path) -> str:
    """The network: a here, b on host other (this machine through `sshd`)."""
    options = " ".join(f'"{o}"' for o in sshd.ssh_options())
    return f"""{{
  meta.vmHosts.other = {{
    ssh = "root@127.0.0.1"; port = {sshd.port}; identity = "{sshd.client_key}";
    stateDir = "{remote_state}"; sshOptions = [ {options} ];
    cable = {{ delay = "{CABLE_DELAY_MS}ms"; }};
  }};
  defaults = {{ modulesPath, ... }}: {{
    imports = [ (modulesPath + "/testing/test-instrumentation.nix") ];
    networking.firewall.enable = false;
    virtualisation.vlans = [ 1 2 ];
    virtualisation.vlanLinks."1" = {{ }};
    virtualisation.vlanLinks."2" = {{ }};
  }};
  a = {{ ... }}: {{ }};
  b = {{ ... }}: {{ deployment.vmHost = "other"; services.openssh.enable = true; }};
}}
"""


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoHosts]:
    if not SSHD.exists() or os.geteuid() != 0:
        pytest.skip("needs openssh-server and root (sshd's privilege separation)")
    project = tmp_path_factory.mktemp("hosts")
    short = Path(tempfile.mkdtemp(prefix="hosts-"))
    with running_sshd(short / "sshd") as sshd:
        write(project / "network.nix", network_nix(sshd, short / "o"))
        hosts = TwoHosts(project, short / "s", short / "o", short / "sshd" / "sshd_config")
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
    assert run.code == 0, run.stdout + run.stderr + _said(two_hosts)
    assert run.stdout.count("2 packets received") == 2


def test_b_runs_under_a_supervisor_of_its_own_in_the_hosts_state_directory(
        two_hosts: TwoHosts) -> None:
    assert list((two_hosts.remote / "b").glob("*.qcow2")), "b's disk is on its host"
    # its supervisor runs from the host's copy of the network directory (only
    # b's VM went there with Nix's copy: tests/unit/test_nix.py)
    copies = list(two_hosts.remote.parent.glob("net-*/bin/run-vms"))
    assert len(copies) == 1
    session = [p for p in ours("--json-events") if _command(p).startswith("ssh ")]
    assert f"{copies[0]} --state-dir" in _command(session[0])
    assert not list((two_hosts.run / "b").glob("*.qcow2"))


def least_rtt_ms(hosts: TwoHosts, target: str) -> float:
    """The least round trip of a few pings from a to target."""
    run = nixvms("exec", *hosts.state, "--on", "a", "--", f"ping -c 5 -i 0.2 -W 3 {target}",
                 cwd=hosts.project)
    assert run.code == 0, run.stdout + run.stderr
    found = re.search(r"= ([0-9.]+)/([0-9.]+)/([0-9.]+)", run.stdout)
    assert found, run.stdout
    return float(found.group(1))


def test_the_declared_cable_delay_is_on_every_vlans_cable_each_way(
        two_hosts: TwoHosts) -> None:
    for target in ("192.168.1.2", "192.168.2.2"):
        rtt = least_rtt_ms(two_hosts, target)
        assert 2 * CABLE_DELAY_MS <= rtt <= 2 * CABLE_DELAY_MS + TOLERANCE_MS, target


def test_the_link_of_the_machine_on_the_other_host_is_shaped_there_at_run_time(
        two_hosts: TwoHosts) -> None:
    shaped = nixvms("link", *two_hosts.state, "b:2", "--delay", f"{LINK_DELAY_MS}ms",
                    cwd=two_hosts.project)
    assert shaped.code == 0, shaped.stderr
    assert shaped.stdout == f"b:2: delay {LINK_DELAY_MS}ms\n"
    least = 2 * CABLE_DELAY_MS + LINK_DELAY_MS  # b's link delays b's replies
    assert least <= least_rtt_ms(two_hosts, "192.168.2.2") <= least + TOLERANCE_MS
    assert least_rtt_ms(two_hosts, "192.168.1.2") < least  # VLAN 1: b's other link
    back = nixvms("link", *two_hosts.state, "b:2", "--delay", "0", cwd=two_hosts.project)
    assert back.code == 0, back.stderr
    assert least_rtt_ms(two_hosts, "192.168.2.2") < least


def test_exec_runs_a_command_on_the_machine_on_the_other_host(two_hosts: TwoHosts) -> None:
    run = nixvms("exec", *two_hosts.state, "--on", "b", "--", "hostname",
                 cwd=two_hosts.project)
    assert run.code == 0, run.stdout + run.stderr
    assert re.search(r"^b\b.*\bb$", run.stdout, re.M), run.stdout


def test_cp_copies_to_and_from_the_machine_on_the_other_host(
        two_hosts: TwoHosts, tmp_path: Path) -> None:
    (tmp_path / "sent.txt").write_text("across hosts\n")
    there = nixvms("cp", *two_hosts.state, str(tmp_path / "sent.txt"), "b:/tmp/got.txt",
                   cwd=two_hosts.project)
    assert there.code == 0, there.stderr
    back = nixvms("cp", *two_hosts.state, "b:/tmp/got.txt", str(tmp_path / "back.txt"),
                  cwd=two_hosts.project)
    assert back.code == 0, back.stderr
    assert (tmp_path / "back.txt").read_text() == "across hosts\n"


def test_logs_shows_the_console_of_the_machine_on_the_other_host(two_hosts: TwoHosts) -> None:
    logs = nixvms("logs", *two_hosts.state, "b", cwd=two_hosts.project)
    assert logs.code == 0, logs.stderr
    assert "b login:" in logs.stdout


def test_ssh_reaches_the_machine_on_the_other_host(two_hosts: TwoHosts) -> None:
    run = nixvms("ssh", *two_hosts.state, "b", "--", "cat /proc/sys/kernel/hostname",
                 cwd=two_hosts.project)
    assert (run.code, run.stdout) == (0, "b\n"), run.stderr


def test_console_attaches_to_the_machine_on_the_other_host_and_detaches(
        two_hosts: TwoHosts) -> None:
    """Its serial console's socket is forwarded here (RunDir.machine_sockets):
    root logs in and types a command; attaching again after a detach works."""
    console = [str(BIN / "nixvms"), "console", *two_hosts.state, "b"]
    term = Terminal(console, two_hosts.project)
    try:
        assert term.until(b"press Ctrl-] to detach", 20), term.seen
        term.write(b"\r")
        assert term.until(b"b login:", 20), term.seen
        term.write(b"root\r")
        term.until(b"#", timeout=10)
        term.write(b"echo typed-on-$(hostname)-$((20+22))\r")
        assert term.until(b"typed-on-b-42", 20), term.seen
        term.write(b"exit\r\x1d")
        assert term.until(b"detached from b's console", 20), term.seen
        assert term.wait() == 0
    finally:
        term.close()
    again = Terminal(console, two_hosts.project)
    try:
        assert again.until(b"press Ctrl-] to detach", 20), again.seen
        again.write(b"\r")
        assert again.until(b"b login:", 20), again.seen
        again.write(b"\x1d")
        assert again.until(b"detached from b's console", 20), again.seen
        assert again.wait() == 0
    finally:
        again.close()


def test_shell_interact_on_the_machine_on_the_other_host_reads_lines_from_stdin(
        two_hosts: TwoHosts, tmp_path: Path) -> None:
    """The driver's shell_interact() through b's forwarded backdoor socket, its
    lines from a pipe: state kept between lines, stderr shown, and end of input
    returns to the script."""
    script = write(tmp_path / "interact.py", """
b.shell_interact()
a.succeed("true")
print("after-shell-interact")
""")
    run = subprocess.run(
        [str(BIN / "nixvms"), "test", *two_hosts.state, "-o", str(tmp_path / "out"),
         str(script)], cwd=two_hosts.project, capture_output=True, text=True, timeout=600,
        input="cd /etc; echo to-stderr >&2\npwd; hostname\n")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "b# to-stderr\nb# /etc\nb\nb# \n" in run.stdout, run.stdout
    assert "after-shell-interact" in run.stdout, run.stdout


def test_a_driver_script_runs_commands_on_both_hosts_machines(
        two_hosts: TwoHosts, tmp_path: Path) -> None:
    script = write(tmp_path / "both.py", """
start_all()
t.assertEqual(a.succeed("hostname").strip(), "a")
t.assertEqual(b.succeed("hostname").strip(), "b")
b.succeed("ping -c 1 -W 3 a")
b.succeed("echo made-on-b > /tmp/made")
b.copy_from_vm("/tmp/made", "")
t.assertIn("login:", b.get_console_log())
b.screenshot("b-screen")
""")
    run = nixvms("test", *two_hosts.state, "-o", str(tmp_path / "out"), str(script),
                 cwd=two_hosts.project)
    assert run.code == 0, run.stdout + run.stderr
    assert (tmp_path / "out" / "made").read_text() == "made-on-b\n"
    png = (tmp_path / "out" / "b-screen.png").read_bytes()  # made there, fetched
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 100


def test_a_partition_cuts_the_machines_on_two_hosts_and_heal_joins_them(
        two_hosts: TwoHosts, tmp_path: Path) -> None:
    script = write(tmp_path / "cut.py", """
t.assertEqual(partition([a], [b]), [1, 2])
a.fail("ping -c 2 -W 2 192.168.1.2")
a.fail("ping -c 2 -W 2 192.168.2.2")
b.fail("ping -c 2 -W 2 192.168.1.1")
heal()
a.wait_until_succeeds("ping -c 1 -W 2 192.168.1.2", timeout=30)
a.succeed("ping -c 1 -W 3 192.168.2.2")
b.succeed("ping -c 1 -W 3 192.168.2.1")
""")
    run = nixvms("test", *two_hosts.state, "-o", str(tmp_path / "out"), str(script),
                 cwd=two_hosts.project)
    assert run.code == 0, run.stdout + run.stderr + _said(two_hosts)
    # b's links went onto its host's hubs: its supervisor did the cut there
    hub_log = two_hosts.remote / "part1-2.log"
    assert hub_log.exists(), sorted(p.name for p in two_hosts.remote.iterdir())


def test_the_host_receives_only_its_machines_files(two_hosts: TwoHosts) -> None:
    # what `up` sent there: the network directory's own files (its VMs stay
    # links into the store, where Nix's copy put only b's: tests/unit/test_nix.py)
    copies = list(two_hosts.remote.parent.glob("net-*"))
    assert len(copies) == 1
    assert {p.name for p in (copies[0] / "vms").iterdir()} == {"a", "b"}
    assert all(p.is_symlink() for p in (copies[0] / "vms").iterdir())
    # and what runs there: b's disk and logs, nothing of a
    there = {p.name for p in two_hosts.remote.iterdir()}
    assert "b" in there and "b.log" in there
    assert not [n for n in there if n == "a" or n.startswith("a.")], sorted(there)
    assert not (two_hosts.run / "b").exists() or not list((two_hosts.run / "b").iterdir())


def test_up_after_deployment_vmhost_changed_moves_the_machine_and_back(
        two_hosts: TwoHosts) -> None:
    network = two_hosts.project / "network.nix"
    placed = network.read_text()
    network.write_text(placed.replace('deployment.vmHost = "other"; ', ""))
    try:
        here = nixvms("up", *two_hosts.state, "--detach", cwd=two_hosts.project)
        assert here.code == 0, here.stderr + _said(two_hosts)
        assert ("b: deployment.vmHost changed: stopping it on host other, starting it here"
                in here.stdout), here.stdout
        assert _states(two_hosts) == {"a": "running", "b": "running"}
        status = nixvms("status", *two_hosts.state, cwd=two_hosts.project)
        assert "other" not in status.stdout, status.stdout  # no machine runs there
        assert list((two_hosts.run / "b").glob("*.qcow2")), "b runs here now"
        assert ours(str(two_hosts.remote / "b")) == [], "b's QEMU there stopped"
    finally:
        network.write_text(placed)
    back = nixvms("up", *two_hosts.state, "--detach", cwd=two_hosts.project)
    assert back.code == 0, back.stderr + _said(two_hosts)
    assert "b: deployment.vmHost changed: stopping it here, starting it on host other" \
        in back.stdout, back.stdout
    _assert_placed_and_b_reachable(two_hosts)


def test_up_after_an_edit_restarts_the_rebuilt_machine_on_its_host_or_on_a_new_one(
        two_hosts: TwoHosts) -> None:
    network = two_hosts.project / "network.nix"
    placed = network.read_text()
    rebuilt = placed.replace('deployment.vmHost = "other";',
                             'deployment.vmHost = "other"; environment.etc."rebuilt".text = "2";')
    third = str(two_hosts.remote.parent.parent / "t")
    # host third: the same sshd as other, with a state directory of its own
    other = re.search(r"  meta\.vmHosts\.other = \{.*?\n  \};\n", placed, re.S)
    assert other
    entry = re.sub(r'stateDir = "[^"]*"', f'stateDir = "{third}"', other.group(0))
    moved = rebuilt.replace(other.group(0), other.group(0) + entry.replace(".other", ".third"))
    moved = moved.replace('deployment.vmHost = "other";', 'deployment.vmHost = "third";')
    try:
        network.write_text(rebuilt)  # on its host: sent there, restarted by its supervisor
        up = nixvms("up", *two_hosts.state, "--detach", cwd=two_hosts.project)
        assert up.code == 0, up.stdout + up.stderr + _said(two_hosts)
        assert "b: its system changed" in up.stdout, up.stdout
        assert "copying the VM of b to host other" in up.stderr, up.stderr
        assert _hosts(two_hosts) == {"a": ("running", "local"), "b": ("running", "other")}
        assert _rebuilt(two_hosts) == "2"
        assert ours(f"{two_hosts.remote}/b/"), "b's QEMU runs on host other"
        network.write_text(moved)  # to a host that ran none of the network
        up = nixvms("up", *two_hosts.state, "--detach", cwd=two_hosts.project)
        assert up.code == 0, up.stdout + up.stderr + _said(two_hosts)
        assert "copying the VM of b to host third" in up.stderr, up.stderr
        assert _hosts(two_hosts) == {"a": ("running", "local"), "b": ("running", "third")}
        assert list(Path(third, "run", "b").glob("*.qcow2")), "b runs on host third"
        assert ours(f"{two_hosts.remote}/b/") == [], "b's QEMU on host other stopped"
        assert _supervisors_in(third), "host third's supervisor runs"
        assert _rebuilt(two_hosts) == "2"
    finally:
        network.write_text(placed)
    back = nixvms("up", *two_hosts.state, "--detach", cwd=two_hosts.project)
    assert back.code == 0, back.stdout + back.stderr + _said(two_hosts)
    _assert_placed_and_b_reachable(two_hosts)
    assert not _supervisors_in(third), "host third runs none of the network: its supervisor ended"
    assert _rebuilt(two_hosts) == "", "b runs its first build again"


def test_a_machine_added_on_another_host_runs_there_joins_a_group_across_hosts_and_is_removed(
        two_hosts: TwoHosts) -> None:
    network = two_hosts.project / "network.nix"
    placed = network.read_text()
    network.write_text(placed.replace(
        "  b = {", '  c = { ... }: { deployment.vmHost = "other"; };\n  b = {', 1))
    try:  # only c: a's and b's /etc/hosts would name it, a new build of them
        added = nixvms("up", *two_hosts.state, "--detach", "c", cwd=two_hosts.project)
        assert added.code == 0, added.stdout + added.stderr + _said(two_hosts)
        assert "copying the VM of c to host other" in added.stderr, added.stderr
        rows = [line.split() for line in nixvms(
            "status", *two_hosts.state, cwd=two_hosts.project).stdout.splitlines()]
        assert ["c", "running", "other"] in [row[:3] for row in rows], rows
        assert ours(f"{two_hosts.remote}/c/"), "c's QEMU runs on host other"
        assert not (two_hosts.run / "c").exists()
        ping = nixvms("exec", *two_hosts.state, "--on", "c", "--",
                      "ping -c 2 -W 3 192.168.1.1", cwd=two_hosts.project)
        assert ping.code == 0, ping.stdout + ping.stderr
        # a group spanning both hosts: a here and c there, joined through the
        # cable between their hubs; b (the first group) cut from both
        assert link_client.partition(two_hosts.run, [["b"], ["a", "c"]]) == [1, 2]
        try:
            across = nixvms("exec", *two_hosts.state, "--on", "a", "--",
                            "ping -c 2 -W 3 192.168.1.3 && ping -c 2 -W 3 192.168.2.3",
                            cwd=two_hosts.project)
            assert across.code == 0, across.stdout + across.stderr + _said(two_hosts)
            cut = nixvms("exec", *two_hosts.state, "--on", "a", "--",
                         "ping -c 2 -W 2 192.168.1.2", cwd=two_hosts.project)
            assert cut.code != 0, cut.stdout
            # the cable between the hubs of group 2, its ssh killed: said in one line
            remote_hub = f"{two_hosts.remote.parent}/run/part1-2"
            hub_cables = [p for p in ours(remote_hub) if _command(p).startswith("ssh ")]
            assert hub_cables, "group 2's hub cable runs ssh"
            os.kill(hub_cables[0], signal.SIGKILL)
            _wait_for(two_hosts.run / "supervisor.log", "the cable of VLAN 1 (partition "
                      "group 2) to host other (root@127.0.0.1) was lost")
        finally:
            link_client.heal(two_hosts.run)
    finally:
        network.write_text(placed)
    removed = nixvms("up", *two_hosts.state, "--detach", cwd=two_hosts.project)
    assert removed.code == 0, removed.stdout + removed.stderr + _said(two_hosts)
    assert "c: removed from the network: stopping it" in removed.stdout, removed.stdout
    assert _hosts(two_hosts) == {"a": ("running", "local"), "b": ("running", "other")}
    assert ours(f"{two_hosts.remote}/c/") == [], "c's QEMU there stopped"


def _assert_placed_and_b_reachable(hosts: TwoHosts) -> None:
    """a runs here and b on host other, as placed, and a reaches b."""
    assert _hosts(hosts) == {"a": ("running", "local"), "b": ("running", "other")}
    run = nixvms("exec", *hosts.state, "--on", "a", "--", "ping -c 2 -W 3 b", cwd=hosts.project)
    assert run.code == 0, run.stdout + run.stderr


def _rebuilt(hosts: TwoHosts) -> str:
    """/etc/rebuilt on b (empty when there is none)."""
    got = nixvms("ssh", *hosts.state, "b", "--", "cat /etc/rebuilt 2>/dev/null; true",
                 cwd=hosts.project)
    assert got.code == 0, got.stderr
    return got.stdout.strip()


def _supervisors_in(state_dir: str) -> list[int]:
    return [p for p in ours("--json-events") if f"--state-dir {state_dir} " in _command(p)]


def test_stopping_and_starting_the_remote_machine_is_done_by_its_host(
        two_hosts: TwoHosts) -> None:
    stop = nixvms("stop", *two_hosts.state, "b", cwd=two_hosts.project)
    assert (stop.code, stop.stderr.strip()) == (0, "stopped b"), stop.stderr
    assert _states(two_hosts) == {"a": "running", "b": "stopped"}
    refused = nixvms("exec", *two_hosts.state, "--on", "b", "--", "true",
                     cwd=two_hosts.project)
    assert refused.code != 0 and "machine b is not running" in refused.stderr
    start = nixvms("start", *two_hosts.state, "b", cwd=two_hosts.project)
    assert start.code == 0, start.stderr + _said(two_hosts)
    assert _states(two_hosts) == {"a": "running", "b": "running"}
    run = nixvms("exec", *two_hosts.state, "--on", "b", "--", "hostname",
                 cwd=two_hosts.project)
    assert run.code == 0, run.stdout + run.stderr
    assert ours(f"{two_hosts.remote}/b/"), "b's QEMU runs there again"
    assert ours(f"{two_hosts.run}/b/") == []


def test_a_lost_control_connection_is_said_and_made_again(two_hosts: TwoHosts) -> None:
    log = two_hosts.run / "supervisor.log"
    masters = [p for p in ours(f"{two_hosts.run}/ssh-other") if " -M " in _command(p)]
    assert len(masters) == 1, [_command(p) for p in ours(str(two_hosts.run))]
    os.kill(masters[0], signal.SIGKILL)
    _wait_for(log, "the ssh connection that reaches host other's machines from here "
                   "(root@127.0.0.1) was lost; reconnecting")
    _wait_for(log, "reconnected to host other: its machines are reachable from here again")
    run = nixvms("exec", *two_hosts.state, "--on", "b", "--", "hostname",
                 cwd=two_hosts.project)
    assert run.code == 0, run.stdout + run.stderr


def test_a_lost_cable_and_a_lost_host_are_said_and_stop_cleans_both_hosts(
        two_hosts: TwoHosts) -> None:
    remote = str(two_hosts.remote.parent)
    log = two_hosts.run / "supervisor.log"
    cables = [p for p in ours(f"{remote}/run/vde1.ctl") if _command(p).startswith("ssh ")]
    assert cables, "VLAN 1's cable runs ssh"
    os.kill(cables[0], signal.SIGKILL)  # the cable's ssh
    _wait_for(log, "the cable of VLAN 1 to host other (root@127.0.0.1) was lost")
    session = [p for p in ours("--json-events") if _command(p).startswith("ssh ")]
    assert len(session) == 1
    # the host becomes unreachable: its session is cut and its sshd is gone
    for pid in ours(str(two_hosts.sshd_config)):
        os.kill(pid, signal.SIGKILL)
    os.kill(session[0], signal.SIGKILL)
    _wait_for(log, "the connection to host other (root@127.0.0.1) was lost; its machines "
                   "are unreachable: b")
    assert _states(two_hosts) == {"a": "running", "b": "unreachable"}
    refused = nixvms("exec", *two_hosts.state, "--on", "b", "--", "true",
                     cwd=two_hosts.project)
    assert refused.code != 0
    assert refused.stderr.strip().splitlines()[-1] == (
        "error: machine b is unreachable: the ssh connection to its host other "
        "(root@127.0.0.1) was lost (`nixvms stop`, then `nixvms up`, starts it again)")
    stop = nixvms("stop", *two_hosts.state, cwd=two_hosts.project)
    assert stop.code == 1, stop.stderr
    assert "error: could not reach host other (root@127.0.0.1) to stop b there" in stop.stderr
    deadline = time.monotonic() + 30  # the host's supervisor got SIGHUP: it stops b
    while ours(remote) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ours(remote) == [], [_command(p) for p in ours(remote)]
    assert ours(str(two_hosts.run)) == []


@pytest.fixture
def own_two_hosts(tmp_path: Path) -> Iterator[tuple[TwoHosts, int]]:
    """A two-host network of its own, not started (a test that ends it by an
    interruption cannot share two_hosts), and the pid of its sshd's listener."""
    if not SSHD.exists() or os.geteuid() != 0:
        pytest.skip("needs openssh-server and root (sshd's privilege separation)")
    short = Path(tempfile.mkdtemp(prefix="hosts-"))
    with running_sshd(short / "sshd") as sshd:
        write(tmp_path / "p" / "network.nix", network_nix(sshd, short / "o"))
        hosts = TwoHosts(tmp_path / "p", short / "s", short / "o",
                         short / "sshd" / "sshd_config")
        listener = int((short / "sshd" / "sshd.pid").read_text())
        try:
            yield hosts, listener
        finally:
            nixvms("stop", *hosts.state, cwd=hosts.project)
            for pid in _left_of(short, listener):  # what a failed test left
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            shutil.rmtree(short, ignore_errors=True)


@pytest.mark.parametrize("how", ["up", "test"])
def test_ctrl_c_leaves_no_process_of_the_network_on_either_host(
        own_two_hosts: tuple[TwoHosts, int], tmp_path: Path, how: str) -> None:
    """Ctrl-C (SIGINT to the foreground process group, as a terminal sends it)
    to `nixvms up` in the foreground or to a test driver's run: no QEMU,
    switch, wirefilter, cable (dpipe, vde_plug, ssh) or supervisor of the
    network stays, here or on host other, nor an ssh session into it."""
    hosts, listener = own_two_hosts
    short = hosts.run.parent.parent
    if how == "up":
        command = ["up", *hosts.state]
    else:
        command = ["test", *hosts.state, str(write(
            tmp_path / "long.py", "start_all()\nb.succeed('sleep 600')\n"))]
    with (tmp_path / "out").open("w") as out, (tmp_path / "err").open("w") as err:
        proc = subprocess.Popen([str(BIN / "nixvms"), *command], cwd=hosts.project,
                                stdout=out, stderr=err, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not _both_up(hosts, how):
            assert proc.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "err").read_text() + _said(hosts)
            time.sleep(1)
        here = [_command(p) for p in _left_of(hosts.run.parent, None)]
        there = [_command(p) for p in _left_of(hosts.remote.parent, None)]
        for side, commands in (("here", here), ("there", there)):
            for program in ("qemu-system", "vde_switch", "wirefilter", "vde_plug",
                            "run-vms"):
                assert any(program in c for c in commands), (side, program, commands)
        assert any(c.startswith("dpipe ") for c in here), here
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends its foreground group
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:  # it did not end: the test failed
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    said = (tmp_path / "err").read_text()
    assert "Traceback" not in said, said
    if how == "test":
        assert proc.returncode == 130, said
        assert "error: interrupted; the machines the test started are stopped" in said, said
    deadline = time.monotonic() + 30
    while _left_of(short, listener) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert [_command(p) for p in _left_of(short, listener)] == [], said + _said(hosts)
    assert "not running" in nixvms("status", *hosts.state, cwd=hosts.project).stdout


def _both_up(hosts: TwoHosts, how: str) -> bool:
    """a and b run (`nixvms up`); the script has run its command on b (`nixvms test`)."""
    if how == "test":
        log = hosts.run / "b.driver.log"
        return log.exists() and "sleep 600" in log.read_text(errors="replace")
    return hosts.run.exists() and _states(hosts) == {"a": "running", "b": "running"}


def _left_of(root: Path, listener: int | None) -> list[int]:
    """Processes that name root on their command line or run in it, and
    (listener: an sshd's pid) the sessions that sshd serves."""
    parents: dict[int, int] = {}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in (os.getpid(), listener):
            continue
        try:
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1]
                                            .split()[1])
            if str(root).encode() in (entry / "cmdline").read_bytes() or \
                    os.readlink(entry / "cwd").startswith(f"{root}/"):
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    if listener is not None:
        for pid in parents:
            ancestor = parents.get(pid)
            while ancestor and ancestor != listener:
                ancestor = parents.get(ancestor)
            if ancestor == listener and pid not in found:
                found.append(pid)
    return found


def _hosts(hosts: TwoHosts) -> dict[str, tuple[str, str]]:
    status = nixvms("status", *hosts.state, cwd=hosts.project)
    rows = [line.split() for line in status.stdout.splitlines()]
    return {row[0]: (row[1], row[2]) for row in rows if len(row) > 2 and row[0] in ("a", "b")}


def _states(hosts: TwoHosts) -> dict[str, str]:
    status = nixvms("status", *hosts.state, cwd=hosts.project)
    rows = [line.split() for line in status.stdout.splitlines()]
    return {row[0]: row[1] for row in rows if len(row) > 1 and row[0] in ("a", "b")}


def _said(hosts: TwoHosts) -> str:
    """The supervisor's log and the cables' (for a failure's message)."""
    return "".join(f"\n--- {p.name}:\n" + p.read_text(errors="replace")[-1500:]
                   for p in sorted(hosts.run.glob("*.log"))
                   if p.name.startswith(("supervisor", "cable", "host")))


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
