"""Reaching the machines of a running network: ssh, its config, consoles, logs.

What `nixvms ssh`, `ssh-config`, `console` and `logs` do (and run-vms's
users through ssh_config); they print, this module raises SupervisorError
subclasses. The state directory is found and read through client.open_run.
"""

from __future__ import annotations

import os
import select
import socket
import termios
import time
import tty
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from .client import Opened, not_running, open_run
from .errors import NotRunning, UsageError
from .sshconfig import ssh_config_text
from .text import strip_controls

DETACH_KEY = b"\x1d"  # Ctrl-]
DETACH_KEY_NAME = "Ctrl-]"


def running_machine(state_dir: str | os.PathLike[str], machine: str) -> tuple[Opened, str]:
    """The opened state and the machine's name, when it runs; NotRunning else."""
    opened = open_run(state_dir)
    name = opened.spec.machine(machine).name
    if not opened.supervisor_alive:
        raise NotRunning(f"no network is running from {opened.run_dir.path}; "
                         "start it with `nixvms up`")
    record = opened.record(name)
    if record is None or not record.phase.up:
        raise not_running(opened, name)
    return opened, name


def ssh_command(state_dir: str | os.PathLike[str], machine: str,
                command: Sequence[str] = (), ssh: str = "ssh") -> list[str]:
    """The ssh command line that runs `command` on the machine (by name or
    deployment.targetHost)."""
    opened = open_run(state_dir)
    m = opened.spec.machine(machine)
    if not m.openssh:
        raise UsageError(
            f"machine {m.name} runs no ssh server: set services.openssh.enable = true; "
            f"in its configuration (or use `nixvms console {m.name}`)"
        )
    running_machine(state_dir, m.name)
    args = [ssh, "-F", str(opened.run_dir.ssh_config)]
    key = opened.spec.ssh_key
    if key and os.path.exists(key):
        args += ["-i", key, "-o", "IdentitiesOnly=yes"]
    return [*args, m.name, *command]


def ssh_config(state_dir: str | os.PathLike[str], machines: Sequence[str] = ()) -> str:
    """Host entries for the running machines (all, or those named) that
    `ssh -F` or an Include accepts; NotRunning when none runs."""
    opened = open_run(state_dir)
    if not opened.supervisor_alive:
        raise NotRunning(f"no network is running from {opened.run_dir.path}; "
                         "start it with `nixvms up`")
    chosen = {m.name for m in opened.spec.select(list(machines))}
    ports = {name: m.ssh_port for name, m in opened.state.machines.items()
             if name in chosen and m.phase.up and m.ssh_port
             and opened.spec.machine(name).openssh}
    return ssh_config_text(opened.run_dir, opened.spec, ports)


def log_file(state_dir: str | os.PathLike[str], machine: str) -> Path:
    opened = open_run(state_dir)
    name = opened.spec.machine(machine).name
    path = opened.run_dir.console_log(name)
    if not path.exists():
        raise NotRunning(f"machine {name} has no console log yet ({path})")
    return path


def read_log(path: Path, lines: int | None = None) -> str:
    """The console log, control sequences stripped; the last `lines` lines."""
    text = strip_controls(path.read_bytes().decode("utf-8", "replace"))
    if lines is not None:
        parts = text.rstrip("\n").split("\n")
        text = "\n".join(parts[-lines:]) + "\n" if lines > 0 else ""
    return text


def follow_log(path: Path, lines: int | None, stop: Callable[[], bool]) -> Iterator[str]:
    """The log's last lines, then what is appended, line by line, stripped."""
    yield read_log(path, lines)
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        partial = b""
        while not stop():
            chunk = handle.read()
            if not chunk:
                time.sleep(0.2)
                continue
            partial += chunk
            *complete, partial = partial.split(b"\n")
            if complete:
                yield strip_controls(b"\n".join(complete).decode("utf-8", "replace")) + "\n"


def log_files(state_dir: str | os.PathLike[str],
              machines: Sequence[str] = ()) -> list[tuple[str, Path]]:
    """(machine, console log) of the named machines (all when none) that have one."""
    opened = open_run(state_dir)
    chosen = opened.spec.select(list(machines))
    found = [(m.name, opened.run_dir.console_log(m.name)) for m in chosen]
    present = [(name, path) for name, path in found if path.exists()]
    if not present:
        raise NotRunning(f"no console log yet in {opened.run_dir.path}")
    return present


def follow_logs(logs: Sequence[tuple[str, Path]],
                stop: Callable[[], bool]) -> Iterator[tuple[str, str]]:
    """(machine, line) as the machines' consoles write them, interleaved, stripped."""
    handles = []
    try:
        for name, path in logs:
            handle = open(path, "rb")  # noqa: SIM115 - kept open while following
            handle.seek(0, os.SEEK_END)
            handles.append((name, handle, bytearray()))
        while not stop():
            quiet = True
            for name, handle, partial in handles:
                chunk = handle.read()
                if not chunk:
                    continue
                quiet = False
                partial += chunk
                *complete, rest = bytes(partial).split(b"\n")
                partial[:] = rest
                for line in complete:
                    yield name, strip_controls(line.decode("utf-8", "replace"))
            if quiet:
                time.sleep(0.2)
    finally:
        for _, handle, _ in handles:
            handle.close()


def console_socket(state_dir: str | os.PathLike[str], machine: str) -> tuple[str, Path]:
    """(machine name, its serial console's socket) of a running machine."""
    opened, name = running_machine(state_dir, machine)
    return name, opened.run_dir.console_socket(name)


def attach(path: Path, stdin: int, stdout: int, detach_key: bytes = DETACH_KEY) -> None:
    """Relay a terminal to a console socket until the detach key or its end.

    The terminal is in raw mode meanwhile (keys go to the guest as typed)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError as error:
        sock.close()
        raise NotRunning(f"cannot connect to the console {path}: {error.strerror}") from error
    saved = termios.tcgetattr(stdin) if os.isatty(stdin) else None
    try:
        if saved is not None:
            tty.setraw(stdin, termios.TCSANOW)  # keys typed ahead are kept
        while True:
            readable, _, _ = select.select([stdin, sock.fileno()], [], [])
            if sock.fileno() in readable:
                data = sock.recv(65536)
                if not data:
                    return
                os.write(stdout, data)
            if stdin in readable:
                keys = os.read(stdin, 1024)
                if not keys:
                    return
                if detach_key in keys:
                    before = keys.split(detach_key, 1)[0]
                    if before:
                        sock.sendall(before)
                    return
                sock.sendall(keys)
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        sock.close()


