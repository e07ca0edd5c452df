# Mirrors nixos/modules/system/activation/top-level.nix: system.build.toplevel
# is a directory with kernel, initrd, init, kernel-params, system, etc and
# sw, like NixOS's. Assertions and warnings are checked here, as NixOS does.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  failed = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
  checked =
    if failed != [ ] then
      throw "\nFailed assertions:\n${lib.concatMapStrings (m: "- ${m}\n") failed}"
    else lib.foldr (w: x: builtins.trace "warning: ${w}" x) true config.warnings;

  toplevel = pkgs.runCommand "tinyos-system-${config.system.name}" {
    passthru = { inherit (config.system.build) kernel initialRamdisk; };
    kernelParams = builtins.concatStringsSep " " config.boot.kernelParams;
  } ''
    mkdir $out
    ln -s ${config.system.build.kernel}/${pkgs.tinyosPlatform.kernelTarget} $out/kernel
    ln -s ${config.system.build.initialRamdisk}/initrd $out/initrd
    ln -s ${config.system.build.bootStage2} $out/init
    ln -s ${config.system.build.etc}/etc $out/etc
    ln -s ${config.system.path} $out/sw
    printf '%s' "$kernelParams" > $out/kernel-params
    printf '%s' ${pkgs.system} > $out/system
    printf '%s' ${lib.escapeShellArg config.system.stateVersion} > $out/nixos-version
  '';
in
{
  options.system = {
    build = mkOption {
      type = types.lazyAttrsOf types.unspecified;
      default = { };
      description = "Attribute set of derivations used to set up the system.";
    };
    name = mkOption {
      type = types.str;
      default = if config.networking.hostName == "" then "unnamed" else config.networking.hostName;
      description = "The name of the system used in the system.build.toplevel derivation and the VM's name.";
    };
    stateVersion = mkOption {
      type = types.str;
      default = "24.11";
      description = "Accepted for NixOS compatibility; tinyos keeps no state formats to migrate.";
    };
  };

  config.system.build.toplevel = assert checked; toplevel;
}
