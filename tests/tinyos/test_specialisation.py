"""specialisation.<name>.configuration and switch-to-configuration (NixOS's
system/activation/specialisation.nix and switch-to-configuration): the
specialised system is built into $toplevel/specialisation/<name>, and
switching to it inside the running machine changes /etc, the users, the
firewall and the services (stopped, restarted or started as their
definitions changed). Two machines booted once under TCG, asked through the
test driver's backdoor; the switch happens once, in the fixture, and each
test reads one of its effects."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nixvms.supervisor.driver import Driver
from nixvms.supervisor.machine import Machine
from tests.conftest import nixvms, write

pytestmark = [pytest.mark.nix, pytest.mark.vm]

NETWORK = """
{
  client = { ... }: { };
  server = { lib, ... }: {
    # a page on 8080, which only the specialisation's firewall opens
    environment.etc."www/index.html".text = "served by server";
    systemd.services.pages = {
      wantedBy = [ "multi-user.target" ];
      script = "exec httpd -f -p 8080 -h /etc/www";
    };
    systemd.services.greeter = {
      wantedBy = [ "multi-user.target" ];
      script = "echo greeter says A; exec sleep 100000";
    };
    systemd.services.steady = {
      wantedBy = [ "multi-user.target" ];
      script = "exec sleep 100000";
    };
    systemd.services.retired = {
      wantedBy = [ "multi-user.target" ];
      script = "exec sleep 100000";
    };
    environment.etc."motto".text = "base";
    users.users.erin = { isNormalUser = true; extraGroups = [ "wheel" ]; password = "erinpw"; };
    environment.etc."only-in-base".text = "base";

    specialisation.other.configuration = {
      networking.firewall.allowedTCPPorts = [ 8080 ];
      systemd.services.greeter.script = lib.mkForce "echo greeter says B; exec sleep 100000";
      systemd.services.retired.enable = false;
      systemd.services.fresh = {
        wantedBy = [ "multi-user.target" ];
        serviceConfig.Type = "oneshot";
        serviceConfig.RemainAfterExit = true;
        script = "echo fresh started";
      };
      environment.etc."motto".text = lib.mkForce "other";
      environment.etc."only-in-base".enable = false;
      users.users.carol = { isNormalUser = true; homeMode = "711"; };
      security.sudo.wheelNeedsPassword = false;
    };
  };
}
"""


@dataclass
class Switched:
    client: Machine
    server: Machine
    before: dict[str, str]
    status: int
    output: str


def probe(client: Machine) -> str:
    """What the client gets from the server's port 8080 (the firewall drops it when closed)."""
    _, out = client.execute("curl -sf --max-time 5 http://server:8080/ || echo unreachable")
    return out.strip()


@pytest.fixture(scope="module")
def switched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Switched]:
    project = tmp_path_factory.mktemp("specialisation")
    write(project / "network.nix", NETWORK)
    built = nixvms("build", cwd=project)
    assert built.code == 0, built.stderr
    with Driver(project / "result", project / "state", stream=None) as driver:
        client, server = driver.by_name["client"], driver.by_name["server"]
        for machine in (client, server):
            machine.start()
        for machine in (client, server):
            machine.wait_for_unit("multi-user.target", timeout=180)
        server.wait_for_unit("pages.service")
        before = {
            "port": probe(client),
            "greeter": server.succeed("systemctl show -p MainPID --value greeter").strip(),
            "steady": server.succeed("systemctl show -p MainPID --value steady").strip(),
            "system": server.succeed("readlink -f /run/current-system").strip(),
            "specialisations": server.succeed("ls /run/current-system/specialisation").strip(),
            "sudo": server.execute("su -l erin -c 'sudo -n id -u' 2>&1")[1].strip(),
        }
        # the specialisation's whole system as the host built it
        # ($toplevel/specialisation/other: kernel, initrd, init, bin), and
        # what the guest's store has of it (its store image holds the closure)
        toplevel = Path(server.spec.vm) / "system" / "specialisation" / "other"
        before["whole system"] = str(toplevel.resolve())
        before["in the guest"] = server.succeed(
            f"cd {toplevel.resolve()} && ls kernel initrd init bin/switch-to-configuration").strip()
        status, output = server.execute(
            "/run/current-system/specialisation/other/bin/switch-to-configuration test 2>&1")
        yield Switched(client, server, before, status, output)


def test_the_specialisation_is_built_under_the_toplevel(switched: Switched) -> None:
    assert switched.before["specialisations"] == "other"


def test_the_specialisations_whole_system_is_in_the_guests_store(switched: Switched) -> None:
    assert switched.before["whole system"].startswith("/nix/store/")
    assert switched.before["in the guest"].split() == [
        "bin/switch-to-configuration", "init", "initrd", "kernel"]


def test_switch_to_configuration_test_succeeds_and_says_what_it_did(switched: Switched) -> None:
    assert switched.status == 0, switched.output
    # the firewall's rules are the firewall service's: it changed too
    assert "stopping the following units: firewall.service, greeter.service, retired.service" \
        in switched.output, switched.output
    assert "starting the following units: firewall.service, greeter.service" in switched.output
    assert "the following new units were started: fresh.service" in switched.output


def test_the_running_system_is_the_specialisation_after_the_switch(switched: Switched) -> None:
    now = switched.server.succeed("readlink -f /run/current-system").strip()
    assert now != switched.before["system"]
    assert switched.server.succeed("ls /run/current-system/specialisation").strip() == ""


def test_a_port_the_specialisation_opens_is_reachable_after_the_switch(switched: Switched) -> None:
    assert switched.before["port"] == "unreachable"
    assert probe(switched.client) == "served by server"


def test_a_changed_service_is_restarted_with_its_new_definition(switched: Switched) -> None:
    assert switched.server.succeed("systemctl is-active greeter").strip() == "active"
    pid = switched.server.succeed("systemctl show -p MainPID --value greeter").strip()
    assert pid != switched.before["greeter"]
    switched.server.wait_until_succeeds("journalctl -u greeter | grep 'greeter says B'", timeout=30)


def test_an_unchanged_service_keeps_running(switched: Switched) -> None:
    pid = switched.server.succeed("systemctl show -p MainPID --value steady").strip()
    assert pid == switched.before["steady"]


def test_a_service_the_specialisation_removes_is_stopped(switched: Switched) -> None:
    status, out = switched.server.execute("systemctl is-active retired")
    assert (status, out.strip()) == (3, "inactive")


def test_a_service_the_specialisation_adds_is_started(switched: Switched) -> None:
    assert switched.server.succeed("systemctl is-active fresh").strip() == "active"


def test_etc_follows_the_specialisation(switched: Switched) -> None:
    assert switched.server.succeed("cat /etc/motto").strip() == "other"
    switched.server.fail("test -e /etc/only-in-base")


def test_a_user_the_specialisation_adds_exists_with_its_home(switched: Switched) -> None:
    assert switched.server.succeed("id -un carol").strip() == "carol"
    assert switched.server.succeed("stat -c '%a %U' /home/carol").strip() == "711 carol"


def test_boot_is_refused_with_one_line(switched: Switched) -> None:
    status, out = switched.server.execute(
        "/run/current-system/bin/switch-to-configuration boot 2>&1")
    assert status == 1
    assert out.strip().splitlines() == [
        "switch-to-configuration: tinyos cannot 'boot': it has no boot loader and no dry run"
        " (use 'test' or 'switch')"]


def test_wheelNeedsPassword_false_lets_wheel_sudo_without_a_password(switched: Switched) -> None:
    # before: NixOS's default asks wheel for a password; the specialisation does not
    assert "a password is required" in switched.before["sudo"]
    assert switched.server.succeed("su -l erin -c 'sudo -n id -u'").strip() == "0"
