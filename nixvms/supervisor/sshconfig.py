"""<state>/run/ssh_config: ssh's Host entries for the running machines.

The supervisor writes it whenever the machines' ssh ports change; `nixvms
ssh-config` prints it. Each machine is reached by its name, its hostName
and its deployment.targetHost, on its forwarded port on 127.0.0.1.
"""

from __future__ import annotations

from .spec import NetworkSpec
from .statedir import RunDir


def ssh_config_text(run_dir: RunDir, spec: NetworkSpec, ports: dict[str, int]) -> str:
    """ssh_config for the running machines: `ssh -F <state>/ssh_config NAME`."""
    lines = [
        "# Written by nixvms's supervisor for the network running from this directory.",
        f"# Use: ssh -F {run_dir.ssh_config} <machine or its deployment.targetHost>",
    ]
    key = spec.ssh_key
    for machine in spec.machines:
        port = ports.get(machine.name)
        if port is None:
            continue
        names = [machine.name]
        for alias in (machine.host_name, machine.target_host):
            if alias and alias not in names:
                names.append(alias)
        lines += ["", f"Host {' '.join(names)}", "  HostName 127.0.0.1", f"  Port {port}",
                  "  User root"]
        if key and '"' not in key and "\n" not in key:
            lines += [f'  IdentityFile "{key.replace("%", "%%")}"', "  IdentitiesOnly yes"]
        lines += ["  StrictHostKeyChecking no", "  UserKnownHostsFile /dev/null",
                  "  GlobalKnownHostsFile /dev/null", "  LogLevel ERROR"]
    return "\n".join(lines) + "\n"
