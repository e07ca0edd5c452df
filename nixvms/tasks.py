"""The doit task graph of one network, in the order a run goes through it.

eval:<m>   instantiates machine m's VM with the address plan predicted from
           the last records. Up to date while its record's parameters (the
           plan included) are the current ones, its .drv still exists, the
           part of the network file it depends on is the same
           (netparse.py), and no file it read changed (deps.py).
plan       settles the address plan: once every machine is evaluated, what
           /etc/hosts must list of each one (its first VLAN, hostName,
           domain) is known; a machine evaluated with another plan is
           evaluated again with this one. Up to date while every record was
           made with the plan the records give.
build:<m>  realises m's .drv under a GC root. Up to date while the .drv is
           the one it last realised and the output is still in the store.
network    writes the network directory's files, builds it as a store path
           whose references are the VMs, and points `result` at it. Up to
           date while every machine's output and the rendering parameters
           are the same and `result` still points at what it made.

Each task writes its record (records.py) and nothing else; the checks read
only records. doit keeps a token per task, so `doit forget TASK` still
makes that task run again.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from doit.exceptions import TaskFailed

from nixvms import deps, nix, records, render
from nixvms.context import BuildContext, digest, naming_of, open_log
from nixvms.errors import NixvmsError
from nixvms.events import Event, notice
from nixvms.network import Plan, default_naming, make_plan
from nixvms.state import points_to
from nixvms.supervisor.facts import MachineFacts

Task = dict[str, Any]

# doit's saved values for a task that ran: a token, so that `doit forget`
# makes it run again; the record itself is nixvms's.
_DONE = {"nixvms": records.VERSION}
# Rounds of re-evaluation the plan may take before it is called unsettled.
_PLAN_ROUNDS = 3


# --- eval:<machine> --------------------------------------------------------------


def evaluate(ctx: BuildContext, machine: str) -> records.Evaluation:
    """Evaluate one machine with the current plan and record what it read."""
    ctx.log.add("evaluated", machine)
    last = records.load(records.Evaluation, ctx.state.eval_record(machine))
    with ctx.budget.hold(ctx.budget.expect(last.memory_kb if last else None)):
        started = time.time_ns()
        network_stamp = ctx.network_stamp()
        result = nix.evaluate_machine(
            ctx.network_file, machine, ctx.nixpkgs, ctx.plan.as_json, ctx.settings,
            ctx.state.drv_root(machine),
        )
    ctx.budget.seen(result.peak_rss_kb)
    reads = deps.reads_from_log(result.messages)
    read = dict(reads.files)
    read.pop(ctx.network_file, None)
    # What the user says the evaluation reads unseen (--extra-dep).
    for path in ctx.options.extra_deps:
        read[path] = deps.CONTENT
    fingerprints, changed = ctx.files.record(read, started)
    nodes = tuple(sorted(reads.nodes - {machine}))
    view = ctx.parsed_network().view(machine, nodes)
    if deps.changed_since(ctx.network_file, started):
        changed.append(ctx.network_file)
        view = deps.CHANGED_WHILE_EVALUATED
    for path in changed:
        ctx.progress(notice(f"{path} changed while machine '{machine}' was evaluated; "
                            "the next run evaluates it again"))
    record = records.Evaluation(
        facts=result.facts,
        params=ctx.eval_params(machine),
        plan=ctx.plan.digest,
        drv_path=result.drv_path,
        files=ctx.filesets.save(fingerprints),
        network_stamp=network_stamp,
        network_view=view,
        nodes=nodes,
        memory_kb=result.peak_rss_kb,
        inputs=ctx.inputs(),
    )
    records.save(record, ctx.state.eval_record(machine))
    return record


def eval_action(ctx: BuildContext, machine: str) -> dict[str, Any] | TaskFailed:
    try:
        evaluate(ctx, machine)
    except nix.NixError as error:
        return _failed(ctx, machine, f"evaluation of machine '{machine}' failed: "
                                     f"{error.message}")
    except NixvmsError as error:
        return _failed(ctx, machine, error.message)
    return _DONE


def _failed(ctx: BuildContext, machine: str, message: str) -> dict[str, Any] | TaskFailed:
    """A machine's failure: doit's, or with --keep-going noted while the others go on."""
    # A failed evaluation leaves no record to trust: the next run redoes it.
    ctx.state.eval_record(machine).unlink(missing_ok=True)
    if not ctx.options.keep_going:
        return TaskFailed(message)
    ctx.log.add("failures", message)
    ctx.log.add("failed_machines", machine)
    return _DONE


def eval_up_to_date(ctx: BuildContext, machine: str, values: Mapping[str, Any]) -> bool:
    if values.get("nixvms") != records.VERSION:
        return False
    record = records.load(records.Evaluation, ctx.state.eval_record(machine))
    if record is None or record.params != ctx.eval_params(machine):
        return False
    if not os.path.exists(record.drv_path):
        return False
    if not network_view_unchanged(ctx, record):
        return False
    return ctx.filesets.unchanged(record.files)


def network_view_unchanged(ctx: BuildContext, record: records.Evaluation) -> bool:
    """Whether the part of the network file the machine depends on is as it was.

    When the file changed elsewhere (another machine, a comment), the record
    takes the new stamp, so the next run need not parse the file again.
    """
    if record.network_view == deps.CHANGED_WHILE_EVALUATED:
        return False
    stamp = ctx.network_stamp()
    if stamp == record.network_stamp:
        return True
    if ctx.parsed_network().view(record.machine, record.nodes) != record.network_view:
        return False
    records.save(dataclasses.replace(record, network_stamp=stamp),
                 ctx.state.eval_record(record.machine))
    return True


# --- plan ------------------------------------------------------------------------


def settled_plan(ctx: BuildContext) -> Plan:
    naming = {}
    for machine in ctx.machines:
        record = records.load(records.Evaluation, ctx.state.eval_record(machine))
        naming[machine] = (naming_of(record)
                           if record is not None else default_naming(machine))
    return make_plan(ctx.numbers, naming, ctx.ssh_key.public_key)


def _evaluated_with_another_plan(ctx: BuildContext, plan: Plan) -> list[str]:
    stale = []
    for machine in ctx.selected:
        if machine in ctx.log.failed_machines:
            continue
        record = records.load(records.Evaluation, ctx.state.eval_record(machine))
        if record is None or record.plan != plan.digest:
            stale.append(machine)
    return stale


def plan_up_to_date(ctx: BuildContext, values: Mapping[str, Any]) -> bool:
    return not _evaluated_with_another_plan(ctx, settled_plan(ctx))


def plan_action(ctx: BuildContext) -> dict[str, Any] | TaskFailed:
    """Settle the plan: re-evaluate, with the plan the records give, what used another."""
    for _round in range(_PLAN_ROUNDS):
        plan = settled_plan(ctx)
        stale = _evaluated_with_another_plan(ctx, plan)
        if not stale:
            return _DONE
        ctx.plan = plan
        with ThreadPoolExecutor(max_workers=ctx.options.jobs) as pool:
            results = list(pool.map(lambda m: _reevaluate(ctx, m), stale))
        failures = [r for r in results if isinstance(r, TaskFailed)]
        if failures:
            return failures[0]
    return TaskFailed("the address plan does not settle: a machine's VLANs, hostName or "
                      "domain depend on the plan itself")


def _reevaluate(ctx: BuildContext, machine: str) -> dict[str, Any] | TaskFailed:
    ctx.progress(Event("evaluating", machine, "the address plan changed"))
    result = eval_action(ctx, machine)
    if not isinstance(result, TaskFailed):
        ctx.progress(Event("evaluated", machine))
    return result


# --- build:<machine> -------------------------------------------------------------


def build_action(ctx: BuildContext, machine: str) -> dict[str, Any] | TaskFailed:
    record = records.load(records.Evaluation, ctx.state.eval_record(machine))
    if record is None:
        if machine in ctx.log.failed_machines:
            return _DONE  # --keep-going: its failure is already reported
        return TaskFailed(f"machine '{machine}' has no evaluation to build")
    ctx.log.add("built", machine)
    log_path = ctx.state.build_log(machine)
    try:
        with open_log(log_path) as log:
            def line(text: str) -> None:
                log.write(text + "\n")
                ctx.progress(Event("build-log", machine, text))

            out_path = nix.realise(record.drv_path, ctx.state.machine_root(machine),
                                   ctx.settings, on_line=line)
    except nix.NixError as error:
        return _failed(ctx, machine, f"build of machine '{machine}' failed: {error.message}")
    except NixvmsError as error:
        return _failed(ctx, machine, error.message)
    records.save(records.Build(machine, record.drv_path, out_path),
                 ctx.state.build_record(machine))
    return _DONE


def build_up_to_date(ctx: BuildContext, machine: str, values: Mapping[str, Any]) -> bool:
    if values.get("nixvms") != records.VERSION:
        return False
    evaluated = records.load(records.Evaluation, ctx.state.eval_record(machine))
    built = records.load(records.Build, ctx.state.build_record(machine))
    if evaluated is None or built is None or built.drv_path != evaluated.drv_path:
        return False
    return os.path.exists(built.out_path) and points_to(ctx.state.machine_root(machine),
                                                        built.out_path)


# --- network ---------------------------------------------------------------------


def built_network(ctx: BuildContext) -> tuple[MachineFacts, ...] | None:
    """The machines from the records, or None while one is not built as evaluated."""
    machines = []
    for name in ctx.machines:
        evaluated = records.load(records.Evaluation, ctx.state.eval_record(name))
        built = records.load(records.Build, ctx.state.build_record(name))
        if evaluated is None or built is None or built.drv_path != evaluated.drv_path:
            return None
        # The VM is where the build put it: the evaluation only expected it there.
        machines.append(dataclasses.replace(evaluated.facts, vm=built.out_path))
    return tuple(machines)


def rendering(ctx: BuildContext, network: tuple[MachineFacts, ...]) -> str:
    """What the network directory is made from, besides the VMs: the rendering
    parameters and everything the network's data says of the machines."""
    return digest([ctx.render_params, repr(network)])


def network_action(ctx: BuildContext) -> dict[str, Any] | TaskFailed:
    if ctx.log.failed_machines:
        return _DONE  # --keep-going: the network is not made; the CLI says so
    network = built_network(ctx)
    if network is None:
        return TaskFailed("making the network failed: a machine is not built as evaluated")
    try:
        files = ctx.state.network_files
        render.write_network_files(
            network, files, ssh_key=str(ctx.ssh_key.private_key),
            state_dir=str(ctx.state.run_dir),
        )
        vms = {m.name: m.vm for m in network}
        # The .drv is a root only until its output is: a collection in between
        # cannot take it, and afterwards the VMs are kept by the output alone.
        drv_root = ctx.state.gcroots / "network-drv"
        drv = nix.instantiate_network_dir(ctx.nixpkgs, files, vms, ctx.settings, drv_root)
        store_path = nix.realise(drv, ctx.state.network_root, ctx.settings)
        drv_root.unlink(missing_ok=True)
        if ctx.options.out_link is not None:
            nix.add_root(store_path, ctx.options.out_link, ctx.settings)
    except NixvmsError as error:
        return TaskFailed(f"making the network failed: {error.message}")
    records.save(records.NetworkRecord(rendering(ctx, network), vms, store_path),
                 ctx.state.network_record)
    return _DONE


def network_up_to_date(ctx: BuildContext, values: Mapping[str, Any]) -> bool:
    if values.get("nixvms") != records.VERSION:
        return False
    made = records.load(records.NetworkRecord, ctx.state.network_record)
    network = built_network(ctx)
    if made is None or network is None or made.render != rendering(ctx, network):
        return False
    if dict(made.machines) != {m.name: m.vm for m in network}:
        return False
    if not os.path.exists(made.store_path) or not points_to(ctx.state.network_root,
                                                            made.store_path):
        return False
    out_link = ctx.options.out_link
    return out_link is None or points_to(out_link, made.store_path)


def not_up_to_date(ctx: BuildContext, machines: list[str]) -> list[str]:
    """Of `machines`, those whose evaluation or build is not up to date (for --on)."""
    done = {"nixvms": records.VERSION}
    return [m for m in machines
            if not (eval_up_to_date(ctx, m, done) and build_up_to_date(ctx, m, done))]


# --- the graph -------------------------------------------------------------------


def generate(ctx: BuildContext) -> Iterator[Task]:
    """The task dicts of one network, as a doit task generator yields them."""
    for machine in ctx.machines:
        yield {
            "basename": "eval", "name": machine,
            "doc": f"evaluate machine {machine}'s VM",
            "actions": [(eval_action, [ctx, machine])],
            "uptodate": [_Check(eval_up_to_date, ctx, machine)],
            "verbosity": 2,
        }
    yield {
        "basename": "plan",
        "doc": "settle the address plan (re-evaluating machines given another)",
        "actions": [(plan_action, [ctx])],
        "task_dep": [f"eval:{machine}" for machine in ctx.selected],
        "uptodate": [_Check(plan_up_to_date, ctx, None)],
        "verbosity": 2,
    }
    for machine in ctx.machines:
        yield {
            "basename": "build", "name": machine,
            "doc": f"build machine {machine}'s VM",
            "actions": [(build_action, [ctx, machine])],
            "task_dep": ["plan"],
            "uptodate": [_Check(build_up_to_date, ctx, machine)],
            "verbosity": 2,
        }
    yield {
        "basename": "network",
        "doc": "make the network directory and point the out-link at it",
        "actions": [(network_action, [ctx])],
        "task_dep": [f"build:{machine}" for machine in ctx.machines],
        "uptodate": [_Check(network_up_to_date, ctx, None)],
        "verbosity": 2,
    }


class _Check:
    """An up-to-date check in the form doit calls: check(task, values).

    Whatever stops a check from deciding (an unreadable record, a file that
    vanished) means "not up to date": the task redoes its work.
    """

    def __init__(self, check: Any, ctx: BuildContext, machine: str | None) -> None:
        self._check = check
        self._ctx = ctx
        self._machine = machine

    def __call__(self, task: Any, values: Mapping[str, Any]) -> bool:
        try:
            if self._machine is None:
                return bool(self._check(self._ctx, values))
            return bool(self._check(self._ctx, self._machine, values))
        except nix.NixError:
            raise
        except (OSError, ValueError):
            return False
