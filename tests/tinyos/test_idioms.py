"""NixOS idioms common in network files work on tinyos: they evaluate, and on
two booted machines (TCG) they do what NixOS does. `web` runs nginx behind
the firewall with port 80 opened, a timer, an extra disk mounted through
fileSystems, sysctl, a time zone, console autologin and a
writeShellApplication; `client` fetches web's page with curl through a NIC
named lan0 by a udev rule."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.tinyos.conftest import VM, Launcher, Machines, vlan_nics

BOOT_TIMEOUT = 180

WEB = """{ pkgs, lib, modulesPath, ... }: {
  imports = [ (modulesPath + "/profiles/qemu-guest.nix") ];
  networking.hostName = "web";
  virtualisation.graphics = false;
  virtualisation.diskImage = null;
  virtualisation.memorySize = 256;
  virtualisation.emptyDiskImages = [ 32 ];
  networking.interfaces.eth1.ipv4.addresses = [ { address = "192.168.1.1"; prefixLength = 24; } ];
  NICS

  services.nginx.enable = true;
  services.nginx.virtualHosts.web = {
    root = pkgs.writeTextDir "index.html" "nginx on web";
    locations."/status".return = "200 'all good'";
  };
  services.nginx.virtualHosts.internal = {
    listen = [ { addr = "0.0.0.0"; port = 8080; } ];
    root = pkgs.writeTextDir "index.html" "internal";
  };
  networking.firewall.allowedTCPPorts = [ 80 ];

  systemd.services.tick = {
    serviceConfig.Type = "oneshot";
    script = "echo tick";
  };
  systemd.timers.tick = {
    wantedBy = [ "timers.target" ];
    timerConfig = { OnBootSec = "2s"; OnUnitActiveSec = "3s"; };
  };

  fileSystems."/data" = { device = "/dev/vda"; fsType = "ext4"; autoFormat = true; };
  boot.kernel.sysctl."net.ipv4.ip_forward" = true;
  boot.kernel.sysctl."vm.swappiness" = 13;
  time.timeZone = "Asia/Tokyo";
  services.getty.autologinUser = "root";

  environment.systemPackages = [
    (pkgs.writeShellApplication {
      name = "greet";
      runtimeInputs = [ pkgs.curl ];
      text = ''echo "greetings, curl is $(command -v curl)"'';
    })
  ];

  systemd.services.report = {
    wantedBy = [ "multi-user.target" ];
    serviceConfig.Type = "oneshot";
    script = ''
      echo "mount: $(grep ' /data ' /proc/mounts)"
      echo written > /data/file && echo "data: $(cat /data/file)"
      echo "sysctl: $(cat /proc/sys/net/ipv4/ip_forward) $(cat /proc/sys/vm/swappiness)"
      echo "localtime: $(readlink /etc/localtime)"
      echo "zone: $(. /etc/profile; date +%Z)"
      echo "app: $(/run/current-system/sw/bin/greet)"
      for i in $(seq 30); do page=$(wget -q -O- http://127.0.0.1:8080/) && break; sleep 1; done
      echo "local nginx: $page"
    '';
  };
}
"""

CLIENT = """{ pkgs, ... }: {
  networking.hostName = "client";
  virtualisation.graphics = false;
  virtualisation.diskImage = null;
  virtualisation.memorySize = 256;
  # the NIC named by its MAC address, as NixOS's test network names
  # virtualisation.interfaces (a udev rule in the initrd)
  boot.initrd.services.udev.rules = ''
    SUBSYSTEM=="net",ACTION=="add",ATTR{address}=="52:54:00:12:01:02",NAME="lan0"
  '';
  networking.interfaces.lan0.ipv4.addresses = [ { address = "192.168.1.2"; prefixLength = 24; } ];
  NICS
  environment.systemPackages = [ pkgs.curl ];
  systemd.services.fetch = {
    wantedBy = [ "multi-user.target" ];
    path = [ pkgs.curl ];
    script = ''
      for i in $(seq 120); do
        if page=$(curl -sf --max-time 3 http://192.168.1.1/); then
          echo "curl page: $page"
          echo "curl status: $(curl -s --max-time 3 http://192.168.1.1/status)"
          rc=0; curl -s --max-time 5 http://192.168.1.1:8080/ >/dev/null || rc=$?
          echo "curl 8080 exit: $rc"
          exit 0
        fi
        sleep 1
      done
      echo "curl: web never answered"
    '';
  };
}
"""


@dataclass
class Idioms:
    web: VM
    client: VM

    def line(self, vm: VM, prefix: str, timeout: float = 120) -> str:
        vm.wait_for(prefix, timeout)
        found = re.search(rf"{re.escape(prefix)}(.*)", vm.console())
        assert found
        return found.group(1).strip()


@pytest.fixture(scope="module")
def idioms(module_machines: Machines, module_launcher: Launcher) -> Iterator[Idioms]:
    web = module_machines.write("web", WEB.replace("NICS", vlan_nics(1, [1]))).build()
    client = module_machines.write("client", CLIENT.replace("NICS", vlan_nics(2, [1]))).build()
    env = {"QEMU_VDE_SOCKET_1": str(module_launcher.start_switch("vlan1"))}
    w = module_launcher.start_vm(web, "web", env)
    c = module_launcher.start_vm(client, "client", env)
    w.wait_for("web login:", BOOT_TIMEOUT)
    c.wait_for("client login:", BOOT_TIMEOUT)
    yield Idioms(w, c)


@pytest.mark.nix
@pytest.mark.vm
def test_nginx_serves_its_virtual_host_through_an_opened_port(idioms: Idioms) -> None:
    assert idioms.line(idioms.client, "fetch: curl page:") == "nginx on web"


@pytest.mark.nix
@pytest.mark.vm
def test_nginx_location_return(idioms: Idioms) -> None:
    assert idioms.line(idioms.client, "fetch: curl status:") == "all good"


@pytest.mark.nix
@pytest.mark.vm
def test_nginx_port_not_opened_is_blocked_by_the_firewall(idioms: Idioms) -> None:
    # curl exit 28: operation timed out (the firewall drops the SYN)
    assert idioms.line(idioms.client, "fetch: curl 8080 exit:") == "28"
    assert idioms.line(idioms.web, "report: local nginx:") == "internal"


@pytest.mark.nix
@pytest.mark.vm
def test_a_timer_fires_and_repeats(idioms: Idioms) -> None:
    # OnBootSec = 2s, then OnUnitActiveSec = 3s: the unit runs again and again
    idioms.web.wait_for("tick.timer: Triggering tick.service", 120)
    deadline = time.monotonic() + 60
    while idioms.web.console().count("tick: tick") < 3:
        assert time.monotonic() < deadline, idioms.web.console()[-2000:]
        time.sleep(1)


@pytest.mark.nix
@pytest.mark.vm
def test_fileSystems_mount_the_empty_disk_image(idioms: Idioms) -> None:
    assert idioms.line(idioms.web, "report: mount:").startswith("/dev/vda /data ext4")
    assert idioms.line(idioms.web, "report: data:") == "written"


@pytest.mark.nix
@pytest.mark.vm
def test_sysctl_is_applied(idioms: Idioms) -> None:
    assert idioms.line(idioms.web, "report: sysctl:") == "1 13"


@pytest.mark.nix
@pytest.mark.vm
def test_timeZone_sets_localtime_and_TZ(idioms: Idioms) -> None:
    assert idioms.line(idioms.web, "report: localtime:") == "/usr/share/zoneinfo/Asia/Tokyo"
    assert idioms.line(idioms.web, "report: zone:") == "JST"


@pytest.mark.nix
@pytest.mark.vm
def test_getty_autologin(idioms: Idioms) -> None:
    idioms.web.wait_for("web login: root (automatic login)", 60)


@pytest.mark.nix
@pytest.mark.vm
def test_writeShellApplication_puts_runtimeInputs_on_PATH(idioms: Idioms) -> None:
    assert re.fullmatch(r"greetings, curl is /nix/store/\S+-curl-\S+/bin/curl",
                        idioms.line(idioms.web, "report: app:"))


@pytest.mark.nix
@pytest.mark.vm
def test_a_udev_rule_names_the_nic_by_its_mac_address(idioms: Idioms) -> None:
    idioms.client.wait_for("network: eth1 (52:54:00:12:01:02) renamed lan0", 30)
    assert "network: lan0: 192.168.1.2/24" in idioms.client.console()
