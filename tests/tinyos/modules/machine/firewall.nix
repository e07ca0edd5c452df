{ config, lib, ... }:
with lib;
let cfg = config.networking.firewall; in
{
  options.networking.firewall = {
    enable = mkOption { type = types.bool; default = true; };
    allowedTCPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
    allowedUDPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
    allowPing = mkOption { type = types.bool; default = true; };
    rules = mkOption { type = types.lines; readOnly = true; };
  };
  config.networking.firewall.rules = concatMapStringsSep "\n" (p: "-A INPUT -p tcp --dport ${toString p} -j ACCEPT") (unique cfg.allowedTCPPorts);
  config.systemd.services.firewall = mkIf cfg.enable {
    description = "Firewall";
    wantedBy = [ "multi-user.target" ];
    script = cfg.rules;
  };
}
