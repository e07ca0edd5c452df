{ config, lib, pkgs, ... }:
with lib;
let cfg = config.services.openssh; in
{
  options.services.openssh = {
    enable = mkEnableOption "the OpenSSH daemon";
    package = mkOption { type = types.package; default = pkgs.openssh; };
    ports = mkOption { type = types.listOf types.port; default = [ 22 ]; };
    openFirewall = mkOption { type = types.bool; default = true; };
    settings.PermitRootLogin = mkOption { type = types.enum [ "yes" "without-password" "prohibit-password" "forced-commands-only" "no" ]; default = "prohibit-password"; };
    settings.PasswordAuthentication = mkOption { type = types.bool; default = true; };
    extraConfig = mkOption { type = types.lines; default = ""; };
  };
  config = mkIf cfg.enable {
    environment.systemPackages = [ cfg.package ];
    users.users.sshd = { isSystemUser = true; group = "sshd"; description = "SSH privilege separation user"; };
    users.groups.sshd = { };
    systemd.services.sshd = {
      description = "SSH Daemon";
      wantedBy = [ "multi-user.target" ];
      after = [ "network.target" ];
      path = [ cfg.package ];
      script = "${cfg.package}/bin/sshd -D -f /etc/ssh/sshd_config";
      serviceConfig = { Restart = "always"; Type = "simple"; };
    };
    environment.etc."ssh/sshd_config".text = ''
      ${concatMapStrings (p: "Port ${toString p}\n") cfg.ports}
      PermitRootLogin ${cfg.settings.PermitRootLogin}
      PasswordAuthentication ${boolToString cfg.settings.PasswordAuthentication}
      ${cfg.extraConfig}
    '';
    networking.firewall.allowedTCPPorts = mkIf cfg.openFirewall cfg.ports;
  };
}
