"""Generated benchmark networks: one file per machine, one inline machine, a shared module.

The layout is that of a real project:

    network.nix          mNNN = import ./machines/mNNN.nix; the last machine
                         (from 2 machines on) written inline, as the
                         nixos-build-vms manual's example writes its machines
    shared.nix           imported by every machine (users, packages, a marker)
    machines/<name>.nix  one machine: a service, a user, an /etc file
    modules/             heavy weight only: the realistic module set
                         (bench/heavy.py), imported by shared.nix

Every value a scenario edits goes into the VM (an /etc file), so an edit
changes the machine's derivation and a build really happens; a comment would
not change any .drv. `tag` goes into every value: two networks with distinct
tags (one for nixvms, one for the baseline) never share a derivation, so
neither profits from what the other has put in the Nix store. (The heavy
module set's own /etc file does not carry the tag: like NixOS's own
modules, it is the same for every machine and is built once.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.heavy import HeavySpec, write_modules

NETWORK_HEADER = "# A generated benchmark network (bench/network.py).\n{\n"

SHARED = """\
# The module every machine imports.
{ pkgs, lib, ... }: {
  imports = [ @IMPORTS@ ];
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

MACHINE_BODY = """\
  imports = [ @SHARED@ ];
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
"""

def machine_name(index: int) -> str:
    return f"m{index:03d}"


def _indent(text: str, prefix: str) -> str:
    return "".join(prefix + line if line.strip() else line
                   for line in text.splitlines(keepends=True))


@dataclass(frozen=True)
class Weight:
    """What every machine imports beside its own module and shared.nix.

    `heavy` None: tinyos alone (light, ~30 ms per machine). Otherwise the
    realistic module set: in the project (`modules/`, files nixvms tracks,
    read through its tracer) or, with `store_path`, a copy in the Nix
    store that every network imports, as NixOS's modules are.
    """

    heavy: HeavySpec | None = None
    store_path: str | None = None

    @property
    def name(self) -> str:
        if self.heavy is None:
            return "light"
        return "heavy (modules in the store)" if self.store_path else "heavy"


@dataclass
class BenchNetwork:
    """A generated network in `root`; `tag` is unique to it."""

    root: Path
    size: int
    tag: str
    weight: Weight = field(default_factory=Weight)
    inline_edit: str = "0"
    comments: list[str] = field(default_factory=list)

    @property
    def network_file(self) -> Path:
        return self.root / "network.nix"

    @property
    def shared_file(self) -> Path:
        return self.root / "shared.nix"

    @property
    def names(self) -> list[str]:
        return [machine_name(i) for i in range(1, self.size + 1)]

    @property
    def inline_name(self) -> str | None:
        """The machine written inline in network.nix (from 2 machines on)."""
        return self.names[-1] if self.size >= 2 else None

    @property
    def file_names(self) -> list[str]:
        """The machines that have a file of their own."""
        return [n for n in self.names if n != self.inline_name]

    def machine_file(self, name: str) -> Path:
        return self.root / "machines" / f"{name}.nix"

    def write(self, marker: str) -> None:
        """Write the whole network, every machine in its first version."""
        (self.root / "machines").mkdir(parents=True, exist_ok=True)
        if self.weight.heavy is not None and self.weight.store_path is None:
            write_modules(self.root / "modules", self.weight.heavy)
        for name in self.file_names:
            self.edit_machine(name, "0")
        self.inline_edit = "0"
        self.comments = []
        self._write_network()
        self.set_marker(marker)

    def _write_network(self) -> None:
        lines = [NETWORK_HEADER]
        for name in self.file_names:
            lines.append(f"  {name} = import ./machines/{name}.nix;\n")
        if self.inline_name is not None:
            body = self._machine_body(self.inline_name, self.inline_edit, "./shared.nix")
            lines.append(f"  # Machine {self.inline_name}, inline.\n"
                         f"  {self.inline_name} = {{ config, pkgs, lib, ... }}: {{\n"
                         f"{_indent(body, '  ')}  }};\n")
        lines.append("}\n")
        lines += [f"# {comment}\n" for comment in self.comments]
        self.network_file.write_text("".join(lines))

    def set_marker(self, marker: str) -> None:
        """Edit the shared module: every machine's derivation changes."""
        if self.weight.heavy is None:
            imports = ""
        elif self.weight.store_path is not None:
            imports = f"{self.weight.store_path}/default.nix"
        else:
            imports = "./modules/default.nix"
        text = SHARED.replace("@IMPORTS@", imports).replace("@MARKER@", f"{self.tag} {marker}")
        self.shared_file.write_text(text)

    def _machine_body(self, name: str, edit: str, shared: str) -> str:
        return (MACHINE_BODY.replace("@SHARED@", shared).replace("@NAME@", name)
                .replace("@EDIT@", f"{self.tag} {edit}"))

    def edit_machine(self, name: str, edit: str) -> None:
        """Edit one machine's file: that machine's derivation changes."""
        if name == self.inline_name:
            raise ValueError(f"{name} is inline: use edit_inline")
        body = self._machine_body(name, edit, "../shared.nix")
        text = f"# Machine {name}.\n{{ config, pkgs, lib, ... }}: {{\n{body}}}\n"
        self.machine_file(name).write_text(text)

    def edit_inline(self, edit: str) -> None:
        """Edit the inline machine's expression in network.nix: its derivation changes."""
        if self.inline_name is None:
            raise ValueError("a network of one machine has no inline machine")
        self.inline_edit = edit
        self._write_network()

    def add_comment(self, comment: str) -> None:
        """Append a comment to network.nix: no derivation changes."""
        self.comments.append(comment)
        self._write_network()
