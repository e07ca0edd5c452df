"""The doit task graph: eval:<machine>, build:<machine>, network.

eval:<m>   instantiates machine m's VM. Up to date while the evaluation's
           parameters are the same, the .drv it wrote still exists, and no
           file it read changed (deps.py).
build:<m>  realises that .drv under a GC root. Up to date while the .drv is
           the one it last realised and the output is still in the store.
network    renders run-vms and network.json, builds the network directory
           (whose references are the VMs) and points `result` at it. Up to
           date while every machine's output and the rendering parameters
           are the same and `result` still points at what it made.

Each task's action returns a JSON-serialisable dict that doit saves as the
task's values, and writes the same record into .nixvms/machines/ for the
tasks after it (doit's getargs is decided too early to drive up-to-date
checks, so build:<m> depends on eval:<m> by task_dep and reads its record).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed

from nixvms import __version__, deps, keys, nix, render
from nixvms.network import (
    Machine,
    Network,
    PlanError,
    hosts_entries,
    number_machines,
)
from nixvms.state import StateDir, points_to, read_json, write_json

Task = dict[str, Any]


class NetworkError(Exception):
    """The network cannot be built as given (a usage-level problem, not Nix's)."""


@dataclass(frozen=True)
class BuildContext:
    """Everything the tasks of one run need, computed once before doit starts."""

    network_file: str
    state: StateDir
    out_link: Path | None
    settings: nix.NixSettings
    nixpkgs: str
    uses_tinyos: bool
    machines: tuple[str, ...]
    numbers: Mapping[str, int]
    hosts: tuple[tuple[str, str], ...]
    ssh_key: keys.KeyPair
    extra_deps: tuple[str, ...] = ()
    files: deps.FileStates = field(default_factory=deps.FileStates, compare=False)

    @property
    def plan(self) -> dict[str, Any]:
        return {
            "numbers": dict(self.numbers),
            "hosts": [list(h) for h in self.hosts],
            "sshPublicKey": self.ssh_key.public_key,
        }

    @property
    def eval_params(self) -> dict[str, Any]:
        """Everything besides files that an evaluation's result depends on."""
        return {
            "nixvms": __version__,
            "nixpkgs": self.nixpkgs,
            "plan": self.plan,
            "options": [list(o) for o in self.settings.options],
            "include": list(self.settings.include),
            "NIX_PATH": os.environ.get("NIX_PATH", ""),
            "networkFile": self.network_file,
        }

    @property
    def render_params(self) -> dict[str, Any]:
        return {
            "nixvms": __version__,
            "templates": render.templates_digest(),
            "outLink": str(self.out_link) if self.out_link else None,
            "sshKey": str(self.ssh_key.private_key),
        }


def prepare(
    network_file: Path,
    out_link: Path | None,
    settings: nix.NixSettings,
    extra_deps: tuple[Path, ...] = (),
) -> BuildContext:
    """Read the network's machine list and fix the address plan for this run."""
    check_network_file(network_file)
    nix.check_include_paths(settings)
    path = deps.absolute(network_file)
    state = StateDir.beside(Path(path))
    found = nix.find_nixpkgs(settings)
    nixpkgs = found if found is not None else nix.tinyos_path()
    files = deps.FileStates()
    names = machine_list(path, state, settings, files)
    if not names:
        raise NetworkError(f"the network {path} has no machines")
    try:
        numbers = number_machines(names)
    except PlanError as error:
        raise NetworkError(str(error)) from error
    try:
        ssh_key = keys.project_key(state)
    except keys.SshKeyError as error:
        raise NetworkError(str(error)) from error
    return BuildContext(
        network_file=path,
        state=state,
        out_link=Path(deps.absolute(out_link)) if out_link else None,
        settings=settings,
        nixpkgs=nixpkgs,
        uses_tinyos=found is None,
        machines=tuple(sorted(names)),
        numbers=numbers,
        hosts=tuple(hosts_entries(numbers, recorded_vlans(state, names))),
        ssh_key=ssh_key,
        extra_deps=tuple(deps.absolute(p) for p in extra_deps),
        files=files,
    )


def machine_list(
    network_file: str, state: StateDir, settings: nix.NixSettings, files: deps.FileStates
) -> list[str]:
    """The machine names, from the last run's record while nothing it read changed.

    Reading the names is an evaluation of the network file like any other:
    it depends on the files it read and on the Nix parameters, so a no-op run
    needs no Nix process for it.
    """
    params = digest({
        "nixvms": __version__,
        "networkFile": network_file,
        "options": [list(o) for o in settings.options],
        "include": list(settings.include),
        "NIX_PATH": os.environ.get("NIX_PATH", ""),
    })
    record = read_json(state.machine_list_record)
    if (
        isinstance(record, dict)
        and record.get("params") == params
        and isinstance(record.get("names"), list)
        and deps.all_unchanged(files, record.get("files", {}))
    ):
        return [str(name) for name in record["names"]]
    names, messages = nix.machine_names(network_file, settings)
    read = deps.files_from_log(messages)
    read[network_file] = deps.CONTENT
    write_json(state.machine_list_record,
               {"params": params, "names": names, "files": files.record(read)})
    return names


def check_network_file(network_file: Path) -> None:
    if not network_file.exists():
        raise NetworkError(f"the network file {network_file} does not exist")
    if network_file.is_dir():
        raise NetworkError(f"the network file {network_file} is a directory, not a file")
    if not os.access(network_file, os.R_OK):
        raise NetworkError(f"the network file {network_file} is not readable")


def recorded_vlans(state: StateDir, names: list[str]) -> dict[str, tuple[int, ...]]:
    """Each machine's VLANs as its last evaluation found them."""
    vlans = {}
    for name in names:
        record = read_json(state.eval_record(name))
        if isinstance(record, dict) and isinstance(record.get("vlans"), list):
            vlans[name] = tuple(record["vlans"])
    return vlans


def plan_is_stale(ctx: BuildContext) -> bool:
    """True when an evaluation found VLANs other than the plan assumed for it."""
    recorded = recorded_vlans(ctx.state, list(ctx.machines))
    return tuple(hosts_entries(ctx.numbers, recorded)) != ctx.hosts


def digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


# --- eval:<machine> --------------------------------------------------------------


def evaluate(ctx: BuildContext, machine: str) -> dict[str, Any] | TaskFailed:
    try:
        result = nix.evaluate_machine(
            ctx.network_file, machine, ctx.nixpkgs, ctx.plan, ctx.settings,
            ctx.state.drv_root(machine),
        )
    except nix.NixError as error:
        return TaskFailed(f"evaluation of machine '{machine}' failed: {error.message}")
    files = deps.files_from_log(result.messages)
    # The network file, and what the user says the evaluation reads unseen
    # (--extra-dep: e.g. a file named by an environment variable).
    for path in (ctx.network_file, *ctx.extra_deps):
        files[path] = deps.CONTENT
    values = {
        "params": digest(ctx.eval_params),
        "drv_path": result.drv_path,
        "out_path": result.out_path,
        "system": result.system,
        "host_name": result.host_name,
        "target_host": result.target_host,
        "vlans": list(result.vlans),
        "files": ctx.files.record(files),
    }
    write_json(ctx.state.eval_record(machine), values)
    return values


def eval_up_to_date(ctx: BuildContext, machine: str, values: Mapping[str, Any]) -> bool:
    if not values or values.get("params") != digest(ctx.eval_params):
        return False
    record = read_json(ctx.state.eval_record(machine))
    if not isinstance(record, dict) or record.get("drv_path") != values.get("drv_path"):
        return False
    if not os.path.exists(str(values["drv_path"])):
        return False
    return deps.all_unchanged(ctx.files, values.get("files", {}))


# --- build:<machine> -------------------------------------------------------------


def build(ctx: BuildContext, machine: str) -> dict[str, Any] | TaskFailed:
    record = read_json(ctx.state.eval_record(machine))
    if not isinstance(record, dict):
        return TaskFailed(f"machine '{machine}' has no evaluation to build")
    try:
        out_path = nix.realise(record["drv_path"], ctx.state.machine_root(machine), ctx.settings)
    except nix.NixError as error:
        return TaskFailed(f"build of machine '{machine}' failed: {error.message}")
    values = {"drv_path": record["drv_path"], "out_path": out_path}
    write_json(ctx.state.build_record(machine), values)
    return values


def build_up_to_date(ctx: BuildContext, machine: str, values: Mapping[str, Any]) -> bool:
    if not values:
        return False
    record = read_json(ctx.state.eval_record(machine))
    if not isinstance(record, dict) or record.get("drv_path") != values.get("drv_path"):
        return False
    out_path = str(values.get("out_path"))
    return os.path.exists(out_path) and points_to(ctx.state.machine_root(machine), out_path)


# --- network ---------------------------------------------------------------------


def built_network(ctx: BuildContext) -> Network:
    machines = []
    for name in ctx.machines:
        evaluated = read_json(ctx.state.eval_record(name))
        built = read_json(ctx.state.build_record(name))
        if not isinstance(evaluated, dict) or not isinstance(built, dict):
            raise NetworkError(f"machine '{name}' has not been built")
        machines.append(
            Machine(
                name=name,
                number=ctx.numbers[name],
                system=evaluated["system"],
                host_name=evaluated["host_name"],
                target_host=evaluated["target_host"],
                vlans=tuple(evaluated["vlans"]),
                vm=built["out_path"],
            )
        )
    return Network(tuple(machines))


def built_outputs(ctx: BuildContext) -> dict[str, str | None]:
    outputs: dict[str, str | None] = {}
    for name in ctx.machines:
        built = read_json(ctx.state.build_record(name))
        outputs[name] = built.get("out_path") if isinstance(built, dict) else None
    return outputs


def make_network(ctx: BuildContext) -> dict[str, Any] | TaskFailed:
    try:
        network = built_network(ctx)
        files = ctx.state.network_files
        render.write_network_files(
            network, files, ssh_key=str(ctx.ssh_key.private_key),
            state_dir=str(ctx.state.run_dir),
        )
        vms = {m.name: m.vm for m in network.machines}
        drv = nix.instantiate_network_dir(ctx.nixpkgs, files, vms, ctx.settings)
        store_path = nix.realise(drv, ctx.state.network_root, ctx.settings)
        if ctx.out_link is not None:
            nix.add_root(store_path, ctx.out_link, ctx.settings)
    except (nix.NixError, NetworkError, render.RenderError) as error:
        message = error.message if isinstance(error, nix.NixError) else str(error)
        return TaskFailed(f"making the network failed: {message}")
    values = {
        "render": digest(ctx.render_params),
        "machines": vms,
        "store_path": store_path,
    }
    write_json(ctx.state.network_record, values)
    return values


def network_up_to_date(ctx: BuildContext, values: Mapping[str, Any]) -> bool:
    if not values or values.get("render") != digest(ctx.render_params):
        return False
    if values.get("machines") != built_outputs(ctx):
        return False
    store_path = str(values.get("store_path"))
    if not os.path.exists(store_path) or not points_to(ctx.state.network_root, store_path):
        return False
    return ctx.out_link is None or points_to(ctx.out_link, store_path)


# --- the graph -------------------------------------------------------------------


def generate(ctx: BuildContext) -> Iterator[Task]:
    """The task dicts of one network, as a doit task generator yields them."""
    for machine in ctx.machines:
        yield {
            "basename": "eval",
            "name": machine,
            "doc": f"evaluate machine {machine}'s VM",
            "actions": [(evaluate, [ctx, machine])],
            "uptodate": [_Check(eval_up_to_date, ctx, machine)],
        }
    for machine in ctx.machines:
        yield {
            "basename": "build",
            "name": machine,
            "doc": f"build machine {machine}'s VM",
            "actions": [(build, [ctx, machine])],
            "task_dep": [f"eval:{machine}"],
            "uptodate": [_Check(build_up_to_date, ctx, machine)],
        }
    yield {
        "basename": "network",
        "doc": "make the network directory and point the out-link at it",
        "actions": [(make_network, [ctx])],
        "task_dep": [f"build:{machine}" for machine in ctx.machines],
        "uptodate": [_Check(network_up_to_date, ctx, None)],
    }


class _Check:
    """An up-to-date check in the form doit calls: check(task, values)."""

    def __init__(self, check: Any, ctx: BuildContext, machine: str | None) -> None:
        self._check = check
        self._ctx = ctx
        self._machine = machine

    def __call__(self, task: Any, values: Mapping[str, Any]) -> bool:
        if self._machine is None:
            return bool(self._check(self._ctx, values))
        return bool(self._check(self._ctx, self._machine, values))
