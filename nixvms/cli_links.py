"""`nixvms link MACHINE[:VLAN] [--delay ...]`: a running link's behaviour.

A thin command over nixvms.supervisor.link_client (links.py runs it):
registered on cli.py's group by load_all_commands (COMMANDS).
"""

from __future__ import annotations

from pathlib import Path

import click

from nixvms.cli_common import _complete_machines, _lifecycle_options, _state_dir
from nixvms.supervisor import link_client

# option name -> the setting's name (wirefilter.FIELDS, as the network file spells them)
SETTINGS = {"delay": "delay", "jitter": "jitter", "loss": "loss", "loss_burst": "lossBurst",
            "duplicate": "duplicate", "bandwidth": "bandwidth", "mtu": "mtu"}


@click.command("link", epilog="""\b
Examples:
  nixvms link web:1 --delay 100ms --jitter 10ms   # web's link to VLAN 1
  nixvms link web --loss 5% --loss-burst 3          # every shaped link of web
  nixvms link web:1 --delay 0 --loss 0              # back to none
  nixvms link web                                   # how its links are now""")
@click.argument("target", metavar="MACHINE[:VLAN]", shell_complete=_complete_machines)
@click.option("--delay", metavar="D", help="Delay from the machine into the VLAN: 100ms, 1s, 0.")
@click.option("--jitter", metavar="D", help="Uniform variation of the delay: 10ms, 0.")
@click.option("--loss", metavar="P", help="Frames lost: 5%, 100%, 0.")
@click.option("--loss-burst", metavar="N", help="Mean length of a burst of losses (0: none).")
@click.option("--duplicate", metavar="P", help="Frames sent twice: 1%, 0.")
@click.option("--bandwidth", metavar="R", help="The link's rate: 10mbit, 512kbit, 0 (none).")
@click.option("--mtu", metavar="BYTES", help="Longer frames are dropped (0: none).")
@_lifecycle_options
def link_command(target: str, file: Path | None, state_dir: Path | None,
                 **options: str | None) -> None:
    """Change how MACHINE's link to VLAN behaves while the network runs (all its
    shaped links when no VLAN is named); without options, show it.

    A link has a wirefilter when its VLAN is declared in some machine's
    virtualisation.vlanLinks. Values apply from the machine into the VLAN, as
    netem on the machine's NIC; settings not given stay as they are."""
    machine, vlan = link_client.parse_target(target)
    settings = {SETTINGS[k]: v for k, v in options.items() if v is not None}
    for state in link_client.set_link(_state_dir(file, state_dir), machine, vlan, settings):
        click.echo(state.describe())


COMMANDS: dict[str, click.Command] = {"link": link_command}
