"""The architecture, as tests: each record has one owner and one loader, one error root."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import nixvms
from nixvms.supervisor.errors import SupervisorError

PACKAGE = Path(nixvms.__file__).resolve().parent


def _sources() -> dict[str, str]:
    return {str(p.relative_to(PACKAGE.parent)): p.read_text()
            for p in sorted(PACKAGE.rglob("*.py"))}


def _code_without_docstrings(text: str) -> str:
    """The module's code with its docstrings and comments gone (they may name files)."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            body[0] = ast.Pass()
    return ast.unparse(tree)


def test_only_runstate_reads_or_writes_the_state_file() -> None:
    opened = re.compile(r"state_file\.(read_|write_|open)|open\([^)]*state_file|STATE_FILE\)")
    readers = sorted(name for name, text in _sources().items()
                     if opened.search(_code_without_docstrings(text)))
    assert readers == ["nixvms/supervisor/runstate.py"]


def test_only_the_loader_reads_network_json_and_only_render_writes_it() -> None:
    # records/network.json (state.py) is the NetworkRecord, another file.
    named = re.compile(r"""/\s*['"]network\.json['"]""")
    users = sorted(name for name, text in _sources().items()
                   if named.search(_code_without_docstrings(text))
                   and name != "nixvms/state.py")
    assert users in (["nixvms/render.py", "nixvms/supervisor/spec.py"],
                     ["nixvms/render.py", "nixvms/supervisor/facts.py"])


def test_every_error_class_derives_from_the_supervisors_root() -> None:
    strays = []
    for module in pkgutil.walk_packages([str(PACKAGE)], "nixvms."):
        if module.name.startswith("nixvms.tinyos") or module.name.endswith("__main__"):
            continue
        loaded = importlib.import_module(module.name)
        for name, value in vars(loaded).items():
            if (inspect.isclass(value) and issubclass(value, BaseException)
                    and value.__module__ == loaded.__name__
                    and not issubclass(value, SupervisorError)):
                strays.append(f"{module.name}.{name}")
    assert strays == []


def _imports(text: str) -> set[str]:
    """The nixvms modules a module imports at its top level (not inside functions)."""
    found = set()
    for node in ast.parse(text).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nixvms"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("nixvms"))
    return found


def test_no_two_modules_import_each_other() -> None:
    modules = {name.removesuffix(".py").replace("/", ".").removesuffix(".__init__"): text
               for name, text in _sources().items()}
    graph = {name: {m for m in _imports(text) if m in modules and m != name}
             for name, text in modules.items()}
    circles = sorted(f"{a} <-> {b}" for a, targets in graph.items() for b in targets
                     if a < b and a in graph.get(b, set()))
    assert circles == []


def test_the_build_side_and_the_cli_do_not_import_each_other_lazily() -> None:
    """builder <-> runner and cli <-> cli_network were circles through late imports."""
    sources = _sources()
    assert "nixvms.builder" not in sources["nixvms/runner.py"]
    assert "from nixvms.cli import" not in sources["nixvms/cli_network.py"]
    assert "import nixvms.cli\n" not in sources["nixvms/cli_network.py"]


def test_the_readmes_layout_names_every_module() -> None:
    layout = (PACKAGE.parent / "README.md").read_text().split("## Layout", 1)[1]
    missing = sorted(
        str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.glob("*.py")
        if p.name != "__init__.py" and f"nixvms/{p.name}" not in layout
    ) + sorted(
        str(p.relative_to(PACKAGE.parent)) for p in (PACKAGE / "supervisor").glob("*.py")
        if p.name not in ("__init__.py", "__main__.py") and f"  {p.name} " not in layout
    )
    assert missing == []
