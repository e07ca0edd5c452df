"""Files to and from a machine through its backdoor (no ssh, no shared directory).

Shared by the test driver's copy_from_host/copy_from_vm and `nixvms cp`:
what travels is a tar of the file or directory; to the machine in pieces
of TRANSFER_CHUNK bytes, each appended to a file by the backdoor's put (base64
read by `head -c`, its MD5 checked in the guest), from the machine as the
reply of `tar -cf -`, streamed into a file (the backdoor checks every byte).
Things land as `cp -r` puts them: into DEST when it is a directory, else as
DEST.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .backdoor import PUT_DAMAGED, Sink
from .errors import SupervisorError

TRANSFER_CHUNK = 3 << 20  # bytes per command when copying to a machine
TRANSFER_TIMEOUT = 900.0  # seconds one command of a copy may take

Run = Callable[[str, float | None, Sink | None], tuple[int, bytes]]
# put(data, path, timeout): append data to the machine's file; the exit status
Put = Callable[[bytes, str, float | None], int]


class TransferError(SupervisorError):
    """A copy that cannot be done: a missing source, a refused path, a failed command."""


@dataclass(frozen=True)
class Copied:
    size: int       # bytes that travelled (the tar)
    seconds: float

    def describe(self, what: str) -> str:
        """'copied 12.0 MB in 3.1 s (3.9 MB/s)'."""
        return (f"{what} {self.size / 1e6:.1f} MB in {self.seconds:.1f} s "
                f"({self.size / 1e6 / max(self.seconds, 1e-3):.1f} MB/s)")


def _check(run: Run, command: str, what: str) -> bytes:
    status, output = run(command, TRANSFER_TIMEOUT, None)
    if status != 0:
        raise TransferError(f"{what} failed (exit status {status}; the machine's console "
                            "has its message)")
    return output


def _as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Members as root's, as NixOS's copy_from_host leaves them (root:root)."""
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def to_machine(run: Run, put: Put, source: Path, target: str, *,
               recursive: bool = True) -> Copied:
    """Copy a host file or directory to `target` on the machine."""
    if not source.exists():
        raise TransferError(f"{source} does not exist on the host")
    if source.is_dir() and not recursive:
        raise TransferError(f"{source} is a directory (-r copies directories)")
    began = time.monotonic()
    with tempfile.TemporaryFile() as blob:
        with tarfile.open(fileobj=blob, mode="w", dereference=True) as tar:
            tar.add(str(source), arcname=source.name, filter=_as_root)
        size = blob.tell()
        blob.seek(0)
        made = _check(run, "mktemp -d", "making a temporary directory on the machine")
        tmp = made.decode().strip()
        tmp_dir = shlex.quote(tmp)
        while chunk := blob.read(TRANSFER_CHUNK):
            status = put(chunk, f"{tmp}/blob", TRANSFER_TIMEOUT)
            if status == PUT_DAMAGED:
                raise TransferError("sending the data failed: it arrived damaged")
            if status != 0:
                raise TransferError(f"sending the data failed (exit status {status}; the "
                                    "machine's console has its message)")
    quoted_target = shlex.quote(target)
    parent = shlex.quote(str(PurePosixPath(target).parent))
    _check(run, f"mkdir {tmp_dir}/x && tar -x -C {tmp_dir}/x < {tmp_dir}/blob && "
                f"mkdir -p {parent} && cp -r {tmp_dir}/x/{shlex.quote(source.name)} "
                f"{quoted_target}; status=$?; rm -rf {tmp_dir}; exit $status",
           f"placing {source.name} at {target}")
    return Copied(size, time.monotonic() - began)


def from_machine(run: Run, source: str, destination: Path, *,
                 recursive: bool = True) -> Copied:
    """Copy a machine's file or directory to `destination` on the host."""
    path = PurePosixPath(source)
    if not path.name:
        raise TransferError(f"{source!r} names no file")
    quoted = shlex.quote(source)
    status, _ = run(f"test -e {quoted}", TRANSFER_TIMEOUT, None)
    if status != 0:
        raise TransferError(f"{source} does not exist on the machine")
    if not recursive and run(f"test -d {quoted}", TRANSFER_TIMEOUT, None)[0] == 0:
        raise TransferError(f"{source} is a directory on the machine (-r copies directories)")
    began = time.monotonic()
    place = destination / path.name if destination.is_dir() else destination
    with tempfile.TemporaryFile() as blob:
        status, _ = run(f"tar -C {shlex.quote(str(path.parent))} -cf - "
                        f"{shlex.quote(path.name)}", TRANSFER_TIMEOUT, blob)
        if status != 0:
            raise TransferError(f"reading {source} on the machine failed (tar exited "
                                f"with status {status}; its message is on the console)")
        size = blob.tell()
        blob.seek(0)
        place.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".nixvms-cp-", dir=place.parent))
        try:
            with tarfile.open(fileobj=blob, mode="r") as tar:
                safe_extract(tar, staging, path.name)
            if place.is_dir() and not place.is_symlink():
                shutil.rmtree(place)
            os.replace(staging / path.name, place)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return Copied(size, time.monotonic() - began)


def safe_extract(tar: tarfile.TarFile, destination: Path, top: str) -> None:
    """Extract a tar from a machine: nothing outside `top`, no devices."""
    base = destination.resolve()
    for member in tar.getmembers():
        name = os.path.normpath(member.name)
        if name.startswith(("/", "..")) or not (name == top or name.startswith(top + "/")):
            raise TransferError(f"refusing {member.name!r} from the machine")
        if not (member.isfile() or member.isdir() or member.issym()):
            continue
        target = (base / name).resolve() if not member.issym() else base / name
        if base not in target.parents and target != base:
            raise TransferError(f"refusing {member.name!r} from the machine")
        if member.issym():
            target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            os.symlink(member.linkname, target)
        elif member.isdir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            extracted = tar.extractfile(member)
            assert extracted is not None
            with open(target, "wb") as out:
                shutil.copyfileobj(extracted, out)
            os.chmod(target, member.mode & 0o777)
