# Mirrors nixos/modules/services/web-servers/apache-httpd (services.httpd),
# served by busybox httpd: documentRoot on port 80 (services.httpd.port is
# tinyos's shortcut for listen), adminAddr accepted.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.httpd;
  host = config.networking.hostName;
  defaultRoot = pkgs.writeTextDir "index.html" ''
    <html><head><title>${host}</title></head>
    <body><h1>Welcome to ${host}</h1><p>served by tinyos httpd on ${host}</p></body></html>
  '';
in
{
  options.services.httpd = {
    enable = mkOption { type = types.bool; default = false; description = "Whether to enable the Apache HTTP Server (busybox httpd in tinyos)."; };
    adminAddr = mkOption { type = types.nullOr types.str; default = null; example = "admin@example.org"; description = "E-mail address of the server administrator."; };
    documentRoot = mkOption {
      type = types.nullOr types.path;
      default = null;
      description = "The path of the web server's document root (default: a page naming the host).";
    };
    port = mkOption { type = types.port; default = 80; description = "The TCP port the server listens on."; };
  };

  config = lib.mkIf cfg.enable {
    networking.firewall.allowedTCPPorts = [ cfg.port ];
    systemd.services.httpd = {
      description = "Apache HTTPD";
      wantedBy = [ "multi-user.target" ];
      after = [ "network.target" ];
      serviceConfig.Restart = "always";
      script = "exec httpd -f -p ${toString cfg.port} -h ${if cfg.documentRoot == null then defaultRoot else toString cfg.documentRoot}";
    };
  };
}
