"""A generated multi-file network, as a pure model, for the property test.

A `Model` describes a network of machines: each machine's own file
(`machines/<m>.nix`) imports some shared modules (`shared/s<k>.nix`, as a
path or through `import`), may read a data file with `builtins.readFile`,
probe a file with `builtins.pathExists` and list a directory with
`builtins.readDir`; a shared module may read a data file itself; the network
file may apply a `defaults` module. A machine may instead be written inline
in network.nix, where it also reads the file's shared `let` binding.
`render` turns a model into the files of
a project directory. Everything a file read puts into a machine's
configuration ends up in an `environment.etc` text, so it changes the VM's
derivation; comments change files without changing any derivation.

From the model alone (never from nixvms), this module says what each
machine's evaluation reads (`reads`), what the reads observe in a given file
tree (`observe`), and what its derivation depends on (`config_key`): the
property test predicts from these which evaluations and builds must run.
`Step`s are random edits, each a function from a model to a model, except
touches, which change a file's times and nothing else.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

MACHINE_POOL = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf")
LISTING_POOL = ("apple", "banana", "cherry", "damson", "elder")
SHARED = 3
DATA = 3
PROBES = 2
MIN_MACHINES, MAX_MACHINES = 2, 5

NETWORK = "network.nix"
LISTING_DIR = "listing"

# How an evaluation reads a path: its content, whether it exists, its listing.
CONTENT, EXISTENCE, LISTING = "content", "existence", "listing"
Read = tuple[str, str]  # (path relative to the project, how)
Tree = dict[str, str]  # path relative to the project -> content


@dataclass(frozen=True)
class MachineSpec:
    name: str
    version: int = 0
    comments: int = 0
    # Shared modules imported: (k, True for `(import ../shared/sK.nix)`,
    # False for the path `../shared/sK.nix`), sorted by k.
    shared: tuple[tuple[int, bool], ...] = ()
    data: int | None = None  # readFile ../data/d<j>.txt
    probe: int | None = None  # pathExists ../probe/p<i>.flag
    lists: bool = False  # readDir ../listing
    # How network.nix names the machine: `import ./machines/<m>.nix` or the path.
    via_import: bool = True
    # Written inline in network.nix (reading its `let` binding) instead of its own file.
    inline: bool = False


@dataclass(frozen=True)
class SharedSpec:
    version: int = 0
    comments: int = 0
    data: int | None = None


@dataclass(frozen=True)
class Model:
    run_id: str
    machines: tuple[MachineSpec, ...]  # sorted by name
    shared: tuple[SharedSpec, ...]
    data: tuple[int, ...]  # each data file's version
    probes: tuple[int | None, ...]  # None: absent; else the content's version
    listing: tuple[tuple[str, int], ...]  # entries (name, content version), sorted
    network_comments: int = 0
    defaults: bool = False
    defaults_version: int = 0
    let_version: int = 0  # network.nix's shared `let` binding

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.machines)

    def machine(self, name: str) -> MachineSpec:
        return next(m for m in self.machines if m.name == name)

    def with_machine(self, spec: MachineSpec) -> Model:
        others = [m for m in self.machines if m.name != spec.name]
        return replace(self, machines=tuple(sorted([*others, spec], key=lambda m: m.name)))


# --- rendering ---------------------------------------------------------------------


def machine_path(name: str) -> str:
    return f"machines/{name}.nix"


def shared_path(k: int) -> str:
    return f"shared/s{k}.nix"


def data_path(j: int) -> str:
    return f"data/d{j}.txt"


def probe_path(i: int) -> str:
    return f"probe/p{i}.flag"


DEFAULTS_PATH = "shared/defaults.nix"


def _comments(what: str, count: int) -> str:
    return "".join(f"# {what}: comment {c}\n" for c in range(count))


def _machine_body(model: Model, spec: MachineSpec, root: str) -> list[str]:
    """The module's definitions; paths from `root` (".." in machines/, "." inline)."""
    imports = " ".join(
        f"(import {root}/{shared_path(k)})" if via_import else f"{root}/{shared_path(k)}"
        for k, via_import in spec.shared
    )
    own = f'"{spec.name} v{spec.version} {model.run_id}"' + (" + netShared" if spec.inline
                                                             else "")
    lines = [f"imports = [ {imports} ];", f'environment.etc."own".text = {own};']
    if spec.data is not None:
        lines.append(
            f'environment.etc."data".text = builtins.readFile {root}/{data_path(spec.data)};')
    if spec.probe is not None:
        lines.append(
            f'environment.etc."probe".text = if builtins.pathExists '
            f'{root}/{probe_path(spec.probe)} then "present" else "absent";')
    if spec.lists:
        lines.append(
            'environment.etc."listing".text ='
            f" toString (builtins.attrNames (builtins.readDir {root}/{LISTING_DIR}));")
    return lines


def render_machine(model: Model, spec: MachineSpec) -> str:
    body = "".join(f"  {line}\n" for line in _machine_body(model, spec, ".."))
    return (f"# machine {spec.name}\n" + _comments(spec.name, spec.comments)
            + "{ ... }: {\n" + body + "}\n")


def render_shared(k: int, spec: SharedSpec) -> str:
    read = f" + builtins.readFile ../{data_path(spec.data)}" if spec.data is not None else ""
    return (
        f"# shared module {k}\n"
        + _comments(f"s{k}", spec.comments)
        + "{ ... }: {\n"
        + f'  environment.etc."shared-{k}".text = "shared {k} v{spec.version}\\n"{read};\n'
        + "}\n"
    )


def render_network(model: Model) -> str:
    lines = ["# the property test's network\n", _comments("network", model.network_comments),
             f'let netShared = " network v{model.let_version}"; in\n', "{\n"]
    if model.defaults:
        lines.append(f"  defaults = ./{DEFAULTS_PATH};\n")
    for spec in model.machines:
        if spec.inline:  # one line, as the view of network.nix below expects
            lines.append(_comments(spec.name, spec.comments))
            body = " ".join(_machine_body(model, spec, "."))
            lines.append(f"  {spec.name} = {{ ... }}: {{ {body} }};\n")
            continue
        path = f"./{machine_path(spec.name)}"
        ref = f"import {path}" if spec.via_import else path
        lines.append(f"  {spec.name} = {ref};\n")
    lines.append("}\n")
    return "".join(lines)


def render(model: Model) -> Tree:
    """Every file of the project directory (the listing directory is never empty)."""
    tree: Tree = {NETWORK: render_network(model)}
    for spec in model.machines:
        if not spec.inline:
            tree[machine_path(spec.name)] = render_machine(model, spec)
    for k, shared in enumerate(model.shared):
        tree[shared_path(k)] = render_shared(k, shared)
    tree[DEFAULTS_PATH] = (
        "{ ... }: {\n"
        f'  environment.etc."defaults".text = "defaults v{model.defaults_version}";\n'
        "}\n"
    )
    for j, version in enumerate(model.data):
        tree[data_path(j)] = f"data {j} v{version}\n"
    for i, probe in enumerate(model.probes):
        if probe is not None:
            tree[probe_path(i)] = f"probe {i} v{probe}\n"
    for name, version in model.listing:
        tree[f"{LISTING_DIR}/{name}"] = f"{name} v{version}\n"
    return tree


# --- what an evaluation reads, and what a derivation depends on ---------------------


def reads(model: Model, name: str) -> set[Read]:
    """What machine `name`'s evaluation reads, by the model."""
    spec = model.machine(name)
    # Of network.nix, only its parsed form with the other machines' expressions
    # left out (nixvms/netparse.py): comments and other machines' lines do not count.
    found: set[Read] = {(NETWORK, VIEW + name)}
    if not spec.inline:
        found.add((machine_path(name), CONTENT))
    modules = [(shared_path(k), model.shared[k]) for k, _ in spec.shared]
    for path, shared in modules:
        found.add((path, CONTENT))
        if shared.data is not None:
            found.add((data_path(shared.data), CONTENT))
    if model.defaults:
        found.add((DEFAULTS_PATH, CONTENT))
    if spec.data is not None:
        found.add((data_path(spec.data), CONTENT))
    if spec.probe is not None:
        found.add((probe_path(spec.probe), EXISTENCE))
    if spec.lists:
        found.add((LISTING_DIR, LISTING))
    return found


VIEW = "view:"


def network_view(text: str, name: str) -> tuple[str, ...]:
    """What machine `name` sees of network.nix: its lines without comments, every
    other machine's expression replaced by a hole (attribute names are kept)."""
    view = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        attribute, equals, _ = line.strip().partition(" = ")
        if equals and attribute not in (name, "defaults", "let netShared"):
            line = f"{attribute} = <machine>;"
        view.append(line.strip())
    return tuple(view)


def observe(tree: Tree, read: Read) -> object:
    """What a read sees in a file tree."""
    path, how = read
    if how.startswith(VIEW):
        return network_view(tree.get(path, ""), how[len(VIEW):])
    if how == CONTENT:
        return tree.get(path)
    if how == EXISTENCE:
        return path in tree
    prefix = path + "/"
    return tuple(sorted(p[len(prefix):] for p in tree if p.startswith(prefix)))


def config_key(model: Model, name: str) -> tuple[object, ...]:
    """Everything machine `name`'s derivation depends on (not comments, not how it is named)."""
    spec = model.machine(name)
    tree = render(model)
    def read_by(shared: SharedSpec) -> str | None:
        return tree[data_path(shared.data)] if shared.data is not None else None

    shared = tuple((k, model.shared[k].version, read_by(model.shared[k])) for k, _ in spec.shared)
    return (
        model.names,  # the address plan: numbers and /etc/hosts
        spec.name,
        spec.version,
        model.let_version if spec.inline else None,
        shared,
        model.defaults_version if model.defaults else None,
        tree[data_path(spec.data)] if spec.data is not None else None,
        observe(tree, (probe_path(spec.probe), EXISTENCE)) if spec.probe is not None else None,
        observe(tree, (LISTING_DIR, LISTING)) if spec.lists else None,
    )


# --- generation and random edits ----------------------------------------------------


def random_machine(rng: random.Random, name: str) -> MachineSpec:
    ks = sorted(rng.sample(range(SHARED), rng.randint(0, 2)))
    return MachineSpec(
        name=name,
        shared=tuple((k, rng.random() < 0.5) for k in ks),
        data=rng.choice([None, *range(DATA)]),
        probe=rng.choice([None, *range(PROBES)]),
        lists=rng.random() < 0.3,
        via_import=rng.random() < 0.5,
        inline=rng.random() < 0.3,
    )


def initial(rng: random.Random, run_id: str, machines: int = 3) -> Model:
    names = sorted(rng.sample(MACHINE_POOL, machines))
    return Model(
        run_id=run_id,
        machines=tuple(random_machine(rng, n) for n in names),
        shared=tuple(SharedSpec(data=rng.choice([None, *range(DATA)])) for _ in range(SHARED)),
        data=(0,) * DATA,
        probes=tuple(rng.choice([None, 0]) for _ in range(PROBES)),
        listing=tuple((n, 0) for n in sorted(rng.sample(LISTING_POOL, 2))),
        defaults=rng.random() < 0.3,
    )


@dataclass(frozen=True)
class Step:
    """One random edit: a new model, or a touch of `touch` (a path) with the model unchanged."""

    kind: str
    describe: str
    model: Model
    touch: str | None = None
    revert: bool = False


def _bump(values: tuple[int, ...], index: int) -> tuple[int, ...]:
    return tuple(v + 1 if i == index else v for i, v in enumerate(values))


def _rewire(rng: random.Random, spec: MachineSpec) -> tuple[MachineSpec, str]:
    """Change what a machine reads, keeping its own values."""
    while True:
        what = rng.choice(["shared", "data", "probe", "lists"])
        if what == "shared":
            k = rng.randrange(SHARED)
            current = dict(spec.shared)
            if k in current:
                del current[k]
            else:
                current[k] = rng.random() < 0.5
            new = replace(spec, shared=tuple(sorted(current.items())))
        elif what == "data":
            new = replace(spec, data=rng.choice([None, *range(DATA)]))
        elif what == "probe":
            new = replace(spec, probe=rng.choice([None, *range(PROBES)]))
        else:
            new = replace(spec, lists=not spec.lists)
        if new != spec:
            return new, f"{what}: {_reads_of(spec, what)} -> {_reads_of(new, what)}"


def _reads_of(spec: MachineSpec, what: str) -> object:
    return getattr(spec, what)


def random_step(rng: random.Random, model: Model, previous: Model | None, tree: Tree) -> Step:
    """A random edit of `model` (`previous`: the model before the last step, for reverts)."""
    names = list(model.names)
    unused = [n for n in MACHINE_POOL if n not in names]
    choices = [
        "edit_machine", "edit_machine", "rewire_machine", "comment_machine",
        "edit_shared", "edit_shared", "comment_shared", "rewire_shared",
        "edit_data", "edit_data", "toggle_probe", "edit_probe",
        "listing_add", "listing_remove", "listing_edit",
        "restyle_machine", "toggle_defaults", "edit_defaults", "comment_network",
        "inline_machine", "edit_let",
        "touch", "touch",
    ]
    if len(names) < MAX_MACHINES and unused:
        choices.append("add_machine")
    if len(names) > MIN_MACHINES:
        choices.append("remove_machine")
    if previous is not None and previous != model:
        choices += ["revert", "revert"]
    kind = rng.choice(choices)
    name = rng.choice(names)
    spec = model.machine(name)
    k, j, i = rng.randrange(SHARED), rng.randrange(DATA), rng.randrange(PROBES)

    def step(describe: str, new: Model, *, touch: str | None = None) -> Step:
        return Step(kind, describe, new, touch=touch, revert=kind == "revert")

    if kind == "edit_machine":
        return step(f"edit {machine_path(name)} (own value)",
                    model.with_machine(replace(spec, version=spec.version + 1)))
    if kind == "rewire_machine":
        new_spec, what = _rewire(rng, spec)
        return step(f"edit {machine_path(name)} ({what})", model.with_machine(new_spec))
    if kind == "comment_machine":
        return step(f"add a comment to {machine_path(name)}",
                    model.with_machine(replace(spec, comments=spec.comments + 1)))
    if kind in ("edit_shared", "comment_shared", "rewire_shared"):
        shared = model.shared[k]
        if kind == "edit_shared":
            changed, what = replace(shared, version=shared.version + 1), "value"
        elif kind == "comment_shared":
            changed, what = replace(shared, comments=shared.comments + 1), "a comment"
        else:
            data = rng.choice([d for d in [None, *range(DATA)] if d != shared.data])
            changed, what = replace(shared, data=data), f"reads data {shared.data} -> {data}"
        new_shared = tuple(changed if n == k else s for n, s in enumerate(model.shared))
        users = [m.name for m in model.machines if k in dict(m.shared)]
        return step(f"edit {shared_path(k)} ({what}; used by {users})",
                    replace(model, shared=new_shared))
    if kind == "edit_data":
        return step(f"edit {data_path(j)}", replace(model, data=_bump(model.data, j)))
    if kind == "toggle_probe":
        probes = tuple((None if p is not None else 0) if n == i else p
                       for n, p in enumerate(model.probes))
        verb = "delete" if model.probes[i] is not None else "create"
        return step(f"{verb} {probe_path(i)}", replace(model, probes=probes))
    if kind == "edit_probe":
        present = [n for n, p in enumerate(model.probes) if p is not None]
        if not present:
            return random_step(rng, model, previous, tree)
        i = rng.choice(present)
        probes = tuple(p + 1 if n == i and p is not None else p for n, p in enumerate(model.probes))
        return step(f"edit the content of the probed {probe_path(i)}",
                    replace(model, probes=probes))
    if kind in ("listing_add", "listing_remove", "listing_edit"):
        entries = dict(model.listing)
        if kind == "listing_add":
            missing = [n for n in LISTING_POOL if n not in entries]
            if not missing:
                return random_step(rng, model, previous, tree)
            entry = rng.choice(missing)
            entries[entry] = 0
            describe = f"add {LISTING_DIR}/{entry}"
        elif kind == "listing_remove":
            if len(entries) < 2:
                return random_step(rng, model, previous, tree)
            entry = rng.choice(sorted(entries))
            del entries[entry]
            describe = f"delete {LISTING_DIR}/{entry}"
        else:
            entry = rng.choice(sorted(entries))
            entries[entry] += 1
            describe = f"edit the content of {LISTING_DIR}/{entry}"
        return step(describe, replace(model, listing=tuple(sorted(entries.items()))))
    if kind == "inline_machine":
        where = "its own file" if spec.inline else "network.nix"
        return step(f"move machine {name} into {where}",
                    model.with_machine(replace(spec, inline=not spec.inline)))
    if kind == "edit_let":
        users = [m.name for m in model.machines if m.inline]
        return step(f"edit network.nix's shared let binding (read by {users})",
                    replace(model, let_version=model.let_version + 1))
    if kind == "restyle_machine":
        style = "a path" if spec.via_import else "an import"
        return step(f"network.nix names {name} by {style}",
                    model.with_machine(replace(spec, via_import=not spec.via_import)))
    if kind == "toggle_defaults":
        verb = "drop" if model.defaults else "add"
        return step(f"{verb} network.nix's defaults module",
                    replace(model, defaults=not model.defaults))
    if kind == "edit_defaults":
        return step(f"edit {DEFAULTS_PATH} (applied: {model.defaults})",
                    replace(model, defaults_version=model.defaults_version + 1))
    if kind == "comment_network":
        return step("add a comment to network.nix",
                    replace(model, network_comments=model.network_comments + 1))
    if kind == "add_machine":
        new_name = rng.choice(unused)
        new = random_machine(rng, new_name)
        return step(f"add machine {new_name} ({new})", model.with_machine(new))
    if kind == "remove_machine":
        kept = tuple(m for m in model.machines if m.name != name)
        return step(f"remove machine {name}", replace(model, machines=kept))
    if kind == "revert":
        assert previous is not None
        return step("revert the previous step", previous)
    # touch: a file (or the listed directory) gets new times, same content.
    path = rng.choice(sorted([*tree, LISTING_DIR]))
    return step(f"touch {path}", model, touch=path)
