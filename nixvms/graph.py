"""`nixvms graph`: the network, or its task graph, as a Graphviz picture.

The network comes from the last build's network.json, read by its one
loader (supervisor/spec.py's load_network): each machine with its system,
hostName, targetHost, addresses and ssh port (where openssh is on), each
VLAN as a switch it is wired to, and the forwards the VM sets up itself
(virtualisation.forwardPorts) from the host. The task graph
(eval:<m>, plan, build:<m>, network) is coloured by what the next build
would do, from the records alone (nixvms/why.py's reading of the tasks'
checks): up to date, will run, or unknown where only Nix could tell.

Pure functions return DOT text; `render` runs Graphviz's `dot` for SVG and
PNG. Nothing here runs Nix.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nixvms import records, why
from nixvms.errors import NixvmsError
from nixvms.nix import NixSettings
from nixvms.options import Options
from nixvms.state import StateDir
from nixvms.supervisor import spec

Format = Literal["dot", "svg", "png"]
FORMATS: tuple[Format, ...] = ("dot", "svg", "png")

State = Literal["up to date", "will run", "unknown"]
COLOURS: Mapping[State, str] = {
    "up to date": "#b7e4c7",  # green
    "will run": "#ffd8a8",  # orange
    "unknown": "#dee2e6",  # grey
}


NEWLINE = "\n"


class GraphError(NixvmsError):
    """No network to draw, or Graphviz could not draw it."""


def quote(text: str) -> str:
    """A DOT string literal (newlines as DOT's centred line breaks)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


# --- the network ------------------------------------------------------------------


def last_network(network_file: Path, state_dir: Path | None = None) -> spec.NetworkSpec:
    """The project's last network: the one its record names, else `result` beside
    the network file."""
    state = StateDir.for_network(network_file, state_dir)
    made = records.load(records.NetworkRecord, state.network_record)
    candidates = [Path(made.store_path)] if made is not None else []
    candidates.append(network_file.parent / "result")
    for directory in candidates:
        try:
            return spec.load_network(directory)
        except spec.NotANetworkDirectory:
            continue
    raise GraphError(f"{network_file} has not been built yet (no network.json): "
                     "`nixvms build` first")



def network_dot(network: spec.NetworkSpec) -> str:
    """The network as an undirected DOT graph: machines, VLAN switches, the host's forwards."""
    lines = [
        "graph network {",
        '  graph [rankdir=LR, fontname="Helvetica", nodesep=0.4, ranksep=1.2];',
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    vlans = sorted({*network.vlans, *(a.vlan for m in network.machines for a in m.addresses)})
    for vlan in vlans:
        lines.append(f"  {quote(f'vlan{vlan}')} [shape=box, style=\"rounded,filled\", "
                     f"fillcolor=\"#d0ebff\", label={quote(f'VLAN {vlan}')}];")
    host_needed = False
    for m in network.machines:
        label = [m.name]
        if m.host_name != m.name:
            label.append(f"hostName {m.host_name}" + (f".{m.domain}" if m.domain else ""))
        label.append(m.system)
        if m.target_host:
            label.append(f"targetHost {m.target_host}")
        if m.openssh:
            label.append(f"ssh port {m.ssh_port}")
        node = quote(f"machine:{m.name}")
        lines.append(f"  {node} [shape=box3d, style=filled, "
                     f"fillcolor=\"#f8f9fa\", label={quote(NEWLINE.join(label))}];")
        for address in m.addresses:
            switch = quote(f"vlan{address.vlan}")
            edge = f"{address.interface}\n{address.ip}/{address.prefix_length}"
            lines.append(f"  {node} -- {switch} [label={quote(edge)}];")
        for forward in m.forward_ports:
            host_needed = True
            where = forward.host_address or "0.0.0.0"
            text = f"{where}:{forward.host_port} -> {forward.guest_port}"
            if forward.proto != "tcp":
                text += f"/{forward.proto}"
            lines.append(f"  \"host\" -- {node} "
                         f"[style=dashed, label={quote(text)}];")
    if host_needed:
        lines.append('  "host" [shape=house, label="host (forwarded ports)"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- the task graph -----------------------------------------------------------------


@dataclass(frozen=True)
class TaskState:
    state: State
    reasons: tuple[str, ...] = ()


def task_states(network_file: Path, state_dir: Path | None = None,
                settings: NixSettings | None = None) -> dict[str, TaskState]:
    """What the next build would do with each task, from the records (no Nix)."""
    state = StateDir.for_network(network_file, state_dir)
    listing = records.load(records.MachineList, state.machine_list_record)
    if listing is None:
        raise GraphError(f"{network_file} has not been built yet (no record of its machines): "
                         "`nixvms build` first")
    options = Options(out_link=None, settings=settings or NixSettings())
    result: dict[str, TaskState] = {}
    for machine in sorted(listing.names):
        verdict = why.explain(network_file, machine, options, state_dir)
        if not verdict.evaluate:
            result[f"eval:{machine}"] = TaskState("up to date")
        elif all("only a parse can tell" in r for r in verdict.evaluate):
            result[f"eval:{machine}"] = TaskState("unknown", verdict.evaluate)
        else:
            result[f"eval:{machine}"] = TaskState("will run", verdict.evaluate)
        if verdict.build:
            result[f"build:{machine}"] = TaskState("will run", verdict.build)
        elif verdict.evaluate:
            result[f"build:{machine}"] = TaskState(
                "unknown", ("built again only if its evaluation gives another .drv",))
        else:
            result[f"build:{machine}"] = TaskState("up to date")
    evals = [s for name, s in result.items() if name.startswith("eval:")]
    result["plan"] = (TaskState("up to date") if all(s.state == "up to date" for s in evals)
                      else TaskState("unknown", ("settled once the evaluations are done",)))
    result["network"] = _network_state(state, network_file, listing.names, result)
    return result


def _network_state(state: StateDir, network_file: Path, machines: Sequence[str],
                   known: Mapping[str, TaskState]) -> TaskState:
    builds = [known[f"build:{m}"] for m in machines]
    if any(s.state == "will run" for s in builds):
        return TaskState("will run", ("a machine's VM will be built again",))
    made = records.load(records.NetworkRecord, state.network_record)
    if made is None:
        return TaskState("will run", ("it has no record of a network",))
    vms = {}
    for machine in machines:
        built = records.load(records.Build, state.build_record(machine))
        vms[machine] = built.out_path if built else None
    if dict(made.machines) != vms:
        return TaskState("will run", ("its machines' VMs are not the ones it was made of",))
    if not os.path.exists(made.store_path):
        return TaskState("will run", (f"{made.store_path} is no longer in the Nix store",))
    if any(s.state == "unknown" for s in builds):
        return TaskState("unknown", ("made again if a machine's VM changes",))
    return TaskState("up to date")


def tasks_dot(states: Mapping[str, TaskState]) -> str:
    """The doit task graph as a DOT digraph, each task coloured by its state."""
    machines = sorted(name.partition(":")[2] for name in states if name.startswith("eval:"))
    lines = [
        "digraph tasks {",
        '  graph [rankdir=LR, fontname="Helvetica"];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
    ]

    def node(name: str) -> str:
        task = states[name]
        tooltip = "\n".join(task.reasons) or task.state
        return (f"  {quote(name)} [fillcolor={quote(COLOURS[task.state])}, "
                f"label={quote(name + NEWLINE + task.state)}, tooltip={quote(tooltip)}];")

    for name in [*(f"eval:{m}" for m in machines), "plan",
                 *(f"build:{m}" for m in machines), "network"]:
        lines.append(node(name))
    for m in machines:
        lines.append(f"  {quote(f'eval:{m}')} -> \"plan\";")
        lines.append(f"  \"plan\" -> {quote(f'build:{m}')};")
        lines.append(f"  {quote(f'build:{m}')} -> \"network\";")
    lines.append("  subgraph cluster_legend {")
    lines.append('    label="next build"; fontsize=10; style=dashed;')
    for i, (word, colour) in enumerate(COLOURS.items()):
        lines.append(f"    \"legend{i}\" [label={quote(word)}, fillcolor={quote(colour)}, "
                     "fontsize=9];")
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- rendering ----------------------------------------------------------------------


def render(dot_text: str, fmt: Format) -> bytes:
    """The picture in `fmt`: the DOT text itself, or what Graphviz's dot makes of it."""
    if fmt == "dot":
        return dot_text.encode()
    try:
        proc = subprocess.run(["dot", f"-T{fmt}"], input=dot_text.encode(),
                              capture_output=True, check=False, timeout=120)
    except FileNotFoundError:
        raise GraphError("Graphviz's `dot` is not installed (Debian: apt-get install "
                         "graphviz); --format dot prints the graph without it") from None
    if proc.returncode != 0:
        raise GraphError(f"Graphviz's dot failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def format_for(output: Path | None, fmt: str | None) -> Format:
    """--format, else the output file's suffix, else dot."""
    wanted = fmt or (output.suffix.lstrip(".").lower() if output is not None else "")
    for known in FORMATS:
        if wanted == known:
            return known
    return "dot"
