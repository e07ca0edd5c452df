"""nixvms's supervisor: the processes of a running network, standard library only.

Copied into the network directory (result/lib/nixvms_supervisor/) and run by
result/bin/run-vms with a Python 3, so it works without nixvms installed;
nixvms's commands (up, status, ssh, stop, start, destroy, logs, console) use
the same code. Imports inside the package are relative.

Processes (machines.py): a `Switch` per VLAN (vde_switch, ready when its
control socket answers), a `VM` per machine (its VM script
`<vm>/bin/run-<hostName>-vm`, with the qemu-vm.nix environment contract:
QEMU_OPTS, QEMU_NET_OPTS, QEMU_KERNEL_PARAMS, NIX_DISK_IMAGE, TMPDIR and
USE_TMPDIR, QEMU_VDE_SOCKET_<v>), and a `Network` that starts switches, then
VMs, and stops them in reverse, TERM then KILL. Every process runs in its own
session with a parent-death signal: none outlives the process that started it.

The state directory <state> (default: the project's .nixvms/run, recorded in
network.json as stateDir; --state-dir overrides), mode 0700, files 0600:

    <state>/state.json       the run state (runstate.py: written by the supervisor only)
    <state>/lock             flock held by the running supervisor
    <state>/ssh_config       ssh -F <state>/ssh_config <machine or targetHost>
    <state>/supervisor.log   a detached supervisor's own output
    <state>/<m>/             machine m's directory: its cwd and TMPDIR
    <state>/<m>/<hostName>.qcow2   its disk (NIX_DISK_IMAGE)
    <state>/<m>.log          its serial console, raw (QEMU's chardev logfile)
    <state>/<m>.out          the VM script's and QEMU's own output
    <state>/vde<v>.log       the switch of VLAN v's output

Sockets go in <sockets>: the state directory itself when its path is short
and plain (letters, digits, . _ / @ + = -), else the private directory
/tmp/nixvms-<uid>/<16 hex digits of sha256(state dir)> (0700). state.json
records it as "sockets"; `RunDir.sockets` computes it. In <sockets>:

    <m>.console   the serial console (ttyS0): a QEMU chardev socket, server,
                  nowait; one client at a time (nixvms console attaches here)
    <m>.shell     a virtio console (/dev/hvc0 in the guest: virtio-serial +
                  virtconsole,chardev=shell): the test instrumentation's
                  backdoor root shell; harmless for guests without one
    <m>.monitor   the QEMU human monitor (unix socket, server, nowait), for people
    <m>.qmp       QEMU's QMP socket: how nixvms talks to QEMU (qemu.py)
    vde<v>.ctl/   the switch of VLAN v (QEMU_VDE_SOCKET_<v>); vde<v>.ctl/ctl
                  is its control socket
    control       the supervisor's control socket (JSON lines: status,
                  stop, start), see control.py
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import (
        AlreadyRunning,
        NotReady,
        NotRunning,
        PortError,
        StartError,
        StateDirError,
        SupervisorError,
        UsageError,
    )
    from .facts import MachineFacts
    from .machines import VM, HostForward, Switch, VMOptions
    from .spec import NetworkSpec, load_network
    from .statedir import RunDir, prepare

# The package's names, each from the module that defines it, imported when
# first used: `nixvms build` imports the package for a constant or two and
# should not pay for the processes' code (PEP 562).
_HOMES = {
    **dict.fromkeys(("AlreadyRunning", "NotReady", "NotRunning", "PortError", "StartError",
                     "StateDirError", "SupervisorError", "UsageError"), "errors"),
    **dict.fromkeys(("VM", "HostForward", "Switch", "VMOptions"), "machines"),
    **dict.fromkeys(("NetworkSpec", "load_network"), "spec"),
    "MachineFacts": "facts",
    **dict.fromkeys(("RunDir", "prepare"), "statedir"),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{home}", __name__), name)


__all__ = [
    "VM",
    "AlreadyRunning",
    "HostForward",
    "MachineFacts",
    "NetworkSpec",
    "NotReady",
    "NotRunning",
    "PortError",
    "RunDir",
    "StartError",
    "StateDirError",
    "SupervisorError",
    "Switch",
    "UsageError",
    "VMOptions",
    "load_network",
    "prepare",
]
