"""The NixOS driver API's parts that need no machine (issue 24): the script's
names, `t`, `log`, polling conditions, timeouts as timedelta, retry's
keyword, create_machine, vlans, fresh machine state, the lint, key names."""

from __future__ import annotations

import datetime
import inspect
import io
import json
from pathlib import Path

import pytest

from nixvms.nixostest import nix_path
from nixvms.supervisor.driver import Driver
from nixvms.supervisor.errors import MachineError, RequestedAssertionFailed
from nixvms.supervisor.lint import SCRIPT_NAMES, check_source, script_namespace
from nixvms.supervisor.machine import Machine
from nixvms.supervisor.polling import PollingConditionError, retry, seconds
from nixvms.supervisor.screen import CHAR_TO_KEY
from tests.conftest import write


def make_driver(tmp_path: Path, **kwargs: object) -> Driver:
    network = tmp_path / "net"
    machines = [{"name": n, "vm": str(tmp_path / "vm" / n), "vlans": [1, 3]}
                for n in ("web-1", "db", "1st")]
    write(network / "network.json", json.dumps({"machines": machines}))
    return Driver(network, tmp_path / "state", **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def driver(tmp_path: Path) -> Driver:
    return make_driver(tmp_path, stream=io.StringIO())


def terminal(driver: Driver) -> str:
    assert isinstance(driver.logger.stream, io.StringIO)
    return driver.logger.stream.getvalue()


def test_driver_machines_is_a_list_sorted_by_name(driver: Driver) -> None:
    assert [m.name for m in driver.machines] == ["1st", "db", "web-1"]
    assert driver.machines_qemu == driver.machines


def test_the_script_sees_nixos_names_for_machines_and_vlans(driver: Driver) -> None:
    namespace = driver.namespace()
    assert namespace["_st"] is driver.by_name["1st"]
    assert namespace["web_1"] is driver.by_name["web-1"]
    assert namespace["vlan3"].nr == 3
    assert [v.nr for v in namespace["vlans"]] == [1, 3]


def test_the_names_known_before_the_build_are_the_drivers(driver: Driver) -> None:
    assert set(script_namespace(["web-1", "db", "1st"])) == set(driver.namespace()) - {
        "vlan1", "vlan3"}
    assert set(SCRIPT_NAMES) <= set(driver.namespace())


def test_t_fails_as_requested_assertion_failed(driver: Driver) -> None:
    t = driver.namespace()["t"]
    t.assertIn("a", "abc")
    with pytest.raises(RequestedAssertionFailed) as failed:
        t.assertEqual(1, 2)
    assert isinstance(failed.value, AssertionError)


def test_log_is_a_logger_with_info_and_nested(driver: Driver) -> None:
    log = driver.namespace()["log"]
    log.info("an info line")
    with log.nested("a nested step"):
        log.warning("inside")
    log("called as a function")
    text = terminal(driver)
    assert "an info line" in text and "a nested step" in text
    assert "  warning: inside" in text and "called as a function" in text


def test_log_level_hides_what_is_less_important(tmp_path: Path) -> None:
    import logging

    driver = make_driver(tmp_path, stream=io.StringIO(), log_level=logging.WARNING)
    driver.logger.info("hidden")
    driver.logger.error("shown")
    assert "hidden" not in terminal(driver) and "error: shown" in terminal(driver)


def test_a_polling_condition_that_fails_raises_at_the_next_check(driver: Driver) -> None:
    holds = {"now": True}

    def server_alive() -> bool:
        return holds["now"]

    with driver.polling_condition(server_alive, seconds_interval=0):
        driver.check_polling_conditions()
        holds["now"] = False
        with pytest.raises(PollingConditionError, match="failed: server_alive"):
            driver.check_polling_conditions()
    driver.check_polling_conditions()  # out of the block: no longer checked


def test_polling_condition_as_a_decorator_with_arguments(driver: Driver) -> None:
    def failing() -> None:
        raise ValueError("it does not")

    thing = driver.polling_condition(seconds_interval=0, description="the thing holds")(failing)
    with thing, pytest.raises(PollingConditionError, match="the thing holds"):
        driver.check_polling_conditions()


def test_timeouts_are_seconds_or_timedelta() -> None:
    assert seconds(datetime.timedelta(minutes=2)) == 120
    assert seconds(5) == 5 and seconds(None) is None
    with pytest.raises(TypeError):
        seconds(True)


def test_retry_takes_timeout_as_a_keyword_and_a_timedelta() -> None:
    calls: list[bool] = []

    def never(last: bool) -> bool:
        calls.append(last)
        return False

    with pytest.raises(RequestedAssertionFailed):
        retry(never, timeout=datetime.timedelta(seconds=0.5))
    assert calls[-1] is True


def test_wait_for_console_text_waits_forever_by_default() -> None:
    default = inspect.signature(Machine.wait_for_console_text).parameters["timeout"].default
    assert default is None


def test_create_machine_gives_the_networks_machine(driver: Driver) -> None:
    assert driver.create_machine("/nix/store/x/bin/run-db-vm") is driver.by_name["db"]
    assert driver.create_machine("anything", name="web-1") is driver.by_name["web-1"]
    with pytest.raises(MachineError, match="add the machine to the test's nodes"):
        driver.create_machine("/nix/store/x/bin/run-other-vm")


def test_x11_helpers_say_they_are_not_available(driver: Driver) -> None:
    machine = driver.by_name["db"]
    for call in (machine.wait_for_x, machine.get_window_names,
                 lambda: machine.wait_for_window("xterm")):
        with pytest.raises(MachineError, match="not available on this machine"):
            call()


def test_machine_state_is_removed_unless_kept(tmp_path: Path) -> None:
    disk = tmp_path / "state" / "db" / "db.qcow2"
    write(disk, "a disk")
    make_driver(tmp_path, stream=None, keep_machine_state=True, snapshots=False)
    assert disk.exists()
    make_driver(tmp_path, stream=None, snapshots=False)  # (with snapshots: a new disk at start)
    assert not disk.exists()


def test_machine_directories_are_nixos_attributes(driver: Driver) -> None:
    machine = driver.by_name["db"]
    assert machine.state_dir == driver.run_dir.machine_dir("db")
    assert machine.shared_dir.is_dir()
    assert machine.out_dir == driver.out_dir


def test_keys_are_qemu_names_for_characters() -> None:
    assert CHAR_TO_KEY["A"] == "shift-a"
    assert CHAR_TO_KEY["_"] == "shift-minus"
    assert CHAR_TO_KEY["\n"] == "ret"
    assert CHAR_TO_KEY[" "] == "spc"
    assert CHAR_TO_KEY["|"] == "shift-backslash"


def test_lint_knows_vlans_and_names_the_script_binds() -> None:
    check_source("x = 1\nprint(x, vlan2)\ndef f(a):\n    return a\n", "s.py", ["db"],
                 script_namespace(["db"]))


def test_lint_names_an_undefined_name_and_its_line() -> None:
    with pytest.raises(MachineError, match=r"s\.py:2: undefined name 'prnt'"):
        check_source("x = 1\nprnt(x)\n", "s.py", ["db"], script_namespace(["db"]))


def test_lint_off_still_refuses_a_syntax_error() -> None:
    check_source("prnt(1)\n", "s.py", [], {}, lint=False)
    with pytest.raises(MachineError, match=r"s\.py:1"):
        check_source("if True\n", "s.py", [], {}, lint=False)


@pytest.mark.parametrize(("path", "expression"), [
    ("/a/b.nix", "/a/b.nix"),
    ("/a b/c.nix", '(/. + "/a b/c.nix")'),
    ('/a"$/c.nix', '(/. + "/a\\"\\$/c.nix")'),
])
def test_nix_paths_are_quoted_when_they_must_be(path: str, expression: str) -> None:
    assert nix_path(Path(path)) == expression
