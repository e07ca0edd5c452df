"""The nixos-build-vms manual's network (examples/network.nix), built with the
nixvms CLI on tinyos and booted under QEMU (TCG): ssh through run-vms's
ssh_config, a 32-bit and a 64-bit machine, httpd, lynx, name resolution.
One booted network is shared by the module's tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.nix, pytest.mark.vm]

REPO = Path(__file__).resolve().parents[1]
NIXVMS = REPO / ".venv" / "bin" / "nixvms"
EXAMPLE = REPO / "examples" / "network.nix"
BOOT_TIMEOUT = 300.0
SSH_RETRY = 60.0


@dataclass
class Network:
    directory: Path
    state: Path
    proc: subprocess.Popen[bytes]

    def ssh(self, host: str, command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Runs command on host, retrying while the ssh server is not up yet."""
        deadline = time.monotonic() + SSH_RETRY
        while True:
            config = str(self.state / "ssh_config")
            res = subprocess.run(
                ["ssh", "-F", config, "-o", "ConnectTimeout=10", host, command],
                capture_output=True, text=True, timeout=timeout, check=False,
            )
            # 255: ssh's own failure (connection refused or reset while dropbear starts)
            if res.returncode != 255 or time.monotonic() > deadline:
                return res
            time.sleep(2)


def our_processes(state: Path) -> list[str]:
    """qemu and vde_switch processes whose command line names the state directory."""
    ps = ["ps", "-eo", "pid,args"]
    out = subprocess.run(ps, capture_output=True, text=True, check=True).stdout
    return [
        line for line in out.splitlines()
        if str(state) in line and ("qemu-system" in line or "vde_switch" in line)
    ]


def build(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NIXVMS), "build"], cwd=directory, capture_output=True, text=True,
        timeout=1800, check=False,
    )


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    directory = tmp_path_factory.mktemp("manual")
    shutil.copy(EXAMPLE, directory / "network.nix")
    res = build(directory)
    assert res.returncode == 0, res.stderr
    state = directory / "state" / "run"  # run-vms --state-dir names the project's state
    with (directory / "run-vms.out").open("wb") as log:
        proc = subprocess.Popen(
            [str(directory / "result" / "bin" / "run-vms"), "--state-dir", str(state.parent)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        net = Network(directory, state, proc)
        try:
            started = time.monotonic()
            waiting = {"test1", "test2"}
            while waiting:
                assert proc.poll() is None, (directory / "run-vms.out").read_text(errors="replace")
                assert time.monotonic() - started < BOOT_TIMEOUT, f"no login prompt from {waiting}"
                for m in list(waiting):
                    logf = state / f"{m}.log"
                    if logf.exists() and "login:" in logf.read_text(errors="replace"):
                        waiting.discard(m)
                time.sleep(0.5)
            print(f"both machines at login after {time.monotonic() - started:.1f} s")
            yield net
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            deadline = time.monotonic() + 15
            while our_processes(state) and time.monotonic() < deadline:
                time.sleep(0.5)
            assert our_processes(state) == []


def test_test1_is_32_bit(network: Network) -> None:
    res = network.ssh("test1", "uname -m")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "i686"


def test_test2_is_64_bit(network: Network) -> None:
    res = network.ssh("test2", "uname -m")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "x86_64"


def test_target_host_names_reach_machines(network: Network) -> None:
    res = network.ssh("test1.example.net", "uname -m; hostname")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["i686", "test1"]
    res = network.ssh("test2.example.net", "hostname")
    assert res.stdout.strip() == "test2"


def test_lynx_on_test2_path(network: Network) -> None:
    res = network.ssh("test2", "command -v lynx && lynx -dump http://localhost/")
    assert res.returncode == 0, res.stderr
    assert "Welcome to test2" in res.stdout


def test_lynx_not_on_test1(network: Network) -> None:
    res = network.ssh("test1", "command -v lynx")
    assert res.returncode != 0


def test_test2_serves_its_page_by_name(network: Network) -> None:
    res = network.ssh("test2", "wget -qO- http://test2/")
    assert res.returncode == 0, res.stderr
    assert "<h1>Welcome to test2</h1>" in res.stdout


def test_test2s_firewall_refuses_http_from_test1_as_nixos_does(network: Network) -> None:
    # NixOS's firewall is on by default and enabling httpd opens no port.
    res = network.ssh("test1", "timeout 5 wget -qO- http://test2/")
    assert res.returncode != 0
    assert "Welcome to test2" not in res.stdout


def test_test1_resolves_test2(network: Network) -> None:
    res = network.ssh("test1", "ping -c1 -W5 test2")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "192.168.1.2" in res.stdout


def test_test1_reaches_test2_over_ipv6_by_name(network: Network) -> None:
    res = network.ssh("test1", "ping6 -c1 -W5 test2")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2001:db8:1::2" in res.stdout


def test_test2_resolves_test1(network: Network) -> None:
    res = network.ssh("test2", "ping -c1 -W5 test1")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "192.168.1.1" in res.stdout


def test_unknown_option_is_an_error_and_builds_nothing(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace(
        "services.httpd.enable = true;",
        "services.httpd.enable = true;\n    services.httpd.nosuchoption = 1;",
    )
    assert "nosuchoption" in text
    (tmp_path / "network.nix").write_text(text)
    res = build(tmp_path)
    assert res.returncode == 1
    assert "services.httpd.nosuchoption" in res.stderr
    assert "network.nix" in res.stderr
    assert not (tmp_path / "result").exists()
