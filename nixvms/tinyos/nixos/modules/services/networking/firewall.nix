# Mirrors nixos/modules/services/networking/firewall.nix: the options of
# NixOS's firewall and their defaults, and the choice of backend
# (networking.firewall.backend: iptables, NixOS's default, or nftables when
# networking.nftables.enable is set). The rules themselves:
# firewall-iptables.nix (firewall.service) and firewall-nftables.nix
# (the nixos-fw table, loaded by nftables.service). Either way tinyos loads
# them at boot before any interface is configured (activation script
# "firewall", which tasks/network-interfaces.nix runs first), as NixOS
# orders its unit before network-pre.target.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.networking.firewall;

  sortedPorts = ports: lib.unique (builtins.sort builtins.lessThan ports);

  # The per-direction port options; NixOS declares the same set at
  # networking.firewall.* and networking.firewall.interfaces.<name>.*.
  portOptions = {
    allowedTCPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
      apply = sortedPorts;
      example = [ 22 80 ];
      description = "TCP ports on which incoming connections are accepted.";
    };
    allowedTCPPortRanges = mkOption {
      type = types.listOf (types.attrsOf types.port);
      default = [ ];
      example = [ { from = 8999; to = 9003; } ];
      description = "Ranges of TCP ports on which incoming connections are accepted.";
    };
    allowedUDPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
      apply = sortedPorts;
      example = [ 53 ];
      description = "UDP ports on which incoming packets are accepted.";
    };
    allowedUDPPortRanges = mkOption {
      type = types.listOf (types.attrsOf types.port);
      default = [ ];
      example = [ { from = 60000; to = 61000; } ];
      description = "Ranges of UDP ports on which incoming packets are accepted.";
    };
  };

in
{
  options.networking.firewall = portOptions // {
    enable = mkOption {
      type = types.bool;
      default = true;
      description = "Whether to enable the firewall: a stateful filter refusing connections to TCP or UDP ports that are not opened.";
    };
    backend = mkOption {
      type = types.enum [ "iptables" "nftables" ];
      default = if config.networking.nftables.enable then "nftables" else "iptables";
      defaultText = lib.literalExpression "if config.networking.nftables.enable then \"nftables\" else \"iptables\"";
      description = "Underlying implementation for the firewall service.";
    };
    package = mkOption {
      type = types.package;
      default = if cfg.backend == "iptables" then pkgs.iptables else pkgs.nftables;
      defaultText = lib.literalExpression "if firewall.backend == \"nftables\" then \"pkgs.nftables\" else \"pkgs.iptables\"";
      description = "The package to use for running the firewall service.";
    };
    logRefusedConnections = mkOption {
      type = types.bool;
      default = true;
      description = "Whether to log refused incoming connections (kernel log, `dmesg`).";
    };
    logRefusedPackets = mkOption {
      type = types.bool;
      default = false;
      description = "Whether to log all refused incoming packets (kernel log).";
    };
    logRefusedUnicastsOnly = mkOption {
      type = types.bool;
      default = true;
      description = "With logRefusedPackets, log only packets addressed to this machine (not broadcasts or multicasts).";
    };
    rejectPackets = mkOption {
      type = types.bool;
      default = false;
      description = "Whether refused packets are rejected (TCP reset, ICMP port unreachable) rather than dropped.";
    };
    trustedInterfaces = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "enp0s2" ];
      description = "Interfaces whose incoming traffic is accepted unconditionally (lo always is).";
    };
    allowPing = mkOption {
      type = types.bool;
      default = true;
      description = "Whether to answer incoming ICMPv4 echo requests; ICMPv6 echo requests are always answered.";
    };
    pingLimit = mkOption {
      type = types.nullOr (types.separatedString " ");
      default = null;
      example = "2/second";
      description = "Rate limit of answered pings, in nftables syntax (\"2/second\", \"1/minute burst 5 packets\").";
    };
    checkReversePath = mkOption {
      type = types.either types.bool (types.enum [ "strict" "loose" ]);
      default = true;
      example = "loose";
      description = "Refuse packets whose reply would not leave through the interface they came in on (\"loose\": through any interface).";
    };
    logReversePathDrops = mkOption {
      type = types.bool;
      default = false;
      description = "Log packets dropped by the reverse path filter.";
    };
    interfaces = mkOption {
      type = types.attrsOf (types.submodule { options = portOptions; });
      default = { };
      example = { eth1.allowedTCPPorts = [ 80 ]; };
      description = "Ports opened only on the named interface.";
    };
    allInterfaces = mkOption {
      type = types.attrsOf (types.submodule { options = portOptions; });
      internal = true;
      visible = false;
      default = { default = lib.mapAttrs (n: _: cfg.${n}) portOptions; } // cfg.interfaces;
      description = "All open ports: networking.firewall's own (as \"default\") and each interface's.";
    };
    extraInputRules = mkOption {
      type = types.lines;
      default = "";
      example = "ip6 saddr { fc00::/7, fe80::/10 } tcp dport 24800 accept";
      description = "Additional nftables rules to be appended to the input-allow chain (only with the nftables based firewall, as in NixOS).";
    };
    connectionTrackingModules = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "ftp" "irc" "sane" "sip" "tftp" "amanda" "h323" "netbios_sn" "pptp" "snmp" ];
      description = "List of connection-tracking helpers that are auto-loaded (each the kernel module nf_conntrack_<name>).";
    };
    autoLoadConntrackHelpers = mkOption {
      type = types.bool;
      default = false;
      description = "Whether to auto-load connection-tracking helpers (kernels before 6.0 only, as in NixOS).";
    };
    # extraCommands, extraStopCommands (the iptables backend's): firewall-iptables.nix
  };
  config = lib.mkIf cfg.enable {
    assertions = [ {
      assertion = cfg.backend == "nftables" -> config.networking.nftables.enable;
      message = "networking.firewall.backend = \"nftables\" requires networking.nftables.enable = true.";
    } {
      # NixOS's assertion, with its message: the kernel's nf_conntrack_helper
      # switch is gone since 6.0 (tinyos's Debian kernel is newer)
      assertion = cfg.autoLoadConntrackHelpers -> lib.versionOlder config.boot.kernelPackages.kernel.version "6";
      message = "conntrack helper autoloading has been removed from kernel 6.0 and newer";
    } ];
    boot.kernelModules = map (x: "nf_conntrack_${x}") cfg.connectionTrackingModules;
    networking.firewall.trustedInterfaces = [ "lo" ];
    environment.systemPackages = [ cfg.package ];
  };
}
