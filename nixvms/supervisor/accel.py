"""Which QEMU accelerator to use: KVM only where a guest actually runs under it.

/dev/kvm can exist while guests hang or abort under it (nested
virtualisation without the features guests need). The probe boots the
smallest possible guest under KVM: a 64 KiB firmware image whose reset
vector writes one byte to QEMU's isa-debug-exit port, which makes QEMU exit
at once with status (byte << 1) | 1. It runs with the CPU model the VM
scripts use (`-cpu max`, as NixOS's and tinyos's do): on a host whose KVM
cannot set that model's MSRs QEMU aborts there, as the VMs would. If the
guest exits with its status within the bound, KVM works; a hang, an abort or
any other status means TCG.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from .errors import UsageError

ACCELS = ("auto", "kvm", "tcg")
PROBE_TIMEOUT = 0.6
_EXIT_BYTE = 0x2A
# At the reset vector (the image's last 16 bytes, real mode at F000:FFF0):
# mov al, 0x2a; out 0xf4, al; hlt; jmp $
_RESET = bytes([0xB0, _EXIT_BYTE, 0xE6, 0xF4, 0xF4, 0xEB, 0xFE])


@dataclass(frozen=True)
class Choice:
    accel: str    # "kvm" or "tcg"
    reason: str   # one line: why


def parse_accel(text: str) -> str:
    if text not in ACCELS:
        raise UsageError(f"acceleration must be one of {', '.join(ACCELS)}, not {text!r}")
    return text


def probe_kvm(qemu: str = "qemu-system-x86_64", timeout: float = PROBE_TIMEOUT) -> str | None:
    """None when a guest runs under KVM; else why not (one phrase)."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "no usable /dev/kvm"
    program = shutil.which(qemu)
    if program is None:
        return f"{qemu} is not installed"
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


def choose(requested: str) -> Choice:
    """The accelerator for `requested` (auto, kvm or tcg)."""
    requested = parse_accel(requested)
    if requested == "tcg":
        return Choice("tcg", "asked for")
    if requested == "kvm":
        return Choice("kvm", "asked for")
    problem = probe_kvm()
    if problem is None:
        return Choice("kvm", "a probe guest runs under KVM")
    return Choice("tcg", problem)
