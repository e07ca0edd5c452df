"""Every ssh command line the supervisor runs to a VM host, built here.

The options common to all of them are the host's (VmHost.ssh_argv: BatchMode,
keepalives, port, key, the user's -o options). On top of that:

- the session with the host's supervisor: `ssh -tt HOST run-vms ...`;
- one ControlMaster per host (`ssh -M -S CONTROL -N HOST`), through which the
  host's machines are reached from here: each machine's QEMU sockets
  (console, backdoor shell, monitor, QMP) forwarded as unix sockets at the
  paths they have for a machine running here (`-O forward -L LOCAL:REMOTE`),
  its ssh port forwarded to a port here, and its console log followed
  (`tail -F`) into the log here. Whoever reads the state directory (nixvms
  ssh, exec, cp, logs, console, the test driver) then cannot tell where a
  machine runs.

Standard library only: the supervisor is copied into the network directory.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from .placement import Placement, VmHost


def remote_command(argv: Sequence[str]) -> str:
    """A command for the host's shell (ssh joins its arguments with spaces)."""
    return " ".join(shlex.quote(part) for part in argv)


def session_argv(placement: Placement, network: str, accel: str = "") -> list[str]:
    """ssh -tt HOST run-vms ...: the host's supervisor for the placed machines,
    its events as JSON lines. The terminal makes a lost session a SIGHUP there.
    accel: the accelerator asked for here (--accel), which the host uses too;
    "": the host probes its own (accel.py)."""
    ssh = placement.host.ssh_argv()
    remote = [f"{network}/bin/run-vms", "--state-dir", placement.state_dir, "--json-events",
              *(["--accel", accel] if accel else []), "--here", *placement.machines]
    return [ssh[0], "-tt", *ssh[1:], remote_command(remote)]


def stop_argv(placement: Placement, network: str) -> list[str]:
    """ssh HOST run-vms --stop: stop what runs there when its session was lost."""
    return [*placement.host.ssh_argv(),
            remote_command([f"{network}/bin/run-vms", "--state-dir", placement.state_dir,
                            "--stop"])]


def unpack_argv(host: VmHost, directory: str) -> list[str]:
    """ssh HOST: a tar archive on stdin unpacked as `directory`, unless the host
    has it already (a network directory, named by its hash, never changes)."""
    d = shlex.quote(directory)
    part = shlex.quote(f"{directory}.part")
    return [*host.ssh_argv(),
            f"if test -d {d}; then cat >/dev/null; else rm -rf {part} && mkdir -p {part} "
            f"&& tar -x -C {part} && mv {part} {d}; fi"]


def master_argv(host: VmHost, control: Path) -> list[str]:
    """The host's ControlMaster: no command, no terminal; it holds the forwards.
    StreamLocalBindUnlink: a forwarded socket replaces a stale file of the
    same name; ExitOnForwardFailure: a forward that cannot bind is an error."""
    ssh = host.ssh_argv()
    return [ssh[0], "-M", "-S", str(control), "-N",
            "-o", "ControlPersist=no", "-o", "StreamLocalBindUnlink=yes",
            "-o", "ExitOnForwardFailure=yes", *ssh[1:]]


def _muxed(host: VmHost, control: Path) -> list[str]:
    # through the master only: never a connection of its own
    return ["ssh", "-S", str(control), "-o", "ControlMaster=no", "-o", "BatchMode=yes"]


def check_argv(host: VmHost, control: Path) -> list[str]:
    """Whether the master is up (exit status 0)."""
    return [*_muxed(host, control), "-O", "check", "--", host.ssh]


def exit_argv(host: VmHost, control: Path) -> list[str]:
    """End the master and every forward and command through it."""
    return [*_muxed(host, control), "-O", "exit", "--", host.ssh]


def forward_argv(host: VmHost, control: Path, forwards: Sequence[tuple[str, str]],
                 cancel: bool = False) -> list[str]:
    """Add (or cancel) forwards through the master: (LOCAL, REMOTE) pairs, each a
    unix socket's path or ADDRESS:PORT."""
    argv = [*_muxed(host, control), "-O", "cancel" if cancel else "forward"]
    for local, remote in forwards:
        argv += ["-L", f"{local}:{remote}"]
    return [*argv, "--", host.ssh]


def follow_argv(host: VmHost, control: Path, path: str) -> list[str]:
    """A file on the host, from its start and as it grows (and when it is made
    anew: a machine started again), through the master."""
    return [*_muxed(host, control), "--", host.ssh,
            remote_command(["tail", "-n", "+1", "-F", path])]



def read_argv(host: VmHost, control: Path, path: str) -> list[str]:
    """A file on the host, on stdout, through the master (and removed there:
    what is read this way is a file written for it, a screendump)."""
    return [*_muxed(host, control), "--", host.ssh,
            f"cat {shlex.quote(path)} && rm -f {shlex.quote(path)}"]
