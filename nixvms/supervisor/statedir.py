"""The state directory of a running network, its lock and its state file.

The state directory is the user's (0700, files 0600). Before anything is
written into it, it is checked: it must belong to the user, and no name the
supervisor writes may be a symlink (a symlink planted there could make it
write elsewhere). Files are opened with O_NOFOLLOW and written atomically.

Unix socket paths have at most 107 bytes, and QEMU's options are split on
spaces and commas by the VM script, so sockets go in the state directory only
when its path is short and plain; otherwise in a private directory
/tmp/nixvms-<uid>/<digest of the state directory> (0700, checked the same
way), which the state file records.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import AlreadyRunning, StateDirError

STATE_FILE = "state.json"
LOCK_FILE = "lock"
SSH_CONFIG = "ssh_config"
SUPERVISOR_LOG = "supervisor.log"
UNIX_PATH_MAX = 107
# What a path inside QEMU_OPTS may hold: the VM script splits QEMU_OPTS on
# whitespace and QEMU splits option values on commas.
_PLAIN_PATH = re.compile(r"^[A-Za-z0-9._/@+=-]+$")
# The longest socket name, for the longest machine name (63): "<m>.monitor",
# and vde_switch's port sockets inside vde<v>.ctl/.
_LONGEST_SOCKET_SUFFIX = 63 + len(".monitor") + 1


def _check_owned_dir(path: Path, what: str, follow: bool = True) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode) and not follow:
        raise StateDirError(
            f"{what} {path} is a symlink; nixvms writes its own files there and does not "
            "follow symlinks in a state directory (remove it, or use another --state-dir)"
        )
    if stat.S_ISLNK(st.st_mode):
        # A symlinked state directory is followed, but it must lead to ours.
        try:
            st = os.stat(path)
        except OSError as error:
            raise StateDirError(f"{what} {path} is a broken symlink") from error
    if not stat.S_ISDIR(st.st_mode):
        raise StateDirError(f"{what} {path} is not a directory")
    if st.st_uid != os.geteuid():
        raise StateDirError(
            f"{what} {path} belongs to uid {st.st_uid}, not to you (uid {os.geteuid()}); "
            "nixvms uses only a directory of its own"
        )


def make_private_dir(path: Path, what: str, *, follow: bool = True) -> Path:
    """Create (or check) a directory of ours, mode 0700. follow=False: a
    symlink in its place is refused (a directory inside the state directory)."""
    _check_owned_dir(path, what, follow)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise StateDirError(f"cannot create {what} {path}: {error.strerror}") from error
    _check_owned_dir(path, what, follow)
    os.chmod(path, 0o700)
    return path


def refuse_symlink(path: Path) -> None:
    """Refuse a symlink where a file of ours goes."""
    if path.is_symlink():
        raise StateDirError(
            f"{path} is a symlink; nixvms writes its own files there and does not follow "
            "symlinks in a state directory (remove it, or use another --state-dir)"
        )


def open_private(path: Path, *, append: bool = False) -> int:
    """Open a file of ours for writing: 0600, never through a symlink."""
    refuse_symlink(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    flags |= os.O_APPEND if append else os.O_TRUNC
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as error:
        raise StateDirError(f"cannot write {path}: {error.strerror}") from error
    os.fchmod(fd, 0o600)
    return fd


def write_private(path: Path, text: str) -> None:
    """Write a file of ours atomically (a 0600 temporary file renamed over it)."""
    refuse_symlink(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove_path(path: Path) -> bool:
    """Remove a file, socket, symlink or directory tree of ours; whether it existed."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return True


@dataclass(frozen=True)
class RunDir:
    """A checked state directory and where its sockets go."""

    path: Path
    sockets: Path

    @property
    def state_file(self) -> Path:
        return self.path / STATE_FILE

    @property
    def lock_file(self) -> Path:
        return self.path / LOCK_FILE

    @property
    def ssh_config(self) -> Path:
        return self.path / SSH_CONFIG

    @property
    def supervisor_log(self) -> Path:
        return self.path / SUPERVISOR_LOG

    @property
    def control_socket(self) -> Path:
        return self.sockets / "control"

    def switch_socket(self, vlan: int) -> Path:
        return self.sockets / f"vde{vlan}.ctl"

    def switch_log(self, vlan: int) -> Path:
        return self.path / f"vde{vlan}.log"

    def machine_dir(self, name: str) -> Path:
        return self.path / name

    def console_log(self, name: str) -> Path:
        return self.path / f"{name}.log"

    def output_log(self, name: str) -> Path:
        return self.path / f"{name}.out"

    def driver_log(self, name: str) -> Path:
        """The test driver's log of the machine (testlog.py)."""
        return self.path / f"{name}.driver.log"

    def console_socket(self, name: str) -> Path:
        return self.sockets / f"{name}.console"

    def shell_socket(self, name: str) -> Path:
        return self.sockets / f"{name}.shell"

    def monitor_socket(self, name: str) -> Path:
        return self.sockets / f"{name}.monitor"

    def qmp_socket(self, name: str) -> Path:
        return self.sockets / f"{name}.qmp"

    def machine_sockets(self, name: str) -> tuple[Path, ...]:
        """Every socket QEMU serves for the machine (removed when it stops)."""
        return (self.console_socket(name), self.shell_socket(name),
                self.monitor_socket(name), self.qmp_socket(name))


def socket_dir_for(state: Path) -> Path:
    """Where the sockets of the network running from `state` go."""
    text = str(state)
    if _PLAIN_PATH.match(text) and len(text) + 1 + _LONGEST_SOCKET_SUFFIX <= UNIX_PATH_MAX:
        return state
    digest = hashlib.sha256(os.fsencode(state)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"nixvms-{os.geteuid()}" / digest


def resolve_state_dir(path: str | os.PathLike[str]) -> Path:
    """The state directory's absolute path (symlinks in it resolved)."""
    text = os.fspath(path)
    if not text:
        raise StateDirError("the state directory's path is empty")
    if "\n" in text or "\0" in text:
        raise StateDirError("the state directory's path contains a newline")
    if "," in text:
        # QEMU's -drive file=... (inside the VM script) cannot take a comma.
        raise StateDirError(
            f"the state directory {text} contains a comma, which QEMU's options cannot "
            "take; use another --state-dir"
        )
    return Path(os.path.abspath(text)).resolve()


def prepare(path: str | os.PathLike[str], *, create: bool = True) -> RunDir:
    """Check (and create) a state directory and its socket directory."""
    state = resolve_state_dir(path)
    if create:
        make_private_dir(state, "the state directory")
    else:
        _check_owned_dir(state, "the state directory")
    sockets = socket_dir_for(state)
    if sockets != state and create:
        make_private_dir(sockets.parent, "the socket directory", follow=False)
        make_private_dir(sockets, "the socket directory", follow=False)
    return RunDir(path=state, sockets=sockets)


class StateLock:
    """The lock on a state directory, held while a supervisor runs from it.

    An flock on the lock file: the kernel drops it when its holder dies, so
    a killed supervisor never blocks the next start. The open file can be
    handed to a child (pass `fd`); the lock is then the child's as well."""

    def __init__(self, run_dir: RunDir) -> None:
        self.run_dir = run_dir
        refuse_symlink(run_dir.lock_file)
        self.fd = os.open(run_dir.lock_file,
                          os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            os.close(self.fd)
            raise AlreadyRunning(
                f"a network is already running from {run_dir.path}; "
                "stop it first with `nixvms stop` (or run-vms --stop)"
            ) from error

    @classmethod
    def adopt(cls, run_dir: RunDir, fd: int) -> StateLock:
        """The lock a parent took and handed over as an open fd."""
        lock = cls.__new__(cls)
        lock.run_dir = run_dir
        lock.fd = fd
        os.set_inheritable(fd, False)
        return lock

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def is_locked(run_dir: RunDir) -> bool:
    """Whether a supervisor holds the state directory's lock now."""
    try:
        fd = os.open(run_dir.lock_file, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
