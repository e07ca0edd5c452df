"""Which QEMU accelerator to use: KVM only where a guest actually runs under it.

/dev/kvm can exist while guests hang or abort under it (nested
virtualisation without the features guests need). Two probes, the second
only when the first passes:

- a firmware probe: the smallest possible guest, a 64 KiB firmware image
  whose reset vector writes one byte to QEMU's isa-debug-exit port, which
  makes QEMU exit at once with status (byte << 1) | 1. It runs with the CPU
  model the VM scripts use (`-cpu max`, as NixOS's and tinyos's do): on a
  host whose KVM cannot set that model's MSRs QEMU aborts there, as the VMs
  would.
- a kernel probe: the machines' own kernel booted without a root
  filesystem, so it runs its initcalls and panics, and with `panic=-1` and
  `-no-reboot` QEMU exits. Hosts exist (a PVM hypervisor, nested) where the
  firmware probe and the kernel's real-mode setup and decompressor run under
  KVM but the kernel proper hangs: only a kernel shows it. It costs about a
  second where KVM works, its bound where it does not, so its answer is kept
  per boot of the host in $XDG_RUNTIME_DIR/nixvms (where that is set).

A hang, an abort or any other outcome means TCG.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError

ACCELS = ("auto", "kvm", "tcg")
PROBE_TIMEOUT = 0.6
KERNEL_PROBE_TIMEOUT = 8.0
# what a kernel with no root filesystem says last (init/do_mounts.c)
_KERNEL_PANIC = b"Kernel panic"
_EXIT_BYTE = 0x2A
# At the reset vector (the image's last 16 bytes, real mode at F000:FFF0):
# mov al, 0x2a; out 0xf4, al; hlt; jmp $
_RESET = bytes([0xB0, _EXIT_BYTE, 0xE6, 0xF4, 0xF4, 0xEB, 0xFE])
# Under TCG, QEMU finds translated code by the guest's virtual address, so
# with address-space randomisation every exec of a dynamically linked program
# (bash, sshd, dbus-daemon) lands its libraries at new addresses and is
# translated again: `bash -c :` cost 65 ms of QEMU's CPU, 15 ms without. So
# TCG guests boot with randomisation off, as the kernel's `norandmaps`; a
# machine that sets boot.kernel.sysctl."kernel.randomize_va_space" turns it on
# again at activation. KVM runs guest code natively: nothing to add.
TCG_KERNEL_PARAMS = "norandmaps"


@dataclass(frozen=True)
class Choice:
    accel: str    # "kvm" or "tcg"
    reason: str   # one line: why


def parse_accel(text: str) -> str:
    if text not in ACCELS:
        raise UsageError(f"acceleration must be one of {', '.join(ACCELS)}, not {text!r}")
    return text


def probe_kvm(qemu: str = "qemu-system-x86_64", timeout: float = PROBE_TIMEOUT,
              kernel: str | None = None) -> str | None:
    """None when a guest runs under KVM; else why not (one phrase). With a
    kernel, that kernel must also boot under KVM (see the module's text)."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "no usable /dev/kvm"
    program = shutil.which(qemu)
    if program is None:
        return f"{qemu} is not installed"
    problem = _probe_firmware(program, timeout)
    if problem is None and kernel is not None:
        problem = _cached(program, kernel, lambda: probe_kernel(program, kernel))
    return problem


def _probe_firmware(program: str, timeout: float) -> str | None:
    image = bytearray(64 * 1024)
    image[-16:-16 + len(_RESET)] = _RESET
    with tempfile.NamedTemporaryFile(prefix="nixvms-kvm-probe-", suffix=".bin") as firmware:
        firmware.write(image)
        firmware.flush()
        try:
            proc = subprocess.run(
                [program, "-accel", "kvm", "-machine", "q35", "-cpu", "max", "-nodefaults",
                 "-display", "none", "-m", "16", "-bios", firmware.name,
                 "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False,
            )
        except subprocess.TimeoutExpired:
            return f"a probe guest did not run under KVM within {timeout} s"
    if proc.returncode == (_EXIT_BYTE << 1) | 1:
        return None
    return f"a probe guest failed under KVM (QEMU exit status {proc.returncode})"


def kernel_probe_command(program: str, kernel: str, accel: str = "kvm") -> list[str]:
    return [program, "-accel", accel, "-machine", "q35", "-cpu", "max", "-nodefaults",
            "-display", "none", "-m", "256", "-serial", "stdio", "-no-reboot",
            "-kernel", kernel, "-append", "console=ttyS0 panic=-1"]


def probe_kernel(program: str, kernel: str, timeout: float = KERNEL_PROBE_TIMEOUT,
                 accel: str = "kvm") -> str | None:
    """None when `kernel` boots to its panic under `accel` within timeout."""
    proc = subprocess.Popen(kernel_probe_command(program, kernel, accel), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while _KERNEL_PANIC not in output:
            left = deadline - time.monotonic()
            if left <= 0:
                return f"a probe kernel did not boot under {accel.upper()} within {timeout:g} s"
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    return (f"a probe kernel failed under {accel.upper()} "
                            f"(QEMU exit status {proc.wait()})")
                output = output[-4096:] + chunk
        return None
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


def _cache_file() -> Path | None:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / "nixvms" / "kvm-probe.json" if runtime else None


def _cached(program: str, kernel: str, probe: Callable[[], str | None]) -> str | None:
    """probe(), or its answer for this boot of the host, this QEMU and kernel."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        key = (f"{boot} {os.path.realpath(program)} {os.stat(program).st_mtime_ns} "
               f"{os.path.realpath(kernel)}")
    except OSError:
        return probe()
    path = _cache_file()
    answers: dict[str, str | None] = {}
    if path is not None:
        try:
            loaded = json.loads(path.read_text())
            if isinstance(loaded, dict) and loaded.get("boot") == boot:
                answers = {k: v for k, v in loaded.get("answers", {}).items()
                           if isinstance(v, (str, type(None)))}
        except (OSError, ValueError, AttributeError):
            pass
        if key in answers:
            return answers[key]
    answer = probe()
    if path is not None:
        answers[key] = answer
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.{os.getpid()}")
            partial.write_text(json.dumps({"boot": boot, "answers": answers}))
            os.replace(partial, path)
        except OSError:
            pass  # a cache that cannot be written is probed again next time
    return answer


def kernel_params(accel: str | None, user: str) -> str:
    """QEMU_KERNEL_PARAMS for a VM: the accelerator's, then the user's (which win)."""
    ours = TCG_KERNEL_PARAMS if accel == "tcg" else ""
    return " ".join(p for p in (ours, user) if p)


def choose(requested: str, kernel: str | None = None) -> Choice:
    """The accelerator for `requested` (auto, kvm or tcg); auto probes KVM,
    with `kernel` (the machines' own) when given."""
    requested = parse_accel(requested)
    if requested == "tcg":
        return Choice("tcg", "asked for")
    if requested == "kvm":
        return Choice("kvm", "asked for")
    problem = probe_kvm(kernel=kernel)
    if problem is None:
        return Choice("kvm", "a probe guest runs under KVM" if kernel is None
                      else "a probe of the machines' kernel runs under KVM")
    return Choice("tcg", problem)
