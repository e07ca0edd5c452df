"""Checking a test script before any machine boots, as NixOS lints testScript,
and the names a script has (its machines by NixOS's rule, the driver's).

NixOS runs pyflakes on the script with the driver's names as builtins (unless
skipLint): a typo fails the test in a second, not after a boot. Here, with
pyflakes importable (it is not a dependency), the same; without it, a check
of names that are not defined anywhere in the script nor given by the
driver (a name bound anywhere counts as defined: scopes are not followed).
A syntax error is always an error.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import MachineError

# What a script has in scope besides its machines and vlan<N> (NixOS's
# test_symbols, and nixvms's Machine, MachineError, RequestedAssertionFailed).
SCRIPT_NAMES = ("driver", "machines", "machines_qemu", "machines_nspawn", "vlans", "start_all",
                "join_all", "subtest", "retry", "log", "os", "t", "create_machine",
                "test_script", "run_tests", "serial_stdout_on", "serial_stdout_off",
                "polling_condition", "Machine", "BaseMachine", "RequestedAssertionFailed",
                "MachineError", "snapshot_save", "snapshot_restore", "partition", "heal")


def script_namespace(machines: Sequence[str]) -> dict[str, Any]:
    """The names a script of a network with these machines has (values
    unset): for checking a script before the machines exist."""
    names: dict[str, Any] = dict.fromkeys(SCRIPT_NAMES)
    names.update(dict.fromkeys(python_name(m) for m in machines))
    if len(machines) == 1:
        names["machine"] = None
    return names


def python_name(name: str) -> str:
    """A machine's name as the script's Python name, by NixOS's rule
    (pythonize_name): a first character that cannot start a name, and every
    other character that cannot be in one, becomes _ (1db -> _db, a-b -> a_b)."""
    return re.sub(r"^[^A-Za-z_]|[^A-Za-z0-9_]", "_", name)


def check_source(source: str, filename: str, machines: Iterable[str],
                 namespace: Mapping[str, Any], lint: bool = True) -> None:
    """MachineError naming the line for a syntax error and, with lint, for a
    name that is not defined."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as error:
        raise MachineError(f"{filename}:{error.lineno}: {error.msg}") from None
    if not lint:
        return
    known = set(namespace) | set(dir(builtins)) | {"__file__", "__name__"}
    # vlan<N>: the network's VLANs, not known before its machines are built
    known |= {n.id for n in ast.walk(tree)
              if isinstance(n, ast.Name) and re.fullmatch(r"vlan\d+", n.id)}
    machine_names = sorted(n for n in namespace if n in _python_names(machines))
    try:
        from pyflakes import checker  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        checker = None
    if checker is not None:
        found = checker.Checker(tree, filename=filename, builtins=known)
        messages = sorted(found.messages, key=lambda m: m.lineno)
        if messages:
            lines = [f"{filename}:{m.lineno}: {m.message % m.message_args}" for m in messages]
            raise MachineError("the test script does not pass the linter (pyflakes; "
                               "skipLint = true skips it):\n" + "\n".join(lines))
        return
    bound = bound_names(tree)
    used_as_object = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    for node in sorted((n for n in ast.walk(tree) if isinstance(n, ast.Name)),
                       key=lambda n: (n.lineno, n.col_offset)):
        if not isinstance(node.ctx, ast.Load) or node.id in known or node.id in bound:
            continue
        if id(node) in used_as_object:  # web.succeed(...): a machine, by its use
            raise MachineError(
                f"{filename}:{node.lineno}: there is no machine named {node.id!r} in this "
                f"network (machines: {', '.join(machine_names) or 'none'})")
        raise MachineError(
            f"{filename}:{node.lineno}: undefined name {node.id!r}: there is no machine or "
            f"driver name {node.id!r} (machines: {', '.join(machine_names) or 'none'}; "
            "skipLint = true skips this check)")


def _python_names(machines: Iterable[str]) -> set[str]:
    return {python_name(m) for m in machines} | {"machine"}


def bound_names(tree: ast.AST) -> set[str]:
    """Every name a script binds anywhere (assignments, defs, imports, args...)."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
    return bound
