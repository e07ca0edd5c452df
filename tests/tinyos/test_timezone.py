"""services.dbus and time.timeZone = null on one machine booted once under
TCG: the system bus (Debian's dbus-daemon) and its dbus.socket unit,
Debian systemd's timedatectl changing the zone through systemd-timedated
(started by the bus), and the change kept across a reboot. A set
time.timeZone (timedatectl refused) is in test_system_tools.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nixvms.supervisor.driver import Driver
from nixvms.supervisor.machine import Machine
from tests.conftest import nixvms, write

NETWORK = """
{
  clock = { ... }: { time.timeZone = null; };
}
"""

EPOCH = 'date -d @0 "+%Y-%m-%d %H:%M:%S"'


@pytest.fixture(scope="module")
def clock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machine]:
    project = tmp_path_factory.mktemp("clock")
    write(project / "network.nix", NETWORK)
    built = nixvms("build", cwd=project)
    assert built.code == 0, built.stderr
    with Driver(project / "result", project / "state", stream=None) as driver:
        machine = driver.by_name["clock"]
        machine.start()
        machine.wait_for_unit("multi-user.target", timeout=180)
        yield machine


@pytest.mark.nix
@pytest.mark.vm
def test_dbus_socket_is_active_while_the_system_bus_listens(clock: Machine) -> None:
    clock.wait_for_unit("dbus.socket")
    assert clock.succeed("systemctl show dbus.socket -p SubState --value").strip() == "listening"
    names = clock.succeed("dbus-send --system --print-reply --dest=org.freedesktop.DBus "
                          "/org/freedesktop/DBus org.freedesktop.DBus.ListNames")
    assert '"org.freedesktop.DBus"' in names


@pytest.mark.nix
@pytest.mark.vm
def test_local_time_is_utc_without_a_zone(clock: Machine) -> None:
    assert clock.succeed(EPOCH) == "1970-01-01 00:00:00\n"
    assert "Time zone: UTC" in clock.succeed("timedatectl status")


@pytest.mark.nix
@pytest.mark.vm
def test_set_timezone_changes_the_zone_through_timedated(clock: Machine) -> None:
    before = int(clock.succeed("date +%s"))
    clock.succeed("timedatectl set-timezone Asia/Tokyo")
    # the zone, not the clock: no shift by its offset (the kernel's first
    # time zone is sealed at boot, as systemd does)
    assert abs(int(clock.succeed("date +%s")) - before) < 60
    assert clock.succeed(EPOCH) == "1970-01-01 09:00:00\n"
    # timedated's link, to the zone's file in tzdata
    assert clock.succeed("readlink /etc/localtime").strip() == "../usr/share/zoneinfo/Asia/Tokyo"
    assert clock.succeed("timedatectl show -p Timezone --value").strip() == "Asia/Tokyo"
    # the bus started Debian's systemd-timedated for the call
    assert "systemd-timedated" in clock.succeed("ps -o args")


@pytest.mark.nix
@pytest.mark.vm
def test_set_timezone_rejects_a_zone_tzdata_lacks(clock: Machine) -> None:
    status, out = clock.execute("timedatectl set-timezone Mars/Olympus_Mons 2>&1")
    assert status == 1
    assert "Invalid or not installed time zone 'Mars/Olympus_Mons'" in out


@pytest.mark.nix
@pytest.mark.vm
def test_stopping_the_bus_closes_dbus_socket_and_starting_it_reopens_it(clock: Machine) -> None:
    clock.succeed("systemctl stop dbus.service")
    assert clock.succeed("systemctl show dbus.socket -p ActiveState --value").strip() == "inactive"
    clock.succeed("systemctl start dbus.socket")
    assert clock.succeed("systemctl is-active dbus.service dbus.socket") == "active\nactive\n"


@pytest.mark.nix
@pytest.mark.vm
def test_a_zone_set_at_run_time_persists_across_a_reboot(clock: Machine) -> None:
    clock.succeed("timedatectl set-timezone America/New_York")
    # (a reboot in the guest: the machine powers off its way, QEMU resets,
    # the same disk boots; shutdown() would stop this one-machine network)
    clock.start(allow_reboot=True)
    clock.reboot()
    clock.wait_for_unit("dbus.socket")
    assert clock.succeed(EPOCH) == "1969-12-31 19:00:00\n"
    assert clock.succeed("timedatectl show -p Timezone --value").strip() == "America/New_York"
