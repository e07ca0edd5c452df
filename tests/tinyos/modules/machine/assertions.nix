{ lib, ... }:
with lib;
{
  options.assertions = mkOption {
    type = types.listOf types.unspecified;
    internal = true;
    default = [ ];
  };
  options.warnings = mkOption {
    type = types.listOf types.str;
    internal = true;
    default = [ ];
  };
}
