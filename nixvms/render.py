"""Rendering the network directory's files: bin/run-vms and network.json.

Pure functions: they return text and raise RenderError, never print or exit.
All generated shell lives in templates/; every value a template interpolates
goes through the `shell_quote` filter, so a name or path containing a space
or a quote cannot change what the script does.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from pathlib import Path
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from .network import Machine, Network
from .state import write_atomic

TEMPLATE_PACKAGE = "nixvms"
TEMPLATE_DIR = "templates"
RUN_VMS_TEMPLATE = "run-vms.sh.j2"

# What ssh_config's Host line can take literally: no whitespace, no quotes,
# no comment sign, none of the pattern characters * ? ! and no comma.
_SSH_HOST_PATTERN = re.compile(r"^[A-Za-z0-9._:\[\]%@-]+$")


if TYPE_CHECKING:
    import jinja2

# jinja2 is imported where a template is rendered, not at start-up: a run
# with nothing to render (a no-op build) does not pay for it.


class RenderError(ValueError):
    """A network that cannot be rendered (a value no script or config can carry)."""


def shell_quote(value: object) -> str:
    """The value as one shell word: the filter every shell template uses."""
    import jinja2

    if value is None or isinstance(value, jinja2.Undefined):
        raise RenderError("a template tried to shell-quote an undefined or None value")
    return shlex.quote(str(value))


def _load_template(name: str) -> str:
    return files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_DIR).joinpath(name).read_text("utf-8")


def templates_digest() -> str:
    """A hash of the templates: part of the network task's parameters, so
    that a changed template renders the network directory again."""
    digest = hashlib.sha256()
    for name in (RUN_VMS_TEMPLATE,):
        digest.update(name.encode() + b"\0" + _load_template(name).encode() + b"\0")
    return digest.hexdigest()


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


def _ssh_identity_file(path: str) -> str:
    """The ssh_config value for IdentityFile: double-quoted, % escaped."""
    if '"' in path or "\n" in path:
        raise RenderError(f"the ssh key path {path!r} contains a character ssh_config cannot take")
    return '"' + path.replace("%", "%%") + '"'


def _ssh_host_names(machine: Machine) -> list[str]:
    names = [machine.name]
    target = machine.target_host
    if target is not None and target != machine.name:
        if not _SSH_HOST_PATTERN.match(target):
            raise RenderError(
                f"machine {machine.name!r}: deployment.targetHost {target!r} cannot be an "
                "ssh_config Host name (it must be a host name or address, without spaces, "
                "quotes or the pattern characters * ? ! ,)"
            )
        names.append(target)
    return names


def _machine_context(machine: Machine) -> dict[str, Any]:
    for field, value in (
        ("name", machine.name),
        ("hostName", machine.host_name),
        ("vm", machine.vm),
    ):
        if "\n" in value or "\0" in value:
            raise RenderError(f"machine {machine.name!r}: its {field} contains a newline")
    return {
        "name": machine.name,
        "host_name": machine.host_name,
        "vm": machine.vm,
        "run_script": machine.run_script,
        "ip": machine.primary_ip or "-",
        "target_host": machine.target_host or "",
        "ssh_hosts": " ".join(_ssh_host_names(machine)),
        "vlans": " ".join(str(v) for v in machine.vlans),
    }


def render_run_vms(
    network: Network, ssh_key: str | None = None, *, vde_switch: str = "vde_switch"
) -> str:
    """The text of result/bin/run-vms for this network.

    ssh_key: the private key that ssh_config's entries name (IdentityFile);
    vde_switch: the vde_switch program to run (a name looked up on PATH, or
    an absolute path).
    """
    if not network.machines:
        raise RenderError("the network has no machines")
    machines = sorted(network.machines, key=lambda m: m.number)
    names = [m.name for m in machines]
    if len(set(names)) != len(names):
        raise RenderError("the network names a machine twice")
    context = {
        "machines": [_machine_context(m) for m in machines],
        "vlans": list(network.vlans),
        "identity_file": _ssh_identity_file(ssh_key) if ssh_key is not None else "",
        "vde_switch": vde_switch,
    }
    return environment().get_template(RUN_VMS_TEMPLATE).render(context)


def network_data(network: Network) -> dict[str, Any]:
    """network.json's content as plain data."""
    machines = sorted(network.machines, key=lambda m: (m.number, m.name))
    return {
        "machines": [
            {
                "name": m.name,
                "number": m.number,
                "system": m.system,
                "hostName": m.host_name,
                "targetHost": m.target_host,
                "vm": m.vm,
                "vlans": list(m.vlans),
                "addresses": [
                    {
                        "vlan": a.vlan,
                        "interface": a.interface,
                        "ip": a.ip,
                        "prefixLength": a.prefix_length,
                        "mac": a.mac,
                    }
                    for a in m.addresses
                ],
            }
            for m in machines
        ],
        "vlans": list(network.vlans),
    }


def render_network_json(network: Network) -> str:
    """result/network.json: stable (sorted keys, machines by number), indent 2."""
    return json.dumps(network_data(network), indent=2, sort_keys=True) + "\n"


def write_network_files(network: Network, directory: Path, *, ssh_key: str | None,
                        state_dir: str) -> None:
    """Write the network directory's generated files into `directory`.

    state_dir: the project's default run-state directory, recorded in the
    network directory so that its commands find the project's state from
    anywhere.
    """
    write_atomic(directory / "run-vms", render_run_vms(network, ssh_key=ssh_key), mode=0o755)
    write_atomic(directory / "network.json", render_network_json(network))
