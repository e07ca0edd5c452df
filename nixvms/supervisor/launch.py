"""How a network is started: one `StartRequest`, built by one function.

Every door that starts machines — nixvms's `up`, `start` and `test`,
result/bin/run-vms, result/bin/nixos-test-driver, and a restart through the
running supervisor — builds its request with `start_request`, the only
reader of the NIXVMS_* and QEMU_* variables and of the rule that says where
a network's state lives, so every door honours the same settings:

    QEMU_OPTS, QEMU_NET_OPTS, QEMU_KERNEL_PARAMS   added to every VM (qemu-vm.nix's)
    NIXVMS_ACCEL           auto, kvm or tcg (the default of --accel)
    NIXVMS_SSH_PORT_BASE   the first host port tried for ssh forwards
    NIXVMS_STOP_TIMEOUT    seconds a VM gets to stop before SIGKILL
    NIXVMS_STATE_DIR       the project's state directory (as --state-dir)

The state directory rule: `--state-dir DIR` (or NIXVMS_STATE_DIR) names the
project's state directory to every command, nixvms's and run-vms's alike;
the running network's files are in DIR/run. Without it, they are where
network.json says (the project's .nixvms/run, where nixvms built the
network), else in ./vms-state/run for a network directory made without one.

The request travels to the supervisor as JSON (typedjson) and is kept in the
run state, so a machine restarted later starts as it first did.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import accel as accelerators
from . import typedjson, wirefilter
from .errors import PortError, UsageError
from .links import declared_shapes
from .placement import Placement, cable_settings, default_state_dir, place
from .ports import DEFAULT_SSH_PORT_BASE, Forward, parse_port_base, port_free
from .procs import ProcessRecord
from .spec import NetworkSpec

RUN_SUBDIR = "run"
FALLBACK_STATE_DIR = "vms-state"
STATE_DIR_VARIABLE = "NIXVMS_STATE_DIR"
DEFAULT_STOP_TIMEOUT = 5.0


@dataclass(frozen=True)
class StartRequest:
    """What to start and how; JSON-serialisable (it is handed to a daemon)."""

    network: str                          # the network directory's store path
    run_dir: str                          # where the running network's files go
    machines: tuple[str, ...] = ()        # none: all
    accel: str | None = None              # "kvm", "tcg", or None: the VM script's choice
    accel_reason: str = ""                # why that accelerator (one phrase)
    # "kvm" or "tcg" when asked for (--accel, NIXVMS_ACCEL): the other hosts'
    # supervisors use it too; "": each host probes its own (remote.py)
    hosts_accel: str = ""
    fresh: tuple[str, ...] = ()           # machines whose disks are made anew
    # a disk made by another build of the machine is kept (NixOS's VMs keep
    # theirs); False: the machine starts on a fresh one (`nixvms up`)
    keep_disks: bool = True
    forwards: tuple[Forward, ...] = ()
    ssh_port_base: int = DEFAULT_SSH_PORT_BASE
    stop_timeout: float = DEFAULT_STOP_TIMEOUT
    qemu_opts: str = ""
    net_opts: str = ""
    kernel_params: str = ""
    vde_switch: str = "vde_switch"
    # the process that will stop the network when it ends (a test driver that
    # started it); None: it runs until someone stops it
    owner: ProcessRecord | None = None
    # machines restored from their ready snapshots where they have one of this
    # build, else booted from a new disk and snapshotted once ready (snapshots.py)
    ready: tuple[str, ...] = ()
    # a snapshot of the network (`nixvms snapshot save`) its machines start from
    snapshot: str = ""
    # machines that run on other hosts, a supervisor there each (remote.py)
    remote: tuple[Placement, ...] = ()
    # run for another host's supervisor (run-vms --here): it stays, even with
    # no machine running, until that host's session ends or it is stopped
    served: bool = False

    def to_json(self) -> str:
        return json.dumps(typedjson.to_data(self))

    @classmethod
    def from_json(cls, text: str) -> StartRequest:
        try:
            request = typedjson.from_data(cls, json.loads(text))
        except ValueError:
            request = None
        if request is None:
            raise UsageError("the start request is not one nixvms wrote")
        return request

    def but(self, *, machines: Sequence[str], fresh: Sequence[str] = (),
            ready: Sequence[str] = (), snapshot: str = "") -> StartRequest:
        """The same settings for other machines (a restart, a later `start`)."""
        return StartRequest(**{**self.__dict__, "machines": tuple(machines),
                               "fresh": tuple(fresh), "ready": tuple(ready),
                               "snapshot": snapshot})


def project_state_dir(state_dir: str | os.PathLike[str] | None,
                      environ: Mapping[str, str] | None = None) -> Path | None:
    """The project's state directory the user named (--state-dir, else
    NIXVMS_STATE_DIR), absolute; None when they named none."""
    env = os.environ if environ is None else environ
    chosen = os.fspath(state_dir) if state_dir is not None else env.get(STATE_DIR_VARIABLE)
    return Path(os.path.abspath(chosen)) if chosen else None


def run_dir_path(state_dir: str | os.PathLike[str] | None, recorded: str | None,
                 environ: Mapping[str, str] | None = None) -> Path:
    """Where the running network's files are: <project state directory>/run.

    recorded: that directory as network.json records it (the project's
    .nixvms/run where nixvms built the network), or as the caller knows it."""
    named = project_state_dir(state_dir, environ)
    if named is not None:
        return named / RUN_SUBDIR
    if recorded:
        return Path(os.path.abspath(recorded))
    return Path(os.path.abspath(FALLBACK_STATE_DIR)) / RUN_SUBDIR


def _float_variable(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name) or str(default)
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value < 0:
        raise UsageError(f"{name} must be a number of seconds, not {text!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """What the environment says of every start (the variables above)."""

    accel: str
    ssh_port_base: int
    stop_timeout: float
    qemu_opts: str
    net_opts: str
    kernel_params: str


def read_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The environment's settings, checked (UsageError naming a bad variable):
    commands call it before they build, so bad input is said first."""
    env = os.environ if environ is None else environ
    return Settings(
        accel=accelerators.parse_accel(env.get("NIXVMS_ACCEL") or "auto"),
        ssh_port_base=parse_port_base(env.get("NIXVMS_SSH_PORT_BASE")
                                      or str(DEFAULT_SSH_PORT_BASE)),
        stop_timeout=_float_variable(env, "NIXVMS_STOP_TIMEOUT", DEFAULT_STOP_TIMEOUT),
        qemu_opts=env.get("QEMU_OPTS", ""),
        net_opts=env.get("QEMU_NET_OPTS", ""),
        kernel_params=env.get("QEMU_KERNEL_PARAMS", ""),
    )


def _flag(forward: Forward) -> str:
    return f"--forward {forward.machine}:{forward.host_port}:{forward.guest_port}"


def check_forwards(spec: NetworkSpec, machines: Sequence[str],
                   forwards: Sequence[Forward]) -> None:
    """Refuse, before anything starts, forwards that cannot all be had: to a
    machine the network does not have, twice the same host port (with each
    other or with a machine's virtualisation.forwardPorts), or a port taken now."""
    claimed: dict[int, str] = {}
    for machine in spec.machines:
        if machine.name in machines:
            for own in machine.forward_ports:
                claimed.setdefault(own.host_port, f"machine {machine.name}'s "
                                   "virtualisation.forwardPorts")
    for forward in forwards:
        spec.machine(forward.machine)
        other = claimed.get(forward.host_port)
        if other is not None:
            raise UsageError(f"{_flag(forward)}: host port {forward.host_port} is also "
                             f"forwarded by {other}")
        claimed[forward.host_port] = _flag(forward)
        if not port_free(forward.host_port):
            raise PortError(f"{_flag(forward)}: port {forward.host_port} on 127.0.0.1 is "
                            "already in use")


def machines_kernel(vms: Sequence[str]) -> str | None:
    """The kernel the machines boot, for the KVM probe: the first VM's
    system's (NixOS's and tinyos's VMs link their system as `system`)."""
    for vm in vms:
        kernel = Path(vm) / "system" / "kernel"
        if kernel.exists():
            return str(kernel)
    return None


def start_request(
    spec: NetworkSpec,
    *,
    state_dir: str | os.PathLike[str] | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    machines: Sequence[str] = (),
    fresh: Sequence[str] = (),
    forwards: Sequence[Forward] = (),
    accel: str | None = None,
    keep_disks: bool = True,
    owned: bool = False,
    ready: Sequence[str] = (),
    snapshot: str = "",
    environ: Mapping[str, str] | None = None,
    hosts: Sequence[tuple[str, str]] = (),
) -> StartRequest:
    """The request to start `machines` (all when none) of the network.

    Names are checked against the network (UsageError naming the bad one);
    accel: auto, kvm or tcg as asked (None: NIXVMS_ACCEL, else auto), probed
    here once; run_dir: the running network's directory when the caller
    has decided it already (by run_dir_path), else decided here from
    state_dir; owned: the caller stops the network when it ends (a test
    driver), which other drivers must know before they use it; ready: machines
    restored from their ready snapshots (or booted and snapshotted once ready);
    snapshot: the network's snapshot the machines start from; hosts:
    (MACHINE, HOST) overriding machines' deployment.vmHost (placement.py)."""
    env = os.environ if environ is None else environ
    settings = read_settings(env)
    names = tuple(m.name for m in spec.select(list(machines)))
    fresh_names = tuple(spec.machine(n).name for n in fresh)
    ready_names = tuple(spec.machine(n).name for n in ready)
    check_forwards(spec, names, forwards)
    declared_shapes(spec)  # a link's bad value is said before anything starts
    chosen_run_dir = Path(run_dir if run_dir is not None
                          else run_dir_path(state_dir, spec.state_dir, env))
    remote = place(spec.machines, names, hosts,
                   lambda host: default_state_dir(chosen_run_dir, host.name))
    for placed in remote:  # a bad cable value is said before anything starts
        try:
            wirefilter.updated(wirefilter.Shape(), cable_settings(placed.host))
        except UsageError as error:
            raise UsageError(f"meta.vmHosts.{placed.host.name}.cable: {error.message}") \
                from None
    asked = accelerators.parse_accel(accel or settings.accel)
    remote_names = {name for placed in remote for name in placed.machines}
    local_vms = [spec.machine(n).vm for n in names if n not in remote_names]
    choice = accelerators.choose(asked, kernel=machines_kernel(local_vms))
    return StartRequest(
        network=spec.path,
        run_dir=str(chosen_run_dir),
        machines=names,
        accel=choice.accel,
        accel_reason=choice.reason,
        hosts_accel="" if asked == "auto" else asked,
        fresh=fresh_names,
        keep_disks=keep_disks,
        forwards=tuple(forwards),
        ssh_port_base=settings.ssh_port_base,
        stop_timeout=settings.stop_timeout,
        qemu_opts=settings.qemu_opts,
        net_opts=settings.net_opts,
        kernel_params=settings.kernel_params,
        owner=ProcessRecord.of(os.getpid(), ("nixvms test driver",), time.time())
        if owned else None,
        ready=ready_names,
        snapshot=snapshot,
        remote=remote,
    )
