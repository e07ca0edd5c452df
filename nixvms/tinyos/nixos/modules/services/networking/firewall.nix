# Mirrors nixos/modules/services/networking/firewall.nix (the options and
# their defaults) with the behaviour of its nftables backend
# (firewall-nftables.nix): a stateful filter on incoming traffic that drops
# (or, with rejectPackets, rejects) new connections to ports nobody opened.
# Loopback and trustedInterfaces are accepted, established/related traffic
# is accepted, ICMPv4 echo requests only with allowPing, ICMPv6 (but
# redirects) always, DHCP replies always.
#
# NixOS's default backend is iptables; what it admits and refuses is the
# same as the nftables backend's, which tinyos uses because Debian's kernel
# has nf_tables and `nft` is one small program. The rules are loaded at boot
# before any interface is configured (activation script "firewall", which
# tasks/network-interfaces.nix runs first) and again by firewall.service,
# as NixOS's firewall.service does before network-pre.target.
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

  # nft set elements: "22, 80, 8999-9003"
  nftSet = ports: ranges: builtins.concatStringsSep ", "
    (map toString ports ++ map (r: "${toString r.from}-${toString r.to}") ranges);
  quoted = names: builtins.concatStringsSep ", " (map (n: ''"${n}"'') names);

  allowRules = iface: p:
    let
      match = lib.optionalString (iface != "default") ''iifname "${iface}" '';
      tcp = nftSet p.allowedTCPPorts p.allowedTCPPortRanges;
      udp = nftSet p.allowedUDPPorts p.allowedUDPPortRanges;
    in
    lib.optionalString (tcp != "") "${match}tcp dport { ${tcp} } accept\n"
    + lib.optionalString (udp != "") "${match}udp dport { ${udp} } accept\n";

  rpfilter = cfg.checkReversePath != false;

  # Loading this file replaces the table atomically: it is declared (so the
  # delete cannot fail), deleted, and made again in one transaction.
  ruleset = pkgs.writeText "nixos-fw.nft" ''
    table inet nixos-fw
    delete table inet nixos-fw
    table inet nixos-fw {
    ${lib.optionalString rpfilter ''
      chain rpfilter {
        type filter hook prerouting priority mangle + 10; policy drop;
        meta nfproto ipv4 udp sport . udp dport { 67 . 68, 68 . 67 } accept comment "DHCPv4 client/server"
        fib saddr . mark ${lib.optionalString (cfg.checkReversePath != "loose") ". iif "}oif exists accept
        ${lib.optionalString cfg.logReversePathDrops ''log level info prefix "rpfilter drop: "''}
      }
    ''}
      chain input {
        type filter hook input priority filter; policy drop;
        iifname { ${quoted cfg.trustedInterfaces} } accept comment "trusted interfaces"
        ct state vmap { invalid : drop, established : accept, related : accept, new : jump input-allow, untracked : jump input-allow }
        ${lib.optionalString cfg.logRefusedConnections ''tcp flags & (fin | syn | rst | ack) == syn log level info prefix "refused connection: "''}
        ${lib.optionalString (cfg.logRefusedPackets && !cfg.logRefusedUnicastsOnly) ''
          pkttype broadcast log level info prefix "refused broadcast: "
          pkttype multicast log level info prefix "refused multicast: "
        ''}
        ${lib.optionalString cfg.logRefusedPackets ''pkttype host log level info prefix "refused packet: "''}
        ${lib.optionalString cfg.rejectPackets ''
          meta l4proto tcp reject with tcp reset
          reject
        ''}
      }
      chain input-allow {
        ${lib.concatStrings (lib.mapAttrsToList allowRules cfg.allInterfaces)}
        ${lib.optionalString cfg.allowPing
          ''icmp type echo-request ${lib.optionalString (cfg.pingLimit != null) "limit rate ${cfg.pingLimit} "}accept comment "allow ping"''}
        icmpv6 type != { nd-redirect, 139 } accept comment "ICMPv6 but redirects and node information queries (RFC 4890, 4.4)"
        ip6 daddr fe80::/64 udp dport 546 accept comment "DHCPv6 client"
        ${cfg.extraInputRules}
      }
    }
  '';

  load = pkgs.writeShellScript "firewall-start" ''
    ${pkgs.nftables}/bin/nft -f ${ruleset}
  '';
in
{
  options.networking.firewall = portOptions // {
    enable = mkOption {
      type = types.bool;
      default = true;
      description = "Whether to enable the firewall: a stateful filter refusing connections to TCP or UDP ports that are not opened.";
    };
    package = mkOption {
      type = types.package;
      default = pkgs.nftables;
      defaultText = lib.literalExpression "pkgs.nftables";
      description = "The package the firewall's rules are loaded with (nftables in tinyos).";
    };
    logRefusedConnections = mkOption {
      type = types.bool;
      default = false;
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
      description = "nftables rules appended to the input-allow chain.";
    };
    # iptables-backend options: tinyos filters with nftables, so only their
    # empty defaults can be honoured (asserted below, as firewall-nftables.nix does).
    extraCommands = mkOption {
      type = types.lines;
      default = "";
      description = "iptables commands (not supported by tinyos's nftables firewall; use extraInputRules).";
    };
    extraStopCommands = mkOption {
      type = types.lines;
      default = "";
      description = "iptables commands run when the firewall stops (not supported by tinyos).";
    };
  };

  # networking.nftables.enable selects NixOS's nftables backend; tinyos
  # always uses it, so the option is accepted.
  options.networking.nftables.enable = mkOption {
    type = types.bool;
    default = false;
    description = "Whether to use nftables (tinyos's firewall always does).";
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      { assertion = cfg.extraCommands == "" && cfg.extraStopCommands == "";
        message = "networking.firewall.extraCommands/extraStopCommands (iptables) are not supported by tinyos, whose firewall is nftables: use networking.firewall.extraInputRules"; }
      { assertion = cfg.pingLimit == null || !(lib.hasPrefix "--" cfg.pingLimit);
        message = "networking.firewall.pingLimit: tinyos's firewall is nftables, write it as \"2/second\""; }
    ];

    networking.firewall.trustedInterfaces = [ "lo" ];
    environment.systemPackages = [ cfg.package ];

    # The modules the rules need (Debian builds them as modules): the table
    # itself, conntrack (ct state), reject, log, limit, fib (rpfilter).
    # crc32c_generic first: nf_tables needs libcrc32c, whose init fails
    # without a crc32c provider (a module in Debian's 686 kernel, built into
    # the cloud kernel, where this entry is skipped).
    boot.kernelModules = [ "crc32c_generic" "nf_tables" "nft_ct" "nft_reject_inet" "nft_limit" "nft_log" "nf_log_syslog" ]
      ++ lib.optional rpfilter "nft_fib_inet";

    system.activationScripts.firewall = {
      deps = [ "modules" ];
      text = ''
        ${load} || echo "firewall: loading the rules failed"
      '';
    };

    systemd.services.firewall = {
      description = "Firewall";
      wantedBy = [ "multi-user.target" ];
      before = [ "network-pre.target" ];
      serviceConfig = { Type = "oneshot"; RemainAfterExit = true; };
      script = "exec ${load}";
    };

    system.build.firewallRules = ruleset;
  };
}
