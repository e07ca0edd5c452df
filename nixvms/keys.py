"""The project's ssh key pair, for root on every machine that runs an ssh server.

One pair per project, in .nixvms/ssh/; the private key stays there (mode
0600) and never enters the Nix store: only the public key is passed to the
evaluations, where the network module authorises it for root.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from nixvms.errors import NixvmsError
from nixvms.state import StateDir


class SshKeyError(NixvmsError):
    """The key pair could not be made."""


@dataclass(frozen=True)
class KeyPair:
    private_key: Path
    public_key: str


def project_key(state: StateDir) -> KeyPair:
    """The project's key pair, made on first use."""
    private = state.ssh_dir / "id_ed25519"
    public = private.with_name("id_ed25519.pub")
    if not (private.exists() and public.exists()):
        private.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = private.with_name(".id_ed25519.tmp")
        for leftover in (tmp, tmp.with_name(tmp.name + ".pub")):
            leftover.unlink(missing_ok=True)
        try:
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                 f"nixvms@{state.root.parent.name}", "-f", str(tmp)],
                stdin=subprocess.DEVNULL, capture_output=True, text=True, check=True,
            )
        except FileNotFoundError as error:
            raise SshKeyError("ssh-keygen not found (install openssh-client)") from error
        except subprocess.CalledProcessError as error:
            raise SshKeyError(f"ssh-keygen failed: {error.stderr.strip()}") from error
        # The public key last: its presence says the pair is complete.
        os.replace(tmp, private)
        os.replace(tmp.with_name(tmp.name + ".pub"), public)
    os.chmod(private, 0o600)
    return KeyPair(private, public.read_text().strip())
