"""Property test: after any sequence of edits, an incremental build equals a clean one,
and it ran exactly the evaluations and builds the edits called for.

A seeded random walk over a generated multi-file network (tests/netgen.py):
machines' own files, shared modules, files read with readFile, files probed
with pathExists, a directory read with readDir, machines added and removed,
reverts, touches, comments. On top of tests/netgen.py's model, this file
adds what only the file tree shows of the listed directory: its entries'
kinds (a listing's text is what readDir returns, names and kinds, and an
entry flips between a regular file and a symbolic link) and how it is
changed (half the changes to its entries, and some steps that change
nothing, replace the whole directory by a copy that keeps its mtime, as
`cp -a` of another directory does). After every step `nixvms build` runs in the
project directory, and a clean build of an identical copy runs in a fresh
directory; they must agree on every machine's drv and output path, on
network.json and on run-vms. Which tasks must run is predicted from the
model alone, with doit's semantics: `eval:<m>` runs when something its last
evaluation read (by the model) reads differently now, or the address plan
changed; `build:<m>` runs when the machine's configuration (by the model)
differs from the one it last built; `network` runs when the set of
(machine, configuration) pairs differs from the one it last made.

NIXVMS_PROPERTY_SEED and NIXVMS_PROPERTY_STEPS choose the walk; a failure
names the seed, the step and the history, to run it again. The suite takes
25 steps (about 14 s each in CI, where it was the longest file: 50 steps
took 11.6 min of the 30 the whole suite may take); a longer walk, or other
seeds, explore further (NIXVMS_PROPERTY_STEPS=200).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nixvms import deps
from tests import netgen
from tests.conftest import BIN, LOCAL_STATE, Run, nixvms

pytestmark = pytest.mark.nix

SEED = int(os.environ.get("NIXVMS_PROPERTY_SEED", "20240607"))
STEPS = int(os.environ.get("NIXVMS_PROPERTY_STEPS", "25"))

Plan = tuple[str, ...]
LISTED: netgen.Read = (netgen.LISTING_DIR, netgen.LISTING)

# A listed entry that is a symbolic link: the tree holds LINK + its target.
LINK = "\0symlink -> "
LINK_TARGETS = "listing-targets"
LISTED_NAMES = "toString (builtins.attrNames (builtins.readDir "
LISTED_KINDS = "builtins.toJSON ((builtins.readDir "


def render(model: netgen.Model, links: frozenset[str]) -> netgen.Tree:
    """netgen's files, with the listing's text naming each entry's kind and the
    entries in `links` made symbolic links (to a file of the same content)."""
    tree = {path: text.replace(LISTED_NAMES, LISTED_KINDS)
            for path, text in netgen.render(model).items()}
    for name in sorted(links):
        path = f"{netgen.LISTING_DIR}/{name}"
        if path in tree:
            tree[f"{LINK_TARGETS}/{name}"] = tree[path]
            tree[path] = f"{LINK}../{LINK_TARGETS}/{name}"
    return tree


def observe(tree: netgen.Tree, read: netgen.Read) -> object:
    """What a read sees: netgen's, and for a listing each entry's kind too."""
    path, how = read
    if how != netgen.LISTING:
        return netgen.observe(tree, read)
    prefix = path + "/"
    return tuple(sorted((p[len(prefix):], "symlink" if text.startswith(LINK) else "regular")
                        for p, text in tree.items() if p.startswith(prefix)))


def config_key(model: netgen.Model, tree: netgen.Tree, name: str) -> tuple[object, ...]:
    """netgen's configuration key, and the entries' kinds where the machine lists them."""
    listing = (netgen.LISTING_DIR, netgen.LISTING)
    return (*netgen.config_key(model, name),
            observe(tree, listing) if model.machine(name).lists else None)


@dataclass
class Expectation:
    """What doit recorded after the last successful run, as the model sees it."""

    # Per machine: the plan and what each read saw at its last evaluation.
    evaluated: dict[str, tuple[Plan, dict[netgen.Read, object]]] = field(default_factory=dict)
    # Per machine: the configuration it last built.
    built: dict[str, tuple[object, ...]] = field(default_factory=dict)
    # The (machine -> configuration) the network was last made of.
    network: dict[str, tuple[object, ...]] | None = None

    def evaluations(self, model: netgen.Model, tree: netgen.Tree) -> set[str]:
        due = set()
        for name in model.names:
            last = self.evaluated.get(name)
            if (last is None or last[0] != model.names
                    or any(observe(tree, read) != seen for read, seen in last[1].items())):
                due.add(name)
        return due

    def builds(self, model: netgen.Model, tree: netgen.Tree) -> set[str]:
        return {n for n in model.names if self.built.get(n) != config_key(model, tree, n)}

    def makes_network(self, model: netgen.Model, tree: netgen.Tree) -> bool:
        return self.network != {n: config_key(model, tree, n) for n in model.names}

    def ran(self, model: netgen.Model, tree: netgen.Tree, evaluated: set[str]) -> None:
        for name in evaluated:
            reads = netgen.reads(model, name)
            self.evaluated[name] = (model.names, {r: observe(tree, r) for r in reads})
        for name in model.names:
            self.built[name] = config_key(model, tree, name)
        self.network = {n: config_key(model, tree, n) for n in model.names}


def sync(directory: Path, old: netgen.Tree, new: netgen.Tree, rng: random.Random,
         *, swap_listing: bool = False) -> None:
    """Make the files under `directory` those of `new` (they are those of `old`).

    Only files whose content differs are written; half the writes replace the
    file by a rename, as many editors save (this changes the directory's times).
    A directory left empty is removed. With `swap_listing` the listed directory
    is not edited but replaced by a new one that keeps the old one's times.
    """
    if swap_listing:
        listed = netgen.LISTING_DIR + "/"
        sync(directory, {p: t for p, t in old.items() if not p.startswith(listed)},
             {p: t for p, t in new.items() if not p.startswith(listed)}, rng)
        swap_listed_directory(directory, new)
        return
    for path in sorted(set(old) - set(new)):
        (directory / path).unlink()
        # As git does: a directory left empty goes too (a probe's parent may vanish).
        parent = (directory / path).parent
        if parent != directory and not any(parent.iterdir()):
            parent.rmdir()
    for path in sorted(new):
        if old.get(path) == new[path]:
            continue
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or new[path].startswith(LINK):
            # An entry changes kind (writing through a link would change its target).
            target.unlink(missing_ok=True)
        if new[path].startswith(LINK):
            target.symlink_to(new[path][len(LINK):])
        elif rng.random() < 0.5:
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_text(new[path])
            os.replace(tmp, target)
        else:
            target.write_text(new[path])


def swap_listed_directory(directory: Path, new: netgen.Tree) -> None:
    """Replace the listed directory by one holding `new`'s entries, with its old
    times, as `cp -a` of another directory whose mtime happens to be the same."""
    listed = directory / netgen.LISTING_DIR
    fresh, gone = listed.with_name(".listing.new"), listed.with_name(".listing.old")
    fresh.mkdir()
    prefix = netgen.LISTING_DIR + "/"
    for path, text in new.items():
        if path.startswith(prefix):
            entry = fresh / path[len(prefix):]
            if text.startswith(LINK):
                entry.symlink_to(text[len(LINK):])
            else:
                entry.write_text(text)
    times = listed.stat()
    os.utime(fresh, ns=(times.st_atime_ns, times.st_mtime_ns))
    os.rename(listed, gone)
    os.rename(fresh, listed)
    shutil.rmtree(gone)


def listing_step(rng: random.Random, model: netgen.Model, links: frozenset[str],
                 ) -> tuple[str, frozenset[str], bool]:
    """A change netgen's model does not see: (what, the new links, swap the directory).

    An entry flips between a regular file and a symbolic link, edited in place or
    by a swap; or the directory is swapped for a copy of itself (nothing changes).
    """
    entry = rng.choice([name for name, _ in model.listing])
    path = f"{netgen.LISTING_DIR}/{entry}"
    if rng.random() < 0.25:
        return f"replace {netgen.LISTING_DIR} by a copy with its mtime", links, True
    swap = rng.random() < 0.5
    how = " (a copy of the directory, its mtime kept)" if swap else ""
    if entry in links:
        return f"{path}: a symbolic link becomes a regular file{how}", links - {entry}, swap
    return f"{path}: a regular file becomes a symbolic link{how}", links | {entry}, swap


def touch(path: Path) -> None:
    """New times, same content: one second past both the old times and now."""
    later = max(path.stat().st_mtime_ns, time.time_ns()) + 1_000_000_000
    os.utime(path, ns=(later, later))


def read_record(directory: Path, machine: str, kind: str) -> dict[str, Any]:
    """The data of a machine's record (nixvms/records.py's layout), or {}."""
    path = directory / ".nixvms" / "records" / kind / f"{machine}.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text()).get("data")
    assert isinstance(data, dict)
    return data


def recorded_files(directory: Path, record: dict[str, Any]) -> dict[str, dict[str, str]]:
    """path -> {kind, digest} of the file groups a record names."""
    found = {}
    for digest in record.get("files", []):
        group_path = directory / ".nixvms" / "filesets" / f"{digest}.json"
        if not group_path.exists():
            continue
        group = json.loads(group_path.read_text())
        for name, (_mode, kind, _stamp, fp_digest) in group["entries"].items():
            found[os.path.join(group["directory"], name)] = {"kind": kind, "digest": fp_digest}
    return found


def diagnose(record: dict[str, Any], files: dict[str, dict[str, str]], drv_existed: bool) -> str:
    """Why nixvms may have found an evaluation stale: its drv gone, or a recorded file changed."""
    if not record:
        return "no record of a previous evaluation"
    found = []
    if not drv_existed:
        found.append(f"its drv {record.get('drv_path')} was not in the store (garbage collected?)")
    for path, fp in files.items():
        kind, now = fp.get("kind"), Path(path)
        if kind == "file" and (not now.is_file() or hashlib.sha256(
                now.read_bytes()).hexdigest() != fp.get("digest")):
            found.append(f"{path} changed")
        elif kind in ("missing", "exists") and now.exists() != (kind == "exists"):
            found.append(f"{path} {'appeared' if now.exists() else 'vanished'}")
        elif kind == "listing" and not now.is_dir():
            found.append(f"{path} is no longer a directory")
        elif kind == "listing" and deps.listing_digest(path) != fp.get("digest"):
            found.append(f"{path} lists {sorted(p.name for p in now.iterdir())} (changed)")
    return "; ".join(found) or "nothing it read changed"


def network_files(store_path: Path, directory: Path) -> dict[str, str]:
    """network.json and run-vms of a network directory, the project's path normalised
    (run-vms names the project's ssh key)."""
    return {
        name: (store_path / name).read_text().replace(str(directory), "<project>")
        for name in ("network.json", "bin/run-vms")
    }


def compare_with_clean(project: Path, clean: Path, model: netgen.Model) -> list[str]:
    """Build a copy of the project from scratch; what differs from the incremental result."""
    if clean.exists():
        shutil.rmtree(clean)
    shutil.copytree(project, clean, ignore=LOCAL_STATE, symlinks=True)
    # The same ssh key pair, so that the evaluations' plans are the same.
    shutil.copytree(project / ".nixvms" / "ssh", clean / ".nixvms" / "ssh")
    run = nixvms("build", "--no-out-link", cwd=clean)
    if run.code != 0:
        return [f"the clean build failed:\n{run.stderr}"]
    problems = []
    everything = set(model.names)
    if run.tasks("evaluating") != everything or run.tasks("building") != everything:
        problems.append(f"the clean build did not evaluate and build every machine:\n{run.stderr}")
    result = project / "result"
    vms = {p.name: os.readlink(p) for p in (result / "vms").iterdir()}
    if set(vms) != everything:
        problems.append(f"result/vms has {sorted(vms)}, the network {sorted(everything)}")
    for name in model.names:
        for kind, key in (("eval", "drv_path"), ("build", "out_path")):
            mine = read_record(project, name, kind).get(key)
            theirs = read_record(clean, name, kind).get(key)
            if mine != theirs:
                problems.append(f"{name}: incremental {key} {mine}, clean {theirs}")
        if vms.get(name) != read_record(clean, name, "build").get("out_path"):
            problems.append(f"result/vms/{name} -> {vms.get(name)}, not the clean build's VM")
    mine_files = network_files(result, project)
    clean_files = network_files(Path(run.stdout.strip().splitlines()[-1]), clean)
    for name, text in mine_files.items():
        if text != clean_files[name]:
            problems.append(f"{name} differs from the clean build's:\n--- incremental\n{text}"
                            f"--- clean\n{clean_files[name]}")
    return problems


def test_incremental_builds_equal_clean_builds_and_do_only_the_work_needed(
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    project, clean = tmp_path / "project", tmp_path / "clean"
    project.mkdir()
    # A run id in every machine's configuration: this run's VMs are its own store
    # paths (really built the first time, and not kept alive by other tests' roots).
    model = netgen.initial(rng, run_id=uuid.uuid4().hex[:12])
    tree: netgen.Tree = {}
    links: frozenset[str] = frozenset()  # the listed entries that are symbolic links
    previous: netgen.Model | None = None
    expect = Expectation()
    history: list[str] = [f"initial network: {model}"]
    started = time.monotonic()

    for number in range(STEPS + 1):
        swap = False
        if number == 0:
            new_model, touched = model, None
        elif rng.random() < 0.15:
            describe, links, swap = listing_step(rng, model, links)
            history.append(f"step {number}: {describe}")
            new_model, touched = model, None
        else:
            step = netgen.random_step(rng, model, previous, tree)
            new_model, touched = step.model, step.touch
            # Half the edits of the listed entries come as a copy of the directory.
            swap = (observe(render(new_model, links), LISTED) != observe(tree, LISTED)
                    and rng.random() < 0.5)
            history.append(f"step {number}: {step.describe}"
                           + (" (by a copy of the directory, its mtime kept)" if swap else ""))
        new_tree = render(new_model, links)
        if touched is not None:
            touch(project / touched)
        sync(project, tree, new_tree, rng, swap_listing=swap)
        if new_model != model:
            previous, model = model, new_model
        tree = new_tree

        want_evals = expect.evaluations(model, tree)
        want_builds = expect.builds(model, tree)
        want_network = expect.makes_network(model, tree)
        built_before = {n: read_record(project, n, "build").get("drv_path") for n in model.names}
        evals_before = {n: read_record(project, n, "eval") for n in model.names}
        files_before = {n: recorded_files(project, r) for n, r in evals_before.items()}
        drvs_existed = {n: os.path.exists(str(r.get("drv_path"))) for n, r in evals_before.items()}

        run: Run = nixvms("build", cwd=project)

        def fail(problems: list[str], run: Run = run, number: int = number) -> str:
            return (
                f"NIXVMS_PROPERTY_SEED={SEED} step {number} of {STEPS}:\n  "
                + "\n  ".join(problems)
                + "\nhistory:\n  " + "\n  ".join(history)
                + f"\nnixvms build said:\n{run.stderr}"
            )

        assert run.code == 0, fail(["nixvms build failed"])
        drv_changed = {
            n for n in model.names
            if read_record(project, n, "eval").get("drv_path") != built_before[n]
        }
        problems = []
        if run.tasks("evaluating") != want_evals:
            problems.append(f"evaluated {sorted(run.tasks('evaluating'))}, "
                            f"expected {sorted(want_evals)}")
            for name in sorted(run.tasks("evaluating") ^ want_evals):
                problems.append(f"  {name} before this run: "
                                + diagnose(evals_before[name], files_before[name],
                                           drvs_existed[name]))
        if run.tasks("building") != want_builds:
            problems.append(f"built {sorted(run.tasks('building'))}, "
                            f"expected {sorted(want_builds)}")
        if drv_changed != want_builds:
            problems.append(f"the drvs of {sorted(drv_changed)} changed, "
                            f"the model says {sorted(want_builds)}")
        if run.made_network != want_network:
            problems.append(f"made the network: {run.made_network}, expected {want_network}")
        assert not problems, fail(problems)
        expect.ran(model, tree, want_evals)
        history[-1] += (f"  [evaluated {len(want_evals)}, built {len(want_builds)}"
                        f"{', network' if want_network else ''}]")

        problems = compare_with_clean(project, clean, model)
        assert not problems, fail(problems)

    elapsed = time.monotonic() - started
    print(f"{STEPS} steps (seed {SEED}) in {elapsed:.1f} s:", *history, sep="\n  ")


EDIT_TRIALS = int(os.environ.get("NIXVMS_EDIT_TRIALS", "6"))

EDITED_NETWORK = "{ a = ./a.nix; b = { }; }\n"


def module(version: int) -> str:
    return f'{{ ... }}: {{ environment.etc."version".text = "{version}"; }}\n'


def test_an_edit_while_a_build_runs_is_seen_by_the_next_build(tmp_path: Path) -> None:
    """An editor saves while nixvms evaluates, at seeded moments: the build after
    that always ends with what a clean build of the saved files makes."""
    rng = random.Random(SEED)
    project, clean = tmp_path / "project", tmp_path / "clean"
    project.mkdir()
    (project / "network.nix").write_text(EDITED_NETWORK)
    run_id = uuid.uuid4().hex[:12]
    (project / "b.nix").write_text(f'{{ ... }}: {{ environment.etc."run".text = "{run_id}"; }}\n')
    (project / "network.nix").write_text("{ a = ./a.nix; b = ./b.nix; }\n")
    (project / "a.nix").write_text(module(0))
    assert nixvms("build", cwd=project).code == 0
    clean_drvs: dict[str, str] = {}

    def clean_drv(content: str) -> str:
        if content not in clean_drvs:
            if clean.exists():
                shutil.rmtree(clean)
            shutil.copytree(project, clean, ignore=LOCAL_STATE)
            shutil.copytree(project / ".nixvms" / "ssh", clean / ".nixvms" / "ssh")
            (clean / "a.nix").write_text(content)
            assert nixvms("build", "--no-out-link", cwd=clean).code == 0
            clean_drvs[content] = read_record(clean, "a", "eval")["drv_path"]
        return clean_drvs[content]

    for trial in range(EDIT_TRIALS):
        (project / "a.nix").write_text(module(2 * trial + 1))
        delay = rng.uniform(0.0, 0.6)
        build = subprocess.Popen([str(BIN / "nixvms"), "build"], cwd=project,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        saved = module(2 * trial + 2)
        (project / "a.nix").write_text(saved)
        _, stderr = build.communicate(timeout=300)
        assert build.returncode == 0, stderr
        after = nixvms("build", cwd=project)
        assert after.code == 0, after.stderr
        assert read_record(project, "a", "eval")["drv_path"] == clean_drv(saved), (
            f"NIXVMS_PROPERTY_SEED={SEED} trial {trial}: a.nix saved {delay:.3f} s into a "
            f"build; the next build kept a stale evaluation.\nfirst build:\n{stderr}\n"
            f"next build:\n{after.stderr}")
        settled = nixvms("build", cwd=project)
        assert not settled.tasks("evaluating"), settled.stderr
