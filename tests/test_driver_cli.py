"""`nixvms test` and result/bin/nixos-test-driver, run as a user runs them:
real Nix builds, real QEMU under TCG, the interactive driver through a
pseudo-terminal. After each run, no process of the network is left."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import junitparser
import pexpect
import pytest

from tests.conftest import BIN, nixvms, write

pytestmark = [pytest.mark.nix, pytest.mark.vm]

NETWORK = """
{
  defaults = { modulesPath, ... }: {
    imports = [ (modulesPath + "/testing/test-instrumentation.nix") ];
  };
  one = import ./one.nix;
  two = import ./two.nix;
}
"""
ONE = "{ ... }: { environment.etc.greeting.text = \"hello from one\\n\"; }\n"
TWO = "{ ... }: { }\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tested")
    write(directory / "network.nix", NETWORK)
    write(directory / "one.nix", ONE)
    write(directory / "two.nix", TWO)
    built = nixvms("build", cwd=directory)
    assert built.code == 0, built.stderr
    return directory


def left_running(project: Path) -> list[str]:
    """Processes of the project's network (QEMU, vde_switch, the supervisor)."""
    found = []
    state = str(project / ".nixvms")
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if state in cmdline or (str(project) in cmdline and "qemu" in cmdline):
            found.append(cmdline)
    return found


def run_test(project: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = write(project / "scripts" / f"t{time.monotonic_ns()}.py", script)
    return subprocess.run([str(BIN / "nixvms"), "test", str(path), *args], cwd=project,
                          capture_output=True, text=True, timeout=600, check=False)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


# --- nixvms test ---------------------------------------------------------------------


def test_a_passing_script_exits_0_with_its_subtests_times_and_junit_xml(project: Path) -> None:
    junit = project / "report.xml"
    run = run_test(project, """
with subtest("one answers"):
    assert one.succeed("cat /etc/greeting") == "hello from one\\n"
with subtest("one's units"):
    one.wait_for_unit("multi-user.target")
""", "--junit-xml", str(junit))
    assert run.returncode == 0, run.stderr
    assert re.search(r"^  ok   one answers \(\d+\.\d s\)$", run.stdout, re.M), run.stdout
    assert re.search(r"^  ok   one's units \(\d+\.\d s\)$", run.stdout, re.M)
    assert re.search(r"^passed: .* in \d+\.\d s$", run.stdout, re.M)
    suite = next(iter(junitparser.JUnitXml.fromfile(str(junit))))
    assert [case.name for case in suite] == ["one answers", "one's units"]
    assert suite.failures == 0 and all(case.is_passed for case in suite)
    assert left_running(project) == []


def test_a_failing_script_exits_1_showing_its_line_and_the_machines_console(
    project: Path,
) -> None:
    junit = project / "failed.xml"
    run = run_test(project, """start_all()
with subtest("one fails"):
    one.succeed("echo what it said; exit 5")
""", "--junit-xml", str(junit))
    assert run.returncode == 1
    assert re.search(r"^error: .*/t\d+\.py:3: one\.succeed\(\"echo what it said; exit 5\"\)$",
                     run.stderr, re.M), run.stderr
    assert "exit status 5" in run.stderr and "what it said" in run.stderr
    assert "last console lines of one:" in run.stderr
    assert "Traceback" not in run.stderr and "driver.py" not in run.stderr
    assert re.search(r"^  FAIL one fails \(\d+\.\d s\)$", run.stdout, re.M)
    suite = next(iter(junitparser.JUnitXml.fromfile(str(junit))))
    assert suite.failures == 1
    assert left_running(project) == []


def test_keep_vms_leaves_the_machines_running_until_nixvms_stop(project: Path) -> None:
    run = run_test(project, "two.succeed('true')\n", "--keep-vms")
    assert run.returncode == 0, run.stderr
    assert any("qemu" in p for p in left_running(project))
    status = nixvms("status", cwd=project)
    assert re.search(r"\btwo\b.*running", status.stdout), status.stdout
    stopped = nixvms("stop", cwd=project)
    assert stopped.code == 0, stopped.stderr
    deadline = time.monotonic() + 30
    while left_running(project) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left_running(project) == []


def test_editing_one_machine_rebuilds_only_that_machine(project: Path) -> None:
    write(project / "two.nix", "{ ... }: { environment.etc.edited.text = \"edited\\n\"; }\n")
    run = run_test(project, "assert 1 + 1 == 2\n")
    assert run.returncode == 0, run.stderr
    assert re.findall(r"^building (\S+)$", run.stderr, re.M) == ["two"]
    assert "one" not in re.findall(r"^evaluating (\S+)$", run.stderr, re.M)


def test_sigterm_stops_the_machines_and_exits_130(project: Path) -> None:
    path = write(project / "scripts" / "long.py", "start_all()\none.succeed('sleep 600')\n")
    proc = subprocess.Popen([str(BIN / "nixvms"), "test", str(path)], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (project / ".nixvms" / "run" / "one.driver.log").exists() or \
            "sleep 600" not in (project / ".nixvms" / "run" / "one.driver.log").read_text():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert error_lines(stderr) == ["error: interrupted; the machines the test started are "
                                   "stopped"]
    assert left_running(project) == []


def test_kill_9_of_nixvms_test_leaves_no_machine_running(project: Path) -> None:
    path = write(project / "scripts" / "killed.py", "start_all()\none.succeed('sleep 600')\n")
    log = project / ".nixvms" / "run" / "one.driver.log"
    log.unlink(missing_ok=True)
    proc = subprocess.Popen([str(BIN / "nixvms"), "test", str(path)], cwd=project,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not log.exists() or "sleep 600" not in log.read_text():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.5)
    assert any("qemu" in p for p in left_running(project))
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 30
    while left_running(project) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left_running(project) == []
    assert nixvms("status", cwd=project).code == 0  # and the next run is not blocked
    again = run_test(project, "one.succeed('true')\n")
    assert again.returncode == 0, again.stderr


# --- bad input -------------------------------------------------------------------------


def test_a_script_with_a_syntax_error_is_one_line_and_boots_nothing(project: Path) -> None:
    run = run_test(project, "start_all()\none.succeed('true'\n")
    assert run.returncode == 1
    assert len(error_lines(run.stderr)) == 1, run.stderr
    assert re.search(r"^error: .*t\d+\.py:2: ", run.stderr, re.M)
    assert "Traceback" not in run.stderr
    assert left_running(project) == []


def test_a_script_naming_a_machine_that_does_not_exist_is_one_line(project: Path) -> None:
    run = run_test(project, "start_all()\nthree.succeed('true')\n")
    assert run.returncode == 1
    assert error_lines(run.stderr) == [
        next(line for line in error_lines(run.stderr) if "three" in line)]
    assert "there is no machine named 'three' in this network (machines: one, two)" in \
        run.stderr
    assert "Traceback" not in run.stderr
    assert left_running(project) == []


def test_a_missing_script_is_one_line(project: Path) -> None:
    run = subprocess.run([str(BIN / "nixvms"), "test", "nonexistent.py"], cwd=project,
                         capture_output=True, text=True, check=False)
    assert run.returncode == 2
    assert run.stderr == "error: nonexistent.py: no such test script\n"


# --- result/bin/nixos-test-driver -----------------------------------------------------------


def test_the_interactive_driver_runs_commands_and_ctrl_d_stops_everything(
    project: Path,
) -> None:
    session = pexpect.spawn(str(project / "result" / "bin" / "nixos-test-driver"),
                            cwd=str(project), encoding="utf-8", timeout=240)
    try:
        session.expect(r"machines one, two.*\r\n>>> ")
        session.sendline("start_all()")
        session.expect(">>> ")
        session.sendline('one.succeed("hostname")')
        session.expect(r"'one\\n'\r\n>>> ")
        assert any("qemu" in p for p in left_running(project))
        # shell_interact: a root shell on the machine, its state kept between lines
        session.sendline("two.shell_interact()")
        session.expect("two# ")
        session.sendline("cd /etc; echo to-stderr >&2")
        session.expect(r"to-stderr\r\ntwo# ")
        session.sendline("pwd; hostname")
        session.expect(r"/etc\r\ntwo\r\ntwo# ")
        session.sendeof()
        session.expect(">>> ")
        session.sendeof()
        session.expect(pexpect.EOF)
    finally:
        session.close(force=True)
    assert session.exitstatus == 0
    assert left_running(project) == []


def test_the_interactive_driver_keeps_a_readline_history(project: Path) -> None:
    session = pexpect.spawn(str(project / "result" / "bin" / "nixos-test-driver"),
                            cwd=str(project), encoding="utf-8", timeout=60)
    session.expect(">>> ")
    session.sendline("remembered = 6 * 7")
    session.expect(">>> ")
    session.sendeof()
    session.expect(pexpect.EOF)
    session.close()
    history = project / ".nixvms" / "run" / "driver-history"
    assert "remembered = 6 * 7" in history.read_text()


def test_the_driver_runs_a_script_without_nixvms_installed(project: Path) -> None:
    path = write(project / "scripts" / "plain.py", "assert sorted(m.name for m in machines) "
                 "== ['one', 'two']\n")
    run = subprocess.run([str(project / "result" / "bin" / "nixos-test-driver"), str(path)],
                         cwd="/", capture_output=True, text=True, check=False,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(project)})
    assert run.returncode == 0, run.stderr
    assert "passed:" in run.stdout
