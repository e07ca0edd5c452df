"""The process objects: a `Switch` per VLAN, a `VM` per machine.

Shaped like NixOS's test driver (`VLan`, `Machine`); the supervisor
(supervisor.py) starts switches, then machines, and stops them in reverse. Each object owns one
process, started in its own session with a parent-death signal (procs.py),
so none outlives the process that started it. Usable in-process: start(),
stop(timeout), kill(), is_running(), wait().
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import accel as accelerators
from . import procs
from .boot import BootWatch
from .errors import StartError
from .facts import MachineFacts
from .qemu import QemuClient
from .statedir import RunDir, make_private_dir, open_private, refuse_symlink, remove_path
from .text import tail_lines

DEFAULT_STOP_TIMEOUT = 5.0
SSH_PROBE_INTERVAL = 0.2  # a new probe connection after one ended without a banner
SWITCH_TIMEOUT = 10.0


class Switch:
    """vde_switch for one VLAN: a hub on <sockets>/vde<v>.ctl.

    Ready when its control socket answers a connection. Its stdin is a pipe
    this process holds open: without --daemon vde_switch reads commands
    from stdin and quits at its end, so it also quits when we die."""

    def __init__(self, vlan: int, run_dir: RunDir | None, program: str = "vde_switch", *,
                 socket: Path | None = None, log: Path | None = None,
                 label: str = "") -> None:
        """No run_dir: another switch than the VLAN's own (a machine's side of a
        shaped link, a partition's group: links.py), at socket, logging to log."""
        self.vlan = vlan
        self.program = program
        if run_dir is not None:
            socket, log = run_dir.switch_socket(vlan), run_dir.switch_log(vlan)
        assert socket is not None and log is not None, "a switch needs a socket and a log"
        self.socket = socket
        self.log = log
        self.label = label or f"the switch of VLAN {vlan}"
        self.process: subprocess.Popen[bytes] | None = None
        self.command: tuple[str, ...] = ()
        self.started_at = 0.0

    @property
    def control(self) -> Path:
        return self.socket / "ctl"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, timeout: float = SWITCH_TIMEOUT) -> None:
        found = shutil.which(self.program)
        if found is None:
            raise StartError(
                f"{self.program} is not installed (it comes with vde2); it connects the VMs' "
                f"VLANs"
            )
        remove_path(self.socket)
        self.command = (found, "--sock", str(self.socket), "--hub", "--dirmode", "0700")
        fd = open_private(self.log)
        with os.fdopen(fd, "wb") as output:
            self.process = procs.spawn(self.command, env=os.environ, cwd=None,
                                       stdin=subprocess.PIPE, output=output)
        self.started_at = time.time()
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None:
                lines = " | ".join(tail_lines(self.log, 5))
                raise StartError(
                    f"{self.label} stopped at start "
                    f"({procs.describe_status(self.process.returncode)}): {lines}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise StartError(
                    f"{self.label} made no control socket {self.control} "
                    f"within {timeout:.0f} s"
                )
            time.sleep(0.02)

    def _answers(self) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(str(self.control))
            except OSError:
                return False
        return True

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        if self.process is not None:
            procs.stop_processes([self.process], timeout)
            if self.process.stdin:
                with contextlib.suppress(OSError):
                    self.process.stdin.close()
        remove_path(self.socket)

    def kill(self) -> None:
        self.stop(timeout=0)

    def wait(self, timeout: float | None = None) -> int:
        if self.process is None:
            raise StartError(f"{self.label} was never started")
        return self.process.wait(timeout)


@dataclass(frozen=True)
class HostForward:
    """A port forward from 127.0.0.1:host_port to the guest's guest_port."""

    host_port: int
    guest_port: int
    proto: str = "tcp"

    def netdev_option(self) -> str:
        return f"hostfwd={self.proto}:127.0.0.1:{self.host_port}-:{self.guest_port}"


@dataclass(frozen=True)
class VMOptions:
    """What the user adds to every VM (the environment's QEMU_* values)."""

    accel: str | None = None          # "kvm", "tcg", or None: the VM script's choice
    qemu_opts: str = ""               # appended to QEMU_OPTS
    net_opts: str = ""                # appended to QEMU_NET_OPTS
    kernel_params: str = ""           # QEMU_KERNEL_PARAMS


class VM:
    """One machine: its VM script run with the qemu-vm.nix contract.

    Files (see the package docstring): <state>/<m>/ its directory (cwd,
    TMPDIR, the disk <hostName>.qcow2), <state>/<m>.log the raw serial console,
    <state>/<m>.out the VM script's and QEMU's own output, and the sockets
    <sockets>/<m>.console, .shell and .monitor.
    """

    def __init__(
        self,
        machine: MachineFacts,
        run_dir: RunDir,
        *,
        vde_sockets: Mapping[int, Path],
        ssh_port: int | None = None,
        forwards: Sequence[HostForward] = (),
        options: VMOptions = VMOptions(),
    ) -> None:
        self.machine = machine
        self.name = machine.name
        self.run_dir = run_dir
        self.vde_sockets = dict(vde_sockets)
        self.ssh_port = ssh_port
        self.forwards = tuple(forwards)
        self.options = options
        self.process: subprocess.Popen[bytes] | None = None
        self.command: tuple[str, ...] = ()
        self.started_at = 0.0          # time.time() at start
        self.started_monotonic = 0.0
        self.boot = BootWatch(self.run_dir.console_log(self.name))
        self.sshd = BannerProbe()        # whether its sshd has answered since it started
        self.paused_start = False      # start QEMU paused (-S): a snapshot is loaded first
        self.console_prefix: Path | None = None  # what the console log starts with (a restore)

    # --- where things are ---------------------------------------------------
    @property
    def directory(self) -> Path:
        return self.run_dir.machine_dir(self.name)

    @property
    def disk(self) -> Path:
        return self.directory / self.machine.disk_name

    @property
    def log(self) -> Path:
        return self.run_dir.console_log(self.name)

    @property
    def output(self) -> Path:
        return self.run_dir.output_log(self.name)

    @property
    def console_socket(self) -> Path:
        return self.run_dir.console_socket(self.name)

    @property
    def shell_socket(self) -> Path:
        return self.run_dir.shell_socket(self.name)

    @property
    def monitor_socket(self) -> Path:
        return self.run_dir.monitor_socket(self.name)

    @property
    def qmp_socket(self) -> Path:
        return self.run_dir.qmp_socket(self.name)

    def sockets(self) -> tuple[Path, ...]:
        """The sockets QEMU serves for this machine (removed when it stops)."""
        return self.run_dir.machine_sockets(self.name)

    def qemu(self) -> QemuClient:
        """The client of this machine's QEMU (qemu.py)."""
        return QemuClient(self.qmp_socket, self.name)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def returncode(self) -> int | None:
        return self.process.poll() if self.process else None

    def all_forwards(self) -> tuple[HostForward, ...]:
        ssh = (HostForward(self.ssh_port, self.machine.ssh_port),) if self.ssh_port else ()
        return ssh + self.forwards

    # --- the environment of the VM script -------------------------------------
    def qemu_opts(self, log_fd: int) -> str:
        """QEMU_OPTS: the consoles and the monitor on sockets, then the user's.

        The VM script splits QEMU_OPTS on whitespace; the socket directory's
        path is plain (statedir.socket_dir_for), and the console log is
        reached through its open file descriptor, so the state directory's
        own path may hold spaces and quotes."""
        console, shell, monitor = self.console_socket, self.shell_socket, self.monitor_socket
        opts = [
            "-display", "none",
            "-chardev",
            f"socket,id=nixvms-console,path={console},server=on,wait=off,"
            f"logfile=/dev/fd/{log_fd},logappend=on",
            "-serial", "chardev:nixvms-console",
            # ioeventfd=off: the guest's console driver spins until QEMU has
            # taken what it wrote; with an ioeventfd that waits for QEMU's main
            # loop (under TCG a guest-side spin of several ms per backdoor
            # reply), without one QEMU takes it in the write itself
            "-device", "virtio-serial,ioeventfd=off",
            "-device", "virtconsole,chardev=shell",
            "-chardev", f"socket,id=shell,path={shell},server=on,wait=off",
            "-monitor", f"unix:{monitor},server=on,wait=off",
            "-qmp", f"unix:{self.qmp_socket},server=on,wait=off",
        ]
        if self.paused_start:
            opts.append("-S")
        if self.options.accel:
            # NixOS's VM scripts say -machine accel=kvm:tcg; a later -machine
            # accel= overrides it, where -accel would conflict with it.
            opts += ["-machine", f"accel={self.options.accel}"]
        if self.options.qemu_opts:
            opts.append(self.options.qemu_opts)
        return " ".join(opts)

    def environment(self, log_fd: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QEMU_VDE_SOCKET_")}
        net = ",".join(f.netdev_option() for f in self.all_forwards())
        if self.options.net_opts:
            net = f"{net},{self.options.net_opts}" if net else self.options.net_opts
        env.update(
            QEMU_OPTS=self.qemu_opts(log_fd),
            QEMU_NET_OPTS=net,
            QEMU_KERNEL_PARAMS=accelerators.kernel_params(self.options.accel,
                                                          self.options.kernel_params),
            NIX_DISK_IMAGE=str(self.disk),
            TMPDIR=str(self.directory),
            USE_TMPDIR="1",
        )
        for vlan in self.machine.vlans:
            env[f"QEMU_VDE_SOCKET_{vlan}"] = str(self.vde_sockets[vlan])
        return env

    # --- the process ----------------------------------------------------------
    def start(self) -> None:
        if self.is_running():
            return
        script = self.machine.run_script
        if not os.access(script, os.X_OK):
            raise StartError(
                f"machine {self.name}: its VM script {script} is missing or not executable"
            )
        missing = [v for v in self.machine.vlans if v not in self.vde_sockets]
        if missing:
            raise StartError(f"machine {self.name}: no switch for VLAN {missing[0]}")
        make_private_dir(self.directory, f"machine {self.name}'s directory", follow=False)
        refuse_symlink(self.disk)
        for sock in self.sockets():
            refuse_symlink(sock)
            remove_path(sock)
        log_fd = open_private(self.log)
        if self.console_prefix is not None:
            with contextlib.suppress(OSError):
                os.write(log_fd, self.console_prefix.read_bytes())
        os.set_inheritable(log_fd, True)
        out_fd = open_private(self.output)
        self.command = (script,)
        self.boot.reset()
        self.sshd.reset()
        try:
            with os.fdopen(out_fd, "wb") as output:
                self.process = procs.spawn(
                    self.command, env=self.environment(log_fd), cwd=self.directory,
                    stdin=None, output=output, pass_fds=(log_fd,),
                )
        finally:
            os.close(log_fd)
        self.started_at = time.time()
        self.started_monotonic = time.monotonic()

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> int | None:
        """TERM its process group, KILL after timeout; its exit status."""
        self.sshd.close()
        if self.process is None:
            return None
        procs.stop_processes([self.process], timeout)
        return self.process.returncode

    def kill(self) -> int | None:
        return self.stop(timeout=0)

    def wait(self, timeout: float | None = None) -> int:
        if self.process is None:
            raise StartError(f"machine {self.name} was never started")
        return self.process.wait(timeout)

    def last_lines(self, count: int = 20) -> list[str]:
        return tail_lines(self.log, count)


class SshProbe:
    """One non-blocking connection to 127.0.0.1:port waiting for "SSH-"."""

    # A connection that brings nothing for this long counts as ended: QEMU's
    # user-mode network keeps a forwarded connection open while the guest
    # does not answer it at all (a guest whose network is not up yet drops
    # the SYN), for up to slirp's 75 s.
    STALE_AFTER = 5.0

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.data = b""
        self.opened = time.monotonic()
        self.failed = self.sock.connect_ex(("127.0.0.1", port)) not in (0, errno.EINPROGRESS)

    def poll(self) -> bool | None:
        """True: a banner; False: the connection ended without one (or
        brought nothing for STALE_AFTER); None: not yet."""
        if self.failed:
            return False
        try:
            chunk = self.sock.recv(64)
        except (BlockingIOError, InterruptedError):
            stale = not self.data and time.monotonic() - self.opened > self.STALE_AFTER
            return False if stale else None
        except OSError:
            return False
        if not chunk:
            return False
        self.data += chunk
        if len(self.data) < 4:
            return None
        return self.data.startswith(b"SSH-")

    def close(self) -> None:
        self.sock.close()


class BannerProbe:
    """Whether an sshd has answered on a forwarded port since the last reset().

    look() never waits: one probe connection stays open between looks, so a
    slow banner (a busy guest under TCG) is still seen, within one look of
    its arrival, and the caller's loop is not held up; after a connection
    ended without a banner, a new one is opened at most every `interval`.
    The supervisor's readiness and bench/bootwatch.py both ask through it."""

    def __init__(self, interval: float = SSH_PROBE_INTERVAL,
                 opener: Callable[[int], SshProbe] = lambda port: SshProbe(port)) -> None:
        self.interval = interval
        self.answered = False
        self._open = opener
        self._probe: SshProbe | None = None
        self._last_open = -math.inf

    @property
    def probing(self) -> bool:
        """Whether a probe connection is open."""
        return self._probe is not None

    def look(self, port: int | None, now: float) -> bool:
        """Whether it has answered, looking once more if not (`now`: a monotonic clock)."""
        if self.answered or not port:
            return self.answered
        if self._probe is None:
            if now - self._last_open < self.interval:
                return False
            self._probe, self._last_open = self._open(port), now
        answer = self._probe.poll()
        if answer is not None:  # the banner, or a connection that ended: start over
            self.close()
            self.answered = answer
        return self.answered

    def close(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None

    def reset(self) -> None:
        """Forget the answer (the machine starts again)."""
        self.close()
        self.answered = False
        self._last_open = -math.inf


def ssh_banner(port: int, timeout: float = 1.0) -> bool:
    """Whether 127.0.0.1:port answers with an SSH banner ("SSH-")."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(4).startswith(b"SSH-")
    except OSError:
        return False
