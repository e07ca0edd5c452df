{ config, lib, pkgs, ... }:
with lib;
{
  options.boot = {
    kernelPackage = mkOption { type = types.package; default = pkgs.linux; };
    kernelParams = mkOption { type = types.listOf types.str; default = [ ]; };
    kernelModules = mkOption { type = types.listOf types.str; default = [ ]; };
    initrd.availableKernelModules = mkOption { type = types.listOf types.str; default = [ ]; };
    initrd.kernelModules = mkOption { type = types.listOf types.str; default = [ ]; };
    kernel.sysctl = mkOption { type = types.attrsOf (types.nullOr (types.either types.int types.str)); default = { }; };
    consoleLogLevel = mkOption { type = types.int; default = 4; };
  };
  config.boot = {
    kernelParams = [ "console=ttyS0" "loglevel=${toString config.boot.consoleLogLevel}" ];
    initrd.availableKernelModules = [ "virtio_pci" "virtio_blk" "virtio_net" ];
    kernel.sysctl."net.ipv4.ip_forward" = mkDefault 0;
  };
}
