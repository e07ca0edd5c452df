"""NixOS's system options around users, files and consoles, on one machine
booted once under TCG and read through the test driver's backdoor:
security.sudo (a wheel user with and without a password, extraRules for
users, groups, a host and a runAs user, extraConfig, keepTerminfo),
systemd.tmpfiles.rules and .settings (a file's mode, owner, group and content),
users.extraUsers / users.extraGroups (NixOS's aliases), users.users.<n>.homeMode,
environment.sessionVariables, services.getty.autologinUser on tty1 and, once
switched to with alt-f2, tty2 (the driver's wait_until_tty_matches),
time.timeZone with timedatectl, hostnamectl, services.openssh.listenAddresses,
networking.search, environment.shellAliases and programs.bash.shellAliases.
What tinyos refuses is checked at evaluation."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import pytest

from nixvms.supervisor.driver import Driver
from nixvms.supervisor.machine import Machine
from tests.conftest import nixvms, write
from tests.tinyos.conftest import Machines

NETWORK = """
{
  tools = { pkgs, ... }: {
    users.extraUsers.alice = { isNormalUser = true; homeMode = "750"; extraGroups = [ "crew" ]; };
    # sudo: bob is in wheel (a password asked), dave may run one command without one
    users.users.bob = { isNormalUser = true; extraGroups = [ "wheel" ]; password = "bobpw"; };
    users.users.dave = { isNormalUser = true; password = "davepw"; };
    security.sudo.extraRules = [
      { users = [ "dave" ];
        commands = [ { command = "/run/current-system/sw/bin/id"; options = [ "NOPASSWD" ]; } ]; }
      # erin's rules: for the group ops, for this host or another, as nobody
      { groups = [ "ops" ];
        commands = [ { command = "/run/current-system/sw/bin/hostname";
                        options = [ "NOPASSWD" ]; } ]; }
      { users = [ "erin" ]; host = "tools";
        commands = [ { command = "/run/current-system/sw/bin/uname";
                        options = [ "NOPASSWD" ]; } ]; }
      { users = [ "erin" ]; host = "elsewhere";
        commands = [ { command = "/run/current-system/sw/bin/date";
                        options = [ "NOPASSWD" ]; } ]; }
      { users = [ "erin" ]; runAs = "nobody";
        commands = [ { command = "/run/current-system/sw/bin/whoami";
                        options = [ "NOPASSWD" ]; } ]; }
    ];
    users.users.erin = { isNormalUser = true; extraGroups = [ "ops" ]; password = "erinpw"; };
    users.groups.ops = { };
    # appended to sudoers: dave may also run env without a password
    security.sudo.extraConfig = "dave ALL=(ALL) NOPASSWD: /run/current-system/sw/bin/env";
    users.extraGroups.crew = { };
    environment.sessionVariables = { GREETING = "hello there"; SEARCHPATH = [ "/a" "/b" ]; };
    services.getty.autologinUser = "alice";
    time.timeZone = "Asia/Tokyo";
    systemd.tmpfiles.rules = [
      "d /var/lib/things 0750 alice crew -"
      "f /var/lib/things/note 0640 alice crew - written by tmpfiles"
      "L /run/hostname-link - - - - /etc/hostname"
      "z /etc/motd 0600 alice crew -"
    ];
    environment.etc.motd = { text = "welcome"; mode = "0644"; };
    systemd.tmpfiles.settings."10-cache"."/var/cache/app".d = { mode = "0700"; user = "alice"; };
    systemd.tmpfiles.settings."20-more" = {
      "/var/lib/greeting".f = { mode = "0644"; argument = "hello from settings"; };
      "/var/lib/crew-only".d = { mode = "0770"; group = "crew"; };
    };
    # sshd on two IPv4 addresses only: 2222 on 127.0.0.1, ports (22) on any
    # (nixvms reaches the machine's port 22 through QEMU's user network)
    services.openssh = {
      enable = true;
      listenAddresses = [ { addr = "127.0.0.1"; port = 2222; } { addr = "0.0.0.0"; } ];
    };
    networking.nameservers = [ "192.0.2.53" ];
    networking.search = [ "example.org" "home.arpa" ];
    environment.shellAliases.hi = "echo hello from an alias";
    programs.bash.shellAliases.ll = "ls -ln";
    environment.systemPackages = [ pkgs.cowsay ];
  };
}
"""

@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machine]:
    project = tmp_path_factory.mktemp("tools")
    write(project / "network.nix", NETWORK)
    built = nixvms("build", cwd=project)
    assert built.code == 0, built.stderr
    with Driver(project / "result", project / "state", stream=None) as driver:
        machine = driver.by_name["tools"]
        machine.start()
        machine.wait_for_unit("multi-user.target", timeout=180)
        yield machine


def as_user(tools: Machine, user: str, command: str) -> tuple[int, str]:
    """A command run by `user` in a login shell, its output (stdout and stderr)."""
    return tools.execute(f"su -l {user} -c {shlex.quote(command)} 2>&1")


@pytest.mark.nix
@pytest.mark.vm
def test_sudo_is_setuid_root_in_the_wrapper_dir(tools: Machine) -> None:
    assert tools.succeed("stat -c '%a %U %G' /run/wrappers/bin/sudo").strip() == "4511 root root"
    assert tools.succeed("su -l bob -c 'command -v sudo'").strip() == "/run/wrappers/bin/sudo"


@pytest.mark.nix
@pytest.mark.vm
def test_sudo_runs_a_wheel_users_command_as_root_with_the_password(tools: Machine) -> None:
    assert as_user(tools, "bob", "echo bobpw | sudo -k -S -p '' id -u") == (0, "0\n")


@pytest.mark.nix
@pytest.mark.vm
def test_sudo_refuses_a_wheel_user_with_a_wrong_password(tools: Machine) -> None:
    status, out = as_user(tools, "bob", "echo wrong | sudo -k -S -p '' id -u")
    assert status == 1
    assert "incorrect password attempt" in out


@pytest.mark.nix
@pytest.mark.vm
def test_sudo_refuses_a_user_outside_wheel(tools: Machine) -> None:
    status, out = as_user(tools, "alice", "echo x | sudo -S -p '' true")
    assert status == 1
    assert "alice is not in the sudoers file" in out or "incorrect password" in out


@pytest.mark.nix
@pytest.mark.vm
def test_sudo_extraRules_NOPASSWD_runs_that_command_without_a_password(tools: Machine) -> None:
    assert as_user(tools, "dave", "sudo -n /run/current-system/sw/bin/id -u") == (0, "0\n")
    status, out = as_user(tools, "dave", "sudo -n /run/current-system/sw/bin/true")
    assert status == 1
    assert "a password is required" in out


@pytest.mark.nix
@pytest.mark.vm
def test_su_c_runs_in_a_new_session_so_sudo_asks_again(tools: Machine) -> None:
    # NixOS's su -c starts a session of its own: sudo's timestamp of one su
    # does not let the next one in, while within one su it does
    status, out = as_user(tools, "bob", "echo bobpw | sudo -S true && sudo -n true && echo again")
    assert status == 0 and "again" in out
    status, out = as_user(tools, "bob", "sudo -n true")
    assert status != 0 and "a password is required" in out
    assert tools.succeed("su -l bob -c 'cat /proc/self/stat'").split()[6] == "0"  # tty_nr: none


@pytest.mark.nix
@pytest.mark.vm
def test_sudo_extraConfig_is_in_sudoers_and_takes_effect(tools: Machine) -> None:
    status, out = as_user(tools, "dave", "sudo -n /run/current-system/sw/bin/env")
    assert status == 0 and "SUDO_USER=dave" in out


@pytest.mark.nix
@pytest.mark.vm
def test_keepTerminfo_keeps_TERMINFO_and_TERMINFO_DIRS_for_wheel_only(tools: Machine) -> None:
    terminfo = "TERMINFO=/t TERMINFO_DIRS=/t/dirs"
    status, out = as_user(tools, "bob", f"echo bobpw | {terminfo} sudo -k -S -p '' env")
    assert status == 0 and "TERMINFO=/t\n" in out and "TERMINFO_DIRS=/t/dirs\n" in out
    # dave is not in wheel: sudo's env_reset drops them
    status, out = as_user(tools, "dave", f"{terminfo} sudo -n /run/current-system/sw/bin/env")
    assert status == 0 and "TERMINFO" not in out


@pytest.mark.nix
@pytest.mark.vm
def test_sudo_extraRules_groups_apply_to_the_groups_members(tools: Machine) -> None:
    assert as_user(tools, "erin", "sudo -n /run/current-system/sw/bin/hostname") == (0, "tools\n")
    status, out = as_user(tools, "dave", "sudo -n /run/current-system/sw/bin/hostname")
    assert status == 1 and "a password is required" in out


@pytest.mark.nix
@pytest.mark.vm
def test_sudo_extraRules_host_applies_a_rule_on_that_host_only(tools: Machine) -> None:
    assert as_user(tools, "erin", "sudo -n /run/current-system/sw/bin/uname -n") == (0, "tools\n")
    status, out = as_user(tools, "erin", "sudo -n /run/current-system/sw/bin/date")
    assert status == 1 and "a password is required" in out


@pytest.mark.nix
@pytest.mark.vm
def test_sudo_extraRules_runAs_lets_the_command_run_as_that_user_only(tools: Machine) -> None:
    whoami = "/run/current-system/sw/bin/whoami"
    assert as_user(tools, "erin", f"sudo -n -u nobody {whoami}") == (0, "nobody\n")
    status, out = as_user(tools, "erin", f"sudo -n {whoami}")
    assert status == 1 and "a password is required" in out


@pytest.mark.nix
@pytest.mark.vm
def test_sudoers_is_mode_0440(tools: Machine) -> None:
    assert tools.succeed("stat -c '%a %U %G' /etc/sudoers").strip() == "440 root root"


@pytest.mark.nix
@pytest.mark.vm
def test_a_tmpfiles_directory_has_its_mode_and_owner(tools: Machine) -> None:
    assert tools.succeed("stat -c '%a %U %G' /var/lib/things").strip() == "750 alice crew"


@pytest.mark.nix
@pytest.mark.vm
def test_a_tmpfiles_file_has_its_content_mode_and_owner(tools: Machine) -> None:
    assert tools.succeed("stat -c '%a %U %G' /var/lib/things/note").strip() == "640 alice crew"
    assert tools.succeed("cat /var/lib/things/note") == "written by tmpfiles"


@pytest.mark.nix
@pytest.mark.vm
def test_a_tmpfiles_symlink_points_to_its_argument(tools: Machine) -> None:
    assert tools.succeed("readlink /run/hostname-link").strip() == "/etc/hostname"


@pytest.mark.nix
@pytest.mark.vm
def test_a_tmpfiles_z_line_adjusts_an_existing_file(tools: Machine) -> None:
    assert tools.succeed("stat -c '%a %U %G' /etc/motd").strip() == "600 alice crew"


@pytest.mark.nix
@pytest.mark.vm
def test_tmpfiles_settings_go_to_etc_tmpfiles_d_and_take_effect(tools: Machine) -> None:
    conf = tools.succeed("cat /etc/tmpfiles.d/10-cache.conf")
    assert conf.strip() == "d /var/cache/app 0700 alice - -"
    assert tools.succeed("stat -c '%a %U' /var/cache/app").strip() == "700 alice"


@pytest.mark.nix
@pytest.mark.vm
def test_a_tmpfiles_settings_argument_is_the_files_content(tools: Machine) -> None:
    assert tools.succeed("cat /var/lib/greeting") == "hello from settings"


@pytest.mark.nix
@pytest.mark.vm
def test_a_tmpfiles_settings_group_owns_the_directory(tools: Machine) -> None:
    assert tools.succeed("stat -c '%a %U %G' /var/lib/crew-only").strip() == "770 root crew"


@pytest.mark.nix
@pytest.mark.vm
def test_extraUsers_and_extraGroups_are_users_and_groups(tools: Machine) -> None:
    assert tools.succeed("id -Gn alice").split() == ["users", "crew"]
    assert tools.succeed("stat -c '%a %U' /home/alice").strip() == "750 alice"


@pytest.mark.nix
@pytest.mark.vm
def test_sessionVariables_are_in_every_login_environment(tools: Machine) -> None:
    out = tools.succeed("su -l alice -c 'echo \"$GREETING|$SEARCHPATH\"'")
    assert out.strip() == "hello there|/a:/b"


@pytest.mark.nix
@pytest.mark.vm
def test_autologin_on_tty1_is_seen_on_the_virtual_console(tools: Machine) -> None:
    tools.wait_until_tty_matches("1", "tools login: alice \\(automatic login\\)", timeout=60)
    tools.wait_until_tty_matches("1", "alice@tools", timeout=60)


@pytest.mark.nix
@pytest.mark.vm
def test_tty1s_getty_is_the_unit_getty_at_tty1(tools: Machine) -> None:
    tools.wait_for_unit("getty@tty1.service")
    # the unit, not busybox init, runs it (autologin on tty1: the test above)
    tools.fail("grep '^tty1:' /etc/inittab")


@pytest.mark.nix
@pytest.mark.vm
def test_ip_is_iproute2s_with_its_address_filters(tools: Machine) -> None:
    # busybox's ip rejects -tentative; NixOS's tests filter addresses with it
    out = tools.succeed("ip -o -6 addr show dev lo -tentative -temporary")
    assert "inet6 ::1/128" in out
    assert "iproute2" in tools.succeed("ip -V")


@pytest.mark.nix
@pytest.mark.vm
def test_cowsay_runs_under_tinyos_perl(tools: Machine) -> None:
    assert "< moo >" in tools.succeed("cowsay moo")


@pytest.mark.nix
@pytest.mark.vm
def test_a_console_not_switched_to_waits_for_the_switch_to_log_in(tools: Machine) -> None:
    # tty3's getty has run its autologin program, which waits for tty3 to be shown
    # (not `ps | grep -q`: under the driver's pipefail, ps killed by SIGPIPE
    # once grep -q has quit at the match fails the check when ps's output is
    # more than one write; what grep printed is tested instead)
    tools.wait_until_succeeds("[ -n \"$(ps -o args | grep '[a]utologin-tty3')\" ]", timeout=60)
    assert "automatic login" not in tools.get_tty_text("3")


@pytest.mark.nix
@pytest.mark.vm
def test_alt_f2_switches_to_tty2_where_autologin_logs_in(tools: Machine) -> None:
    tools.send_key("alt-f2")
    tools.wait_until_succeeds("[ $(cat /sys/class/tty/tty0/active) = tty2 ]", timeout=30)
    tools.wait_until_tty_matches("2", "tools login: alice \\(automatic login\\)", timeout=60)
    tools.wait_until_tty_matches("2", "alice@tools", timeout=60)
    tools.send_chars("echo typed on $(tty)\n")
    tools.wait_until_tty_matches("2", "typed on /dev/tty2", timeout=60)


@pytest.mark.nix
@pytest.mark.vm
def test_sshd_listens_on_its_listenAddresses_only(tools: Machine) -> None:
    tools.wait_for_unit("sshd")
    # (grep -c reads all of netstat's output: see ps above)
    tools.wait_until_succeeds("netstat -ltn | grep -c '127.0.0.1:2222 '", timeout=60)
    listening = tools.succeed("netstat -ltn")
    assert "0.0.0.0:22 " in listening
    assert ":::22 " not in listening and "0.0.0.0:2222 " not in listening


@pytest.mark.nix
@pytest.mark.vm
def test_search_domains_and_nameservers_are_resolv_conf(tools: Machine) -> None:
    assert tools.succeed("cat /etc/resolv.conf") == (
        "search example.org home.arpa\nnameserver 192.0.2.53\n")


@pytest.mark.nix
@pytest.mark.vm
def test_shellAliases_are_in_interactive_shells(tools: Machine) -> None:
    assert as_user(tools, "alice", "bash -ic hi 2>/dev/null") == (0, "hello from an alias\n")
    assert "alias ll='ls -ln'" in as_user(tools, "alice", "bash -ic 'alias ll' 2>/dev/null")[1]
    # a login shell (bash -l reads /etc/profile) has them too
    assert tools.succeed("bash -lic hi 2>/dev/null") == "hello from an alias\n"


@pytest.mark.nix
@pytest.mark.vm
def test_timedatectl_shows_the_time_zone(tools: Machine) -> None:
    assert "Time zone: Asia/Tokyo (JST, +0900)" in tools.succeed("timedatectl")
    assert tools.succeed("timedatectl show -p Timezone --value").strip() == "Asia/Tokyo"


@pytest.mark.nix
@pytest.mark.vm
def test_timedatectl_set_timezone_is_refused_by_the_bus(tools: Machine) -> None:
    # time.timeZone is set: the system bus denies timedated's SetTimezone
    status, out = tools.execute("timedatectl set-timezone UTC 2>&1")
    assert status == 1
    assert "Failed to set time zone" in out and "Access denied" in out
    assert tools.succeed("readlink /etc/localtime").strip() == "/usr/share/zoneinfo/Asia/Tokyo"


@pytest.mark.nix
@pytest.mark.vm
def test_hostnamectl_shows_the_static_hostname(tools: Machine) -> None:
    assert "Static hostname: tools" in tools.succeed("hostnamectl")
    assert tools.succeed("hostnamectl hostname").strip() == "tools"


# --- refused at evaluation ----------------------------------------------------------


def refusal(machines: Machines, module: str) -> str:
    return machines.write("refused", module).error("config.system.build.toplevel")


@pytest.mark.nix
def test_a_tmpfiles_type_tinyos_lacks_is_refused_with_the_option_name(machines: Machines) -> None:
    err = refusal(machines, '{ systemd.tmpfiles.rules = [ "c /dev/null2 0666 - - - 1:3" ]; }')
    assert ("systemd.tmpfiles.rules: \"c /dev/null2 0666 - - - 1:3\":"
            " type 'c' is not supported by tinyos") in err


@pytest.mark.nix
def test_tmpfiles_packages_are_refused_with_the_option_name(machines: Machines) -> None:
    err = refusal(machines, "{ pkgs, ... }: { systemd.tmpfiles.packages = [ pkgs.hello ]; }")
    assert "systemd.tmpfiles.packages: tinyos cannot take rules from packages" in err


@pytest.mark.nix
def test_tmpfiles_age_cleaning_is_refused(machines: Machines) -> None:
    err = refusal(machines, '{ systemd.tmpfiles.rules = [ "d /var/tmp/x 0755 - - 10d" ]; }')
    assert "age '10d': tinyos does no age-based cleaning" in err


@pytest.mark.nix
def test_user_services_are_refused_with_the_option_name(machines: Machines) -> None:
    err = refusal(machines, '{ systemd.user.services.hello.script = "echo hi"; }')
    assert "systemd.user.services: tinyos cannot run user services" in err


@pytest.mark.nix
def test_a_keymap_other_than_us_is_refused_with_the_option_name(machines: Machines) -> None:
    assert machines.write("m", '{ console.keyMap = "us"; }').value("config.console.keyMap") == "us"
    err = machines.write("m2", '{ console.keyMap = "fr"; }').error()
    assert "console.keyMap: tinyos cannot load the keymap fr" in err


@pytest.mark.nix
def test_enableRecommendedAlgorithms_false_leaves_the_algorithms_null(machines: Machines) -> None:
    m = machines.write("m", "{ services.openssh.enable = true;"
                       " services.openssh.enableRecommendedAlgorithms = false; }")
    settings = m.value("config.services.openssh.settings")
    assert settings["Ciphers"] is None and settings["Macs"] is None
    m.instantiate()


@pytest.mark.nix
def test_documentation_can_be_turned_off_and_is_refused_on(machines: Machines) -> None:
    machines.write("m", "{ documentation.enable = false; documentation.nixos.enable = false; }"
                   ).instantiate()
    err = machines.write("m2", "{ documentation.man.enable = true; }").error()
    assert "documentation.man.enable: tinyos cannot install documentation" in err


@pytest.mark.nix
def test_timesyncd_is_refused_with_the_option_name(machines: Machines) -> None:
    machines.write("m", "{ services.timesyncd.enable = false; }").instantiate()
    err = machines.write("m2", "{ services.timesyncd.enable = true; }").error()
    assert "services.timesyncd.enable: tinyos cannot" in err


@pytest.mark.nix
@pytest.mark.vm
def test_the_host_key_is_the_ed25519_key_of_hostKeys(tools: Machine) -> None:
    tools.wait_for_unit("sshd")
    assert tools.succeed("cut -d' ' -f1 /etc/ssh/ssh_host_ed25519_key.pub").strip() == "ssh-ed25519"
    assert tools.succeed("head -n 1 /etc/ssh/ssh_host_ed25519_key").startswith(
        "-----BEGIN OPENSSH PRIVATE KEY-----")


@pytest.mark.nix
def test_a_host_key_other_than_ed25519_is_refused(machines: Machines) -> None:
    m = machines.write("m", """{ services.openssh = { enable = true;
      hostKeys = [ { type = "rsa"; bits = 4096; path = "/etc/ssh/ssh_host_rsa_key"; } ]; }; }""")
    assert "services.openssh.hostKeys: tinyos cannot make" in m.error()
