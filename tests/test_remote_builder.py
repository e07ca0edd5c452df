"""Builds go to Nix's remote builders when the user configures them (issue 7, point 4).

nixvms has no scheduler of its own: `--option builders ...` and
`--option max-jobs 0` reach every Nix call, and Nix's build hook sends each
derivation over ssh. The test starts an sshd on a free 127.0.0.1 port with a
host key and an authorised client key made here, and builds a small tinyos
network whose VMs are not in the store yet with `max-jobs 0`, so that
nothing can be built locally.

The "remote machine" is this host. It cannot share this host's Nix store as
it is: the local nix-store holds the lock of every output it hands to the
build hook, and `nix-store --serve` on the same store would wait for that
lock for ever. So the sshd runs in its own mount namespace with /nix
overlaid (lower: this host's /nix; upper: a directory of the test): the
builder starts with a copy of this store, builds into its own, and Nix
copies the outputs back over ssh, as from any remote builder. Only the
build-user pool (/nix/var/nix/userpool) is this host's: the builder and this
host's Nix share the nixbld users, and Nix kills every process of a build
user it takes, so they must see each other's claims on them.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.network import BenchNetwork
from bench.sshd import SSHD, free_port
from tests.conftest import BIN, Run

pytestmark = pytest.mark.nix

@dataclass(frozen=True)
class Builder:
    port: int
    client_key: Path
    host_key_b64: str
    commands: Path  # every command the builder's sshd ran, one a line
    upper: Path  # the builder's own writes to /nix


def _can_overlay_nix(tmp: Path) -> bool:
    upper, work = tmp / "probe-upper", tmp / "probe-work"
    upper.mkdir()
    work.mkdir()
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         f"mount -t overlay overlay -o lowerdir=/nix,upperdir={upper},workdir={work} /nix"],
        capture_output=True, check=False,
    )
    return probe.returncode == 0


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sshd exited: {log.read_text()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"sshd did not listen on port {port}: {log.read_text()}")


@pytest.fixture
def builder(tmp_path: Path) -> Iterator[Builder]:
    """An sshd on 127.0.0.1 that serves Nix builds from an overlay of this store."""
    if not SSHD.exists():
        pytest.skip("sshd is missing: apt-get install openssh-server (scripts/setup does)")
    if os.geteuid() != 0:
        pytest.skip("the builder's sshd and its /nix overlay need root")
    d = tmp_path / "builder"
    d.mkdir()
    if not _can_overlay_nix(d):
        pytest.skip("cannot overlay /nix in a private mount namespace here")

    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)],
                       check=True)
    (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
    commands = d / "commands.log"
    serve = d / "serve"
    # Log the command Nix asks for, then run it (ForceCommand runs this instead).
    serve.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$SSH_ORIGINAL_COMMAND" >> {commands}\n'
        'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n'
    )
    serve.chmod(0o755)
    port = free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {d / 'host_key'}\n"
        f"PidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "StrictModes no\n"
        f"ForceCommand {serve}\n"
        "LogLevel VERBOSE\n"
    )
    upper, work, userpool = d / "upper", d / "work", d / "userpool"
    for directory in (upper, work, userpool):
        directory.mkdir()
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    log = d / "sshd.log"
    with log.open("wb") as log_handle:
        proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f"mount --bind /nix/var/nix/userpool {userpool}"
             f" && mount -t overlay overlay -o lowerdir=/nix,upperdir={upper},workdir={work} /nix"
             f" && mount --bind {userpool} /nix/var/nix/userpool"
             f" && exec {SSHD} -D -e -f {d / 'sshd_config'}"],
            stdout=log_handle, stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, proc, log)
        # The builders line's last field: the host's public key, base64-encoded.
        host_key_b64 = base64.b64encode((d / "host_key.pub").read_bytes()).decode()
        yield Builder(port, d / "client_key", host_key_b64, commands, upper)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def current_system() -> str:
    out = subprocess.run(["nix-instantiate", "--eval", "--json", "--expr",
                          "builtins.currentSystem"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip().strip('"')


def test_builds_go_to_the_remote_builder(tmp_path: Path, builder: Builder) -> None:
    project = tmp_path / "project"
    # A unique tag: the VMs are not in the store yet, so they must be built.
    net = BenchNetwork(project, 2, f"remote-{uuid.uuid4().hex}")
    net.write("0")
    # Nix 2.8's builders line: URI, systems, ssh key, max jobs, speed factor,
    # supported features, mandatory features, base64 host key. The port is not
    # part of an ssh:// URI in Nix 2.8: Nix passes NIX_SSHOPTS to ssh.
    machine = (f"ssh://root@127.0.0.1 {current_system()} {builder.client_key} "
               f"1 1 - - {builder.host_key_b64}")
    env = {k: v for k, v in os.environ.items() if k != "NIX_PATH"}
    env["NIX_SSHOPTS"] = f"-p {builder.port} -o BatchMode=yes"
    command = [str(BIN / "nixvms"), "build",
               "--option", "builders", machine, "--option", "max-jobs", "0"]
    built: set[str] = set()
    for _attempt in range(2):
        proc = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True,
                              check=False, timeout=600)
        run = Run(proc.returncode, proc.stdout, proc.stderr)
        built |= run.tasks("building")
        # nixvms does not root the .drv files its evaluations write: a garbage
        # collection elsewhere between an evaluation and its build loses the
        # .drv (reported to the lead). Not what this test is about: once more.
        if run.code == 0 or "missing derivation" not in run.stderr:
            break
    assert run.code == 0, run.stderr
    assert built == set(net.names)

    # Nix's build hook connected and ran the builder side of the protocol.
    assert "nix-store --serve --write" in builder.commands.read_text().splitlines()
    # Each VM was built in the builder's store (its overlay's upper layer) and
    # copied back into this one.
    for name in net.names:
        vm = os.path.realpath(project / "result" / "vms" / name)
        assert vm.startswith("/nix/store/")
        assert os.path.exists(vm)
        assert (builder.upper / "store" / os.path.basename(vm)).exists(), name


def test_without_builders_max_jobs_0_cannot_build(tmp_path: Path) -> None:
    """The control: with max-jobs 0 and no builder, Nix builds nothing here."""
    project = tmp_path / "project"
    net = BenchNetwork(project, 1, f"no-remote-{uuid.uuid4().hex}")
    net.write("0")
    env = {k: v for k, v in os.environ.items() if k != "NIX_PATH"}
    proc = subprocess.run(
        [str(BIN / "nixvms"), "build", "--option", "builders", "",
         "--option", "max-jobs", "0"],
        cwd=project, env=env, capture_output=True, text=True, check=False, timeout=600,
    )
    assert proc.returncode == 1
    assert "error: build of machine 'm001' failed" in proc.stderr
    assert not (project / "result").exists()

