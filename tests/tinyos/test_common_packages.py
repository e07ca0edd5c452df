"""The common packages NixOS tests use, made from Debian's binaries under
their nixpkgs names (pkgs.jq, hello, inetutils, socat, netcat, python3, sudo,
curl), each run inside one booted tinyos VM: a service runs every program
once and prints "pkg: <label> <result>" on the console, and each test reads
one of those lines. The programs are named the way NixOS tests name them,
through lib.getExe / lib.getExe' and the packages' store paths."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.tinyos.conftest import VM, Launcher, Machines

pytestmark = [pytest.mark.nix, pytest.mark.vm]

BOOT_TIMEOUT = 180

MACHINE = r"""{ pkgs, lib, ... }: {
  networking.hostName = "tools";
  virtualisation.graphics = false;
  virtualisation.diskImage = null;
  virtualisation.memorySize = 384;
  networking.interfaces.eth1.ipv4.addresses = [ { address = "192.168.1.5"; prefixLength = 24; } ];
  environment.systemPackages = with pkgs; [ jq hello inetutils socat netcat python3 sudo ];
  environment.etc."www/index.html".text = "served by python";
  systemd.services.tools = {
    wantedBy = [ "multi-user.target" ];
    serviceConfig.Type = "oneshot";
    path = with pkgs; [ jq hello inetutils socat netcat python3 sudo curl ];
    script = ''
      say() { echo "pkg: $1 $(echo "$2" | tr '\n' ' ')"; }
      say hello "$(${lib.getExe pkgs.hello})"
      say jq "$(echo '{"a": {"b": 42}}' | ${lib.getExe pkgs.jq} -c '.a')"
      # socat: a TCP echo server, and a client through it
      # (background servers write elsewhere: the unit ends when its output closes)
      socat TCP-LISTEN:7000,reuseaddr,fork EXEC:cat >/dev/null 2>&1 &
      servers=$!
      sleep 1
      say socat "$(echo through-socat | socat -t 2 - TCP:127.0.0.1:7000)"
      # nc -z (OpenBSD's): a port with a listener, a port without one (by its
      # store path: busybox sh runs its own nc applet before any nc on PATH)
      nc=${lib.getExe pkgs.netcat}
      if $nc -z 127.0.0.1 7000; then say nc-z-open yes; else say nc-z-open no; fi
      if $nc -z -w 2 127.0.0.1 7001; then say nc-z-closed yes; else say nc-z-closed no; fi
      say python-import \
        "$(python3 -c 'import json, http.server; print(json.dumps({"ok": http.server.__name__}))')"
      (cd /etc/www && exec python3 -m http.server 8000 --bind 127.0.0.1) >/dev/null 2>&1 &
      servers="$servers $!"
      for i in $(seq 60); do
        curl -sf http://127.0.0.1:8000/index.html >/tmp/page && break; sleep 1
      done
      say python-http-server "$(cat /tmp/page)"
      # inetutils: nixpkgs' program names (Debian's inetutils-hostname is hostname)
      say inetutils-hostname "$(${lib.getExe' pkgs.inetutils "hostname"})"
      if ${lib.getExe' pkgs.inetutils "ping"} -c 1 127.0.0.1 >/tmp/ping 2>&1
      then say inetutils-ping "$(head -1 /tmp/ping)"
      else say inetutils-ping "failed: $(cat /tmp/ping)"
      fi
      say inetutils-telnet "$(${lib.getExe' pkgs.inetutils "telnet"} --version | head -1)"
      say inetutils-ftp "$(${lib.getExe' pkgs.inetutils "ftp"} --version | head -1)"
      say sudo "$(${lib.getExe pkgs.sudo} -V 2>/dev/null | head -1)"
      say bash "$(${lib.getExe pkgs.bashInteractive} -c 'echo $BASH_VERSION' | cut -d. -f1)"
      kill $servers
      echo "pkg: done"
    '';
  };
}
"""


class Tools:
    def __init__(self, vm: VM) -> None:
        self.vm = vm

    def result(self, label: str) -> str:
        found = re.search(rf"pkg: {re.escape(label)} (.*)", self.vm.console())
        assert found, f"no result for {label!r}:\n{self.vm.console()[-3000:]}"
        return found.group(1).strip()


@pytest.fixture(scope="module")
def tools(module_machines: Machines, module_launcher: Launcher) -> Iterator[Tools]:
    vm_path = module_machines.write("tools", MACHINE).build()
    vm = module_launcher.start_vm(vm_path, "tools")
    vm.wait_for("tools login:", BOOT_TIMEOUT)
    vm.wait_for("pkg: done", 180)
    yield Tools(vm)


def test_hello_greets(tools: Tools) -> None:
    assert tools.result("hello") == "Hello, world!"


def test_jq_filters_json(tools: Tools) -> None:
    assert tools.result("jq") == '{"b":42}'


def test_socat_relays_a_tcp_connection(tools: Tools) -> None:
    assert tools.result("socat") == "through-socat"


def test_netcat_z_finds_an_open_port(tools: Tools) -> None:
    assert tools.result("nc-z-open") == "yes"


def test_netcat_z_reports_a_closed_port(tools: Tools) -> None:
    assert tools.result("nc-z-closed") == "no"


def test_python3_imports_the_standard_library(tools: Tools) -> None:
    assert tools.result("python-import") == '{"ok": "http.server"}'


def test_python3_m_http_server_serves_a_file(tools: Tools) -> None:
    assert tools.result("python-http-server") == "served by python"


def test_inetutils_hostname_names_the_machine(tools: Tools) -> None:
    assert tools.result("inetutils-hostname") == "tools"


def test_inetutils_ping_is_answered(tools: Tools) -> None:
    assert tools.result("inetutils-ping").startswith("PING 127.0.0.1")


def test_inetutils_telnet_and_ftp_are_gnu_inetutils(tools: Tools) -> None:
    assert "GNU inetutils" in tools.result("inetutils-telnet")
    assert "GNU inetutils" in tools.result("inetutils-ftp")


def test_sudo_runs(tools: Tools) -> None:
    assert tools.result("sudo").startswith("Sudo version 1.9")


def test_bash_interactive_is_bash_5(tools: Tools) -> None:
    assert tools.result("bash") == "5"
