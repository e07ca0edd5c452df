"""The only module that runs Nix.

Every Nix command goes through `run_nix`, which logs the command line at -v
(logger "nixvms.nix", level INFO) and raises `NixError` carrying Nix's own
message when the command fails. The functions below it are the operations the
rest of nixvms needs, with typed results.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from nixvms.errors import NixvmsError
from nixvms.supervisor import typedjson
from nixvms.supervisor.facts import MachineFacts
from nixvms.supervisor.placement import VmHost

log = logging.getLogger("nixvms.nix")

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LOG_PREFIX = "@nix "


class NixError(NixvmsError):
    """A Nix command failed; `message` is Nix's own error text."""

    def __init__(self, message: str, command: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.command = tuple(command)


@dataclass(frozen=True)
class NixSettings:
    """What the user passes to every Nix call (nix-build's -I, --option, --show-trace)."""

    options: tuple[tuple[str, str], ...] = ()
    include: tuple[str, ...] = ()
    show_trace: bool = False
    # An --option whose name Nix does not know: a warning (True) or an error.
    unknown_options_warn_only: bool = False

    def flags(self, program: str) -> list[str]:
        flags: list[str] = []
        if program not in ("nix-store", "nix-copy-closure"):  # an evaluator's flag
            for path in self.include:
                flags += ["-I", path]
            manifest = tinyos_manifest()
            if manifest.exists():  # where tinyos's Debian files are (`nixvms setup`)
                flags += ["-I", f"{TINYOS_MANIFEST_PREFIX}={manifest}"]
        for name, value in self.options:
            flags += ["--option", name, value]
        if self.show_trace:
            flags.append("--show-trace")
        return flags


@dataclass(frozen=True)
class LogMessage:
    level: int
    text: str


@dataclass(frozen=True)
class NixOutput:
    stdout: str
    messages: tuple[LogMessage, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())
    peak_rss_kb: int = 0


def glue_path(name: str) -> str:
    """Path of one of nixvms's .nix files (nixvms/nix/<name>)."""
    return str(resources.files("nixvms") / "nix" / name)


def tinyos_path() -> str:
    return str(resources.files("nixvms") / "tinyos")


# tinyos finds its manifest of Debian files as <nixvms-tinyos-debs>
# (tinyos/pkgs/debian.nix): machine-specific data lives in the user's data
# directory, never in the package.
TINYOS_MANIFEST_PREFIX = "nixvms-tinyos-debs"


def data_dir() -> Path:
    """nixvms's data directory: $NIXVMS_DATA_DIR, else $XDG_DATA_HOME/nixvms."""
    if os.environ.get("NIXVMS_DATA_DIR"):
        return Path(os.environ["NIXVMS_DATA_DIR"])
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                          "share")
    return Path(xdg) / "nixvms"


def tinyos_manifest() -> Path:
    """The manifest `nixvms setup` writes: which Debian files tinyos is built from."""
    return data_dir() / "tinyos" / "debs.nix"


def run_nix(
    program: str,
    args: Sequence[str],
    settings: NixSettings,
    *,
    json_log: bool = False,
    on_line: Callable[[str], None] | None = None,
    env: Mapping[str, str] | None = None,
) -> NixOutput:
    """Run one Nix command; return its stdout (and its parsed log with json_log).

    With json_log the command runs at -vv with --log-format internal-json, so
    that its log names the files the evaluation imported and copied. env:
    variables added to this process's environment (NIX_SSHOPTS, say).
    """
    command = [program, *settings.flags(program)]
    if json_log:
        command += ["-vv", "--log-format", "internal-json"]
    command += list(args)
    log.info("$ %s", shlex.join(command))
    try:
        proc = _spawn(command, on_line, env)
    except FileNotFoundError as error:
        raise NixError(f"{program} not found; is Nix installed? (run scripts/setup)") from error
    messages = _parse_log(proc.stderr) if json_log else ()
    warnings = _warnings(proc.stderr, messages)
    _check_unknown_options(warnings, settings, command)
    if proc.returncode != 0:
        raise NixError(_error_text(proc.stderr, messages), command)
    for warning in warnings:
        _warn_once(warning)
    return NixOutput(proc.stdout, messages, warnings, proc.peak_rss_kb)


@dataclass(frozen=True)
class Finished:
    """A finished Nix process: its exit code, output, and peak memory (KiB)."""

    returncode: int
    stdout: str
    stderr: str
    peak_rss_kb: int


def _spawn(command: Sequence[str], on_line: Callable[[str], None] | None = None,
           env: Mapping[str, str] | None = None) -> Finished:
    """Run a command to its end; the one place a Nix process starts.

    Reaped with wait4, so that its peak memory is known (the evaluations'
    memory bound is made of what earlier evaluations took).
    """
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            env={**os.environ, **env} if env is not None else None)
    assert proc.stdout is not None and proc.stderr is not None
    chunks: dict[str, bytes] = {}

    def drain(name: str, stream: Any) -> None:
        if name == "stderr" and on_line is not None:
            lines = []
            for raw in stream:
                lines.append(raw)
                on_line(raw.decode(errors="replace").rstrip("\n"))
            chunks[name] = b"".join(lines)
        else:
            chunks[name] = stream.read()

    readers = [threading.Thread(target=drain, args=(name, stream), daemon=True)
               for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr))]
    for reader in readers:
        reader.start()
    try:
        for reader in readers:
            reader.join()
        _pid, status, usage = os.wait4(proc.pid, 0)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    proc.stderr.close()
    return Finished(proc.returncode, chunks["stdout"].decode(errors="surrogateescape"),
                    chunks["stderr"].decode(errors="replace"), usage.ru_maxrss)


# What Nix says when SIGINT, SIGTERM or SIGHUP stopped it.
NIX_INTERRUPTED = "interrupted by the user"

_UNKNOWN_SETTING = re.compile(r"^unknown setting '(.+)'$")
_warned: set[str] = set()


def _warn_once(text: str) -> None:
    """Show one of Nix's warnings once per process (at WARNING), not once per Nix call."""
    if text not in _warned:
        _warned.add(text)
        log.warning("warning: %s", text)


def _warnings(stderr: str, messages: Sequence[LogMessage]) -> tuple[str, ...]:
    """Nix's warnings ("warning: ..."), plain or in the JSON log, without the prefix."""
    found: list[str] = []
    lines = [line for line in stderr.splitlines() if not line.startswith(_LOG_PREFIX)]
    lines += [m.text for m in messages if m.level <= 1]
    for line in lines:
        # NixOS's warnings (lib.warn, config.warnings) come as traces.
        plain = _ANSI.sub("", line).strip().removeprefix("trace: ")
        if plain.startswith("warning:"):
            text = plain.removeprefix("warning:").strip()
            unreachable = _UNREACHABLE_CACHE.search(text)
            if unreachable:
                # One line for Nix's many retries, with the setting that stops them.
                text = (f"Nix cannot reach the binary cache {unreachable.group(1)} and "
                        "waits for it on every build; --option substituters '' (or "
                        "substituters = in nix.conf) turns it off")
            if text not in found:
                found.append(text)
    return tuple(found)


_UNREACHABLE_CACHE = re.compile(r"unable to download '(https?://[^/']+)/nix-cache-info'")


def _check_unknown_options(
    warnings: Sequence[str], settings: NixSettings, command: Sequence[str]
) -> None:
    """An --option Nix does not know is an error (nix-build only warns and goes on)."""
    given = {name for name, _ in settings.options}
    for text in warnings:
        match = _UNKNOWN_SETTING.match(text)
        if match and match.group(1) in given and not settings.unknown_options_warn_only:
            raise NixError(
                f"Nix does not know the setting '{match.group(1)}' (--option "
                f"{match.group(1)} ...); check its name, or pass --option-warn-only "
                "to let Nix ignore it with a warning", command)


def _parse_log(stderr: str) -> tuple[LogMessage, ...]:
    messages = []
    for line in stderr.splitlines():
        if not line.startswith(_LOG_PREFIX):
            continue
        try:
            entry = json.loads(line[len(_LOG_PREFIX) :])
        except json.JSONDecodeError:
            continue
        if entry.get("action") == "msg":
            messages.append(LogMessage(int(entry.get("level", 0)), str(entry.get("msg", ""))))
    return tuple(messages)


def _error_text(stderr: str, messages: Sequence[LogMessage]) -> str:
    """Nix's error message, without colours and without the leading 'error: '.

    For a failed build, the builder's last output lines follow the message:
    nix-store prints the build log before its error, not inside it.
    """
    errors = [
        m.text for m in messages if m.level == 0 and _ANSI.sub("", m.text).startswith("error:")
    ]
    build_log: list[str] = []
    if errors:
        text = errors[-1]
    else:
        plain = [line for line in stderr.splitlines() if not line.startswith(_LOG_PREFIX)]
        start = next((i for i, line in enumerate(plain) if line.startswith("error:")), None)
        if start is None:
            text = "\n".join(plain)
        else:
            text = "\n".join(plain[start:])
            build_log = [line for line in plain[:start] if not _is_nix_chatter(line)][-20:]
    text = _ANSI.sub("", text).strip()
    text = text.removeprefix("error:").strip() or "Nix failed without a message"
    if build_log:
        text += "\nlast lines of the build log:\n" + "\n".join(build_log)
    return text


# What nix-store says around a build, not the builder's own output (a log
# line that merely starts with "this " is the builder's), and the tracer's
# lines (tracer.nix).
_NIX_CHATTER = re.compile(
    r"^(these \d+ (derivations|paths) will be |this (derivation|path) will be |"
    r"building '|copying path '|  /nix/store/|warning:|trace: nixvms-dep )"
)


def _is_nix_chatter(line: str) -> bool:
    return _NIX_CHATTER.match(line) is not None


# --- operations ---------------------------------------------------------------


def find_nixpkgs(settings: NixSettings) -> str | None:
    """Where <nixpkgs> resolves (-I, NIX_PATH), or None when it does not.

    Nix reads the search path in this order: -I entries, then NIX_PATH;
    `search_path_candidates` names the places it may look."""
    try:
        out = run_nix("nix-instantiate", ["--find-file", "nixpkgs"], settings)
    except NixError:
        return None
    path = out.stdout.strip()
    return path or None


def search_path_candidates(settings: NixSettings) -> list[str] | None:
    """The paths where Nix may find <nixpkgs>, in its order; None if one is a URL.

    Whether each exists decides the lookup, so a cached lookup stays right
    while their existence does not change.
    """
    entries = list(settings.include)
    nix_path = os.environ.get("NIX_PATH")
    if nix_path is None:
        # Nix 2.8's default search path, for a user with no NIX_PATH.
        home = os.environ.get("HOME", "/")
        user = os.environ.get("USER", "root")
        entries += [f"{home}/.nix-defexpr/channels",
                    f"nixpkgs=/nix/var/nix/profiles/per-user/{user}/channels/nixpkgs",
                    f"/nix/var/nix/profiles/per-user/{user}/channels"]
    elif "://" in nix_path:
        return None  # Nix's own splitting keeps URLs whole; a URL is never cached
    else:
        entries += [e for e in nix_path.split(":") if e]
    candidates = []
    for entry in entries:
        prefix, _, path = entry.partition("=") if "=" in entry else ("", "", entry)
        if "://" in path:
            return None
        if prefix == "nixpkgs":
            candidates.append(path)
        elif prefix == "":
            candidates.append(os.path.join(path, "nixpkgs"))
    return candidates


def check_include_paths(settings: NixSettings) -> None:
    """nix-build ignores a missing -I path silently; nixvms names it instead.

    So for NIX_PATH's nixpkgs entry: where the first entry that would give
    <nixpkgs> names a path that does not exist, Nix would skip it (and
    nixvms, finding no nixpkgs, would build with tinyos): an error instead.
    """
    for entry in settings.include:
        path = entry.split("=", 1)[1] if "=" in entry else entry
        if "://" in path:
            continue
        if not Path(path).exists():
            raise NixError(f"the search path entry -I {entry} does not exist")
    if any(_gives_nixpkgs(entry) for entry in settings.include):
        return
    nix_path = os.environ.get("NIX_PATH")
    if not nix_path or "://" in nix_path:
        return  # Nix's default search path, or URLs (Nix fetches them; it says if it fails)
    for entry in (e for e in nix_path.split(":") if e):
        if _gives_nixpkgs(entry):
            return
        prefix, _, path = entry.partition("=")
        if prefix == "nixpkgs":
            raise NixError(f"NIX_PATH's entry nixpkgs={path} does not exist; correct or remove "
                           "it (nixvms uses its bundled tinyos only where no nixpkgs is named)")


def _gives_nixpkgs(entry: str) -> bool:
    """Whether a search path entry resolves <nixpkgs> (`nixpkgs=P` or `D` with D/nixpkgs)."""
    if "=" in entry:
        prefix, _, path = entry.partition("=")
        return prefix == "nixpkgs" and os.path.exists(path)
    return os.path.exists(os.path.join(entry, "nixpkgs"))


def machine_names(
    network_file: str, settings: NixSettings, nixpkgs: str | None = None
) -> tuple[list[str], tuple[LogMessage, ...]]:
    """The network's machine names, and the log that says which files were read.

    nixpkgs: the package set a NixOS test file's `pkgs` and `lib` come from."""
    # Read-write: checking that each machine is a module may import a file
    # from a source the network copies to the store (`import "${./dir}/a.nix"`).
    extra = ["--argstr", "nixpkgs", nixpkgs] if nixpkgs is not None else []
    out = run_nix(
        "nix-instantiate",
        ["--eval", "--strict", "--json", "--read-write-mode", glue_path("machines.nix"),
         "--argstr", "networkFile", network_file, *extra],
        settings,
        json_log=True,
    )
    names = json.loads(out.stdout)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise NixError("the machine list is not a list of names")
    return names, out.messages


def evaluate_test(test_file: str, nixpkgs: str, settings: NixSettings,
                  plan_json: str | None = None,
                  host_python: Sequence[str] | None = None) -> dict[str, Any]:
    """What test-info.nix says of a NixOS test file: its name, options and
    testScript (a function of `nodes` only with plan_json: the plan its
    machines were built with); extraPythonPackages's names with host_python."""
    args = ["--argstr", "testFile", test_file, "--argstr", "nixpkgs", nixpkgs]
    if plan_json is not None:
        args += ["--argstr", "planJSON", plan_json]
    if host_python is not None:
        args += ["--argstr", "hostPythonJSON", json.dumps(list(host_python))]
    out = run_nix("nix-instantiate", ["--eval", "--strict", "--json", "--read-write-mode",
                                      glue_path("test-info.nix"), *args], settings,
                  json_log=True)
    info = json.loads(out.stdout)
    if not isinstance(info, dict):
        raise NixError(f"the NixOS test {test_file} gave no description of itself")
    return info


_parsed: dict[tuple[str, str], str] = {}


def parse_file(path: str, settings: NixSettings, stamp: str = "") -> str:
    """The file's parsed form (`nix-instantiate --parse`): no comments, no layout.

    With a stamp (deps.stamp_of), a file parsed before at that stamp is not parsed again.
    """
    key = (path, stamp)
    if not stamp or key not in _parsed:
        _parsed[key] = run_nix("nix-instantiate", ["--parse", path], settings).stdout
    return _parsed[key]


@dataclass(frozen=True)
class MachineEvaluation:
    """One machine's evaluation: what the machine is, its .drv, and what Nix logged."""

    facts: MachineFacts  # vm: the .drv's output path, built or not
    drv_path: str
    messages: tuple[LogMessage, ...]
    peak_rss_kb: int


_MACHINE_RECORD = "trace: nixvms-machine "


def evaluate_machine(
    network_file: str,
    name: str,
    nixpkgs: str,
    plan_json: str,
    settings: NixSettings,
    drv_root: Path,
) -> MachineEvaluation:
    """Instantiate one machine's VM and read what nixvms needs of it.

    The .drv becomes an indirect GC root (`drv_root`) before nix-instantiate
    exits, so a garbage collection before the machine's build cannot take it.
    """
    drv_root.parent.mkdir(parents=True, exist_ok=True)
    out = run_nix(
        "nix-instantiate",
        [
            glue_path("machine-vm.nix"),
            "--add-root", str(drv_root), "--indirect",
            "--argstr", "networkFile", network_file,
            "--argstr", "nixpkgs", nixpkgs,
            "--argstr", "name", name,
            "--argstr", "planJSON", plan_json,
        ],
        settings,
        json_log=True,
    )
    records = [m.text for m in out.messages if m.text.startswith(_MACHINE_RECORD)]
    if not records:
        raise NixError(f"the evaluation of machine '{name}' said nothing of it")
    # machine.nix writes the facts in MachineFacts's own JSON form.
    data = json.loads(records[-1][len(_MACHINE_RECORD):])
    facts = typedjson.from_data(MachineFacts, data.get("facts"))
    if facts is None or not isinstance(data.get("drvPath"), str):
        raise NixError(f"the evaluation of machine '{name}' gave an incomplete record of it "
                       "(nixvms's glue and Python disagree: reinstall nixvms)")
    return MachineEvaluation(facts=facts, drv_path=data["drvPath"], messages=out.messages,
                             peak_rss_kb=out.peak_rss_kb)


def realise(drv_path: str, gc_root: Path, settings: NixSettings,
            on_line: Callable[[str], None] | None = None) -> str:
    """Build a derivation; `gc_root` becomes an (indirect) GC root of its output.

    on_line: called with each line of Nix's log as it comes (the build's progress).
    """
    gc_root.parent.mkdir(parents=True, exist_ok=True)
    run_nix("nix-store", ["--realise", drv_path, "--add-root", str(gc_root), "--indirect"],
            settings, on_line=on_line)
    # With --add-root nix prints the root, not the output; the root points at it.
    return os.readlink(gc_root)


def add_root(store_path: str, link: Path, settings: NixSettings) -> None:
    """Point `link` at a valid store path and register it as a GC root.

    Nix replaces the link atomically (a temporary link renamed over it), so
    a reader never sees it missing or half made.
    """
    run_nix("nix-store", ["--realise", store_path, "--add-root", str(link), "--indirect"],
            settings)


def add_roots(store_paths: Sequence[str], link: Path, settings: NixSettings) -> list[Path]:
    """Make every (valid) store path an indirect GC root, as `nix-build -o` does,
    in one call; return the links Nix made (`link`, `link-2`, `link-3`, ...)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    out = run_nix("nix-store", ["--realise", *store_paths, "--add-root", str(link), "--indirect"],
                  settings)
    # With --add-root nix prints the roots, not the store paths.
    return [Path(line) for line in out.stdout.splitlines() if line]


def invalid_store_paths(store_paths: Sequence[str], settings: NixSettings) -> list[str]:
    """The paths among store_paths that are not valid in the store (never made,
    or collected), from one call that substitutes nothing."""
    if not store_paths:
        return []
    out = run_nix("nix-store", ["--check-validity", "--print-invalid", *store_paths], settings)
    return out.stdout.split()


def add_fixed(files: Sequence[Path], settings: NixSettings) -> list[str]:
    """Add files to the store as nixpkgs' requireFile expects them (flat,
    SHA-256); return their store paths, in order."""
    out = run_nix("nix-store", ["--add-fixed", "sha256", *map(str, files)], settings)
    return out.stdout.split()


def instantiate_network_dir(
    nixpkgs: str,
    files_dir: Path,
    vms: Mapping[str, str],
    settings: NixSettings,
    drv_root: Path,
) -> str:
    """Instantiate the network directory's derivation under a GC root; return its .drv path."""
    drv_root.parent.mkdir(parents=True, exist_ok=True)
    run_nix(
        "nix-instantiate",
        [
            glue_path("network-dir.nix"),
            "--add-root", str(drv_root), "--indirect",
            "--argstr", "nixpkgs", nixpkgs,
            "--argstr", "files", str(files_dir),
            "--argstr", "vmsJSON", json.dumps(dict(vms), sort_keys=True),
        ],
        settings,
    )
    # With --add-root nix prints the root, not the .drv; the root points at it.
    return os.readlink(drv_root)


def copy_closure_to(host: VmHost, paths: Sequence[str], settings: NixSettings) -> None:
    """Copy store paths and everything they need to a VM host (`nix-copy-closure
    --to`, over the user's ssh with the host's options in NIX_SSHOPTS); paths
    the host has already are not sent again. --gzip: a VM's closure is
    mostly binaries that compress well, and a host is often a network away."""
    run_nix("nix-copy-closure", ["--to", host.ssh, "--gzip", *paths], settings,
            env={"NIX_SSHOPTS": host.nix_sshopts()})


def references(path: str, settings: NixSettings) -> list[str]:
    """The store paths `path` refers to directly (nix-store --query --references)."""
    out = run_nix("nix-store", ["--query", "--references", path], settings)
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def host_share(network: str, own_vms: Sequence[str], every_vm: Sequence[str],
               settings: NixSettings) -> list[str]:
    """What a VM host needs of a network directory's closure: its own machines'
    VMs and what the directory refers to that is no VM (python3), not the
    other hosts' VMs; the directory's own files travel separately (its copy
    would bring every VM's closure with it)."""
    others = set(every_vm) | {network}
    return [*own_vms, *(r for r in references(network, settings) if r not in others)]


def nix_store_dir() -> str:
    return os.environ.get("NIX_STORE_DIR", "/nix/store")
