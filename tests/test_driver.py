"""The test driver's API (nixvms/supervisor/driver.py) against two booted
tinyos machines (real QEMU under TCG, real vde_switch), built by nixvms with
the test instrumentation. Each method, and how it fails."""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nixvms.supervisor.driver import Driver
from nixvms.supervisor.machine import Machine, MachineError, RequestedAssertionFailed
from tests.conftest import nixvms, write

NETWORK = """
{
  defaults = { modulesPath, ... }: {
    imports = [ (modulesPath + "/testing/test-instrumentation.nix") ];
    networking.firewall.enable = false;
  };
  alpha = { ... }: {
    systemd.services.web = {
      wantedBy = [ "multi-user.target" ];
      script = "exec httpd -f -p 8080 -h /etc";
    };
    systemd.services.broken = {
      wantedBy = [ "multi-user.target" ];
      serviceConfig.Type = "oneshot";
      script = "echo broken on purpose; exit 4";
    };
    # wanted by nothing: it never starts by itself
    systemd.services.idle.script = "sleep 1000";
    systemd.services.slow = {
      serviceConfig.Type = "oneshot";
      script = "sleep 1000";
    };
  };
  beta = { ... }: { };
}
"""


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("driver")
    write(project / "network.nix", NETWORK)
    built = nixvms("build", cwd=project)
    assert built.code == 0, built.stderr
    return project


class Booted:
    def __init__(self, driver: Driver, terminal: io.StringIO, state: Path) -> None:
        self.driver = driver
        self.terminal = terminal
        self.state = state
        self.alpha = driver.by_name["alpha"]
        self.beta = driver.by_name["beta"]


@pytest.fixture(scope="module")
def booted(network: Path) -> Iterator[Booted]:
    terminal = io.StringIO()
    state = network / "state"
    with Driver(network / "result", state, stream=terminal, out_dir=network / "out") as driver:
        driver.start_all()
        yield Booted(driver, terminal, state)


pytestmark = [pytest.mark.nix, pytest.mark.vm]


# --- commands --------------------------------------------------------------------


def test_execute_returns_exit_status_and_standard_output(booted: Booted) -> None:
    assert booted.alpha.execute("echo out; echo err >&2; exit 3") == (3, "out\n")


def test_execute_runs_with_pipefail_and_nounset(booted: Booted) -> None:
    assert booted.alpha.execute("false | true")[0] != 0
    assert booted.alpha.execute("echo $UNSET_VARIABLE")[0] != 0


def test_execute_keeps_binary_and_multiline_output(booted: Booted) -> None:
    status, output = booted.alpha.execute("printf 'a\\nb\\n\\tc'; printf '\\001'")
    assert (status, output) == (0, "a\nb\n\tc\x01")


def test_execute_kills_a_command_at_its_timeout(booted: Booted) -> None:
    began = time.monotonic()
    status, _ = booted.alpha.execute("sleep 60", timeout=2)
    assert status != 0 and time.monotonic() - began < 30


def test_a_command_leaving_a_process_behind_returns(booted: Booted) -> None:
    assert booted.alpha.execute("sleep 100 & echo started") == (0, "started\n")


def test_succeed_returns_the_output_of_all_its_commands(booted: Booted) -> None:
    assert booted.beta.succeed("hostname", "echo two") == "beta\ntwo\n"


def test_succeed_raises_with_the_command_its_status_and_its_output(booted: Booted) -> None:
    with pytest.raises(RequestedAssertionFailed) as failed:
        booted.alpha.succeed("echo some words; exit 7")
    message = str(failed.value)
    assert "`echo some words; exit 7`" in message
    assert "exit status 7" in message
    assert "some words" in message
    assert failed.value.machine == "alpha"


def test_fail_returns_the_output_of_a_failing_command(booted: Booted) -> None:
    assert booted.alpha.fail("echo no; false") == "no\n"


def test_fail_raises_when_the_command_succeeds(booted: Booted) -> None:
    with pytest.raises(RequestedAssertionFailed, match="`true` unexpectedly succeeded"):
        booted.alpha.fail("true")


def test_wait_until_succeeds_returns_once_the_command_succeeds(booted: Booted) -> None:
    booted.alpha.succeed("rm -f /tmp/later; (sleep 2; echo done > /tmp/later) >/dev/null 2>&1 &")
    assert booted.alpha.wait_until_succeeds("cat /tmp/later", timeout=30) == "done\n"


def test_wait_until_succeeds_times_out_naming_the_command(booted: Booted) -> None:
    began = time.monotonic()
    with pytest.raises(RequestedAssertionFailed, match=r"timed out .*`test -e /nonexistent`"):
        booted.alpha.wait_until_succeeds("test -e /nonexistent", timeout=3)
    assert time.monotonic() - began < 20


def test_wait_until_fails_returns_once_the_command_fails(booted: Booted) -> None:
    booted.alpha.succeed("touch /tmp/going; (sleep 2; rm /tmp/going) >/dev/null 2>&1 &")
    booted.alpha.wait_until_fails("test -e /tmp/going", timeout=30)


def test_wait_until_fails_times_out_naming_the_command(booted: Booted) -> None:
    with pytest.raises(RequestedAssertionFailed, match=r"timed out .*`true` to fail"):
        booted.alpha.wait_until_fails("true", timeout=3)


# --- units, ports, files -----------------------------------------------------------


def test_wait_for_unit_returns_when_the_unit_is_active(booted: Booted) -> None:
    booted.alpha.wait_for_unit("multi-user.target", timeout=120)
    booted.alpha.wait_for_unit("web.service", timeout=60)


def test_wait_for_unit_raises_at_once_for_a_failed_unit_with_its_journal(
    booted: Booted,
) -> None:
    began = time.monotonic()
    with pytest.raises(RequestedAssertionFailed, match='unit "broken" reached state "failed"') \
            as failed:
        booted.alpha.wait_for_unit("broken", timeout=300)
    assert "broken on purpose" in str(failed.value)
    assert time.monotonic() - began < 60


def test_wait_for_unit_raises_for_a_unit_that_never_starts(booted: Booted) -> None:
    booted.alpha.wait_for_unit("multi-user.target", timeout=120)  # no start job left
    with pytest.raises(RequestedAssertionFailed, match="inactive and there are no pending jobs"):
        booted.alpha.wait_for_unit("idle", timeout=300)


def test_wait_for_unit_times_out_naming_the_unit(booted: Booted) -> None:
    # a oneshot that stays activating: its start job never finishes
    booted.alpha.succeed("systemctl start --no-block slow")
    with pytest.raises(RequestedAssertionFailed, match=r"timed out .*unit slow to be active"):
        booted.alpha.wait_for_unit("slow", timeout=3)


def test_wait_for_open_port_returns_when_something_listens(booted: Booted) -> None:
    booted.alpha.wait_for_open_port(8080, timeout=60)
    booted.beta.wait_for_open_port(8080, "alpha", timeout=60)


def test_wait_for_open_port_times_out_for_a_port_that_never_opens(booted: Booted) -> None:
    with pytest.raises(RequestedAssertionFailed, match=r"timed out .*TCP port 9 on localhost"):
        booted.alpha.wait_for_open_port(9, timeout=3)


def test_wait_for_closed_port_returns_once_the_service_stops(booted: Booted) -> None:
    booted.alpha.succeed("systemctl stop web")
    try:
        booted.alpha.wait_for_closed_port(8080, timeout=30)
    finally:
        booted.alpha.succeed("systemctl start web")
    booted.alpha.wait_for_open_port(8080, timeout=30)


def test_wait_for_closed_port_times_out_while_it_is_open(booted: Booted) -> None:
    booted.alpha.wait_for_open_port(8080, timeout=60)
    with pytest.raises(RequestedAssertionFailed, match="TCP port 8080 on localhost to close"):
        booted.alpha.wait_for_closed_port(8080, timeout=3)


def test_wait_for_file_returns_when_the_file_appears(booted: Booted) -> None:
    booted.beta.succeed("rm -f /tmp/appears; (sleep 2; touch /tmp/appears) >/dev/null 2>&1 &")
    booted.beta.wait_for_file("/tmp/appears", timeout=30)


def test_wait_for_file_times_out_naming_the_file(booted: Booted) -> None:
    with pytest.raises(RequestedAssertionFailed, match="file /never/there"):
        booted.beta.wait_for_file("/never/there", timeout=3)


# --- consoles and the monitor --------------------------------------------------------


def test_wait_for_console_text_matches_what_the_machine_writes_on_its_console(
    booted: Booted,
) -> None:
    booted.alpha.succeed("echo console-marker-$((6 * 7)) > /dev/console")
    booted.alpha.wait_for_console_text(r"console-marker-42", timeout=30)


def test_wait_for_console_text_consumes_what_it_matched(booted: Booted) -> None:
    booted.alpha.succeed("echo once-only-marker > /dev/console")
    booted.alpha.wait_for_console_text("once-only-marker", timeout=30)
    with pytest.raises(RequestedAssertionFailed, match="/once-only-marker/"):
        booted.alpha.wait_for_console_text("once-only-marker", timeout=2)


def test_wait_for_console_text_times_out_naming_the_pattern(booted: Booted) -> None:
    with pytest.raises(RequestedAssertionFailed, match=r"timed out .*/never-printed/"):
        booted.beta.wait_for_console_text("never-printed", timeout=2)


def test_send_console_types_on_the_serial_console(booted: Booted) -> None:
    # the getty's login prompt reads what is typed, and the terminal echoes it
    booted.beta.send_console("\n")
    booted.beta.wait_for_console_text("beta login:", timeout=30)
    booted.beta.send_console("typed-by-the-driver\n")
    booted.beta.wait_for_console_text("login: typed-by-the-driver", timeout=30)


def test_send_monitor_command_answers(booted: Booted) -> None:
    assert "virtio-net-pci" in booted.alpha.send_monitor_command("info network")


def test_every_vm_has_a_qmp_socket_the_qemu_client_reaches(booted: Booted) -> None:
    assert booted.alpha.qemu.status() == "running"


def test_block_cuts_the_vlan_and_unblock_restores_it(booted: Booted) -> None:
    booted.beta.wait_until_succeeds("ping -c 1 -W 2 alpha", timeout=60)
    booted.alpha.block()
    try:
        booted.beta.fail("ping -c 1 -W 2 alpha")
        # the backdoor is no network: commands still reach a blocked machine
        assert booted.alpha.succeed("hostname") == "alpha\n"
    finally:
        booted.alpha.unblock()
    booted.beta.wait_until_succeeds("ping -c 1 -W 2 alpha", timeout=30)


# --- files ----------------------------------------------------------------------------


def test_copy_from_host_copies_a_file_and_a_directory(booted: Booted, tmp_path: Path) -> None:
    write(tmp_path / "tree" / "a.txt", "first\n")
    write(tmp_path / "tree" / "sub" / "b.txt", "second\n")
    big = bytes(range(256)) * 1024  # several transfer chunks, every byte value
    (tmp_path / "big.bin").write_bytes(big)
    booted.beta.copy_from_host(str(tmp_path / "tree"), "/root/copied")
    booted.beta.copy_from_host(str(tmp_path / "big.bin"), "/root/deep/big.bin")
    assert booted.beta.succeed("cat /root/copied/a.txt /root/copied/sub/b.txt") == \
        "first\nsecond\n"
    assert booted.beta.succeed("stat -c %s /root/deep/big.bin") == f"{len(big)}\n"
    assert booted.beta.succeed("md5sum < /root/deep/big.bin").split()[0] == \
        __import__("hashlib").md5(big).hexdigest()


def test_copy_from_vm_copies_into_the_output_directory(booted: Booted, network: Path) -> None:
    booted.beta.succeed("mkdir -p /root/export/inner", "echo exported > /root/export/inner/f")
    booted.beta.copy_from_vm("/root/export", "from-beta")
    assert (network / "out" / "from-beta" / "export" / "inner" / "f").read_text() == \
        "exported\n"
    booted.beta.copy_from_vm("/etc/hostname")
    assert (network / "out" / "hostname").read_text() == "beta\n"


def test_output_of_megabytes_comes_back_whole(booted: Booted) -> None:
    """Over 750 kB used to hang forever (the reader lost the reply's header)."""
    assert booted.alpha.succeed("head -c 2000000 /dev/zero | tr '\\000' x") == "x" * 2_000_000


def test_copy_from_vm_of_16_mb_of_random_bytes_arrives_whole(
        booted: Booted, network: Path) -> None:
    digest = booted.alpha.succeed(
        "head -c 16000000 /dev/urandom > /tmp/big && md5sum < /tmp/big").split()[0]
    booted.alpha.copy_from_vm("/tmp/big", "large")
    copied = (network / "out" / "large" / "big").read_bytes()
    assert len(copied) == 16_000_000
    assert hashlib.md5(copied).hexdigest() == digest
    assert "MB/s" in booted.terminal.getvalue()
    booted.alpha.succeed("rm /tmp/big")


def test_copy_from_host_of_a_large_binary_file_arrives_whole(
        booted: Booted, tmp_path: Path) -> None:
    data = os.urandom(8_000_000)
    write_bytes = tmp_path / "blob.bin"
    write_bytes.write_bytes(data)
    booted.alpha.copy_from_host(str(write_bytes), "/tmp/blob.bin")
    assert booted.alpha.succeed("md5sum < /tmp/blob.bin").split()[0] == \
        hashlib.md5(data).hexdigest()
    booted.alpha.succeed("rm /tmp/blob.bin")


def test_execute_with_a_timeout_kills_a_command_that_ignores_sigterm(booted: Booted) -> None:
    began = time.monotonic()
    status, _ = booted.alpha.execute("trap '' TERM; sleep 600 & sleep 601", timeout=5)
    took = time.monotonic() - began
    assert status == 124
    assert took < 5 + 15, took  # the timeout plus a small bound (it was 65 s)
    assert booted.alpha.succeed("ps -o args | grep -c '^sleep 60[01]' || true").strip() == "0"


def test_copy_from_host_of_a_missing_file_names_it(booted: Booted, tmp_path: Path) -> None:
    with pytest.raises(MachineError, match="does not exist on the host"):
        booted.beta.copy_from_host(str(tmp_path / "missing"), "/root/x")


# --- logs ----------------------------------------------------------------------------


def test_every_command_is_logged_per_machine_with_a_timestamp(booted: Booted) -> None:
    booted.beta.succeed("echo logged-output-line")
    log = (booted.state / "beta.driver.log").read_text()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.search(rf"^{stamp} must succeed: echo logged-output-line$", log, re.M)
    assert re.search(rf"^{stamp} exit status 0 after [\d.]+ s: echo logged-output-line$", log,
                     re.M)
    assert re.search(rf"^{stamp}   \| logged-output-line$", log, re.M)
    assert (booted.state / "beta.driver.log").stat().st_mode & 0o777 == 0o600


def test_commands_are_logged_on_the_terminal_with_elapsed_time_and_machine(
    booted: Booted,
) -> None:
    booted.alpha.succeed("echo on-the-terminal")
    assert re.search(r"^\[ *[\d.]+\] +alpha: must succeed: echo on-the-terminal$",
                     booted.terminal.getvalue(), re.M)


# --- lifecycle (beta; alpha keeps running) ------------------------------------------------


def test_shutdown_powers_the_machine_off_and_start_boots_it_again(booted: Booted) -> None:
    booted.beta.start()
    booted.beta.shutdown()
    assert not booted.beta.is_up()
    assert booted.alpha.succeed("echo still here") == "still here\n"
    booted.beta.start()
    assert booted.beta.succeed("hostname") == "beta\n"


def test_crash_stops_the_machine_at_once(booted: Booted) -> None:
    booted.beta.start()
    booted.beta.succeed("true")
    began = time.monotonic()
    booted.beta.crash()
    assert not booted.beta.is_up() and time.monotonic() - began < 10


def test_a_command_starts_a_machine_that_is_not_running(booted: Booted) -> None:
    booted.beta.crash()
    assert booted.beta.succeed("hostname") == "beta\n"


def test_wait_for_shutdown_returns_when_the_machine_powers_itself_off(booted: Booted) -> None:
    booted.beta.start()
    booted.beta.succeed("(sleep 1; poweroff) >/dev/null 2>&1 &")
    booted.beta.wait_for_shutdown(timeout=60)
    assert not booted.beta.is_up()


def test_a_command_on_a_machine_that_died_says_so(booted: Booted) -> None:
    booted.beta.start()
    booted.beta.succeed("true")
    with pytest.raises(MachineError, match="beta is not running"):
        booted.beta.execute("echo 1 > /proc/sys/kernel/sysrq; echo o > /proc/sysrq-trigger; "
                            "sleep 30")


def test_join_all_waits_for_every_machine_to_power_off(booted: Booted) -> None:
    booted.beta.start()
    booted.beta.succeed("(sleep 1; poweroff) >/dev/null 2>&1 &")
    booted.alpha.succeed("(sleep 1; poweroff) >/dev/null 2>&1 &")
    booted.driver.join_all()
    assert not booted.alpha.is_up() and not booted.beta.is_up()



def test_the_only_machine_starts_again_right_after_its_shutdown(tmp_path: Path) -> None:
    # the supervisor ends with the network's last machine; start() right
    # after shutdown() (as nixpkgs' timezone.nix does) starts a new one
    # rather than asking the one that is ending
    write(tmp_path / "network.nix", """{
      defaults = { modulesPath, ... }: {
        imports = [ (modulesPath + "/testing/test-instrumentation.nix") ];
      };
      solo = { ... }: { };
    }""")
    assert nixvms("build", cwd=tmp_path).code == 0
    with Driver(tmp_path / "result", tmp_path / "state", stream=io.StringIO()) as driver:
        solo = driver.by_name["solo"]
        solo.start()
        solo.shutdown()
        solo.start()
        assert solo.succeed("hostname") == "solo\n"

def test_machines_are_named_by_machine_name(booted: Booted) -> None:
    assert isinstance(booted.driver.by_name["alpha"], Machine)
    with pytest.raises(MachineError, match=r"no machine named 'gamma'.*alpha, beta"):
        booted.driver.machine("gamma")
