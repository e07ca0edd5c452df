"""`nixvms why MACHINE`: whether the next build re-evaluates or rebuilds it, and why.

It reads the records and the files they name, and never runs Nix: what only
an evaluation or a parse could tell (whether an edit of network.nix touches
this machine's part of it) is said as such. The checks are those of
tasks.py, read in words.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from nixvms import context, deps, records
from nixvms.errors import UsageError
from nixvms.network import make_plan, number_machines
from nixvms.options import Options
from nixvms.state import StateDir


@dataclass(frozen=True)
class Verdict:
    machine: str
    evaluate: tuple[str, ...]  # why it will be evaluated (empty: it will not)
    build: tuple[str, ...]  # why it will be built (empty: it will not, as far as known)

    def lines(self) -> list[str]:
        said = []
        if self.evaluate:
            said.append(f"{self.machine} will be evaluated again:")
            said += [f"  {reason}" for reason in self.evaluate]
        else:
            said.append(f"{self.machine}'s evaluation is up to date")
        if self.build:
            said.append(f"{self.machine} will be built again:")
            said += [f"  {reason}" for reason in self.build]
        elif self.evaluate:
            said.append(f"{self.machine} is built again only if its evaluation gives another "
                        ".drv")
        else:
            said.append(f"{self.machine}'s build is up to date")
        return said


def explain(network_file: Path, machine: str, options: Options,
            state_dir: Path | None = None) -> Verdict:
    state = StateDir.for_network(network_file, state_dir)
    network = deps.absolute(network_file)
    files = deps.FileStates()
    sets = deps.FileSets(state.filesets, files)
    listing = records.load(records.MachineList, state.machine_list_record)
    if listing is None:
        nothing = "nixvms has no usable record of this network here (never built, or its state "
        nothing += "is from another version or lost): everything is evaluated and checked"
        return Verdict(machine, (nothing,), ())
    if machine not in listing.names:
        raise UsageError(f"no machine '{machine}' in {network} as last read (its machines: "
                         f"{', '.join(listing.names)})")
    evaluate = _why_evaluate(state, network, machine, listing, files, sets, options)
    return Verdict(machine, tuple(evaluate), tuple(_why_build(state, machine)))


def _why_evaluate(state: StateDir, network: str, machine: str, listing: records.MachineList,
                  files: deps.FileStates, sets: deps.FileSets,
                  options: Options) -> list[str]:
    record = records.load(records.Evaluation, state.eval_record(machine))
    if record is None:
        return ["it has no record of an evaluation (never evaluated, failed, or the record "
                "was lost)"]
    reasons = []
    lookup = records.load(records.NixpkgsLookup, state.nixpkgs_record)
    nixpkgs = lookup.path if lookup and lookup.path else None
    current = context.evaluation_inputs(nixpkgs or record.inputs.get("nixpkgs", ""), options,
                                      network)
    for name, value in current.items():
        if record.inputs.get(name) != value:
            reasons.append(f"{name} changed: {_short(record.inputs.get(name))} -> "
                           f"{_short(value)}")
    if lookup is None:
        reasons.append("where <nixpkgs> is must be looked up again")
    public_key = _public_key(state)
    if public_key is not None:
        naming, _memory = context.recorded_naming(state, tuple(sorted(listing.names)))
        plan = make_plan(number_machines(listing.names), naming, public_key)
        if plan.digest != record.plan:
            reasons.append("the address plan changed (a machine's VLANs, hostName or domain, "
                           "or the set of machines)")
    if not os.path.exists(record.drv_path):
        reasons.append(f"its .drv {record.drv_path} is no longer in the Nix store")
    if record.network_view == deps.CHANGED_WHILE_EVALUATED:
        reasons.append(f"{network} changed while it was evaluated")
    elif files.kind_and_stamp(network, deps.CONTENT)[1] != record.network_stamp:
        reasons.append(f"{network} changed since; it is re-evaluated if its part of the file "
                       "(or a shared part) changed, which only a parse can tell")
    for path, recorded in sets.changed_entries(record.files):
        reasons.append(_file_change(path, recorded))
    return reasons


def _why_build(state: StateDir, machine: str) -> list[str]:
    evaluated = records.load(records.Evaluation, state.eval_record(machine))
    built = records.load(records.Build, state.build_record(machine))
    if built is None:
        return ["it has no record of a build"]
    reasons = []
    if evaluated is not None and built.drv_path != evaluated.drv_path:
        reasons.append("its last evaluation gave another .drv than the one built")
    if not os.path.exists(built.out_path):
        reasons.append(f"its VM {built.out_path} is no longer in the Nix store")
    return reasons


def _file_change(path: str, recorded: deps.Fingerprint | None) -> str:
    if recorded is None:
        return f"a record of the files it read is lost {path}"
    if recorded.digest == deps.CHANGED_WHILE_EVALUATED:
        return f"{path} changed while it was evaluated"
    exists = os.path.lexists(path)
    if recorded.kind == "missing":
        return f"{path} appeared (the evaluation looked for it)"
    if not exists:
        return f"{path} disappeared"
    if recorded.kind == "listing":
        return f"{path}'s listing changed"
    return f"{path} changed"


def _public_key(state: StateDir) -> str | None:
    try:
        return (state.root / "ssh" / "id_ed25519.pub").read_text().strip()
    except OSError:
        return None


def _short(value: str | None) -> str:
    if value is None:
        return "(none)"
    try:
        shown = json.dumps(json.loads(value)) if value[:1] in "[{" else value
    except ValueError:
        shown = value
    return shown if len(shown) <= 400 else shown[:397] + "..."
