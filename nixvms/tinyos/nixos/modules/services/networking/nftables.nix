# Mirrors nixos/modules/services/networking/nftables.nix: networking.nftables.enable
# and nftables.service, which loads the rulesets (tinyos: the firewall's
# nixos-fw table, firewall-nftables.nix) with nft. At boot tinyos loads them
# in the activation script "firewall", before any interface is configured,
# as NixOS orders nftables.service before network-pre.target; the unit's
# first start at boot then finds them loaded; later starts load them again.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.networking.nftables;
  # tinyos's own script, no user text in it: busybox sh, which starts in
  # a fraction of bash's time under TCG (it runs at every boot)
  load = pkgs.writeScript "nftables-rules" ("#!${pkgs.busybox}/bin/sh\n"
    + lib.concatMapStrings (r: "${pkgs.nftables}/bin/nft -f ${r}\n") cfg.tinyosRulesets);
in
{
  options.networking.nftables = {
    enable = mkOption {
      type = types.bool;
      default = false;
      description = "Whether to enable nftables and use nftables based firewall if enabled (networking.firewall.backend).";
    };
    tinyosRulesets = mkOption {
      type = types.listOf types.path;
      default = [ ];
      internal = true;
      visible = false;
      description = "nft files nftables.service loads (NixOS: networking.nftables.tables).";
    };
  };

  config = lib.mkIf cfg.enable {
    environment.systemPackages = [ pkgs.nftables ];
    boot.kernelModules = [ "crc32c_generic" "nf_tables" ];
    system.activationScripts.firewall = {
      deps = [ "modules" ];
      text = "${load} && touch /run/nftables-loaded-at-boot || echo 'nftables: loading the rules failed'";
    };
    systemd.services.nftables = {
      description = "nftables firewall";
      wantedBy = [ "multi-user.target" ];
      before = [ "network-pre.target" ];
      serviceConfig = { Type = "oneshot"; RemainAfterExit = true; };
      script = ''
        if [ -e /run/nftables-loaded-at-boot ]; then rm /run/nftables-loaded-at-boot; exit 0; fi
        exec ${load}
      '';
      # NixOS's ExecStop flushes the ruleset
      serviceConfig.ExecStop = "${pkgs.nftables}/bin/nft flush ruleset";
    };
  };
}
