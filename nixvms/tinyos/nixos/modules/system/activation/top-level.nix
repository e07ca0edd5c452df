# Mirrors nixos/modules/system/activation/top-level.nix: system.build.toplevel
# is a directory with kernel, initrd, init, kernel-params, system, etc, sw,
# bin/switch-to-configuration and specialisation/<name>, like NixOS's.
# Assertions and warnings are checked here, as NixOS does.
#
# The running machine's /run/current-system is system.build.runtimeSystem:
# the toplevel without kernel and initrd (without a store image the initrd
# is the guest's whole store, so it cannot hold a directory that holds the
# initrd): etc, sw, activate (NixOS's: the activation scripts, in bash),
# bin/switch-to-configuration, bin/setup-etc and the specialisations'
# runtime systems.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  bb = pkgs.busybox;
  etc = config.system.build.etc;

  setupEtc = pkgs.runCommand "setup-etc" { } ''
    sed -e "s|@busybox@|${bb}|g" -e "s|@etc@|${etc}|g" ${./setup-etc.sh} > $out
    chmod 0555 $out
  '';
  runtime = pkgs.runCommand "tinyos-system-${config.system.name}-runtime" {
    order = builtins.concatStringsSep "\n" (map (a: a.name) config.system.build.activationScripts);
  } ''
    mkdir -p $out/bin $out/activation $out/specialisation
    ln -s ${etc}/etc $out/etc
    ln -s ${etc} $out/etc-tree
    ln -s ${config.system.path} $out/sw
    ${lib.concatMapStrings (a: "ln -s ${a.file} $out/activation/${a.name}\n") config.system.build.activationScripts}
    printf "$order\n" > $out/activation-order
    sed -e "s|@bash@|${pkgs.bash}/bin/bash|g" -e "s|@busybox@|${bb}|g" -e "s|@out@|$out|g" \
      ${./activate.sh} > $out/activate
    chmod 0555 $out/activate
    ${pkgs.stdenv.shellDryRun} $out/activate
    ln -s ${setupEtc} $out/bin/setup-etc
    sed -e "s|@busybox@|${bb}|g" -e "s|@out@|$out|g" \
      -e "s|@systemdlib@|${config.systemd.package}/lib/tinyos-systemd.sh|g" -e "s|@systemd@|${config.systemd.package}|g" \
      ${./switch-to-configuration.sh} > $out/bin/switch-to-configuration
    chmod 0555 $out/bin/switch-to-configuration
    ${lib.concatStrings (lib.mapAttrsToList (n: p: "ln -s ${p} $out/specialisation/${n}\n")
      config.system.build.runtimeSpecialisations)}
    printf '%s' ${pkgs.system} > $out/system
    printf '%s' ${lib.escapeShellArg config.system.stateVersion} > $out/nixos-version
  '';
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
    ln -s ${runtime}/bin $out/bin
    ln -s ${runtime}/activate $out/activate
    mkdir $out/specialisation
    ${lib.concatStrings (lib.mapAttrsToList (n: p: "ln -s ${p} $out/specialisation/${n}\n")
      config.system.build.specialisations)}
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
  config.system.build.runtimeSystem = assert checked; runtime;
}
