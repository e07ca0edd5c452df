# Mirrors nixos/modules/services/networking/nat-iptables.nix: networking.nat
# with iptables (when networking.nftables.enable is false). The rules live
# in the nat table's chains nixos-nat-pre, nixos-nat-post and nixos-nat-out,
# hooked into PREROUTING, POSTROUTING and OUTPUT. With the firewall enabled
# they are set up by its extraCommands and removed by its extraStopCommands
# (so firewall.service owns them, as in NixOS); without it, by the service
# nat. Packets from internalInterfaces are marked in PREROUTING (POSTROUTING
# cannot match the incoming interface) and the marked ones masqueraded (or
# SNATed to externalIP).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.networking.nat;

  toDest = ip: if ip == null then "-j MASQUERADE" else "-j SNAT --to-source ${ip}";
  # "[fc00::2]:80" has more than one ':'
  isIPv6 = dest: builtins.length (lib.splitString ":" dest) > 2;
  outIface = lib.optionalString (cfg.externalInterface != null) "-o ${cfg.externalInterface}";

  # (its own name: these lines run inside the firewall's script, whose
  # ip46tables must stay as it is)
  ip46 = ''
    nat46() {
      iptables -w "$@"
      ${lib.optionalString config.networking.enableIPv6 ''ip6tables -w "$@"''}
    }
  '';

  chains = [ { chain = "nixos-nat-pre"; hook = "PREROUTING"; } { chain = "nixos-nat-post"; hook = "POSTROUTING"; }
             { chain = "nixos-nat-out"; hook = "OUTPUT"; } ];

  flushNat = ''
    ${ip46}
    ${lib.concatMapStrings (c: ''
      nat46 -t nat -D ${c.hook} -j ${c.chain} 2>/dev/null || true
      nat46 -t nat -F ${c.chain} 2>/dev/null || true
      nat46 -t nat -X ${c.chain} 2>/dev/null || true
    '') chains}
    ${cfg.extraStopCommands}
  '';

  # the rules of one family (iptables or ip6tables)
  familyRules = { tool, dest, ranges, forwards }: ''
    ${lib.concatMapStrings (i: "${tool} -w -t nat -A nixos-nat-pre -i '${i}' -j MARK --set-mark 1\n") cfg.internalInterfaces}
    ${lib.optionalString (cfg.internalInterfaces != [ ])
      "${tool} -w -t nat -A nixos-nat-post -m mark --mark 1 ${outIface} ${dest}\n"}
    ${lib.concatMapStrings (r: "${tool} -w -t nat -A nixos-nat-post -s '${r}' ${outIface} ${dest}\n") ranges}
    ${lib.concatMapStrings (f:
      let
        m = builtins.match (if isIPv6 f.destination then "[[]([0-9a-fA-F:]+)[]]:([0-9-]+)" else "([0-9.]+):([0-9-]+)") f.destination;
        ip = if m == null then throw "networking.nat.forwardPorts: bad ip:ports `${f.destination}'" else builtins.elemAt m 0;
        ports = builtins.replaceStrings [ "-" ] [ ":" ] (builtins.elemAt m 1);
        match = "-p ${f.proto} --dport ${toString f.sourcePort}";
      in ''
        ${tool} -w -t nat -A nixos-nat-pre -i ${toString cfg.externalInterface} ${match} -j DNAT --to-destination ${f.destination}
        ${lib.concatMapStrings (lo: ''
          ${tool} -w -t nat -A nixos-nat-out -d ${lo} ${match} -j DNAT --to-destination ${f.destination}
          ${tool} -w -t nat -A nixos-nat-pre -d ${lo} ${match} -j DNAT --to-destination ${f.destination}
          ${tool} -w -t nat -A nixos-nat-post -d ${ip} -p ${f.proto} --dport ${ports} -j SNAT --to-source ${lo}
        '') f.loopbackIPs}
      '') forwards}
  '';

  setupNat = ''
    ${ip46}
    ${lib.concatMapStrings (c: "nat46 -t nat -N ${c.chain}\n") chains}
    ${familyRules { tool = "iptables"; dest = toDest cfg.externalIP; ranges = cfg.internalIPs;
                    forwards = builtins.filter (f: !isIPv6 f.destination) cfg.forwardPorts; }}
    ${lib.optionalString cfg.enableIPv6 (familyRules { tool = "ip6tables"; dest = toDest cfg.externalIPv6;
        ranges = cfg.internalIPv6s; forwards = builtins.filter (f: isIPv6 f.destination) cfg.forwardPorts; })}
    ${lib.optionalString (cfg.dmzHost != null)
      "iptables -w -t nat -A nixos-nat-pre -i ${toString cfg.externalInterface} -j DNAT --to-destination ${cfg.dmzHost}\n"}
    ${cfg.extraCommands}
    ${lib.concatMapStrings (c: "nat46 -t nat -A ${c.hook} -j ${c.chain}\n") chains}
  '';

  natModules = [ "nf_nat" "nft_chain_nat" "xt_nat" "xt_MASQUERADE" "xt_mark" "iptable_nat" ];
in
{
  options.networking.nat = {
    extraCommands = mkOption {
      type = types.lines;
      default = "";
      example = "iptables -A INPUT -p icmp -j ACCEPT";
      description = "Additional shell commands run when the NAT rules are set up (iptables backend only).";
    };
    extraStopCommands = mkOption {
      type = types.lines;
      default = "";
      example = "iptables -D INPUT -p icmp -j ACCEPT || true";
      description = "Additional shell commands run when the NAT rules are removed (iptables backend only).";
    };
  };

  config = lib.mkIf (!config.networking.nftables.enable) (lib.mkMerge [
    # as NixOS: the firewall's start flushes stale NAT chains even when NAT is off
    { networking.firewall.extraCommands = lib.mkBefore flushNat; }
    (lib.mkIf cfg.enable {
      boot.kernelModules = natModules;
      networking.firewall = lib.mkIf config.networking.firewall.enable {
        extraCommands = setupNat;
        extraStopCommands = flushNat;
      };
      systemd.services = lib.mkIf (!config.networking.firewall.enable) {
        nat = {
          description = "Network Address Translation";
          # NixOS: wantedBy network.target, which its boot reaches; tinyos
          # starts at boot what multi-user.target wants
          wantedBy = [ "multi-user.target" ];
          path = [ config.networking.firewall.package ];
          serviceConfig.Type = "oneshot";
          serviceConfig.RemainAfterExit = true;
          script = flushNat + setupNat;
          # NixOS's postStop
          serviceConfig.ExecStop = "${pkgs.writeShellScript "nat-stop" ''
            export PATH=${config.networking.firewall.package}/bin:$PATH
            ${flushNat}''}";
        };
      };
    })
  ]);
}
