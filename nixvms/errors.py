"""nixvms's errors; the CLI turns them into `error: ...` lines.

Everything below the CLI raises a `NixvmsError` (or a subclass where the CLI
treats it differently: a usage problem exits 2, a failed build 1); the
message is what the user reads, one line naming the problem, or Nix's own
message for a failed evaluation or build. `NixvmsError` derives from the
supervisor's `SupervisorError`, the one root of every error nixvms raises
(the supervisor must stay standard-library only, so the root is its).
"""

from __future__ import annotations

from collections.abc import Sequence

from nixvms.supervisor.errors import SupervisorError


class NixvmsError(SupervisorError):
    """A problem of the build side the user can act on; `message` is what they are told."""


class UsageError(NixvmsError):
    """The command was given something it cannot take (exit 2, as click's)."""

    exit_code = 2


class StateError(NixvmsError):
    """nixvms's own state cannot be read or written where it must be."""


class BuildFailed(NixvmsError):
    """One or more tasks failed; `failures` holds each one's message.

    `failed_machines` names the machines whose evaluation or build failed
    (with --keep-going the others were built, but the network was not made).
    """

    def __init__(self, failures: Sequence[str], failed_machines: Sequence[str] = ()) -> None:
        super().__init__("; ".join(failures))
        self.failures = tuple(failures)
        self.failed_machines = tuple(failed_machines)
