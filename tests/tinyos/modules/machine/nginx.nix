{ config, lib, pkgs, ... }:
with lib;
let
  cfg = config.services.nginx;
  vhostOpts = { name, ... }: {
    options = {
      serverName = mkOption { type = types.str; default = name; };
      port = mkOption { type = types.port; default = 80; };
      root = mkOption { type = types.nullOr types.path; default = null; };
      locations = mkOption { type = types.attrsOf (types.submodule { options.proxyPass = mkOption { type = types.nullOr types.str; default = null; }; options.extraConfig = mkOption { type = types.lines; default = ""; }; }); default = { }; };
      extraConfig = mkOption { type = types.lines; default = ""; };
    };
  };
in
{
  options.services.nginx = {
    enable = mkEnableOption "nginx";
    package = mkOption { type = types.package; default = pkgs.nginx; };
    user = mkOption { type = types.str; default = "nginx"; };
    virtualHosts = mkOption { type = types.attrsOf (types.submodule vhostOpts); default = { }; };
    appendHttpConfig = mkOption { type = types.lines; default = ""; };
  };
  config = mkIf cfg.enable {
    users.users.${cfg.user} = { isSystemUser = true; group = cfg.user; };
    users.groups.${cfg.user} = { };
    systemd.services.nginx = {
      description = "Nginx";
      wantedBy = [ "multi-user.target" ];
      script = "${cfg.package}/bin/nginx -c /etc/nginx/nginx.conf";
      serviceConfig.User = cfg.user;
    };
    environment.etc."nginx/nginx.conf".text = concatStrings (mapAttrsToList (n: v: ''
      server { listen ${toString v.port}; server_name ${v.serverName}; ${optionalString (v.root != null) "root ${v.root};"} }
    '') cfg.virtualHosts);
    networking.firewall.allowedTCPPorts = unique (mapAttrsToList (n: v: v.port) cfg.virtualHosts);
  };
}
