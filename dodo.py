"""`doit` in this repository builds examples/two-machines (as `nixvms build` would)."""

from nixvms.dodo import tasks_for

globals().update(tasks_for("examples/two-machines/network.nix"))
