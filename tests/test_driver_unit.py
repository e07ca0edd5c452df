"""The test driver's parts that need no machine: retry, script checks, the
report and its JUnit XML, machine names as Python names. The network
directory here is a plain directory with a network.json (nothing is started)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import junitparser
import pytest

from nixvms.supervisor import backdoor, transfer
from nixvms.supervisor.driver import Driver
from nixvms.supervisor.errors import SupervisorError
from nixvms.supervisor.lint import python_name
from nixvms.supervisor.machine import MachineError, RequestedAssertionFailed, retry
from nixvms.supervisor.reports import ScriptResult, SubtestResult, junit_xml, report
from tests.conftest import write


@pytest.fixture
def driver(tmp_path: Path) -> Driver:
    network = tmp_path / "net"
    machines = [{"name": n, "vm": str(tmp_path / "vm" / n), "vlans": [1]}
                for n in ("web-1", "db")]
    write(network / "network.json", json.dumps({"machines": machines}))
    return Driver(network, tmp_path / "state", stream=None)


def test_retry_calls_until_the_function_returns_true() -> None:
    calls: list[bool] = []

    def third_time(last_try: bool) -> bool:
        calls.append(last_try)
        return len(calls) == 3

    retry(third_time, timeout_seconds=10)
    assert calls == [False, False, False]


def test_retry_gives_a_last_try_then_raises_naming_what_it_waited_for() -> None:
    calls: list[bool] = []

    def never(last_try: bool) -> bool:
        calls.append(last_try)
        return False

    with pytest.raises(RequestedAssertionFailed, match=r"timed out .*the moon"):
        retry(never, timeout_seconds=1.5, what="the moon")
    assert calls[-1] is True and not any(calls[:-1])


@pytest.mark.parametrize(("name", "python"), [
    ("test1", "test1"), ("web-1", "web_1"), ("server_lazy", "server_lazy"),
    # NixOS's pythonize_name replaces a first character that cannot start a
    # name (it does not prefix one): 1db -> _db
    ("1db", "_db"), ("1st", "_st"), ("9-a", "__a"), ("_x", "_x"), ("a.b", "a_b"),
])
def test_machine_names_become_python_names_by_nixos_rule(name: str, python: str) -> None:
    assert python_name(name) == python


def test_python_names_agree_with_nixos_pythonize_name_on_many_names() -> None:
    # nixos/lib/test-driver/src/test_driver/driver.py, restated as its rule:
    # the first character kept only if [A-Za-z_], every other only if [A-Za-z0-9_]
    def nixos(name: str) -> str:
        return "".join(c if (c.isascii() and (c.isalpha() or c == "_"
                                               or (i > 0 and c.isdigit()))) else "_"
                       for i, c in enumerate(name))
    for name in ["a", "0", "a-b-c", "x9", "9x", "é", "a_b-c.d", "-a", "db1", "1db"]:
        assert python_name(name) == nixos(name), name


def test_a_script_sees_each_machine_and_the_drivers_functions(driver: Driver) -> None:
    namespace = driver.namespace()
    assert namespace["web_1"] is driver.by_name["web-1"]
    assert namespace["db"] is driver.by_name["db"]
    for name in ("start_all", "join_all", "subtest", "retry", "machines", "driver"):
        assert name in namespace


def test_a_script_with_a_syntax_error_names_its_line(driver: Driver, tmp_path: Path) -> None:
    script = write(tmp_path / "bad.py", "db.succeed('true')\nif True\n")
    with pytest.raises(MachineError, match=r"bad\.py:2: "):
        driver.check_script(script)


def test_a_script_using_an_unknown_machine_names_it_and_the_machines(
    driver: Driver, tmp_path: Path,
) -> None:
    script = write(tmp_path / "unknown.py", "start_all()\n\nweb.succeed('true')\n")
    with pytest.raises(MachineError,
                       match=r"unknown\.py:3: there is no machine named 'web' in this network "
                             r"\(machines: db, web_1\)"):
        driver.check_script(script)


def test_names_a_script_binds_itself_are_not_taken_for_machines(
    driver: Driver, tmp_path: Path,
) -> None:
    script = write(tmp_path / "own.py", """
import os.path
def helper(m):
    return m.name
class Thing:
    pass
value = Thing()
value.attribute = os.path.join("a", "b")
for item in machines:
    helper(item)
""")
    driver.check_script(script)


def test_a_failing_script_reports_its_own_line_not_the_drivers(
    driver: Driver, tmp_path: Path,
) -> None:
    script = write(tmp_path / "fails.py", "x = 1\nassert x == 2, 'x is not two'\n")
    result = driver.run_script(script)
    assert not result.passed
    assert result.failure is not None
    assert result.failure.startswith(f"{script}:2: assert x == 2, 'x is not two'\n")
    assert "AssertionError: x is not two" in result.failure


def test_sys_exit_0_in_a_script_is_a_pass(driver: Driver, tmp_path: Path) -> None:
    script = write(tmp_path / "done.py", "import sys\nsys.exit(0)\nassert False\n")
    result = driver.run_script(script)
    assert result.passed and result.failure is None
    assert report(result, None, io.StringIO()) == 0


def test_sys_exit_n_in_a_script_fails_with_n_and_says_so(driver: Driver, tmp_path: Path) -> None:
    script = write(tmp_path / "three.py", "import sys\nsys.exit(3)\n")
    result = driver.run_script(script)
    assert not result.passed
    assert result.failure == f"{script}:2: sys.exit(3)\nthe script exited with status 3"
    assert report(result, None, io.StringIO()) == 3


def test_junit_xml_into_a_missing_directory_makes_it(tmp_path: Path) -> None:
    result = ScriptResult(Path("t.py"), 1.0, [])
    assert report(result, tmp_path / "a" / "b" / "r.xml", io.StringIO()) == 0
    assert (tmp_path / "a" / "b" / "r.xml").read_text().startswith("<?xml")


def test_junit_xml_where_no_file_can_be_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(SupervisorError, match="cannot write the JUnit XML report"):
        report(ScriptResult(Path("t.py"), 1.0, []), tmp_path / "file" / "r.xml", io.StringIO())


def test_subtests_are_recorded_with_their_outcome(driver: Driver, tmp_path: Path) -> None:
    script = write(tmp_path / "subtests.py", """
with subtest("first"):
    pass
with subtest("second"):
    raise RequestedAssertionFailed("it broke")
""")
    result = driver.run_script(script)
    assert [(s.name, s.failure) for s in result.subtests] == [
        ("first", None), ("second", "it broke")]


def test_the_report_prints_subtests_and_the_verdict(tmp_path: Path) -> None:
    result = ScriptResult(Path("t.py"), 3.25, [SubtestResult("a", 1.04),
                                               SubtestResult("b", 2.0, "boom")],
                          failure="t.py:4: x()\nboom")
    out, err = io.StringIO(), io.StringIO()
    assert report(result, tmp_path / "r.xml", out, err) == 1
    assert out.getvalue() == "  ok   a (1.0 s)\n  FAIL b (2.0 s)\nfailed: t.py after 3.2 s\n"
    assert err.getvalue() == "error: t.py:4: x()\n  boom\n"


def test_junit_xml_has_a_case_per_subtest_and_parses(tmp_path: Path) -> None:
    result = ScriptResult(Path("t.py"), 3.0, [SubtestResult("a", 1.0),
                                              SubtestResult("b <&>", 2.0, "boom")],
                          failure="t.py:4: x()\nboom")
    path = write(tmp_path / "r.xml", junit_xml(result))
    suites = junitparser.JUnitXml.fromfile(str(path))
    suite = next(iter(suites))
    cases = list(suite)
    assert [c.name for c in cases] == ["a", "b <&>"]
    assert cases[0].is_passed and not cases[1].is_passed
    assert suite.tests == 2 and suite.failures == 1


def test_junit_xml_of_a_script_without_subtests_has_one_case_for_it(tmp_path: Path) -> None:
    result = ScriptResult(Path("plain.py"), 1.0, [], failure="plain.py:1: f()\nbad")
    suite = next(iter(junitparser.JUnitXml.fromfile(str(write(tmp_path / "r.xml",
                                                                junit_xml(result))))))
    assert [c.name for c in suite] == ["plain.py"]
    assert suite.failures == 1


def test_the_backdoor_sends_a_command_verbatim_in_a_here_document() -> None:
    line = backdoor.command_line("echo 'quoted' \"and\" $HOME\nsecond line", "tok")
    assert line == (b"__nv1 tok 3<<'Etok'\n"
                    b"echo 'quoted' \"and\" $HOME\nsecond line\nEtok\n")


def test_a_put_names_its_token_size_quoted_path_and_checksum() -> None:
    assert backdoor.put_line("tok", 12, "/tmp/a b/blob", "0123abcd") == \
        b"__nixvms_recv tok 12 '/tmp/a b/blob' 0123abcd\n"


def test_a_copy_whose_bytes_arrive_damaged_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("data")
    commands: list[str] = []

    def run(command: str, timeout: float | None,
            sink: backdoor.Sink | None) -> tuple[int, bytes]:
        commands.append(command)
        return 0, b"/tmp/tmp.x\n"

    def put(data: bytes, path: str, timeout: float | None) -> int:
        assert path == "/tmp/tmp.x/blob"
        return backdoor.PUT_DAMAGED

    with pytest.raises(transfer.TransferError, match="arrived damaged"):
        transfer.to_machine(run, put, tmp_path / "f", "/root/f")
    assert commands == ["mktemp -d"]  # nothing placed


@pytest.mark.parametrize(("command", "runner"), [
    ("true", b"__nv1"), ("systemctl is-active sshd", b"__nv1"),
    ("cat ./x.conf", b"__nv1"), ("exec foo", b"__nv2"),
    ("trap 'rm -f x' EXIT; foo", b"__nv2"), (". /etc/profile; foo", b"__nv2"),
    ("x=1; source f", b"__nv2"), ('eval "$cmd"', b"__nv2"),
])
def test_a_command_that_may_exec_or_trap_gets_the_two_shell_form(
        command: str, runner: bytes) -> None:
    assert backdoor.command_line(command, "tok").split(b" ", 1)[0] == runner
