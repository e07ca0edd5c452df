"""What tinyos accepts does what NixOS does, checked in booted machines
(real QEMU under TCG, through the test driver's backdoor): passwords that
log in (su, ssh), /etc modes, users' ids, groups, shells and homes,
DynamicUser, /var/tmp, sshd's AllowUsers and host key, the store paths a
machine holds, curl between machines, wget and lynx on localhost, and
security.sudo.execWheelOnly.

One network, booted once: `server` (users, sshd, httpd) and `client` (the
ssh and curl side). Evaluation-time behaviour: test_nixos_parity.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nixvms.supervisor.driver import Driver
from nixvms.supervisor.machine import Machine
from tests.conftest import nixvms, write

pytestmark = [pytest.mark.nix, pytest.mark.vm]

# busybox mkpasswd -m sha512 bob-pw saltsaltsalt
BOB_HASH = ("$6$saltsaltsalt$nyONKHvhpxeeKcSRaaeBz3C7EpWii2qxLJ0r7GXjpiCqwuCx5WB5U9Z4/"
            "IHvGwxFfk1ctHyP8A74TRCrR/DKQ0")

NETWORK = """
{
  server = { pkgs, lib, ... }: {
    users.users.alice = {
      isNormalUser = true;
      password = "alice-pw";
      extraGroups = [ "video" ];
      packages = [ (pkgs.writeShellScriptBin "hello-alice" "echo hello from alice") ];
    };
    users.users.bob = { isNormalUser = true; hashedPassword = "BOB_HASH"; };
    users.users.carol = { isNormalUser = true; initialPassword = "carol-pw"; homeMode = "750"; };
    users.users.dave = { isNormalUser = true; password = "dave-pw"; };
    users.users.erin = {
      isNormalUser = true; uid = 1500; description = "Erin E. User"; password = "erin-pw";
    };
    users.users.gone = { isNormalUser = true; enable = false; };
    users.groups.fixed.gid = 4242;
    users.users.svc = { isSystemUser = true; group = "svc"; };
    users.users.root.password = "root-pw";
    users.groups.svc = { };
    users.groups.team.members = [ "bob" ];

    services.openssh.enable = true;
    services.openssh.settings.AllowUsers = [ "alice" "bob" "carol" "erin" "root" ];
    services.openssh.settings.DenyUsers = [ "erin" ];
    services.openssh.settings.Banner = pkgs.writeText "banner" "the tinyos banner\n";

    services.httpd.enable = true;
    networking.firewall.allowedTCPPorts = [ 80 ];

    environment.etc."secret" = { text = "only root reads this"; mode = "0600"; };
    environment.etc."linked".text = "a symlink into the store";
    environment.etc."owned" = {
      text = "alice's file"; mode = "0640"; user = "alice"; group = "users";
    };
    environment.systemPackages = [ pkgs.lynx ];

    # a path only virtualisation.additionalPaths brings (its name, not its closure, in /etc)
    virtualisation.additionalPaths = [ pkgs.nginx ];
    environment.etc."paths".text = builtins.unsafeDiscardStringContext ''
      nginx=${pkgs.nginx}
      tzdata=${pkgs.tzdata}
    '';

    systemd.services.dynamic = {
      wantedBy = [ "multi-user.target" ];
      serviceConfig = { DynamicUser = true; Type = "oneshot"; RemainAfterExit = true; };
      script = "id > /tmp/dynamic-id";
    };
  };
  client = { pkgs, ... }: {
    environment.systemPackages = [ pkgs.dropbear ];
    # sudo executable by wheel alone: wendy is in wheel, nora is not
    security.sudo.execWheelOnly = true;
    users.users.wendy = { isNormalUser = true; extraGroups = [ "wheel" ]; password = "wendy-pw"; };
    users.users.nora = { isNormalUser = true; };
  };
}
""".replace("BOB_HASH", BOB_HASH)


@dataclass
class Net:
    server: Machine
    client: Machine


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    project = tmp_path_factory.mktemp("parity")
    write(project / "network.nix", NETWORK)
    built = nixvms("build", cwd=project)
    assert built.code == 0, built.stderr
    with Driver(project / "result", project / "state", stream=None) as driver:
        driver.start_all()
        server, client = driver.machines["server"], driver.machines["client"]
        server.wait_for_unit("multi-user.target", timeout=180)
        client.wait_for_unit("multi-user.target", timeout=180)
        yield Net(server, client)


def run(machine: Machine, command: str) -> tuple[int, str]:
    """A command's exit status and its output, stdout and stderr together."""
    return machine.execute(f"{command} 2>&1")


def su_as_nobody(net: Net, user: str, password: str) -> tuple[int, str]:
    """`su USER` typed by an unprivileged user (nobody, in bash: busybox sh
    would run its own su applet, not the setuid /run/wrappers/bin/su), who
    must give USER's password."""
    return run(net.server, f"echo {password} | su -s /run/current-system/sw/bin/bash nobody"
                           f" -c 'su {user} -c \"id -un\"'")


def ssh(net: Net, user: str, password: str) -> tuple[int, str]:
    """A password login from client to server with dropbear's client."""
    return run(net.client,
               f"DROPBEAR_PASSWORD={password} timeout 60 dbclient -y -y {user}@server id -un")


# --- passwords -------------------------------------------------------------------------


def test_password_logs_in_with_su(net: Net) -> None:
    code, out = su_as_nobody(net, "alice", "alice-pw")
    assert code == 0 and out.strip().endswith("alice"), out


def test_a_wrong_password_is_refused_by_su(net: Net) -> None:
    code, out = su_as_nobody(net, "alice", "not-her-password")
    assert code != 0 and "alice" not in out.replace("su alice", ""), out


def test_hashedPassword_logs_in_with_su(net: Net) -> None:
    code, out = su_as_nobody(net, "bob", "bob-pw")
    assert code == 0 and out.strip().endswith("bob"), out


def test_initialPassword_logs_in_with_su(net: Net) -> None:
    code, out = su_as_nobody(net, "carol", "carol-pw")
    assert code == 0 and out.strip().endswith("carol"), out


def test_a_user_without_password_is_locked(net: Net) -> None:
    assert net.server.succeed("grep '^svc:' /etc/shadow").startswith("svc:!:")


def test_passwords_are_sha512_crypt_hashes(net: Net) -> None:
    field = net.server.succeed("grep '^alice:' /etc/shadow | cut -d: -f2").strip()
    assert field.startswith("$6$") and "alice-pw" not in field


def test_ssh_password_login(net: Net) -> None:
    code, out = ssh(net, "alice", "alice-pw")
    assert code == 0 and out.strip().endswith("alice"), out


# --- sshd ----------------------------------------------------------------------------


def test_ssh_refuses_a_user_not_in_AllowUsers(net: Net) -> None:
    assert su_as_nobody(net, "dave", "dave-pw")[0] == 0  # the password is right
    code, out = ssh(net, "dave", "dave-pw")
    assert code != 0 and not out.strip().endswith("dave"), out
    journal = net.server.succeed("journalctl -u sshd -o cat")
    assert "user 'dave' is not a member" in journal


def test_ssh_DenyUsers_wins_over_AllowUsers(net: Net) -> None:
    assert su_as_nobody(net, "erin", "erin-pw")[0] == 0
    code, out = ssh(net, "erin", "erin-pw")
    assert code != 0 and not out.strip().endswith("erin"), out


def test_ssh_shows_the_Banner_before_login(net: Net) -> None:
    code, out = ssh(net, "alice", "alice-pw")
    assert code == 0 and "the tinyos banner" in out, out


def test_ssh_root_password_login_is_prohibited_by_default(net: Net) -> None:
    # root's password is right (su takes it) but ssh refuses it:
    # PermitRootLogin "prohibit-password"
    assert su_as_nobody(net, "root", "root-pw")[0] == 0
    code, out = ssh(net, "root", "root-pw")
    assert code != 0 and not out.strip().endswith("root"), out


def test_host_key_is_under_etc_ssh(net: Net) -> None:
    pub = net.server.succeed("cat /etc/ssh/ssh_host_ed25519_key.pub")
    assert pub.startswith("ssh-ed25519 ")
    assert net.server.succeed("stat -c %a /etc/ssh/ssh_host_ed25519_key").strip() == "600"
    assert "OPENSSH PRIVATE KEY" in net.server.succeed("head -1 /etc/ssh/ssh_host_ed25519_key")


# --- /etc ------------------------------------------------------------------------------


def test_etc_mode_is_kept(net: Net) -> None:
    assert net.server.succeed("stat -c '%a %U' /etc/secret").split() == ["600", "root"]
    assert net.server.succeed("readlink /etc/linked").startswith("/nix/store/")


def test_etc_user_and_group_own_the_copied_file(net: Net) -> None:
    assert net.server.succeed("stat -c '%a %U %G' /etc/owned").split() == ["640", "alice", "users"]


def test_etc_shadow_is_not_world_readable(net: Net) -> None:
    assert net.server.succeed("stat -c '%a %U %G' /etc/shadow").split() == ["640", "root", "shadow"]
    code, out = run(net.server, "su -s /bin/sh nobody -c 'cat /etc/shadow'")
    assert code != 0 and "Permission denied" in out


# --- users and groups ------------------------------------------------------------------


def test_normal_user_ids_and_groups(net: Net) -> None:
    out = net.server.succeed("id alice")
    assert out.startswith("uid=1000(alice) gid=100(users)"), out
    assert "26(video)" in out


def test_group_members_include_extraGroups_and_members(net: Net) -> None:
    assert "alice" in net.server.succeed("grep '^video:' /etc/group")
    assert net.server.succeed("grep '^team:' /etc/group").strip().endswith(":bob")


def test_fixed_uid_gid_and_description(net: Net) -> None:
    erin = net.server.succeed("grep '^erin:' /etc/passwd")
    assert erin.startswith("erin:x:1500:100:Erin E. User:")
    assert net.server.succeed("grep '^fixed:' /etc/group").startswith("fixed:x:4242:")


def test_a_disabled_user_does_not_exist(net: Net) -> None:
    net.server.fail("grep '^gone:' /etc/passwd", "test -e /home/gone")


def test_system_user_ids(net: Net) -> None:
    out = net.server.succeed("id svc")
    uid = int(out.split("(")[0].removeprefix("uid="))
    assert 400 <= uid < 1000 and "(svc)" in out.split()[1], out


def test_normal_users_get_bash_and_system_users_nologin(net: Net) -> None:
    passwd = net.server.succeed("cat /etc/passwd").splitlines()
    shells = {fields[0]: fields[6] for fields in (line.split(":") for line in passwd)}
    assert shells["alice"] == "/run/current-system/sw/bin/bash"
    assert shells["root"] == "/run/current-system/sw/bin/bash"
    assert shells["svc"] == "/run/current-system/sw/bin/nologin"
    assert net.server.succeed("su alice -c 'echo $BASH_VERSION'").strip().startswith("5.")
    code, out = run(net.server, "su svc -c true")
    assert code != 0 and "This account is currently not available." in out


def test_user_packages_are_on_the_users_login_PATH(net: Net) -> None:
    # bash as a login shell reads /etc/profile, which puts
    # /etc/profiles/per-user/$USER/bin on PATH (NixOS: environment.profiles)
    assert net.server.succeed("su -l alice -c hello-alice").strip() == "hello from alice"
    code, out = run(net.server, "su -l bob -c hello-alice")
    assert code != 0, out


def test_homes_have_homeMode_and_owner(net: Net) -> None:
    assert net.server.succeed("stat -c '%a %U %G' /home/alice").split() == ["700", "alice", "users"]
    assert net.server.succeed("stat -c %a /home/carol").strip() == "750"


def test_var_tmp_is_sticky_and_world_writable(net: Net) -> None:
    assert net.server.succeed("stat -c %a /var/tmp").strip() == "1777"


def test_DynamicUser_runs_the_service_as_its_own_user(net: Net) -> None:
    out = net.server.succeed("cat /tmp/dynamic-id")
    uid = int(out.split("(")[0].removeprefix("uid="))
    assert 61184 <= uid <= 65519 and out.startswith(f"uid={uid}(dynamic)"), out


# --- the store -------------------------------------------------------------------------


def test_additionalPaths_are_in_the_guests_store(net: Net) -> None:
    paths = dict(line.split("=") for line in net.server.succeed("cat /etc/paths").split())
    assert "nginx" in net.server.succeed(f"ls {paths['nginx']}/bin")
    # the client's system does not reach nginx: its store does not hold it
    net.client.fail(f"test -e {paths['nginx']}")


def test_the_store_is_a_read_only_erofs_disk(net: Net) -> None:
    # virtualisation.useNixStoreImage (tinyos's default): not the initrd
    mounts = [line.split() for line in net.server.succeed("cat /proc/mounts").splitlines()]
    (store,) = [m for m in mounts if m[1] == "/nix/store"]
    assert store[2] == "erofs" and "ro" in store[3].split(","), store
    net.server.fail("touch /nix/store/written")


def test_the_kernels_store_path_is_in_the_guests_store(net: Net) -> None:
    # on a disk of its own (shared by every machine), mounted over its path
    mounts = [line.split() for line in net.server.succeed("cat /proc/mounts").splitlines()]
    (disk,) = [m for m in mounts if m[1].startswith("/nix/store/") and "-linux-" in m[1]]
    assert disk[2] == "erofs" and "ro" in disk[3].split(","), disk
    net.server.succeed(f"test -s {disk[1]}/bzImage && ls {disk[1]}/lib/modules/$(uname -r)/kernel")


def test_system_packages_are_in_the_guests_store(net: Net) -> None:
    lynx = net.server.succeed("readlink -f /run/current-system/sw/bin/lynx")
    assert lynx.startswith("/nix/store/")
    net.server.succeed(f"ls {Path(lynx).parent}")


# --- web clients -----------------------------------------------------------------------


def test_curl_fetches_a_page_from_another_machine(net: Net) -> None:
    net.server.wait_for_open_port(80)
    page = net.client.succeed("curl -sf http://server/")
    assert "Welcome to server" in page


def test_wget_fetches_localhost(net: Net) -> None:
    net.server.wait_for_open_port(80)
    assert "Welcome to server" in net.server.succeed("wget -q -O- http://localhost/")


def test_lynx_dumps_localhost(net: Net) -> None:
    net.server.wait_for_open_port(80)
    assert "Welcome to server" in net.server.succeed("lynx -dump http://localhost/")


def test_localhost_answers_over_ipv6(net: Net) -> None:
    net.server.wait_for_open_port(80)
    assert "Welcome to server" in net.server.succeed("curl -sf 'http://[::1]/'")


def test_execWheelOnly_lets_only_wheel_execute_sudo(net: Net) -> None:
    assert net.client.succeed("stat -c '%a %U %G' /run/wrappers/bin/sudo").strip() == \
        "4510 root wheel"
    status, out = run(net.client, "su -l nora -c 'sudo -n true'")
    assert status == 126 and "Permission denied" in out
    status, out = run(net.client, "su -l wendy -c \"echo wendy-pw | sudo -S -p '' id -u\"")
    assert (status, out) == (0, "0\n")
