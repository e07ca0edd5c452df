"""Snapshots: every machine's RAM, devices and disk at one moment.

How: QEMU's internal snapshots (`savevm`/`loadvm`, through QMP's
human-monitor-command) in each machine's qcow2 disk, not migration to a file
plus `-incoming`, because

- one command per machine keeps the RAM, the device state and the disk
  together, in the disk file nixvms already owns: no copy of the disk, no
  second file to keep consistent with it, nothing to clean up but the tag;
- `loadvm` works on a running QEMU: restoring keeps the process, its
  sockets, its console log, its ssh forward and its port on the VLAN's
  switch, and takes about a second; a stopped machine is restored by
  starting it paused (-S) and loading the snapshot before it runs;
  `-incoming` would need a new QEMU for every restore, and the disk
  saved separately at the same moment;
- qcow2 writes a snapshot's entry in its table last: a save cut short (a
  kill -9, a full disk) leaves the snapshots taken before it as they were.

A snapshot NAME of the network is a record, <run>/snapshots/NAME.json
(written atomically), naming per machine its VM store path and the tag of
its internal snapshot, "nixvms-NAME-<token>". Saving again writes new tags
first, then the record, then deletes the old tags: the record names only
tags that were saved whole, so the previous snapshot survives any failure.

A machine's ready snapshot (tag "nixvms-ready", record <run>/<m>/ready.json
with its VM store path) is taken when the machine first became ready after a
boot from a new disk (login prompt, ssh where enabled, and the test
instrumentation's backdoor answering): a test rerun restores it instead of
booting, and it belongs to that build of the machine only.

Standard library only (the supervisor runs without nixvms installed).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from . import typedjson
from .backdoor import RECORD, probe_line
from .errors import SupervisorError, UsageError
from .qemu import QemuClient, QemuError
from .statedir import RunDir, make_private_dir, remove_path, write_private

VERSION = 1
KIND = "Snapshot"
READY_KIND = "ReadySnapshot"
READY_TAG = "nixvms-ready"
DEFAULT_NAME = "default"
SAVE_TIMEOUT = 600.0          # seconds QEMU may take to write one machine's snapshot
FULL_MARGIN = 64 << 20         # free bytes under which a failed save is said to be a full disk
CLOCK_TIMEOUT = 10.0          # seconds a restored guest's backdoor has to set its clock
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# QEMU's words when a device forbids migration (and so savevm): 9p's own
# message names the share; the rest name the device.
NINEP = re.compile(r"VirtFS export path '([^']*)' is mounted in the guest using mount_tag "
                   r"'([^']*)'")
# What makes a real NixOS VM snapshot-capable: its store on a disk image
# instead of the host's store over 9p.
NIXOS_STORE_OPTIONS = ("virtualisation.useNixStoreImage = true; "
                       "virtualisation.mountHostNixStore = false;")

R = TypeVar("R")


class SnapshotError(SupervisorError):
    """A snapshot cannot be saved, restored or deleted."""


class CannotSnapshot(SnapshotError):
    """QEMU cannot snapshot this machine (a mounted 9p share, a device that
    cannot migrate); the message names what would make it possible."""


# --- records -----------------------------------------------------------------------


@dataclass(frozen=True)
class MachineSnapshot:
    """One machine in a snapshot."""

    vm: str        # the VM store path it ran
    tag: str       # its internal snapshot in the machine's disk
    size: int = 0  # bytes the disk grew by when it was saved


@dataclass(frozen=True)
class Snapshot:
    """A named snapshot of the network (<run>/snapshots/NAME.json)."""

    name: str
    taken_at: float
    machines: Mapping[str, MachineSnapshot] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(m.size for m in self.machines.values())


@dataclass(frozen=True)
class ReadySnapshot:
    """A machine's snapshot from when it first became ready (<run>/<m>/ready.json)."""

    vm: str
    tag: str
    taken_at: float
    size: int = 0


def check_name(name: str) -> str:
    """A snapshot's name, checked (UsageError saying what names may be)."""
    if not NAME_PATTERN.fullmatch(name):
        raise UsageError(f"snapshot name {name!r}: use letters, digits, '.', '_' and '-' "
                         "(at most 64, starting with a letter or digit)")
    return name


def snapshots_dir(run_dir: RunDir) -> Path:
    return run_dir.path / "snapshots"


def record_path(run_dir: RunDir, name: str) -> Path:
    return snapshots_dir(run_dir) / f"{check_name(name)}.json"


def ready_path(run_dir: RunDir, machine: str) -> Path:
    return run_dir.machine_dir(machine) / "ready.json"


def ready_console(run_dir: RunDir, machine: str) -> Path:
    """The console log up to the ready snapshot: a restored machine's log
    starts with it, as a booted one's would (wait_for_console_text)."""
    return run_dir.machine_dir(machine) / "ready.console"


def _load(path: Path, kind: type[R], kind_name: str) -> R | None:
    """The one loader of snapshot records: None for a file that is missing,
    damaged, or of another kind or version."""
    try:
        raw = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(raw, dict) or raw.get("kind") != kind_name or \
            raw.get("version") != VERSION:
        return None
    return typedjson.from_data(kind, raw.get("data"))


def _write(path: Path, kind_name: str, record: object) -> None:
    text = json.dumps({"kind": kind_name, "version": VERSION,
                       "data": typedjson.to_data(record)}, indent=2, sort_keys=True)
    try:
        write_private(path, text + "\n")
    except OSError as error:
        raise SnapshotError(f"cannot write {path}: {error.strerror or error}") from None


def load(run_dir: RunDir, name: str) -> Snapshot | None:
    found = _load(record_path(run_dir, name), Snapshot, KIND)
    return found if found is not None and found.name == name else None


def find(run_dir: RunDir, name: str) -> Snapshot:
    """The snapshot NAME; SnapshotError naming the ones there are when missing."""
    found = load(run_dir, name)
    if found is None:
        known = ", ".join(s.name for s in list_all(run_dir)) or "none"
        raise SnapshotError(f"there is no snapshot named {name!r} in {run_dir.path} "
                            f"(snapshots: {known}; `nixvms snapshot save {name}` makes it)")
    return found


def list_all(run_dir: RunDir) -> list[Snapshot]:
    directory = snapshots_dir(run_dir)
    if not directory.is_dir():
        return []
    found = [load(run_dir, p.stem) for p in sorted(directory.glob("*.json"))
             if NAME_PATTERN.fullmatch(p.stem)]
    return sorted((s for s in found if s is not None), key=lambda s: s.taken_at)


def write(run_dir: RunDir, snapshot: Snapshot) -> None:
    make_private_dir(snapshots_dir(run_dir), "the snapshots directory")
    _write(record_path(run_dir, snapshot.name), KIND, snapshot)


def keep_console(log: Path, copy: Path) -> None:
    """Copy a console log (bytes as they are) to a file of ours, atomically."""
    with contextlib.suppress(OSError):
        data = log.read_bytes()
        tmp = copy.with_name(f".{copy.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, copy)


def load_ready(run_dir: RunDir, machine: str) -> ReadySnapshot | None:
    return _load(ready_path(run_dir, machine), ReadySnapshot, READY_KIND)


def write_ready(run_dir: RunDir, machine: str, ready: ReadySnapshot) -> None:
    _write(ready_path(run_dir, machine), READY_KIND, ready)


def new_tag(name: str) -> str:
    return f"nixvms-{name}-{secrets.token_hex(4)}"


# --- QEMU --------------------------------------------------------------------------


def _monitor(qemu: QemuClient, command: str, timeout: float) -> None:
    """A human-monitor command that answers nothing on success (savevm,
    loadvm, delvm); its answer is the error otherwise."""
    answer = qemu.human(command, timeout=timeout).strip()
    if answer:
        raise SnapshotError(f"machine {qemu.name}: QEMU: {answer.splitlines()[-1]}")


def cannot_snapshot_reason(name: str, qemu_says: str) -> str | None:
    """Why QEMU cannot snapshot the machine, with what makes it possible; None
    when its error is another one."""
    share = NINEP.search(qemu_says)
    if share is not None:
        where, tag = share.groups()
        if "/nix/store" in where or tag == "nix-store":
            fix = f"set {NIXOS_STORE_OPTIONS} in its configuration"
        else:
            fix = (f"remove the share {tag!r} from virtualisation.sharedDirectories (or "
                   "keep the guest from mounting it)")
        return (f"{name} cannot be snapshotted: QEMU cannot save a machine while the 9p "
                f"share {tag!r} ({where}) is mounted in it; {fix}")
    if "igration is disabled" in qemu_says or "migration blocked" in qemu_says.lower():
        said = qemu_says.split("QEMU: ", 1)[-1]
        return (f"{name} cannot be snapshotted: a device of its QEMU cannot be saved "
                f"({said}); remove that device from virtualisation.qemu.options (or "
                "QEMU_OPTS) to make it possible")
    return None


def _allocated(disk: Path) -> int:
    try:
        return os.stat(disk).st_blocks * 512
    except OSError:
        return 0


def save_tag(qemu: QemuClient, disk: Path, tag: str) -> int:
    """Save the machine (paused or running) as `tag` in its disk; the bytes its
    disk grew by. CannotSnapshot where QEMU cannot; SnapshotError else (a full
    disk: QEMU's own words, and the tag is gone again)."""
    before = _allocated(disk)
    try:
        _monitor(qemu, f"savevm {tag}", SAVE_TIMEOUT)
    except SnapshotError as error:
        reason = cannot_snapshot_reason(qemu.name, error.message)
        if reason is not None:
            raise CannotSnapshot(reason) from None
        with contextlib.suppress(SupervisorError):
            _monitor(qemu, f"delvm {tag}", 60)
        full = ""
        with contextlib.suppress(OSError):
            if shutil.disk_usage(disk.parent).free < FULL_MARGIN:
                full = f"; the file system of {disk.parent} is full"
        raise SnapshotError(f"{error.message} (writing to {disk}{full})") from None
    return max(0, _allocated(disk) - before)


def load_tag(qemu: QemuClient, tag: str) -> None:
    _monitor(qemu, f"loadvm {tag}", SAVE_TIMEOUT)


def delete_tag(qemu: QemuClient, tag: str) -> None:
    _monitor(qemu, f"delvm {tag}", 60)


def tags_running(qemu: QemuClient) -> set[str]:
    """The internal snapshots of a running machine's disks."""
    return _tags(qemu.human("info snapshots"))


def _tags(listing: str) -> set[str]:
    tags = set()
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] != "ID" and not parts[0].startswith("--"):
            tags.add(parts[1])
    return tags


def tags_on_disk(disk: Path) -> set[str]:
    """The internal snapshots of a stopped machine's disk (qemu-img); none when
    it cannot be read."""
    qemu_img = shutil.which("qemu-img")
    if qemu_img is None or not disk.is_file():
        return set()
    try:
        done = subprocess.run([qemu_img, "snapshot", "-U", "-l", str(disk)],
                              capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return _tags(done.stdout) if done.returncode == 0 else set()


def delete_on_disk(disk: Path, tag: str) -> bool:
    """Delete a stopped machine's internal snapshot; whether it went."""
    qemu_img = shutil.which("qemu-img")
    if qemu_img is None or not disk.is_file():
        return False
    try:
        done = subprocess.run([qemu_img, "snapshot", "-d", tag, str(disk)],
                              capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def wait_qmp(qemu: QemuClient, alive: object, timeout: float = 30.0) -> None:
    """Wait until a QEMU that was just started answers on QMP."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            qemu.status()
            return
        except QemuError:
            if time.monotonic() > deadline or not callable(alive) or not alive():
                raise SnapshotError(f"machine {qemu.name}: QEMU did not answer on QMP "
                                    "after its start") from None
            time.sleep(0.05)


def announce(qemu: QemuClient) -> None:
    """Gratuitous ARP/RARP from every NIC (QEMU's announce-self, as after a
    migration): the switch and the other machines learn where it is again."""
    with contextlib.suppress(QemuError):
        qemu.execute("announce-self", {"initial": 50, "max": 550, "rounds": 5, "step": 100})


def set_clock(shell: Path, timeout: float = CLOCK_TIMEOUT) -> bool:
    """Set a restored guest's clock to now through the test instrumentation's
    backdoor (a restored guest otherwise believes it is still the moment of
    its snapshot); whether the guest did."""
    token = secrets.token_hex(6)
    line = (f"date -s @{int(time.time())} >/dev/null 2>&1; "
            f"hwclock -w -u >/dev/null 2>&1; ").encode() + probe_line(token)
    wanted = RECORD + token.encode()
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(shell))
            sock.sendall(line)
            seen = b""
            while wanted not in seen:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                sock.settimeout(remaining)
                chunk = sock.recv(65536)
                if not chunk:
                    return False
                seen = seen[-64:] + chunk
    except OSError:
        return False
    return True


class ShellProbe:
    """Asks, without blocking, whether a booting machine's backdoor root shell
    answers (a probe a second, as the driver's, at most three unanswered)."""

    def __init__(self, shell: Path, timeout: float) -> None:
        self.shell = shell
        self.deadline = time.monotonic() + timeout
        self.sock: socket.socket | None = None
        self.tokens: list[bytes] = []
        self.next_probe = 0.0
        self.seen = b""

    @property
    def expired(self) -> bool:
        return time.monotonic() > self.deadline

    def answered(self) -> bool:
        try:
            if self.sock is None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.setblocking(False)
                try:
                    sock.connect(str(self.shell))
                except OSError:
                    sock.close()
                    return False
                self.sock = sock
            now = time.monotonic()
            if now >= self.next_probe and len(self.tokens) < 3:
                token = secrets.token_hex(6)
                self.sock.send(probe_line(token))
                self.tokens.append(RECORD + token.encode())
                self.next_probe = now + 1.0
            with contextlib.suppress(BlockingIOError):
                while chunk := self.sock.recv(65536):
                    self.seen = self.seen[-4096:] + chunk
            if b"Spawning backdoor root shell" in self.seen:  # what was sent is lost
                self.seen, self.tokens, self.next_probe = b"", [], 0.0
            return any(t in self.seen for t in self.tokens)
        except OSError:
            self.close()
            return False

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        self.sock = None


# --- the network's snapshots -------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A running machine to save or restore: its QEMU, disk, VM and backdoor."""

    name: str
    qemu: QemuClient
    disk: Path
    vm: str
    shell: Path


def save_all(run_dir: RunDir, name: str, targets: Sequence[Target],
             keep: Mapping[str, MachineSnapshot] = {}) -> Snapshot:
    """Save the machines as snapshot NAME at one moment (all paused, saved,
    then resumed); `keep`: entries of other machines the record keeps. The
    previous snapshot of that name stays until the new one is whole."""
    check_name(name)
    previous = load(run_dir, name)
    paused: list[Target] = []
    saved: dict[str, MachineSnapshot] = {}
    try:
        for target in targets:
            target.qemu.execute("stop")
            paused.append(target)
        for target in targets:
            tag = new_tag(name)
            size = save_tag(target.qemu, target.disk, tag)
            saved[target.name] = MachineSnapshot(vm=target.vm, tag=tag, size=size)
    except SupervisorError as error:
        for target in targets:
            if target.name in saved:
                with contextlib.suppress(SupervisorError):
                    delete_tag(target.qemu, saved[target.name].tag)
        kept = f"; the previous snapshot {name!r} is kept" if previous is not None else ""
        raise SnapshotError(f"snapshot {name!r} not saved: {error.message}{kept}") from None
    finally:
        for target in paused:
            with contextlib.suppress(QemuError):
                target.qemu.execute("cont")
    snapshot = Snapshot(name=name, taken_at=time.time(), machines={**keep, **saved})
    try:
        write(run_dir, snapshot)
    except SupervisorError as error:
        for target in targets:
            with contextlib.suppress(SupervisorError):
                delete_tag(target.qemu, saved[target.name].tag)
        kept = f"; the previous snapshot {name!r} is kept" if previous is not None else ""
        raise SnapshotError(f"snapshot {name!r} not saved: {error.message}{kept}") from None
    # the tags the record no longer names: the previous save's, and what a save
    # cut short left
    for target in targets:
        with contextlib.suppress(SupervisorError):
            for tag in tags_running(target.qemu):
                if tag.startswith(f"nixvms-{name}-") and tag != saved[target.name].tag:
                    delete_tag(target.qemu, tag)
    return snapshot


def refusals(snapshot: Snapshot, current: Mapping[str, str]) -> dict[str, str]:
    """Per machine of the snapshot whose VM is another build now: why not."""
    refused = {}
    for machine, entry in snapshot.machines.items():
        now = current.get(machine)
        if now is None:
            refused[machine] = (f"{machine}: the network has no machine {machine} any more")
        elif now != entry.vm:
            refused[machine] = (
                f"{machine}: snapshot {snapshot.name!r} was taken from another build of it "
                f"({entry.vm}; it is {now} now): not restored; `nixvms up --fresh {machine}` "
                "starts it from a new disk, and `nixvms snapshot save` takes a new snapshot")
    return refused


def restore_running(snapshot: Snapshot, targets: Sequence[Target]) -> list[str]:
    """Put running machines back as the snapshot has them (all paused, loaded,
    resumed, their clocks set and their NICs announced); the machines whose
    clocks could not be set."""
    for target in targets:
        target.qemu.execute("stop")
    try:
        for target in targets:
            load_tag(target.qemu, snapshot.machines[target.name].tag)
    finally:
        for target in targets:
            with contextlib.suppress(QemuError):
                target.qemu.execute("cont")
    return after_restore(targets)


def after_restore(targets: Sequence[Target]) -> list[str]:
    """A restored machine's network and clock; the machines whose clocks could
    not be set."""
    for target in targets:
        announce(target.qemu)
    return [t.name for t in targets if not set_clock(t.shell)]


def delete(run_dir: RunDir, name: str, running: Mapping[str, QemuClient],
           disks: Mapping[str, Path]) -> Snapshot:
    """Delete snapshot NAME: its tags (through QEMU where the machine runs,
    qemu-img where it does not), then its record."""
    snapshot = find(run_dir, name)
    for machine, entry in snapshot.machines.items():
        qemu = running.get(machine)
        with contextlib.suppress(SupervisorError):
            if qemu is not None:
                delete_tag(qemu, entry.tag)
            elif machine in disks:
                delete_on_disk(disks[machine], entry.tag)
    remove_path(record_path(run_dir, name))
    return snapshot


def ready_tag(run_dir: RunDir, machine: str, vm: str, disk: Path) -> str | None:
    """The machine's ready snapshot, where one of this build is in its disk."""
    ready = load_ready(run_dir, machine)
    if ready is None or ready.vm != vm or not disk.is_file():
        return None
    return ready.tag if ready.tag in tags_on_disk(disk) else None


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
