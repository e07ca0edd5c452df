# Mirrors environment.sessionVariables of nixos/modules/config/system-environment.nix:
# variables of every session (NixOS sets them through PAM), merged into
# environment.variables, as NixOS does, so /etc/profile exports them (tinyos
# has no PAM; its logins, su -l, ssh sessions and the test backdoor read
# /etc/profile). A list is joined with ":".
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  value = v: if builtins.isList v then lib.concatMapStringsSep ":" toString v else toString v;
in
{
  options.environment.sessionVariables = mkOption {
    type = types.attrsOf (types.either (types.either types.str types.path) (types.listOf (types.either types.str types.path)));
    default = { };
    example = { EDITOR = "vi"; };
    description = "A set of environment variables used in the global environment, merged into environment.variables.";
  };
  config.environment.variables = builtins.mapAttrs (_: value) config.environment.sessionVariables;
}
