"""What tinyos accepts evaluates as NixOS's modules do (nixos/modules/config/
users-groups.nix, services/networking/ssh/sshd.nix): the same defaults, the
same assertions with NixOS's messages, and a refusal naming the NixOS option
where tinyos cannot do what NixOS does. Evaluation only (real Nix, no VM);
what the values do in a booted machine: test_nixos_parity_boot.py."""

from __future__ import annotations

import pytest

from tests.tinyos.conftest import Machines

pytestmark = pytest.mark.nix


def toplevel_error(machines: Machines, module: str) -> str:
    return machines.write("m", module).error("config.system.build.toplevel")


# --- users.users: defaults -------------------------------------------------------------


def test_isNormalUser_defaults_are_nixos(machines: Machines) -> None:
    m = machines.write("m", "{ users.users.alice.isNormalUser = true; }")
    alice = "config.users.users.alice"
    assert m.value(f"{alice}.group") == "users"
    assert m.value(f"{alice}.home") == "/home/alice"
    assert m.value(f"{alice}.homeMode") == "700"
    assert m.value(f"{alice}.createHome") is True
    assert m.value(f"{alice}.useDefaultShell") is True
    assert m.value(f"{alice}.shell.shellPath") == "/bin/bash"


def test_system_user_defaults_are_nixos(machines: Machines) -> None:
    m = machines.write("m", '{ users.users.svc = { isSystemUser = true; group = "svc"; };'
                       " users.groups.svc = { }; }")
    assert m.value("config.users.users.svc.home") == "/var/empty"
    assert m.value("config.users.users.svc.createHome") is False
    assert m.value("config.users.users.svc.shell.shellPath") == "/bin/nologin"


def test_nixos_standard_groups_exist_with_nixos_gids(machines: Machines) -> None:
    groups = machines.write("m", "{ }").value("config.users.groups")
    gids = {name: g["gid"] for name, g in groups.items()}
    assert gids["wheel"] == 1 and gids["users"] == 100 and gids["video"] == 26
    assert gids["audio"] == 17 and gids["dialout"] == 27 and gids["shadow"] == 318


def test_uids_are_allocated_in_nixos_ranges(machines: Machines) -> None:
    m = machines.write("m", """{
      users.users.alice.isNormalUser = true;
      users.users.bob.isNormalUser = true;
      users.users.svc = { isSystemUser = true; group = "svc"; };
      users.groups.svc = { };
    }""")
    ids = m.value("config.system.build.userIds")
    assert ids["alice"] == 1000 and ids["bob"] == 1001
    assert ids["svc"] == 999


# --- users.users: NixOS's assertions ---------------------------------------------------


def test_a_user_without_group_fails_with_nixos_message(machines: Machines) -> None:
    err = toplevel_error(machines, "{ users.users.svc.isSystemUser = true; }")
    assert "users.users.svc.group is unset. This used to default to" in err
    assert 'users.users.svc.group = "svc";' in err


def test_a_user_neither_normal_nor_system_fails_with_nixos_message(machines: Machines) -> None:
    err = toplevel_error(machines, '{ users.users.x.group = "users"; }')
    assert ("Exactly one of users.users.x.isSystemUser and users.users.x.isNormalUser"
            " must be set.") in err


def test_a_normal_user_below_uid_1000_fails_with_nixos_message(machines: Machines) -> None:
    err = toplevel_error(machines, "{ users.users.x = { isNormalUser = true; uid = 500; }; }")
    assert ("A user cannot have a users.users.x.uid set below 1000 and set"
            " users.users.x.isNormalUser.") in err


def test_an_undefined_primary_group_fails_with_nixos_message(machines: Machines) -> None:
    err = toplevel_error(machines, '{ users.users.x = { isSystemUser = true; group = "nope"; }; }')
    assert "The following users have a primary group that is undefined: x" in err
    assert "users.groups.nope = {};" in err


def test_a_colon_in_hashedPassword_fails_with_nixos_message(machines: Machines) -> None:
    err = toplevel_error(
        machines, '{ users.users.x = { isNormalUser = true; hashedPassword = "a:b"; }; }')
    assert 'The password hash of user "x" contains a ":" character.' in err


def test_duplicate_uids_fail_with_nixos_message(machines: Machines) -> None:
    err = toplevel_error(machines, """{
      users.users.a = { isNormalUser = true; uid = 1500; };
      users.users.b = { isNormalUser = true; uid = 1500; };
    }""")
    assert "UIDs and GIDs must be unique!" in err


def test_an_invalid_user_name_fails_with_nixos_message(machines: Machines) -> None:
    err = toplevel_error(machines, '{ users.users."-x".isNormalUser = true; }')
    assert 'The username "-x" is not valid' in err


# --- services.openssh ------------------------------------------------------------------


def test_openssh_defaults_are_nixos(machines: Machines) -> None:
    settings = machines.write("m", "{ services.openssh.enable = true; }").value(
        "config.services.openssh.settings")
    assert settings["PermitRootLogin"] == "prohibit-password"
    assert settings["PasswordAuthentication"] is True
    assert settings["KbdInteractiveAuthentication"] is True
    assert settings["X11Forwarding"] is False
    assert settings["UseDns"] is False
    assert settings["AllowUsers"] is None


def test_an_openssh_setting_dropbear_lacks_is_refused_naming_it(machines: Machines) -> None:
    err = toplevel_error(machines, """{
      services.openssh.enable = true;
      services.openssh.settings.X11Forwarding = true;
    }""")
    assert "services.openssh.settings.X11Forwarding: tinyos cannot set it to true" in err


def test_an_undeclared_openssh_setting_is_refused_naming_it(machines: Machines) -> None:
    err = toplevel_error(machines, """{
      services.openssh.enable = true;
      services.openssh.settings.ClientAliveInterval = 30;
    }""")
    assert "services.openssh.settings.ClientAliveInterval: tinyos cannot honour" in err


def test_an_AllowUsers_pattern_is_refused(machines: Machines) -> None:
    err = toplevel_error(machines, """{
      services.openssh.enable = true;
      services.openssh.settings.AllowUsers = [ "adm*" ];
    }""")
    assert "services.openssh.settings.AllowUsers: tinyos cannot match patterns (adm*)" in err


def test_the_old_permitRootLogin_name_still_sets_it_with_nixos_rename_warning(
        machines: Machines) -> None:
    m = machines.write("m", '{ services.openssh = { enable = true; permitRootLogin = "no"; }; }')
    assert m.value("config.services.openssh.settings.PermitRootLogin") == "no"
    assert any("has been renamed to `services.openssh.settings.PermitRootLogin'" in w
               for w in m.value("config.warnings"))


def test_AllowUsers_becomes_the_group_dropbear_checks(machines: Machines) -> None:
    m = machines.write("m", """{
      services.openssh.enable = true;
      services.openssh.settings.AllowUsers = [ "alice" ];
      services.openssh.settings.DenyGroups = [ "wheel" ];
      users.users.alice.isNormalUser = true;
      users.users.bob.isNormalUser = true;
    }""")
    assert m.value("config.users.groups.tinyos-sshd-allowed.members") == ["alice"]
    assert "-G tinyos-sshd-allowed" in m.value("config.systemd.services.sshd.script")


def test_a_yescrypt_hash_is_refused_since_busybox_su_cannot_check_it(machines: Machines) -> None:
    err = toplevel_error(machines, """{
      users.users.x = { isNormalUser = true; hashedPassword = "$y$j9T$abc$def"; };
    }""")
    assert "users.users.x.hashedPassword: tinyos cannot check $y$ hashes" in err


def test_several_password_options_give_nixos_warning(machines: Machines) -> None:
    m = machines.write("m", """{
      users.users.x = { isNormalUser = true; password = "a"; hashedPassword = "!"; };
    }""")
    assert any("The user 'x' has multiple of the options" in w for w in m.value("config.warnings"))


# --- options tinyos cannot honour: refused, never ignored (issue 25) ----------------------


def test_unitConfig_ordering_joins_the_services_and_honoured_keys_are_accepted(
        machines: Machines) -> None:
    m = machines.write("m", """{
      systemd.services.a = { wantedBy = [ "multi-user.target" ]; script = "true"; };
      systemd.services.b = {
        wantedBy = [ "multi-user.target" ];
        script = "true";
        unitConfig = { Description = "Bee"; Before = "a.service"; X-Anything = "x"; };
        unitConfig.StartLimitIntervalSec = 0;
      };
    }""")
    order = m.value("config.system.build.serviceOrder")
    assert order.index("b") < order.index("a")
    m.instantiate("config.system.build.toplevel")


def test_a_unitConfig_key_tinyos_cannot_honour_is_refused_naming_it(machines: Machines) -> None:
    err = toplevel_error(machines, """{
      systemd.services.a = { script = "true"; unitConfig.BindsTo = "b.service"; };
    }""")
    assert "systemd.services.a.unitConfig.BindsTo: tinyos cannot honour this [Unit] key" in err


def test_a_start_rate_limit_is_refused_but_no_limit_is_accepted(machines: Machines) -> None:
    err = toplevel_error(machines, """{
      systemd.services.a = { script = "true"; unitConfig.StartLimitIntervalSec = 30; };
    }""")
    assert "systemd.services.a.unitConfig.StartLimitIntervalSec: tinyos cannot set it to 30" in err


def test_a_switch_policy_key_is_refused(machines: Machines) -> None:
    err = toplevel_error(machines, """{
      systemd.services.a = { script = "true"; unitConfig.X-StopOnRemoval = false; };
    }""")
    assert "systemd.services.a.unitConfig.X-StopOnRemoval: tinyos cannot honour it" in err


def test_a_timers_ordering_and_unitConfig_are_refused(machines: Machines) -> None:
    err = toplevel_error(machines, """{
      systemd.services.t = { script = "true"; };
      systemd.timers.t = { wantedBy = [ "timers.target" ]; after = [ "x.service" ];
        unitConfig.ConditionPathExists = "/x"; timerConfig.OnBootSec = "1min"; };
    }""")
    assert "systemd.timers.t.after: tinyos cannot" in err
    assert "systemd.timers.t.unitConfig.ConditionPathExists: tinyos cannot" in err


def test_getty_loginOptions_is_refused(machines: Machines) -> None:
    err = toplevel_error(machines, '{ services.getty.loginOptions = "-p -- \\\\u"; }')
    assert "services.getty.loginOptions: tinyos cannot" in err


def test_httpd_vhost_extraConfig_is_refused(machines: Machines) -> None:
    err = toplevel_error(machines, """{
      services.httpd.enable = true;
      services.httpd.virtualHosts.localhost.extraConfig = "Redirect / http://x/";
    }""")
    assert "services.httpd.virtualHosts.localhost.extraConfig: tinyos cannot" in err


def test_nginx_recommended_settings_tinyos_does_not_write_are_refused(machines: Machines) -> None:
    err = toplevel_error(machines, """{
      services.nginx = { enable = true; recommendedOptimisation = true; statusPage = true; };
    }""")
    assert "services.nginx.recommendedOptimisation: tinyos cannot" in err
    assert "services.nginx.statusPage: tinyos cannot" in err


def test_fileSystems_autoResize_is_refused(machines: Machines) -> None:
    err = toplevel_error(machines, """{
      fileSystems."/data" = { device = "/dev/vdb"; fsType = "ext4"; autoResize = true; };
    }""")
    assert 'fileSystems."/data".autoResize: tinyos cannot' in err


def test_fileSystems_depends_orders_the_mounts(machines: Machines) -> None:
    m = machines.write("m", """{
      fileSystems."/a" = {
        device = "/srv/b/a"; fsType = "none"; options = [ "bind" ]; depends = [ "/srv/b" ];
      };
      fileSystems."/srv/b" = { device = "tmpfs"; fsType = "tmpfs"; };
    }""")
    text = m.value("config.system.activationScripts.filesystems.text")
    assert text.index("# /srv/b") < text.index("# /a")


def test_hardwareClockInLocalTime_is_refused(machines: Machines) -> None:
    err = toplevel_error(machines, "{ time.hardwareClockInLocalTime = true; }")
    assert "time.hardwareClockInLocalTime: tinyos cannot" in err


def test_journald_settings_tinyos_journal_cannot_honour_are_refused(machines: Machines) -> None:
    err = toplevel_error(machines, """{
      services.journald = {
        extraConfig = "SystemMaxUse=10M"; storage = "none"; rateLimitBurst = 5;
      };
    }""")
    assert "services.journald.extraConfig: tinyos cannot" in err
    assert 'services.journald.storage: tinyos cannot set it to "none"' in err
    assert "services.journald.rateLimitBurst: tinyos cannot set it to 5" in err
    m = machines.write(
        "m", '{ services.journald = { storage = "volatile"; rateLimitInterval = "0"; }; }')
    m.instantiate("config.system.build.toplevel")


def test_timerConfig_keys_the_timer_loop_cannot_honour_are_refused(machines: Machines) -> None:
    err = toplevel_error(machines, """{
      systemd.services.t = { script = "true"; };
      systemd.timers.t = { wantedBy = [ "timers.target" ];
        timerConfig = { OnCalendar = "daily"; Persistent = true; OnClockChange = true; }; };
    }""")
    assert "systemd.timers.t.timerConfig.Persistent: tinyos cannot" in err
    assert "systemd.timers.t.timerConfig.OnClockChange: tinyos cannot honour this [Timer] key" \
        in err
    m = machines.write("m", """{
      systemd.services.t = { script = "true"; };
      systemd.timers.t = { wantedBy = [ "timers.target" ];
        timerConfig = { OnCalendar = "daily"; AccuracySec = "1s"; Persistent = false; }; };
    }""")
    m.instantiate("config.system.build.toplevel")


# --- systemd.services.<n>.serviceConfig -------------------------------------------------


def test_a_service_key_tinyos_cannot_honour_is_refused_naming_it(machines: Machines) -> None:
    err = toplevel_error(machines, """{
      systemd.services.a = { script = "true"; serviceConfig.ExecReload = "kill -HUP $MAINPID"; };
    }""")
    assert ("systemd.services.a.serviceConfig.ExecReload: tinyos cannot honour this [Service] key:"
            " its systemctl has no reload") in err


def test_a_start_timeout_is_refused_where_tinyos_would_wait(machines: Machines) -> None:
    err = toplevel_error(machines, """{
      systemd.services.a = { script = "true"; serviceConfig.Type = "oneshot";
        serviceConfig.TimeoutStartSec = "5min"; };
    }""")
    assert ("systemd.services.a.serviceConfig.TimeoutStartSec:"
            " tinyos cannot set it to \"5min\"") in err


def test_output_elsewhere_than_journal_and_console_is_refused(machines: Machines) -> None:
    err = toplevel_error(machines, """{
      systemd.services.a = { script = "true"; serviceConfig.StandardOutput = "null"; };
    }""")
    assert ("systemd.services.a.serviceConfig.StandardOutput:"
            " tinyos cannot send it to \"null\"") in err


def test_an_Environment_line_with_a_backslash_is_refused(machines: Machines) -> None:
    err = toplevel_error(machines, r"""{
      systemd.services.a = { script = "true"; serviceConfig.Environment = "A=x\\ny"; };
    }""")
    assert "systemd.services.a.serviceConfig.Environment: tinyos cannot read" in err


def test_sandboxing_keys_are_accepted_with_a_warning_that_tinyos_does_not_sandbox(
        machines: Machines) -> None:
    m = machines.write("m", """{
      systemd.services.a = { script = "true"; serviceConfig.ProtectSystem = "strict";
        serviceConfig.TimeoutStartSec = 30; serviceConfig.Group = "users"; };
    }""")
    warnings = m.value("config.warnings")
    assert ("systemd.services.a.serviceConfig.ProtectSystem is not enforced by tinyos,"
            " which does not sandbox services") in "\n".join(warnings)
    assert not any("TimeoutStartSec" in w or "Group" in w for w in warnings)
    m.instantiate("config.system.build.toplevel")
