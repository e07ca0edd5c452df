"""Generated benchmark networks: one file per machine plus a shared module.

The layout is that of a real project:

    network.nix          machine name = import ./machines/<name>.nix
    shared.nix           imported by every machine (users, packages, a marker)
    machines/<name>.nix  one machine: a service, a user, an /etc file

Every value a scenario edits goes into the VM (an /etc file), so an edit
changes the machine's derivation and a build really happens; a comment would
not change any .drv. `tag` goes into every value: two networks with distinct
tags (one for nixvms, one for the baseline) never share a derivation, so
neither profits from what the other has put in the Nix store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

NETWORK_HEADER = "# A generated benchmark network (bench/network.py).\n{\n"

SHARED = """\
# The module every machine imports.
{ pkgs, lib, ... }: {
  environment.systemPackages = [ pkgs.busybox ];
  environment.variables.BENCH = "1";
  users.users.ops = {
    isNormalUser = true;
    description = "Operations";
    extraGroups = [ "wheel" ];
  };
  networking.firewall.enable = false;
  # The marker: a new value makes every machine's derivation new.
  environment.etc."bench-marker".text = "@MARKER@";
}
"""

MACHINE = """\
# Machine @NAME@.
{ config, pkgs, lib, ... }: {
  imports = [ ../shared.nix ];
  users.users.app = {
    isSystemUser = true;
    group = "app";
    description = "The @NAME@ service";
  };
  users.groups.app = { };
  systemd.services.app = {
    description = "The @NAME@ service";
    wantedBy = [ "multi-user.target" ];
    path = [ pkgs.busybox ];
    script = ''
      echo "@NAME@ up as ${config.networking.hostName}"
    '';
  };
  environment.etc."machine".text = "@NAME@ @EDIT@";
}
"""


def machine_name(index: int) -> str:
    return f"m{index:03d}"


@dataclass(frozen=True)
class BenchNetwork:
    """A generated network in `root`; `tag` is unique to it."""

    root: Path
    size: int
    tag: str

    @property
    def network_file(self) -> Path:
        return self.root / "network.nix"

    @property
    def shared_file(self) -> Path:
        return self.root / "shared.nix"

    @property
    def names(self) -> list[str]:
        return [machine_name(i) for i in range(1, self.size + 1)]

    def machine_file(self, name: str) -> Path:
        return self.root / "machines" / f"{name}.nix"

    def write(self, marker: str) -> None:
        """Write the whole network, every machine in its first version."""
        (self.root / "machines").mkdir(parents=True, exist_ok=True)
        lines = [NETWORK_HEADER]
        for name in self.names:
            lines.append(f"  {name} = import ./machines/{name}.nix;\n")
            self.edit_machine(name, "0")
        lines.append("}\n")
        self.network_file.write_text("".join(lines))
        self.set_marker(marker)

    def set_marker(self, marker: str) -> None:
        """Edit the shared module: every machine's derivation changes."""
        self.shared_file.write_text(SHARED.replace("@MARKER@", f"{self.tag} {marker}"))

    def edit_machine(self, name: str, edit: str) -> None:
        """Edit one machine's file: that machine's derivation changes."""
        text = MACHINE.replace("@NAME@", name).replace("@EDIT@", f"{self.tag} {edit}")
        self.machine_file(name).write_text(text)

    def add_comment(self, comment: str) -> None:
        """Append a comment to network.nix: no derivation changes."""
        with self.network_file.open("a") as handle:
            handle.write(f"# {comment}\n")
