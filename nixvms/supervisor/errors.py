"""The one root of every error nixvms raises, and the supervisor's own kinds.

The supervisor is copied into the network directory and runs without nixvms
installed (standard library only), so the root lives here: nixvms's own
`NixvmsError` (errors.py), the test driver's `MachineError` and the
backdoor's `BackdoorError` derive from `SupervisorError`, and each front
door (nixvms's CLI, run-vms, nixos-test-driver) catches it once. `message`
is one line naming the problem; `detail_lines` what follows it.
"""

from __future__ import annotations

from collections.abc import Sequence


class SupervisorError(Exception):
    """A problem the user can act on; `message` is what they are told."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def detail_lines(self) -> list[str]:
        """Lines shown after the message (none by default)."""
        return []


class UsageError(SupervisorError):
    """Bad input: an unknown machine, a malformed --forward, a bad option value."""

    exit_code = 2


class StateDirError(SupervisorError):
    """The state directory cannot be used safely (owner, symlinks, path length)."""


class AlreadyRunning(SupervisorError):
    """A network already runs from this state directory."""


class NotRunning(SupervisorError):
    """No network runs from this state directory (nothing_ran: none ever did,
    or what ran was destroyed)."""

    def __init__(self, message: str, *, nothing_ran: bool = False) -> None:
        super().__init__(message)
        self.nothing_ran = nothing_ran


class StateDamaged(SupervisorError):
    """A network runs from this state directory, but its state file is gone or
    unreadable (recovery.py found its processes)."""


class PortError(SupervisorError):
    """A port cannot be had: taken, malformed, or the range ran out."""


class StartError(SupervisorError):
    """A switch or a VM could not be started."""


class LinkError(SupervisorError):
    """A link cannot be shaped: it has no wirefilter, or its wirefilter refused."""


class NotReady(SupervisorError):
    """Machines that did not come up in time, or died while coming up.

    `machines` names them; `details` holds, per machine, the lines that say why
    (the last lines of its console).
    """

    def __init__(self, message: str, machines: Sequence[str],
                 details: Sequence[tuple[str, Sequence[str]]] = ()) -> None:
        super().__init__(message)
        self.machines = tuple(machines)
        self.details = tuple((name, tuple(lines)) for name, lines in details)

    def detail_lines(self) -> list[str]:
        """The console lines of the machines that did not come up."""
        lines = []
        for name, console in self.details:
            lines.append(f"{name}'s last console lines:")
            lines += [f"  | {line}" for line in console] or ["  (nothing on its console)"]
        return lines


class MachineError(SupervisorError):
    """A machine of the test driver cannot do what was asked: not running,
    no backdoor, ... (NixOS's MachineError)."""

    def __init__(self, message: str, machine: str | None = None) -> None:
        super().__init__(message)
        self.machine = machine


class RequestedAssertionFailed(MachineError, AssertionError):
    """What a test asked for did not happen: a command failed, a wait timed out
    (an AssertionError, as in NixOS's driver; `t`'s assertions raise it too)."""
