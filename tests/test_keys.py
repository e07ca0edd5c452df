"""The project's ssh key pair: made once, private, never in the store."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from nixvms.keys import project_key
from nixvms.state import StateDir
from tests.conftest import nixvms, write


def test_key_pair_is_made_once_with_a_private_mode(tmp_path: Path) -> None:
    state = StateDir(tmp_path / ".nixvms")
    first = project_key(state)
    assert stat.S_IMODE(first.private_key.stat().st_mode) == 0o600
    assert first.public_key.startswith("ssh-ed25519 ")
    assert project_key(state) == first


@pytest.mark.nix
def test_private_key_never_enters_the_store(project: Path) -> None:
    write(project / "network.nix", "{ alpha = { }; }\n")
    run = nixvms("build", cwd=project)
    assert run.code == 0, run.stderr
    private = (project / ".nixvms" / "ssh" / "id_ed25519").read_text()
    secret_line = private.splitlines()[1]
    closure = subprocess.run(
        ["nix-store", "--query", "--requisites", str(project / "result")],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    found = subprocess.run(["grep", "-rlF", secret_line, *closure],
                           capture_output=True, text=True, check=False)
    assert found.stdout == ""
    # The network directory names the key by its path (network.json's sshKey),
    # which the supervisor's ssh_config uses.
    assert str(project / ".nixvms" / "ssh" / "id_ed25519") in (
        project / "result" / "network.json"
    ).read_text()
