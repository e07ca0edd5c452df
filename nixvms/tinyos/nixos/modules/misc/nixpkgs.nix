# Mirrors nixos/modules/misc/nixpkgs.nix, for the one option tinyos honours:
# the architecture the machine's packages are for. An unsupported system is
# reported by the package set itself (pkgs/top-level.nix), naming those
# supported.
{ lib, ... }:
{
  options.nixpkgs.system = lib.mkOption {
    type = lib.types.str;
    example = "i686-linux";
    description = "The system (architecture and kernel) the machine's packages are built for.";
  };
}
