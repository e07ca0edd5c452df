# Mirrors nixos/modules/services/networking/firewall-nftables.nix: with
# networking.nftables.enable (firewall.backend "nftables"), the firewall is
# the nftables table inet nixos-fw, loaded by nftables.service
# (nftables.nix); there is no firewall.service. A stateful filter on
# incoming traffic that drops (or, with rejectPackets, rejects) new
# connections to ports nobody opened; loopback and trustedInterfaces
# accepted, established/related accepted, ICMPv4 echo requests only with
# allowPing, ICMPv6 (but redirects) always, DHCP replies always.
{ config, lib, pkgs, ... }:
let
  cfg = config.networking.firewall;

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


in
{
  config = lib.mkIf (cfg.enable && cfg.backend == "nftables") {
    # firewall-nftables.nix's assertions, with its messages
    assertions = [
      { assertion = cfg.extraCommands == "";
        message = "extraCommands is incompatible with the nftables based firewall: ${cfg.extraCommands}"; }
      { assertion = cfg.extraStopCommands == "";
        message = "extraStopCommands is incompatible with the nftables based firewall: ${cfg.extraStopCommands}"; }
      { assertion = cfg.pingLimit == null || !(lib.hasPrefix "--" cfg.pingLimit);
        message = "nftables syntax like \"2/second\" should be used in networking.firewall.pingLimit"; }
    ];

    networking.nftables.tinyosRulesets = [ ruleset ];

    # The modules the rules need (Debian builds them as modules): the table
    # itself, conntrack (ct state), reject, log, limit, fib (rpfilter).
    # crc32c_generic first: nf_tables needs libcrc32c, whose init fails
    # without a crc32c provider (a module in Debian's 686 kernel, built into
    # the cloud kernel, where this entry is skipped).
    boot.kernelModules = [ "crc32c_generic" "nf_tables" "nft_ct" "nft_reject_inet" "nft_limit" "nft_log" "nf_log_syslog" ]
      ++ lib.optional rpfilter "nft_fib_inet";

    system.build.firewallRules = ruleset;
  };
}
