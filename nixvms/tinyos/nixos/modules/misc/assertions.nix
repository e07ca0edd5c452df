# Mirrors nixos/modules/misc/assertions.nix; checked when the toplevel is built.
{ lib, ... }:
{
  options = {
    assertions = lib.mkOption {
      type = lib.types.listOf lib.types.unspecified;
      internal = true;
      default = [ ];
      description = "Conditions that must hold, as { assertion; message; } sets.";
    };
    warnings = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      internal = true;
      default = [ ];
      description = "Messages printed (once) when the system is built.";
    };
  };
}
