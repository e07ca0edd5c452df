"""tinyos's nixos/modules/testing/test-instrumentation.nix and the systemctl
and journalctl it serves: NixOS's contract (a root shell on /dev/hvc0 that
says "Spawning backdoor root shell...", the serial console primary, the
journal on it) and systemd's answers and exit codes, on one booted machine
(real QEMU under TCG), asked through the test driver's backdoor."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from nixvms.supervisor.driver import Driver
from nixvms.supervisor.machine import Machine
from tests.conftest import nixvms, write
from tests.tinyos.conftest import Machines

pytestmark = [pytest.mark.nix, pytest.mark.vm]

NETWORK = """
{
  solo = { modulesPath, ... }: {
    imports = [ (modulesPath + "/testing/test-instrumentation.nix") ];
    systemd.services.greeter = {
      description = "Greeter";
      wantedBy = [ "multi-user.target" ];
      serviceConfig.Type = "oneshot";
      serviceConfig.RemainAfterExit = true;
      script = "echo greetings from the greeter";
    };
    systemd.services.web = {
      description = "Web server";
      wantedBy = [ "multi-user.target" ];
      after = [ "greeter.service" ];
      serviceConfig.Restart = "always";
      serviceConfig.RestartSec = 1;
      script = "echo web starting; exec httpd -f -p 8080 -h /etc";
    };
    systemd.services.broken = {
      description = "Broken on purpose";
      wantedBy = [ "multi-user.target" ];
      serviceConfig.Type = "oneshot";
      script = "echo about to fail; exit 3";
    };
    systemd.services.needs-broken = {
      wantedBy = [ "multi-user.target" ];
      requires = [ "broken.service" ];
      after = [ "broken.service" ];
      script = "sleep 1000";
    };
    # unitConfig: a condition checked when the unit starts, and [Unit] keys
    # NixOS's own options also write (Description, Wants)
    systemd.services.conditional = {
      wantedBy = [ "multi-user.target" ];
      unitConfig = {
        Description = "Conditional";
        ConditionPathExists = "/run/go";
        Wants = "pulled.service";
      };
      serviceConfig.Type = "oneshot";
      serviceConfig.RemainAfterExit = true;
      script = "echo conditions met";
    };
    systemd.services.pulled = {
      serviceConfig.Type = "oneshot";
      serviceConfig.RemainAfterExit = true;
      script = "echo pulled in";
    };
    systemd.services.manual = {
      description = "Manual service";
      script = "echo manual line one; echo manual line two; exec sleep 1000";
    };
    # serviceConfig's process settings (systemd.exec(5)), on one service
    users.users.svc = { isSystemUser = true; group = "svc"; extraGroups = [ "wheel" ]; };
    users.groups.svc = { };
    environment.etc."svc.env".text = ''
      # a comment
      FROM_FILE="from the file"
      OVERRIDDEN=by-the-file
    '';
    systemd.services.execsettings = {
      wantedBy = [ "multi-user.target" ];
      environment.BY_OPTION = "option";
      serviceConfig = {
        User = "svc";
        Group = "users";
        SupplementaryGroups = [ "kmem" ];
        Environment = [ ''"SPACED=two words" PLAIN=1'' "OVERRIDDEN=by-environment" ];
        EnvironmentFile = [ "/etc/svc.env" "-/etc/no-such.env" ];
        UMask = "0027";
        LimitNOFILE = "1234:2345";
        Nice = 7;
        StateDirectory = "execsettings";
        StateDirectoryMode = "0700";
        RuntimeDirectory = "execsettings";
        RuntimeDirectoryMode = "0750";
        SyslogIdentifier = "execident";
        TimeoutStartSec = 30;
        ProtectSystem = "strict";
      };
      script = "echo execsettings up; exec sleep 4242";
    };
    systemd.services.exits-42 = {
      wantedBy = [ "multi-user.target" ];
      serviceConfig = { Type = "oneshot"; RemainAfterExit = true; };
      serviceConfig.SuccessExitStatus = "42 SIGUSR1";
      script = "exit 42";
    };
    # bash-only constructs (an array, [[ ]]): NixOS's activate script is bash
    system.activationScripts.bashOnly.text = ''
      words=(activated by bash)
      if [[ ''${#words[@]} -eq 3 && -n $BASH_VERSION ]]; then
        echo "''${words[*]} in $systemConfig" > /run/bash-activation
      fi
    '';
    system.activationScripts.failsHalfway.text = ''
      false
      echo "ran on after a failure" > /run/after-a-failure
    '';
  };
}
"""


@pytest.fixture(scope="module")
def solo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machine]:
    project = tmp_path_factory.mktemp("instrumentation")
    write(project / "network.nix", NETWORK)
    built = nixvms("build", cwd=project)
    assert built.code == 0, built.stderr
    with Driver(project / "result", project / "state", stream=None) as driver:
        machine = driver.by_name["solo"]
        machine.start()
        machine.wait_for_unit("multi-user.target", timeout=120)
        yield machine


def run(machine: Machine, command: str) -> tuple[int, str]:
    """A command's exit status and its output, stdout and stderr together."""
    return machine.execute(f"{command} 2>&1")


# --- the backdoor ----------------------------------------------------------------------


def test_the_backdoor_says_spawning_backdoor_root_shell_when_it_starts(solo: Machine) -> None:
    # restart it while only a plain socket listens: what NixOS's driver waits for
    solo.succeed("(sleep 2; systemctl restart backdoor) >/dev/null 2>&1 &")
    solo.backdoor.close()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(solo.driver.run_dir.shell_socket("solo")))
        sock.settimeout(60)
        seen = b""
        while b"Spawning backdoor root shell...\n" not in seen:
            chunk = sock.recv(4096)
            assert chunk, seen
            seen += chunk
    assert solo.succeed("systemctl is-active backdoor") == "active\n"


def test_the_backdoor_is_a_root_shell_on_the_virtio_console(solo: Machine) -> None:
    assert solo.succeed("id -u") == "0\n"
    solo.succeed("test -c /dev/hvc0", "grep -q '^virtio_console ' /proc/modules")
    assert "connecting to host..." in solo.get_console_log()


def test_the_backdoor_runs_commands_in_bash(solo: Machine) -> None:
    # as NixOS's backdoor (bash --norc /dev/hvc0): an array and [[ ]] work
    assert solo.succeed('words=(a b c); [[ ${#words[@]} -eq 3 ]] && echo "${words[2]}"') == "c\n"
    assert solo.succeed("echo $BASH_VERSION").startswith("5.")


def test_commands_find_nc_on_path_and_it_is_openbsd_netcat_as_on_nixos(solo: Machine) -> None:
    # busybox sh would run its own nc applet whatever PATH says
    assert solo.succeed("command -v nc") == "/run/current-system/sw/bin/nc\n"
    assert "OpenBSD netcat" in solo.succeed("nc -h 2>&1 | head -1 || true")


def test_bin_sh_and_sh_on_path_are_bash_as_environment_binsh(solo: Machine) -> None:
    assert solo.succeed("sh -c 'echo $BASH_VERSION'").startswith("5.")
    assert solo.succeed("/bin/sh -c 'echo $BASH_VERSION'").startswith("5.")
    assert solo.succeed("readlink -f /bin/sh").rstrip().endswith("/bin/bash")


def test_the_serial_console_is_the_primary_console(solo: Machine) -> None:
    consoles = solo.succeed("cat /proc/consoles")
    assert re.search(r"^ttyS0 .*\(.*C.*\)", consoles, re.M), consoles


def test_the_journal_goes_to_the_serial_console(solo: Machine) -> None:
    log = solo.get_console_log()
    assert "greeter: greetings from the greeter" in log
    assert "[  OK  ] Finished Greeter." in log


def test_commands_stderr_goes_to_the_serial_console(solo: Machine) -> None:
    solo.succeed("echo stderr-of-a-command >&2")
    solo.wait_for_console_text("stderr-of-a-command", timeout=30)


# --- systemctl ---------------------------------------------------------------------------


def test_is_active_exits_0_for_an_active_unit(solo: Machine) -> None:
    assert run(solo, "systemctl is-active web") == (0, "active\n")
    assert run(solo, "systemctl is-active greeter.service") == (0, "active\n")
    assert run(solo, "systemctl is-active multi-user.target") == (0, "active\n")


def test_is_active_exits_3_for_inactive_failed_and_unknown_units(solo: Machine) -> None:
    assert run(solo, "systemctl is-active manual") == (3, "inactive\n")
    assert run(solo, "systemctl is-active broken") == (3, "failed\n")
    assert run(solo, "systemctl is-active no-such-unit") == (3, "inactive\n")
    assert run(solo, "systemctl is-active --quiet broken") == (3, "")


def test_a_unit_whose_requirement_failed_is_not_started(solo: Machine) -> None:
    assert run(solo, "systemctl is-active needs-broken") == (3, "inactive\n")
    assert "Dependency failed for needs-broken.service." in solo.succeed(
        "journalctl -u needs-broken")


def test_status_of_an_active_unit_exits_0_with_its_journal(solo: Machine) -> None:
    status, output = run(solo, "systemctl status web")
    assert status == 0
    assert output.startswith("● web.service - Web server\n")
    assert re.search(r"Active: active \(running\) since \w{3} \d{4}-\d\d-\d\d ", output)
    assert re.search(r"Main PID: \d+", output)
    assert "web starting" in output


def test_status_of_a_failed_unit_exits_3(solo: Machine) -> None:
    status, output = run(solo, "systemctl status broken")
    assert status == 3
    assert "Active: failed (Result: exit-code)" in output
    assert "about to fail" in output


def test_status_of_an_unknown_unit_exits_4(solo: Machine) -> None:
    assert run(solo, "systemctl status no-such-unit") == (
        4, "Unit no-such-unit.service could not be found.\n")


def test_show_gives_properties_as_key_value_lines(solo: Machine) -> None:
    assert solo.succeed("systemctl show -p ActiveState web") == "ActiveState=active\n"
    assert solo.succeed("systemctl show web --property=SubState --value") == "running\n"
    assert solo.succeed("systemctl show -p ActiveState -p Result broken") == \
        "ActiveState=failed\nResult=exit-code\n"
    unknown = solo.succeed("systemctl --no-pager show no-such-unit")
    assert "LoadState=not-found\n" in unknown and "ActiveState=inactive\n" in unknown


def test_start_and_stop_change_the_units_state(solo: Machine) -> None:
    solo.succeed("systemctl start manual")
    assert solo.succeed("systemctl is-active manual") == "active\n"
    pid = solo.succeed("systemctl show -p MainPID --value manual").strip()
    assert solo.succeed(f"cat /proc/{pid}/comm") == "sleep\n"
    solo.succeed("systemctl stop manual")
    assert run(solo, "systemctl is-active manual") == (3, "inactive\n")
    assert run(solo, f"test -e /proc/{pid}")[0] != 0


def test_restart_starts_a_new_main_process(solo: Machine) -> None:
    before = solo.succeed("systemctl show -p MainPID --value web").strip()
    solo.succeed("systemctl restart web")
    after = solo.succeed("systemctl show -p MainPID --value web").strip()
    assert after not in ("0", before)
    solo.wait_for_open_port(8080, timeout=30)


def test_restart_always_restarts_a_main_process_that_dies(solo: Machine) -> None:
    pid = solo.succeed("systemctl show -p MainPID --value web").strip()
    solo.succeed(f"kill {pid}")
    solo.wait_until_succeeds(
        f"test \"$(systemctl show -p MainPID --value web)\" -gt 0 && "
        f"test \"$(systemctl show -p MainPID --value web)\" != {pid}", timeout=30)
    assert solo.succeed("systemctl show -p NRestarts --value web").strip() != "0"
    solo.wait_for_unit("web", timeout=30)


def test_unitConfig_condition_skips_the_unit_until_it_is_met(solo: Machine) -> None:
    # at boot: /run/go is absent, the unit is skipped (inactive, not failed),
    # and what its unitConfig.Wants names was started all the same
    assert run(solo, "systemctl is-active conditional") == (3, "inactive\n")
    assert solo.succeed("systemctl show -p ConditionResult -p Description conditional") == \
        "ConditionResult=no\nDescription=Conditional\n"
    assert "Conditional was skipped because of an unmet condition check " \
        "(ConditionPathExists=/run/go)." in solo.succeed("journalctl -u conditional -o cat")
    assert solo.succeed("systemctl is-active pulled") == "active\n"
    solo.succeed("touch /run/go && systemctl start conditional")
    assert solo.succeed("systemctl is-active conditional") == "active\n"
    assert solo.succeed("systemctl show -p ConditionResult --value conditional") == "yes\n"
    assert "conditions met" in solo.succeed("journalctl -u conditional -o cat")


def test_start_of_an_unknown_unit_exits_5(solo: Machine) -> None:
    assert run(solo, "systemctl start no-such-unit") == (
        5, "Failed to start no-such-unit.service: Unit no-such-unit.service not found.\n")


def test_a_failing_start_exits_1_and_names_the_unit(solo: Machine) -> None:
    status, output = run(solo, "systemctl start broken")
    assert status == 1
    assert "Job for broken.service failed because the control process exited with error " \
        "code." in output


def test_list_jobs_says_no_jobs_once_booted(solo: Machine) -> None:
    assert solo.succeed("systemctl list-jobs") == "No jobs running.\n"


def test_an_unknown_verb_or_option_exits_1(solo: Machine) -> None:
    assert run(solo, "systemctl frobnicate web")[0] == 1
    assert run(solo, "systemctl --frobnicate is-active web")[0] == 1


# --- serviceConfig's process settings (systemd.exec(5)) ----------------------------------


def main_pid(machine: Machine, unit: str) -> str:
    pid = machine.succeed(f"cat /run/tinyos/units/{unit}.service/MainPID").strip()
    assert pid != "0"
    return pid


def status_field(machine: Machine, unit: str, field: str) -> str:
    pid = main_pid(machine, unit)
    line = machine.succeed(f"grep '^{field}:' /proc/{pid}/status")
    return line.split(":", 1)[1].strip()


def test_Group_is_the_service_processes_group(solo: Machine) -> None:
    assert status_field(solo, "execsettings", "Gid").split() == ["100"] * 4
    assert status_field(solo, "execsettings", "Uid").split()[0] == solo.succeed("id -u svc").strip()


def test_SupplementaryGroups_join_the_users_own_groups(solo: Machine) -> None:
    # Group= (users, 100), the group that lists svc (wheel, 1), then kmem (2)
    assert sorted(status_field(solo, "execsettings", "Groups").split()) == ["1", "100", "2"]


def test_Environment_sets_variables_with_systemd_quoting(solo: Machine) -> None:
    pid = main_pid(solo, "execsettings")
    environ = solo.succeed(f"tr '\\0' '\\n' < /proc/{pid}/environ").splitlines()
    assert "SPACED=two words" in environ
    assert "PLAIN=1" in environ
    assert "BY_OPTION=option" in environ


def test_EnvironmentFile_is_read_and_overrides_Environment(solo: Machine) -> None:
    pid = main_pid(solo, "execsettings")
    environ = solo.succeed(f"tr '\\0' '\\n' < /proc/{pid}/environ").splitlines()
    assert "FROM_FILE=from the file" in environ
    assert "OVERRIDDEN=by-the-file" in environ
    assert not any(e.startswith("TINYOS_ENVIRONMENT_FILES=") for e in environ)


def test_a_missing_EnvironmentFile_with_the_dash_prefix_does_not_fail_the_start(
        solo: Machine) -> None:
    # (the optional "-/etc/no-such.env" did not stop execsettings)
    assert solo.succeed("systemctl is-active execsettings") == "active\n"


def test_UMask_is_the_service_processes_umask(solo: Machine) -> None:
    assert status_field(solo, "execsettings", "Umask") == "0027"


def test_LimitNOFILE_sets_soft_and_hard_open_file_limits(solo: Machine) -> None:
    limits = solo.succeed(f"grep 'Max open files' /proc/{main_pid(solo, 'execsettings')}/limits")
    assert limits.split()[3:5] == ["1234", "2345"]


def test_Nice_is_the_service_processes_nice_value(solo: Machine) -> None:
    pid = main_pid(solo, "execsettings")
    assert solo.succeed(f"awk '{{ print $19 }}' /proc/{pid}/stat") == "7\n"


def test_StateDirectoryMode_and_owner(solo: Machine) -> None:
    assert solo.succeed("stat -c '%a %U %G' /var/lib/execsettings") == "700 svc users\n"


def test_RuntimeDirectoryMode_and_owner(solo: Machine) -> None:
    assert solo.succeed("stat -c '%a %U %G' /run/execsettings") == "750 svc users\n"


def test_SyslogIdentifier_names_the_services_journal_lines(solo: Machine) -> None:
    assert "execident: execsettings up" in solo.get_console_log()
    assert "\texecident\t" in solo.succeed("grep 'execsettings up' /run/log/journal/tinyos.journal")


def test_SuccessExitStatus_makes_an_exit_status_a_success(solo: Machine) -> None:
    assert run(solo, "systemctl is-active exits-42") == (0, "active\n")


# --- journalctl ----------------------------------------------------------------------------


def test_journalctl_u_shows_the_units_output_and_systemds_lines(solo: Machine) -> None:
    solo.succeed("systemctl start manual")
    solo.wait_until_succeeds("journalctl -u manual | grep -q 'manual line two'", timeout=30)
    lines = solo.succeed("journalctl -u manual.service -b --no-pager").splitlines()
    own = r"^\w{3} \d\d \d\d:\d\d:\d\d solo manual\[\d+\]: manual line one$"
    assert any(re.match(own, line) for line in lines), lines
    assert any(line.endswith("systemd[1]: Started Manual service.") for line in lines), lines
    assert not any("greetings from the greeter" in line for line in lines)
    solo.succeed("systemctl stop manual")


def test_journalctl_n_and_o_cat(solo: Machine) -> None:
    assert solo.succeed("journalctl -u greeter -o cat -n 2") == \
        "greetings from the greeter\nFinished Greeter.\n"


def test_journalctl_of_a_unit_without_entries_says_so(solo: Machine) -> None:
    assert run(solo, "journalctl -u no-such-unit --no-pager") == (0, "-- No entries --\n")


def test_journalctl_without_a_unit_shows_every_unit(solo: Machine) -> None:
    everything = solo.succeed("journalctl --no-pager")
    assert "greetings from the greeter" in everything and "web starting" in everything


# --- system.activationScripts --------------------------------------------------------


def test_activation_scripts_run_in_bash_with_systemConfig(solo: Machine) -> None:
    system = solo.succeed("readlink -f /run/current-system").strip()
    assert solo.succeed("cat /run/bash-activation") == f"activated by bash in {system}\n"


def test_a_failed_activation_command_names_its_snippet_and_the_rest_runs(solo: Machine) -> None:
    assert solo.succeed("cat /run/after-a-failure") == "ran on after a failure\n"
    assert "Activation script snippet 'failsHalfway' failed (1)" in solo.get_console_log()


# --- nc -z, which the drivers' wait_for_open_port uses ----------------------------------


def test_the_systems_nc_has_z(solo: Machine) -> None:
    solo.wait_for_open_port(8080, timeout=30)
    nc = "/run/current-system/sw/bin/nc"
    assert run(solo, f"{nc} -z localhost 8080")[0] == 0
    assert run(solo, f"{nc} -z localhost 8081")[0] == 1
    assert run(solo, f"{nc} -z -w 1 192.0.2.1 80")[0] == 1  # nothing answers there
    assert "succeeded" in run(solo, f"{nc} -zv localhost 8080")[1]


# --- the module itself ---------------------------------------------------------------


def test_initrd_backdoor_is_refused_naming_tinyos(tmp_path: Path) -> None:
    machines = Machines(tmp_path)
    machine = machines.write("nobackdoor", """{ modulesPath, ... }: {
      imports = [ (modulesPath + "/testing/test-instrumentation.nix") ];
      testing.initrdBackdoor = true;
    }""")
    assert "testing.initrdBackdoor: tinyos boots in one stage" in machine.error()


def test_the_backdoor_can_be_turned_off(tmp_path: Path) -> None:
    machines = Machines(tmp_path)
    machine = machines.write("quiet", """{ modulesPath, ... }: {
      imports = [ (modulesPath + "/testing/test-instrumentation.nix") ];
      testing.backdoor = false;
    }""")
    assert "backdoor" not in machine.value("config.system.build.serviceOrder")
