# Mirrors nixos/modules/services/networking/firewall-iptables.nix, NixOS's
# default firewall backend (networking.firewall.backend "iptables"):
# firewall.service runs firewall-start, which builds the chains nixos-fw,
# nixos-fw-accept, nixos-fw-log-refuse, nixos-fw-refuse (and
# nixos-fw-rpfilter in the mangle table) with iptables and ip6tables, runs
# networking.firewall.extraCommands before the final refusal, and hooks
# nixos-fw into INPUT; stopping it runs firewall-stop and extraStopCommands.
# The iptables are Debian's nf_tables variants (iptables-nft), as NixOS's
# pkgs.iptables is. At boot the start script runs in the activation script
# "firewall", before any interface is configured (NixOS: before
# network-pre.target); the unit's first start then finds it done.
# Not done: the ve-+/vz-+/vt-+/ns-+ DHCP rules (no containers in tinyos).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.networking.firewall;
  ipv6 = config.networking.enableIPv6;
  rpfilter = cfg.checkReversePath != false;

  # helpers.nix
  helpers = ''
    ip46tables() {
      iptables -w "$@"
      ${lib.optionalString ipv6 ''ip6tables -w "$@"''}
    }
  '';
  iface = i: lib.optionalString (i != "default") "-i ${i}";
  range = r: "${toString r.from}:${toString r.to}";
  portRules = proto: ports: ranges: lib.concatStrings (lib.mapAttrsToList (i: p:
    lib.concatMapStrings (port: "ip46tables -A nixos-fw -p ${proto} --dport ${toString port} -j nixos-fw-accept ${iface i}\n") p.${ports}
    + lib.concatMapStrings (r: "ip46tables -A nixos-fw -p ${proto} --dport ${range r} -j nixos-fw-accept ${iface i}\n") p.${ranges})
    cfg.allInterfaces);

  script = name: text: pkgs.writeShellScript name ''
    set -e
    export PATH=${cfg.package}/bin:$PATH
    ${helpers}
    ${text}
  '';

  startScript = script "firewall-start" ''
    # Flush the old firewall rules.
    ip46tables -D INPUT -j nixos-fw 2> /dev/null || true
    for chain in nixos-fw nixos-fw-accept nixos-fw-log-refuse nixos-fw-refuse; do
      ip46tables -F "$chain" 2> /dev/null || true
      ip46tables -X "$chain" 2> /dev/null || true
    done

    # The "nixos-fw-accept" chain just accepts packets.
    ip46tables -N nixos-fw-accept
    ip46tables -A nixos-fw-accept -j ACCEPT

    # The "nixos-fw-refuse" chain rejects or drops packets.
    ip46tables -N nixos-fw-refuse
    ${if cfg.rejectPackets then ''
      ip46tables -A nixos-fw-refuse -p tcp ! --syn -j REJECT --reject-with tcp-reset
      ip46tables -A nixos-fw-refuse -j REJECT
    '' else ''
      ip46tables -A nixos-fw-refuse -j DROP
    ''}

    # The "nixos-fw-log-refuse" chain logs, then jumps to "nixos-fw-refuse".
    ip46tables -N nixos-fw-log-refuse
    ${lib.optionalString cfg.logRefusedConnections ''
      ip46tables -A nixos-fw-log-refuse -p tcp --syn -j LOG --log-level info --log-prefix "refused connection: "
    ''}
    ${lib.optionalString (cfg.logRefusedPackets && !cfg.logRefusedUnicastsOnly) ''
      ip46tables -A nixos-fw-log-refuse -m pkttype --pkt-type broadcast -j LOG --log-level info --log-prefix "refused broadcast: "
      ip46tables -A nixos-fw-log-refuse -m pkttype --pkt-type multicast -j LOG --log-level info --log-prefix "refused multicast: "
    ''}
    ip46tables -A nixos-fw-log-refuse -m pkttype ! --pkt-type unicast -j nixos-fw-refuse
    ${lib.optionalString cfg.logRefusedPackets ''
      ip46tables -A nixos-fw-log-refuse -j LOG --log-level info --log-prefix "refused packet: "
    ''}
    ip46tables -A nixos-fw-log-refuse -j nixos-fw-refuse

    # The "nixos-fw" chain does the actual work.
    ip46tables -N nixos-fw

    # Clean up rpfilter rules
    ip46tables -t mangle -D PREROUTING -j nixos-fw-rpfilter 2> /dev/null || true
    ip46tables -t mangle -F nixos-fw-rpfilter 2> /dev/null || true
    ip46tables -t mangle -X nixos-fw-rpfilter 2> /dev/null || true
    ${lib.optionalString rpfilter ''
      # Perform a reverse-path test to refuse spoofers
      ip46tables -t mangle -N nixos-fw-rpfilter 2> /dev/null || true
      ip46tables -t mangle -A nixos-fw-rpfilter -m rpfilter --validmark ${lib.optionalString (cfg.checkReversePath == "loose") "--loose"} -j RETURN
      # Allows this host to act as a DHCP4 client without first having to use APIPA
      iptables -t mangle -A nixos-fw-rpfilter -p udp --sport 67 --dport 68 -j RETURN
      # Allows this host to act as a DHCPv4 server
      iptables -t mangle -A nixos-fw-rpfilter -s 0.0.0.0 -d 255.255.255.255 -p udp --sport 68 --dport 67 -j RETURN
      ${lib.optionalString cfg.logReversePathDrops ''
        ip46tables -t mangle -A nixos-fw-rpfilter -j LOG --log-level info --log-prefix "rpfilter drop: "
      ''}
      ip46tables -t mangle -A nixos-fw-rpfilter -j DROP
      ip46tables -t mangle -A PREROUTING -j nixos-fw-rpfilter
    ''}

    # Accept all traffic on the trusted interfaces.
    ${lib.concatMapStrings (i: "ip46tables -A nixos-fw -i ${i} -j nixos-fw-accept\n") cfg.trustedInterfaces}

    # Accept packets from established or related connections.
    ip46tables -A nixos-fw -m conntrack --ctstate ESTABLISHED,RELATED -j nixos-fw-accept

    # Accept connections to the allowed TCP ports (and ranges), packets on the UDP ones.
    ${portRules "tcp" "allowedTCPPorts" "allowedTCPPortRanges"}
    ${portRules "udp" "allowedUDPPorts" "allowedUDPPortRanges"}

    # Optionally respond to ICMPv4 pings.
    ${lib.optionalString cfg.allowPing ''
      iptables -w -A nixos-fw -p icmp --icmp-type echo-request ${lib.optionalString (cfg.pingLimit != null) "-m limit ${cfg.pingLimit} "}-j nixos-fw-accept
    ''}

    ${lib.optionalString ipv6 ''
      # Accept all ICMPv6 messages except redirects and node information
      # queries (type 139). See RFC 4890, section 4.4.
      ip6tables -A nixos-fw -p icmpv6 --icmpv6-type redirect -j DROP
      ip6tables -A nixos-fw -p icmpv6 --icmpv6-type 139 -j DROP
      ip6tables -A nixos-fw -p icmpv6 -j nixos-fw-accept
      # Allow this host to act as a DHCPv6 client
      ip6tables -A nixos-fw -d fe80::/64 -p udp --dport 546 -j nixos-fw-accept
    ''}

    ${cfg.extraCommands}

    # Reject/drop everything else.
    ip46tables -A nixos-fw -j nixos-fw-log-refuse

    # Enable the firewall.
    ip46tables -A INPUT -j nixos-fw
  '';

  stopScript = script "firewall-stop" ''
    # Clean up in case reload fails
    ip46tables -D INPUT -j nixos-drop 2>/dev/null || true
    # Clean up after added ruleset
    ip46tables -D INPUT -j nixos-fw 2>/dev/null || true
    ${lib.optionalString rpfilter ''
      ip46tables -t mangle -D PREROUTING -j nixos-fw-rpfilter 2>/dev/null || true
    ''}
    ${cfg.extraStopCommands}
  '';
in
{
  options.networking.firewall = {
    extraCommands = mkOption {
      type = types.lines;
      default = "";
      example = "iptables -A INPUT -p icmp -j ACCEPT";
      description = "Additional shell commands executed as part of the firewall initialisation script, just before the final \"reject\" rule (only with the iptables based firewall).";
    };
    extraStopCommands = mkOption {
      type = types.lines;
      default = "";
      example = "iptables -P INPUT ACCEPT";
      description = "Additional shell commands executed as part of the firewall shutdown script (only with the iptables based firewall).";
    };
  };

  config = lib.mkIf (cfg.enable && cfg.backend == "iptables") {
    # iptables-nft: nf_tables with the xtables matches and targets the rules
    # use (ip_tables and ip6_tables have the icmp and icmpv6 matches)
    boot.kernelModules = [ "crc32c_generic" "nf_tables" "nft_compat" "ip_tables" "ip6_tables" "xt_conntrack" "xt_tcpudp"
      "xt_pkttype" "xt_LOG" "nf_log_syslog" "xt_limit" "ipt_REJECT" "ip6t_REJECT" ]
      ++ lib.optionals rpfilter [ "ipt_rpfilter" "ip6t_rpfilter" ];

    system.activationScripts.firewall = {
      # (its script is bash, whose libraries /lib/<multiarch> has from the start)
      deps = [ "modules" ];
      text = "${startScript} >/dev/null && touch /run/firewall-started-at-boot || echo 'firewall: firewall-start failed'";
    };

    systemd.services.firewall = {
      description = "Firewall";
      wantedBy = [ "multi-user.target" ];
      before = [ "network-pre.target" ];
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStop = "${stopScript}";
      };
      script = ''
        if [ -e /run/firewall-started-at-boot ]; then rm /run/firewall-started-at-boot; exit 0; fi
        exec ${startScript}
      '';
    };

    system.build.firewallRules = startScript;
  };
}
