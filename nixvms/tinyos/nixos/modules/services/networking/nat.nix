# Mirrors nixos/modules/services/networking/nat.nix: networking.nat's
# options, its assertions, and what it sets whatever the backend: IP
# forwarding (sysctls at NixOS's mkOverride 99) and nf_nat_ftp. The rules
# are nat-iptables.nix's (iptables, through the firewall's extraCommands or
# the nat service) or nat-nftables.nix's (networking.nftables.enable).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.networking.nat;
  forward = lib.mkOverride 99 true;
in
{
  options.networking.nat = {
    enable = mkOption { type = types.bool; default = false; description = "Whether to enable Network Address Translation (NAT)."; };
    enableIPv6 = mkOption { type = types.bool; default = false; description = "Whether to enable IPv6 NAT."; };
    internalInterfaces = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "eth0" ];
      description = "Interfaces whose packets bound for the external interface are rewritten.";
    };
    internalIPs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "192.168.1.0/24" ];
      description = "IPv4 ranges whose packets (on any interface) bound for the external interface are rewritten.";
    };
    internalIPv6s = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "fc00::/64" ];
      description = "IPv6 ranges whose packets bound for the external interface are rewritten.";
    };
    externalInterface = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "eth1";
      description = "The name of the external network interface.";
    };
    externalIP = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "203.0.113.123";
      description = "The address packets are rewritten to (null: the external interface's, by masquerading).";
    };
    externalIPv6 = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "2001:dc0:2001:11::175";
      description = "The IPv6 address packets are rewritten to (null: masquerading).";
    };
    forwardPorts = mkOption {
      type = types.listOf (types.submodule {
        options = {
          sourcePort = mkOption {
            type = types.either types.int (types.strMatching "[[:digit:]]+:[[:digit:]]+");
            example = 8080;
            description = "Port of the external interface (a range as \"60000:61000\").";
          };
          destination = mkOption {
            type = types.str;
            example = "10.0.0.1:80";
            description = "Where connections go: ip:port or [ipv6]:port (a range as ip:start-end).";
          };
          proto = mkOption { type = types.str; default = "tcp"; example = "udp"; description = "Protocol of forwarded connection."; };
          loopbackIPs = mkOption {
            type = types.listOf types.str;
            default = [ ];
            example = [ "55.1.2.3" ];
            description = "Public IPs for NAT reflection (connections to loopbackIP:sourcePort from the host and hosts behind NAT).";
          };
        };
      });
      default = [ ];
      example = [ { sourcePort = 8080; destination = "10.0.0.1:80"; proto = "tcp"; } ];
      description = "Ports of the external interface forwarded (DNAT) to internal destinations.";
    };
    dmzHost = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "10.0.0.1";
      description = "The internal address that gets all traffic no forwarding rule matched.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      { assertion = cfg.enableIPv6 -> config.networking.enableIPv6;
        message = "networking.nat.enableIPv6 requires networking.enableIPv6"; }
      { assertion = cfg.dmzHost != null -> cfg.externalInterface != null;
        message = "networking.nat.dmzHost requires networking.nat.externalInterface"; }
      { assertion = cfg.forwardPorts != [ ] -> cfg.externalInterface != null;
        message = "networking.nat.forwardPorts requires networking.nat.externalInterface"; }
    ];
    environment.systemPackages = [ config.networking.firewall.package ];
    boot.kernelModules = [ "nf_nat_ftp" ];
    boot.kernel.sysctl = {
      "net.ipv4.conf.all.forwarding" = forward;
      "net.ipv4.conf.default.forwarding" = forward;
    } // lib.optionalAttrs cfg.enableIPv6 {
      # forwarding would otherwise stop the router taking router advertisements
      "net.ipv6.conf.all.accept_ra" = lib.mkOverride 99 2;
      "net.ipv6.conf.default.accept_ra" = lib.mkOverride 99 2;
      "net.ipv6.conf.all.forwarding" = forward;
      "net.ipv6.conf.default.forwarding" = forward;
    };
  };
}
