# Mirrors the options of nixos/modules/services/networking/firewall.nix that
# machine configurations commonly set. tinyos has no packet filter (its
# kernel and busybox have no iptables/nft tooling): the options are accepted
# and the machine's ports are open, which is what a VM network on a private
# switch needs anyway.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  ports = mkOption { type = types.listOf types.port; default = [ ]; description = "Accepted; tinyos does not filter."; };
in
{
  options.networking.firewall = {
    enable = mkOption {
      type = types.bool;
      default = true;
      description = "Accepted for NixOS compatibility; tinyos has no firewall.";
    };
    allowedTCPPorts = ports;
    allowedUDPPorts = ports;
    allowPing = mkOption { type = types.bool; default = true; description = "Accepted; tinyos does not filter."; };
  };
}
