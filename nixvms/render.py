"""Rendering the network directory's files: the launchers and network.json.

Pure functions: they return text (or write files) and raise RenderError,
never print or exit. What runs the network is the supervisor, standard
library Python (nixvms/supervisor/), copied into the network directory by
nix/network-dir.nix; the only generated shell is the launcher
(templates/launcher.sh.j2), whose every interpolated value goes through the
`shell_quote` filter.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nixvms.errors import NixvmsError
from nixvms.supervisor import spec
from nixvms.supervisor.facts import MachineFacts

from .state import write_atomic

TEMPLATE_PACKAGE = "nixvms"
TEMPLATE_DIR = "templates"
LAUNCHER_TEMPLATE = "launcher.sh.j2"
SUPERVISOR_DIR = "supervisor"
# The launchers the network directory's bin/ holds: (file, what it runs).
# nixos-run-vms is the name the nixos-build-vms manual uses.
# nixos-test-driver runs the test driver (supervisor/driver_main.py).
LAUNCHERS = ("run-vms", "nixos-test-driver")

# What ssh_config's Host line can take literally: no whitespace, no quotes,
# no comment sign, none of the pattern characters * ? ! and no comma.
_SSH_HOST_PATTERN = re.compile(r"^[A-Za-z0-9._:\[\]%@-]+$")

if TYPE_CHECKING:
    import jinja2

# jinja2 is imported where a template is rendered, not at start-up: a run
# with nothing to render (a no-op build) does not pay for it.


class RenderError(NixvmsError):
    """A network that cannot be rendered (a value no script or config can carry)."""


def shell_quote(value: object) -> str:
    """The value as one shell word: the filter every shell template uses."""
    import jinja2

    if value is None or isinstance(value, jinja2.Undefined):
        raise RenderError("a template tried to shell-quote an undefined or None value")
    return shlex.quote(str(value))


def _load_template(name: str) -> str:
    return files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_DIR).joinpath(name).read_text("utf-8")


def source_paths() -> list[Path]:
    """The files templates_digest reads, and the supervisor's directory (whose
    stamp changes when a file is added or removed): lastrun.py stamps them."""
    package = files(TEMPLATE_PACKAGE)
    supervisor = package.joinpath(SUPERVISOR_DIR)
    found = [Path(str(package.joinpath(TEMPLATE_DIR).joinpath(LAUNCHER_TEMPLATE))),
             Path(str(package.joinpath("nix/network-dir.nix"))), Path(str(supervisor))]
    found += sorted(Path(str(entry)) for entry in supervisor.iterdir()
                    if entry.name.endswith(".py") and entry.is_file())
    return found


def supervisor_sources() -> list[tuple[str, bytes]]:
    """(name, content) of the supervisor's Python files, as the network
    directory gets them (network-dir.nix copies the same *.py files)."""
    directory = files(TEMPLATE_PACKAGE).joinpath(SUPERVISOR_DIR)
    found = [(entry.name, entry.read_bytes()) for entry in directory.iterdir()
             if entry.name.endswith(".py") and entry.is_file()]
    return sorted(found)


def templates_digest() -> str:
    """A hash of everything rendered or copied into the network directory
    besides the VMs: the templates and the supervisor's sources. Part of the
    network task's parameters, so that a change of either remakes it."""
    digest = hashlib.sha256()
    for name in (LAUNCHER_TEMPLATE,):
        digest.update(name.encode() + b"\0" + _load_template(name).encode() + b"\0")
    for name, content in supervisor_sources():
        digest.update(b"supervisor/" + name.encode() + b"\0" + content + b"\0")
    digest.update(_load_template_file("nix/network-dir.nix"))
    return digest.hexdigest()


def _load_template_file(relative: str) -> bytes:
    return files(TEMPLATE_PACKAGE).joinpath(relative).read_bytes()


def environment() -> jinja2.Environment:
    """The jinja2 environment for nixvms's templates."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        # Shell says ${#name} for a length: keep jinja2's comments off "{#".
        comment_start_string="<#jinja",
        comment_end_string="jinja#>",
    )
    env.filters["shell_quote"] = shell_quote
    return env


def render_launcher(name: str = "run-vms") -> str:
    """bin/run-vms: runs the network directory's supervisor with a Python 3
    (lib/python3 when the network was built with real nixpkgs, else the
    host's python3)."""
    return environment().get_template(LAUNCHER_TEMPLATE).render(
        {"name": name, "package": "nixvms_supervisor"})


def network_data(machines: Sequence[MachineFacts], *, state_dir: str | None = None,
                 ssh_key: str | None = None) -> dict[str, Any]:
    """network.json's content as plain data (supervisor/spec.py owns its form),
    refused where no launcher or ssh_config could carry a value."""
    if not machines:
        raise RenderError("the network has no machines")
    names = [m.name for m in machines]
    if len(set(names)) != len(names):
        raise RenderError("the network names a machine twice")
    for m in machines:
        for field, value in (("name", m.name), ("hostName", m.host_name), ("vm", m.vm)):
            if "\n" in value or "\0" in value:
                raise RenderError(f"machine {m.name!r}: its {field} contains a newline")
        target = m.target_host
        if target is not None and not _SSH_HOST_PATTERN.match(target):
            # The supervisor's ssh_config names each machine by its targetHost too.
            raise RenderError(
                f"machine {m.name!r}: deployment.targetHost {target!r} cannot be an "
                "ssh_config Host name (it must be a host name or address, without spaces, "
                "quotes or the pattern characters * ? ! ,)"
            )
    return spec.network_data(machines, state_dir=state_dir, ssh_key=ssh_key)


def render_network_json(machines: Sequence[MachineFacts], *, state_dir: str | None = None,
                        ssh_key: str | None = None) -> str:
    """result/network.json: stable (sorted keys, machines by number), indent 2."""
    data = network_data(machines, state_dir=state_dir, ssh_key=ssh_key)
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_network_files(machines: Sequence[MachineFacts], directory: Path, *,
                        ssh_key: str | None, state_dir: str) -> None:
    """Write the network directory's generated files into `directory`:
    run-vms (the launcher) and network.json. network-dir.nix adds the
    supervisor's sources itself.

    ssh_key: the private key ssh_config names (its path only; the key never
    goes to the store). state_dir: the project's default run-state
    directory, recorded so that the network's commands find the project's
    state from anywhere. Unchanged input writes identical files.
    """
    json_text = render_network_json(machines, state_dir=state_dir, ssh_key=ssh_key)
    for name in LAUNCHERS:
        write_atomic(directory / name, render_launcher(name), mode=0o755)
    write_atomic(directory / "network.json", json_text)
