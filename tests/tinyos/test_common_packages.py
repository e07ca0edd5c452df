"""The common packages NixOS tests use, made from Debian's binaries under
their nixpkgs names (pkgs.jq, hello, inetutils, socat, netcat, python3, sudo,
curl, coreutils), each run inside one booted tinyos VM: a service runs every program
once and prints "pkg: <label> <result>" on the console, and each test reads
one of those lines. The programs are named the way NixOS tests name them,
through lib.getExe / lib.getExe' and the packages' store paths.

The machine also has networking.enableIPv6 = false (everything here is
IPv4 on 127.0.0.1): IPv6 is off in its kernel, as NixOS's sysctls turn it
off, which one more line reports."""

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
  virtualisation.memorySize = 512;
  networking.interfaces.eth1.ipv4.addresses = [ { address = "192.168.1.5"; prefixLength = 24; } ];
  networking.enableIPv6 = false;
  environment.systemPackages = with pkgs; [ jq hello inetutils socat netcat python3 sudo ];
  environment.etc."www/index.html".text = "served by python";
  # host keys without sshd (NixOS's sshd-keygen)
  services.openssh.generateHostKeys = true;
  systemd.services.tools = {
    wantedBy = [ "multi-user.target" ];
    serviceConfig.Type = "oneshot";
    path = with pkgs; [ jq hello inetutils socat netcat python3 sudo curl ];
    preStart = ''echo "pkg: pre-start-shell bash ''${BASH_VERSION:-none}"'';
    postStart = ''echo "pkg: post-start-shell bash ''${BASH_VERSION:-none}"'';
    scriptArgs = "first 'second arg'";
    script = ''
      args="$# $1 / $2"
      say() { echo "pkg: $1 $(echo "$2" | tr '\n' ' ')"; }
      say script-args "$args"
      # networking.enableIPv6 = false: disable_ipv6 set, no IPv6 address
      # anywhere (not even lo's ::1)
      inet6=$(${pkgs.iproute2}/bin/ip -6 addr show | grep -c inet6 || true)  # (none: status 1)
      say ipv6-off "$(cat /proc/sys/net/ipv6/conf/all/disable_ipv6) $inet6"
      # unit scripts are bash, as NixOS's: a name on the service's path is
      # that package's program (busybox sh would run its own nc applet)
      say script-shell "bash ''${BASH_VERSION:-none}"
      say nc-on-path "$(command -v nc)"
      say nc-package "${lib.getExe pkgs.netcat}"
      say nc-help "$(nc -h 2>&1 | head -1)"
      say hello "$(${lib.getExe pkgs.hello})"
      for i in $(seq 60); do [ -s /etc/ssh/ssh_host_ed25519_key.pub ] && break; sleep 1; done
      key=$(cut -d' ' -f1 /etc/ssh/ssh_host_ed25519_key.pub)
      say keygen "$key $(pidof dropbear || echo no-sshd)"
      say coreutils "$(${pkgs.coreutils}/bin/stat --version | ${pkgs.coreutils}/bin/head -n 1)"
      say jq "$(echo '{"a": {"b": 42}}' | ${lib.getExe pkgs.jq} -c '.a')"
      # socat: a TCP echo server, and a client through it
      # (background servers write elsewhere: the unit ends when its output closes)
      socat TCP-LISTEN:7000,reuseaddr,fork EXEC:cat >/dev/null 2>&1 &
      servers=$!
      sleep 1
      say socat "$(echo through-socat | socat -t 2 - TCP:127.0.0.1:7000)"
      # nc -z (OpenBSD's): a port with a listener, a port without one
      if nc -z 127.0.0.1 7000; then say nc-z-open yes; else say nc-z-open no; fi
      if nc -z -w 2 127.0.0.1 7001; then say nc-z-closed yes; else say nc-z-closed no; fi
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


def test_enableIPv6_false_leaves_no_ipv6_address(tools: Tools) -> None:
    assert tools.result("ipv6-off") == "1 0"


def test_hello_greets(tools: Tools) -> None:
    assert tools.result("hello") == "Hello, world!"


def test_generateHostKeys_makes_the_host_key_without_sshd(tools: Tools) -> None:
    assert tools.result("keygen") == "ssh-ed25519 no-sshd"


def test_coreutils_is_gnu_coreutils(tools: Tools) -> None:
    assert tools.result("coreutils") == "stat (GNU coreutils) 9.1"


def test_jq_filters_json(tools: Tools) -> None:
    assert tools.result("jq") == '{"b":42}'


def test_socat_relays_a_tcp_connection(tools: Tools) -> None:
    assert tools.result("socat") == "through-socat"


def test_netcat_z_finds_an_open_port(tools: Tools) -> None:
    assert tools.result("nc-z-open") == "yes"


def test_netcat_z_reports_a_closed_port(tools: Tools) -> None:
    assert tools.result("nc-z-closed") == "no"


def test_a_unit_script_runs_in_bash(tools: Tools) -> None:
    assert re.fullmatch(r"bash 5\.\d+\.\d+\S*", tools.result("script-shell"))


def test_a_unit_pre_start_script_runs_in_bash(tools: Tools) -> None:
    assert re.fullmatch(r"bash 5\.\d+\.\d+\S*", tools.result("pre-start-shell"))


def test_dhcp_configures_eth0_at_boot_with_no_library_error(tools: Tools) -> None:
    # bash finds its libraries once activation has linked them: a bash
    # script the boot ran before that would fail to load
    assert "udhcpc: eth0: 10.0.2.15/24 via 10.0.2.2" in tools.vm.console()
    assert "error while loading shared libraries" not in tools.vm.console()


def test_a_unit_post_start_script_runs_in_bash_after_the_main_one(tools: Tools) -> None:
    tools.vm.wait_for("pkg: post-start-shell", 30)
    console = tools.vm.console()
    assert console.index("pkg: done") < console.index("pkg: post-start-shell")
    assert re.fullmatch(r"bash 5\.\d+\.\d+\S*", tools.result("post-start-shell"))


def test_script_args_are_the_main_scripts_arguments(tools: Tools) -> None:
    assert tools.result("script-args") == "2 first / second arg"


def test_a_program_on_the_services_path_is_that_packages_not_busyboxs(tools: Tools) -> None:
    assert tools.result("nc-on-path") == tools.result("nc-package")
    assert tools.result("nc-on-path").startswith("/nix/store/")


def test_nc_on_the_services_path_is_openbsd_netcat(tools: Tools) -> None:
    assert "OpenBSD netcat" in tools.result("nc-help")


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
