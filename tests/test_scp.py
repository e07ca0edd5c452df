"""scp and sftp against a tinyos machine with services.openssh.enable, as
against NixOS: its sshd serves the sftp subsystem (OpenSSH's sftp-server,
where dropbear looks for it) and has scp on PATH (for `scp -O`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import nixvms, write

pytestmark = [pytest.mark.nix, pytest.mark.vm]

NETWORK = """\
{
  server = { modulesPath, ... }: {
    imports = [ (modulesPath + "/testing/test-instrumentation.nix") ];
    services.openssh.enable = true;
    networking.firewall.enable = false;
  };
}
"""


@pytest.fixture(scope="module")
def ssh_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A running network of one openssh machine; its `nixvms ssh-config` in a file."""
    short = Path(tempfile.mkdtemp(prefix="scp-"))
    directory = tmp_path_factory.mktemp("scp")
    write(directory / "network.nix", NETWORK)
    state = ["--state-dir", str(short / "s")]
    try:
        up = nixvms("up", *state, "--detach", cwd=directory)
        assert up.code == 0, up.stderr
        config = nixvms("ssh-config", *state, cwd=directory)
        assert config.code == 0, config.stderr
        path = directory / "ssh_config"
        path.write_text(config.stdout)
        yield path
    finally:
        nixvms("stop", *state, cwd=directory)
        shutil.rmtree(short, ignore_errors=True)


def run(*command: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=120,
                          check=False)


def test_scp_both_protocols_and_sftp_get_copy_a_file_byte_for_byte(
        ssh_config: Path, tmp_path: Path) -> None:
    data = os.urandom(200_000) + bytes(range(256))
    original = tmp_path / "original.bin"
    original.write_bytes(data)
    options = ["-F", str(ssh_config), "-o", "BatchMode=yes"]
    sftp = run("scp", *options, str(original), "server:/root/sftp.bin")  # SFTP (the default)
    assert sftp.returncode == 0, sftp.stderr
    legacy = run("scp", "-O", *options, str(original), "server:/root/legacy.bin")  # scp -t
    assert legacy.returncode == 0, legacy.stderr
    back = tmp_path / "back"
    back.mkdir()
    got = run("sftp", *options, "-b", "-", "server",
              stdin=f"get /root/sftp.bin {back}/sftp.bin\nget /root/legacy.bin {back}/legacy.bin\n")
    assert got.returncode == 0, got.stderr
    assert (back / "sftp.bin").read_bytes() == data
    assert (back / "legacy.bin").read_bytes() == data
