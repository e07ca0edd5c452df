{ config, lib, pkgs, ... }:
with lib;
let cfg = config.virtualisation; in
{
  options.virtualisation = {
    memorySize = mkOption { type = types.ints.positive; default = 1024; };
    cores = mkOption { type = types.ints.positive; default = 1; };
    diskSize = mkOption { type = types.ints.positive; default = 1024; };
    graphics = mkOption { type = types.bool; default = false; };
    vlans = mkOption { type = types.listOf types.ints.unsigned; default = [ 1 ]; };
    qemu.package = mkOption { type = types.package; default = pkgs.qemu; };
    qemu.options = mkOption { type = types.listOf types.str; default = [ ]; };
    qemu.networkingOptions = mkOption { type = types.listOf types.str; default = [ ]; };
    forwardPorts = mkOption {
      default = [ ];
      type = types.listOf (types.submodule {
        options.from = mkOption { type = types.enum [ "host" "guest" ]; default = "host"; };
        options.host.port = mkOption { type = types.port; };
        options.guest.port = mkOption { type = types.port; };
      });
    };
  };
  config = {
    virtualisation.qemu.options = concatLists (imap1 (i: v: [
      "-device virtio-net-pci,netdev=vlan${toString i},mac=52:54:00:12:${fixedWidthString 2 "0" (toLower (toHexString v))}:01"
      "-netdev vde,id=vlan${toString i},sock=\"$QEMU_VDE_SOCKET_${toString v}\""
    ]) cfg.vlans);
    virtualisation.qemu.networkingOptions = [ "-net nic,netdev=user.0,model=virtio" "-netdev user,id=user.0,\"$QEMU_NET_OPTS\"" ];
    networking.interfaces = listToAttrs (imap1 (i: v: nameValuePair "eth${toString i}" {
      ipv4.addresses = [ { address = "192.168.${toString v}.1"; prefixLength = 24; } ];
    }) cfg.vlans);
    boot.kernelParams = mkIf (!cfg.graphics) [ "console=ttyS0,115200n8" ];
  };
}
