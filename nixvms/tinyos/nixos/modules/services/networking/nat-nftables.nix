# Mirrors nixos/modules/services/networking/nat-nftables.nix: with
# networking.nftables.enable, networking.nat is the table ip nixos-nat (and
# ip6 nixos-nat with enableIPv6), loaded by nftables.service with the
# firewall's table: chain pre (prerouting, dstnat) forwards ports, chain post
# (postrouting, srcnat) masquerades (or SNATs) what comes from the internal
# interfaces and ranges, chain out (output) reflects forwarded ports for the
# host itself.
{ config, lib, pkgs, ... }:
let
  cfg = config.networking.nat;
  set = xs: builtins.concatStringsSep ", " xs;
  ports = p: builtins.replaceStrings [ ":" ] [ "-" ] (toString p);
  toDest = ip: if ip == null then "masquerade" else "snat ${ip}";
  isIPv6 = dest: builtins.length (lib.splitString ":" dest) > 2;
  split = dest:
    let m = builtins.match (if isIPv6 dest then "[[]([0-9a-fA-F:]+)[]]:([0-9-]+)" else "([0-9.]+):([0-9-]+)") dest;
    in if m == null then throw "networking.nat.forwardPorts: bad ip:ports `${dest}'"
       else { ip = builtins.elemAt m 0; ports = builtins.elemAt m 1; };
  ifaces = set (map (i: ''"${i}"'') cfg.internalInterfaces);
  oif = lib.optionalString (cfg.externalInterface != null) ''oifname "${cfg.externalInterface}"'';

  table = { family, dest, ranges, forwards, dmzHost }:
    let
      fwd = set (map (f: let d = split f.destination; in "${f.proto} . ${ports f.sourcePort} : ${d.ip} . ${d.ports}") forwards);
      loopDnat = set (lib.concatMap (f: let d = split f.destination; in
        map (lo: "${lo} . ${f.proto} . ${ports f.sourcePort} : ${d.ip} . ${d.ports}") f.loopbackIPs) forwards);
      loopSnat = set (map (f: let d = split f.destination; in "${d.ip} . ${f.proto} . ${d.ports}") forwards);
    in pkgs.writeText "nixos-nat-${family}.nft" ''
      table ${family} nixos-nat
      delete table ${family} nixos-nat
      table ${family} nixos-nat {
        chain pre {
          type nat hook prerouting priority dstnat;
          ${lib.optionalString (fwd != "") ''iifname "${cfg.externalInterface}" meta l4proto { tcp, udp } dnat meta l4proto . th dport map { ${fwd} }''}
          ${lib.optionalString (loopDnat != "") "meta l4proto { tcp, udp } dnat ${family} daddr . meta l4proto . th dport map { ${loopDnat} }"}
          ${lib.optionalString (dmzHost != null) ''iifname "${cfg.externalInterface}" dnat ${dmzHost}''}
        }
        chain post {
          type nat hook postrouting priority srcnat;
          ${lib.optionalString (ifaces != "") "iifname { ${ifaces} } ${oif} ${dest}"}
          ${lib.optionalString (ranges != [ ]) "${family} saddr { ${set ranges} } ${oif} ${dest}"}
          ${lib.optionalString (loopSnat != "" && cfg.externalInterface != null)
            ''iifname != "${cfg.externalInterface}" ${family} daddr . meta l4proto . th dport { ${loopSnat} } masquerade''}
        }
        chain out {
          type nat hook output priority mangle;
          ${lib.optionalString (loopDnat != "") "meta l4proto { tcp, udp } dnat ${family} daddr . meta l4proto . th dport map { ${loopDnat} }"}
        }
      }
    '';
in
{
  config = lib.mkIf (config.networking.nftables.enable && cfg.enable) {
    assertions = [
      { assertion = cfg.extraCommands == "";
        message = "extraCommands is incompatible with the nftables based nat module: ${cfg.extraCommands}"; }
      { assertion = cfg.extraStopCommands == "";
        message = "extraStopCommands is incompatible with the nftables based nat module: ${cfg.extraStopCommands}"; }
    ];
    boot.kernelModules = [ "nf_nat" "nft_chain_nat" "nft_nat" "nft_masq" ];
    networking.nftables.tinyosRulesets = [
      (table { family = "ip"; dest = toDest cfg.externalIP; ranges = cfg.internalIPs;
               forwards = builtins.filter (f: !isIPv6 f.destination) cfg.forwardPorts; inherit (cfg) dmzHost; })
    ] ++ lib.optional cfg.enableIPv6
      (table { family = "ip6"; dest = toDest cfg.externalIPv6; ranges = cfg.internalIPv6s;
               forwards = builtins.filter (f: isIPv6 f.destination) cfg.forwardPorts; dmzHost = null; });
  };
}
