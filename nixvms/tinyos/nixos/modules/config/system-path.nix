# Mirrors nixos/modules/config/system-path.nix: environment.systemPackages
# joined into one tree (system.path), which the booted system puts on PATH
# as /run/current-system/sw. busybox is always there (NixOS's
# requiredPackages: coreutils and friends).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
in
{
  options = {
    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
      example = lib.literalExpression "[ pkgs.busybox ]";
      description = "The set of packages that appear in /run/current-system/sw.";
    };
    environment.pathsToLink = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "/share/doc" ];
      description = "Lists directories to be symlinked in /run/current-system/sw.";
    };
    environment.variables = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = { EDITOR = "vi"; };
      description = "Environment variables set by /etc/profile for login shells.";
    };
    system.path = mkOption {
      type = types.package;
      internal = true;
      readOnly = true;
      description = "The packages you want in the boot environment.";
    };
  };

  config = {
    environment.pathsToLink = [ "/bin" "/sbin" "/lib" "/share" "/etc" ];
    system.path = pkgs.buildEnv {
      name = "system-path";
      paths = config.environment.systemPackages ++ [ pkgs.busybox ];
      pathsToLink = lib.unique config.environment.pathsToLink;
    };
    environment.variables.PATH = lib.mkDefault "/run/current-system/sw/bin:/run/current-system/sw/sbin";
    environment.etc.profile.text = ''
      # /etc/profile: written by tinyos (environment.variables)
      ${builtins.concatStringsSep "\n" (lib.mapAttrsToList
        (n: v: "export ${n}=${lib.escapeShellArg v}") config.environment.variables)}
      PS1='\u@\h:\w\$ '
    '';
  };
}
