{ config, lib, pkgs, ... }:
with lib;
{
  options.environment = {
    systemPackages = mkOption { type = types.listOf types.package; default = [ ]; };
    variables = mkOption { type = types.attrsOf (types.either types.str (types.listOf types.str)); default = { }; };
    shellAliases = mkOption { type = types.attrsOf types.str; default = { }; };
    shellInit = mkOption { type = types.lines; default = ""; };
    loginShellInit = mkOption { type = types.lines; default = ""; };
    interactiveShellInit = mkOption { type = types.lines; default = ""; };
    pathsToLink = mkOption { type = types.listOf types.str; default = [ ]; };
    profiles = mkOption { type = types.listOf types.str; default = [ ]; };
    binsh = mkOption { type = types.path; default = "${pkgs.bash}/bin/sh"; };
  };
  config.environment = {
    systemPackages = [ pkgs.busybox pkgs.coreutils pkgs.iproute2 ];
    variables.EDITOR = mkDefault "vi";
    variables.PATH = [ "/run/current-system/sw/bin" ];
    shellAliases = { ll = "ls -l"; l = "ls -alh"; };
    shellInit = ''
      umask 022
    '';
    pathsToLink = [ "/bin" "/share" ];
  };
}
