"""What the tasks of one build share (BuildContext), made before doit starts.

A run reads the network file once: checks it, finds nixpkgs, lists the
machines (`nix-instantiate` only when the file changed), numbers them,
and takes the address plan the last records predict. tasks.py's tasks
then read this context and never the network file's machine list again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock
from typing import Any, TextIO

from nixvms import __version__, deps, keys, netparse, nix, records, render
from nixvms.budget import MemoryBudget, default_limit_kb
from nixvms.errors import NixvmsError, StateError, UsageError
from nixvms.events import Progress, notice
from nixvms.network import (
    Naming,
    Plan,
    make_plan,
    number_machines,
)
from nixvms.options import Options
from nixvms.state import StateDir


class NetworkError(NixvmsError):
    """The network cannot be built as given (a problem of the input, not Nix's)."""


def digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@dataclass
class RunLog:
    """What one run did, for the summary and the tests: machines evaluated and built."""

    evaluated: list[str] = field(default_factory=list)
    built: list[str] = field(default_factory=list)
    # Failures the tasks reported themselves (--keep-going).
    failures: list[str] = field(default_factory=list)
    failed_machines: list[str] = field(default_factory=list)
    lock: Lock = field(default_factory=Lock)

    def add(self, kind: str, machine: str) -> None:
        with self.lock:
            getattr(self, kind).append(machine)


@dataclass
class BuildContext:
    """What the tasks of one run share, read once before doit starts.

    The file states, file sets and the current plan change during the run
    (the plan task may settle another plan); everything else is fixed.
    """

    network_file: str
    state: StateDir
    options: Options
    nixpkgs: str
    uses_tinyos: bool
    machines: tuple[str, ...]
    numbers: Mapping[str, int]
    ssh_key: keys.KeyPair
    files: deps.FileStates
    filesets: deps.FileSets
    progress: Progress
    plan: Plan
    budget: MemoryBudget
    selected: tuple[str, ...]  # the machines this run evaluates and builds (--on)
    log: RunLog = field(default_factory=RunLog)
    _parsed: netparse.ParsedNetwork | None = None
    _parse_lock: Lock = field(default_factory=Lock)
    _shared_params: str | None = None

    @property
    def settings(self) -> nix.NixSettings:
        return self.options.settings

    def inputs(self) -> dict[str, str]:
        """Every non-file input of an evaluation, by name (`nixvms why` names the changed)."""
        return {**evaluation_inputs(self.nixpkgs, self.options, self.network_file),
                "plan": self.plan.digest}

    def shared_params(self) -> str:
        """Digest of every non-file input that all evaluations share (the plan aside)."""
        if self._shared_params is None:
            self._shared_params = digest(
                evaluation_inputs(self.nixpkgs, self.options, self.network_file))
        return self._shared_params

    def eval_params(self, machine: str) -> str:
        return digest([self.shared_params(), self.plan.digest, machine])

    @property
    def render_params(self) -> str:
        return digest({
            "nixvms": __version__,
            "templates": render.templates_digest(),
            "outLink": str(self.options.out_link) if self.options.out_link else None,
            "sshKey": str(self.ssh_key.private_key),
            "stateDir": str(self.state.run_dir),
        })

    def parsed_network(self) -> netparse.ParsedNetwork:
        """The network file's parsed form, read once per run and only when needed."""
        with self._parse_lock:
            if self._parsed is None:
                text = nix.parse_file(self.network_file, self.settings, self.network_stamp())
                self._parsed = netparse.parse(text, self.machines)
            return self._parsed

    def network_stamp(self) -> str:
        return self.files.kind_and_stamp(self.network_file, deps.CONTENT)[1]


def evaluation_inputs(nixpkgs: str, options: Options, network_file: str) -> dict[str, str]:
    """What every evaluation depends on besides files and the plan, each as a string."""
    settings = options.settings
    return {
        "nixvms version": f"{__version__} (records {records.VERSION})",
        "nixpkgs": nixpkgs,
        "--option": json.dumps([list(o) for o in settings.options]),
        "-I": json.dumps(list(settings.include)),
        "NIX_PATH": os.environ.get("NIX_PATH", ""),
        "NIX_CONFIG": os.environ.get("NIX_CONFIG", ""),
        "network file": network_file,
        "--extra-dep": json.dumps(list(options.extra_deps)),
        "tinyos manifest": str(nix.tinyos_manifest()),
    }


# --- before doit: the network file, nixpkgs, the machine list, the plan ------------


@contextmanager
def open_log(path: Path) -> Iterator[TextIO]:
    """A machine's build log in the state directory (`nixvms log MACHINE` shows it)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "w", errors="replace")  # noqa: SIM115 (closed below)
    except OSError as error:
        raise StateError(f"cannot write {path}: {error.strerror}") from error
    with handle:
        yield handle


def check_input_file(path: Path, what: str, error: type[NixvmsError] = NetworkError) -> None:
    """A file nixvms reads must be a regular file it can read (a FIFO would hang)."""
    shown = ascii(str(path))[1:-1] if not _is_utf8(str(path)) else str(path)
    if not _is_utf8(str(path)):
        raise UsageError(f"the {what} path {shown} is not valid UTF-8; rename it")
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error(f"the {what} {shown} does not exist") from None
    except OSError as failure:
        raise error(f"the {what} {shown} cannot be read: {failure.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"the {what} {shown} is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise error(f"the {what} {shown} is not a regular file (a FIFO, socket or "
                    "device cannot be read as Nix)")
    if not os.access(path, os.R_OK):
        raise error(f"the {what} {shown} is not readable")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def prepare(network_file: Path, state: StateDir, options: Options,
            progress: Progress) -> BuildContext:
    """Read what every task needs: nixpkgs, the machine list, the predicted plan."""
    check_input_file(network_file, "network file")
    for extra in options.extra_deps:
        check_input_file(Path(extra), "--extra-dep file", UsageError)
    nix.check_include_paths(options.settings)
    path = deps.absolute(network_file)
    files = deps.FileStates()
    filesets = deps.FileSets(state.filesets, files)
    found = find_nixpkgs(state, options.settings, files, filesets)
    nixpkgs = found if found is not None else nix.tinyos_path()
    names = machine_list(path, state, options.settings, files, filesets, nixpkgs)
    if not names:
        raise NetworkError(f"the network {path} has no machines")
    numbers = number_machines(names)
    ssh_key = keys.project_key(state)
    machines = tuple(sorted(names))
    naming, memory = recorded_naming(state, machines)
    plan = make_plan(numbers, naming, ssh_key.public_key)
    budget = MemoryBudget(options.max_eval_memory_kb or default_limit_kb())
    for peak in memory.values():
        budget.seen(peak)
    if found is None and not state.eval_record(machines[0]).parent.exists():
        progress(notice("no nixpkgs in NIX_PATH or -I: building with nixvms's bundled tinyos"))
    return BuildContext(
        network_file=path, state=state, options=options, nixpkgs=nixpkgs,
        uses_tinyos=found is None, machines=machines, numbers=numbers, ssh_key=ssh_key,
        files=files, filesets=filesets, progress=progress, plan=plan, budget=budget,
        selected=select(options.on, machines, state),
    )


def select(on: tuple[str, ...], machines: tuple[str, ...], state: StateDir) -> tuple[str, ...]:
    """The machines --on names: by name, or @tag as their last evaluation's deployment.tags."""
    if not on:
        return machines
    chosen: set[str] = set()
    for word in on:
        if not word.startswith("@"):
            if word not in machines:
                raise UsageError(f"--on {word}: the network has no machine '{word}' (its "
                                 f"machines: {', '.join(machines)})")
            chosen.add(word)
            continue
        tag = word[1:]
        for machine in machines:
            record = records.load(records.Evaluation, state.eval_record(machine))
            if record is None:
                raise UsageError(f"--on {word}: machine '{machine}' has not been evaluated "
                                 "yet, so its deployment.tags are not known; build every "
                                 "machine once (nixvms build) or name machines")
            if tag in record.facts.tags:
                chosen.add(machine)
        if not any(tag in _tags(state, m) for m in machines):
            raise UsageError(f"--on {word}: no machine has the tag '{tag}' in deployment.tags")
    return tuple(m for m in machines if m in chosen)


def _tags(state: StateDir, machine: str) -> tuple[str, ...]:
    record = records.load(records.Evaluation, state.eval_record(machine))
    return record.facts.tags if record else ()


def find_nixpkgs(state: StateDir, settings: nix.NixSettings, files: deps.FileStates,
                 filesets: deps.FileSets) -> str | None:
    """Where <nixpkgs> is, from the last lookup while the search path is the same.

    The lookup depends on -I, NIX_PATH and the options (its parameters) and on
    which of the places Nix looks in exist (its files).
    """
    candidates = nix.search_path_candidates(settings)
    params = digest({
        "include": list(settings.include), "NIX_PATH": os.environ.get("NIX_PATH"),
        "options": [list(o) for o in settings.options], "candidates": candidates,
    })
    last = records.load(records.NixpkgsLookup, state.nixpkgs_record)
    if (candidates is not None and last is not None and last.params == params
            and filesets.unchanged(last.files)):
        return last.path
    started = time.time_ns()
    found = nix.find_nixpkgs(settings)
    if candidates is not None:
        read = {c: deps.EXISTENCE for c in candidates}
        if found is not None:
            read[found] = deps.EXISTENCE
        fingerprints, _changed = files.record(read, started)
        records.save(records.NixpkgsLookup(params, found, filesets.save(fingerprints)),
                     state.nixpkgs_record)
    return found


def machine_list(network_file: str, state: StateDir, settings: nix.NixSettings,
                 files: deps.FileStates, filesets: deps.FileSets,
                 nixpkgs: str | None = None) -> list[str]:
    """The machine names, from the last listing while nothing it read changed.

    Reading the names is an evaluation of the network file like any other: it
    depends on the files it read and on the Nix parameters, so a no-op run
    needs no Nix process for it. The network file itself counts by its parsed
    form: a comment changes nothing.
    """
    params = digest({
        "nixvms": __version__,
        "networkFile": network_file,
        "nixpkgs": nixpkgs,
        "options": [list(o) for o in settings.options],
        "include": list(settings.include),
        "NIX_PATH": os.environ.get("NIX_PATH", ""),
    })
    last = records.load(records.MachineList, state.machine_list_record)
    stamp = files.kind_and_stamp(network_file, deps.CONTENT)[1]
    if last is not None and last.params == params and filesets.unchanged(last.files):
        if stamp == last.network_stamp:
            return list(last.names)
        parsed = nix.parse_file(network_file, settings, stamp)
        if netparse.parse(parsed, last.names).digest == last.network_parse:
            # Only comments or layout changed: remember the new stamp.
            records.save(dataclasses.replace(last, network_stamp=stamp),
                         state.machine_list_record)
            return list(last.names)
    started = time.time_ns()
    names, messages = nix.machine_names(network_file, settings, nixpkgs)
    read = deps.reads_from_log(messages).files
    read.pop(network_file, None)
    fingerprints, _changed = files.record(read, started)
    parse_digest = netparse.parse(nix.parse_file(network_file, settings, stamp), names).digest
    if deps.changed_since(network_file, started):
        parse_digest = deps.CHANGED_WHILE_EVALUATED
    records.save(records.MachineList(params, tuple(names), filesets.save(fingerprints),
                                     stamp, parse_digest),
                 state.machine_list_record)
    return names


def naming_of(record: records.Evaluation) -> Naming:
    """What the plan needs of an evaluated machine: the VLANs of its NICs with
    addresses (the first is its primary one), its hostName and domain."""
    facts = record.facts
    return Naming(tuple(a.vlan for a in facts.addresses if a.ip), facts.host_name,
                  facts.domain)


def recorded_naming(state: StateDir, machines: tuple[str, ...]) -> tuple[
        dict[str, Naming], dict[str, int]]:
    """What each machine's last evaluation said the plan needs of it, and its memory."""
    naming, memory = {}, {}
    for machine in machines:
        record = records.load(records.Evaluation, state.eval_record(machine))
        if record is not None:
            naming[machine] = naming_of(record)
            memory[machine] = record.memory_kb
    return naming, memory
