"""`nixvms snapshot save|restore|list|delete [NAME]`: the running network's
snapshots (nixvms/supervisor/snapshots.py says what they are and how they
are kept). Registered on cli.py's group by load_all_commands (COMMANDS)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from nixvms.cli_common import (
    _complete_machines,
    _fail,
    _find_network,
    _lifecycle_options,
    _say,
    _state_dir,
)
from nixvms.cli_network import _print_event
from nixvms.supervisor import client as supervisor
from nixvms.supervisor import snapshot_client, snapshots

NAME = click.argument("name", default=snapshots.DEFAULT_NAME, required=False)


def _latest(file: Path | None, state_dir: Path | None) -> str | None:
    """The project's newest network directory (its `result`), when there is one."""
    if state_dir is not None:
        return None
    link = _find_network(file).parent / "result"
    return str(link.resolve()) if link.is_dir() else None


@click.group("snapshot", context_settings={"help_option_names": ["-h", "--help"]},
             epilog="""\b
Examples:
  nixvms snapshot save before-upgrade
  nixvms snapshot restore before-upgrade
  nixvms snapshot list""")
def snapshot_command() -> None:
    """Save and restore the whole running network: every machine's RAM, devices
    and disk at one moment (NAME defaults to `default`)."""


@snapshot_command.command("save")
@NAME
@_lifecycle_options
@click.option("--machine", "machines", multiple=True, metavar="MACHINE",
              shell_complete=_complete_machines,
              help="Save only this machine in NAME (repeatable; default: every running one).")
def save_command(name: str, file: Path | None, state_dir: Path | None,
                 machines: tuple[str, ...]) -> None:
    """Save the running machines as snapshot NAME (replacing an older NAME)."""
    directory = _state_dir(file, state_dir)
    began = time.monotonic()
    saved = snapshot_client.save(directory, name, machines)
    _say(f"saved snapshot {saved.name!r}: {', '.join(saved.machines)} "
         f"({snapshots.human_size(saved.size)}, {time.monotonic() - began:.1f} s)")


@snapshot_command.command("restore")
@NAME
@_lifecycle_options
@click.option("--machine", "machines", multiple=True, metavar="MACHINE",
              shell_complete=_complete_machines,
              help="Restore only this machine (repeatable; default: every one of NAME).")
@click.option("--timeout", type=click.FloatRange(min=0), default=supervisor.DEFAULT_TIMEOUT,
              show_default=True, metavar="S",
              help="Seconds to wait for a network that no longer runs to start.")
def restore_command(name: str, file: Path | None, state_dir: Path | None,
                    machines: tuple[str, ...], timeout: float) -> None:
    """Put every machine back as snapshot NAME has it (starting those stopped
    since, stopping those it does not have)."""
    directory = _state_dir(file, state_dir)
    began = time.monotonic()
    restored = snapshot_client.restore(directory, name, machines,
                                       network=_latest(file, state_dir), timeout=timeout,
                                       on_event=_print_event)
    if restored.machines:
        _say(f"restored snapshot {name!r}: {', '.join(restored.machines)} "
             f"({time.monotonic() - began:.1f} s)")
    if restored.stopped:
        _say(f"stopped {', '.join(restored.stopped)} (not in snapshot {name!r})")
    if restored.clock_unset and restored.machines and not restored.started:
        _say(f"warning: the clocks of {', '.join(restored.clock_unset)} were not set "
             "(their backdoor root shells did not answer)")
    if restored.refused:
        _fail("; ".join(restored.refused))


@snapshot_command.command("list")
@_lifecycle_options
def list_command(file: Path | None, state_dir: Path | None) -> None:
    """The snapshots: name, when, machines, size."""
    directory = _state_dir(file, state_dir)
    found = snapshot_client.listing(directory)
    if not found:
        _say(f"no snapshots in {directory} (`nixvms snapshot save [NAME]` makes one)")
        return
    rows = [("NAME", "TAKEN", "MACHINES", "SIZE")]
    for snap in found:
        rows.append((snap.name, time.strftime("%Y-%m-%d %H:%M:%S",
                                              time.localtime(snap.taken_at)),
                     ",".join(sorted(snap.machines)), snapshots.human_size(snap.size)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@snapshot_command.command("delete")
@NAME
@_lifecycle_options
def delete_command(name: str, file: Path | None, state_dir: Path | None) -> None:
    """Delete snapshot NAME (from every machine's disk)."""
    directory = _state_dir(file, state_dir)
    deleted = snapshot_client.delete(directory, name)
    _say(f"deleted snapshot {deleted.name!r} ({', '.join(sorted(deleted.machines))})")


# The commands, by the name they are called (cli.load_all_commands registers them).
COMMANDS: dict[str, click.Command] = {"snapshot": snapshot_command}
