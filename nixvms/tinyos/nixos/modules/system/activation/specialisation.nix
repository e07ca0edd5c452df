# Mirrors nixos/modules/system/activation/specialisation.nix: each
# specialisation.<name>.configuration is the machine's configuration
# extended with that module (or, with inheritParentConfig = false, the base
# modules extended with it alone), built as a whole system linked from
# $toplevel/specialisation/<name>. Inside the machine,
# /run/current-system/specialisation/<name>/bin/switch-to-configuration
# switches to it (top-level.nix, switch-to-configuration.sh).
{ config, lib, extendModules, noUserModules, ... }:
let
  inherit (lib) mkOption types;
in
{
  options = {
    isSpecialisation = mkOption {
      type = types.bool;
      internal = true;
      default = false;
      description = "Whether this system is a specialisation of another.";
    };
    specialisation = mkOption {
      default = { };
      example = lib.literalExpression "{ fewJobsManyCores.configuration = { services.nginx.enable = true; }; }";
      description = ''
        Additional configurations to build. If inheritParentConfig is true,
        the system is based on the overall system configuration. Switch to
        one at run time with
        /run/current-system/specialisation/<name>/bin/switch-to-configuration test.
      '';
      type = types.attrsOf (types.submodule (local@{ ... }:
        let
          extend = if local.config.inheritParentConfig then extendModules else noUserModules.extendModules;
        in {
          options.inheritParentConfig = mkOption {
            type = types.bool;
            default = true;
            description = "Include the entire system's configuration. Set to false to make a completely differently configured system.";
          };
          options.configuration = mkOption {
            default = { };
            description = "Arbitrary NixOS configuration (nested specialisations are ignored).";
            visible = "shallow";
            inherit (extend { modules = [ ./no-clone.nix ]; }) type;
          };
        }));
    };
  };

  config = {
    assertions = map (name: {
      assertion = builtins.match "[^/]+" name != null;
      message = "specialisation.${name}: the name of a specialisation cannot contain '/' (it is a directory of the system).";
    }) (builtins.attrNames config.specialisation);
    # whole systems (toplevel.nix links them), and what the running machine
    # switches to (the runtime part of each)
    system.build.specialisations = builtins.mapAttrs (_: s: s.configuration.system.build.toplevel) config.specialisation;
    system.build.runtimeSpecialisations = builtins.mapAttrs (_: s: s.configuration.system.build.runtimeSystem) config.specialisation;
  };
}
