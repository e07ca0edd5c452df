# Mirrors nixos/modules/system/boot/kernel.nix (and the module lists of
# system/boot/stage-1.nix): the kernel and the modules to load.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  modList = desc: mkOption { type = types.listOf types.str; default = [ ]; description = desc; };
in
{
  options.boot = {
    kernelPackages = mkOption {
      type = types.unspecified;
      default = pkgs.linuxPackages;
      defaultText = lib.literalExpression "pkgs.linuxPackages";
      description = "The kernel package set; tinyos has one kernel per platform (Debian's).";
    };
    kernelParams = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Parameters added to the kernel command line.";
    };
    consoleLogLevel = mkOption {
      type = types.int;
      default = 4;
      description = "The kernel console loglevel.";
    };
    kernelModules = modList "The set of kernel modules to be loaded at boot (they must exist in the kernel).";
    initrd.kernelModules = modList "Kernel modules loaded unconditionally during boot.";
    initrd.availableKernelModules = modList ''
      Kernel modules made available and loaded at boot (tinyos has no udev
      to load them on demand). Unlike kernelModules, ones this kernel does
      not have are skipped (e.g. 9p in Debian's cloud kernel).
    '';
  };

  config = {
    boot.kernelParams = [ "loglevel=${toString config.boot.consoleLogLevel}" ];
    system.build.kernel = config.boot.kernelPackages.kernel;
    system.build.modulesClosure = pkgs.makeModulesClosure {
      kernel = config.boot.kernelPackages.kernel;
      rootModules = lib.unique (config.boot.initrd.kernelModules ++ config.boot.kernelModules);
      optionalModules = lib.unique config.boot.initrd.availableKernelModules;
    };
  };
}
