# Mirrors nixos/modules/services/web-servers/apache-httpd (services.httpd),
# served by busybox httpd, one process per listened port. As in NixOS:
# virtualHosts defaults to one host, "localhost", and nothing is opened in
# the firewall (networking.firewall.allowedTCPPorts is the user's to set).
# busybox httpd has no name-based virtual hosts: on a port several hosts
# listen on, the first (by name) serves every request.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.httpd;
  host = config.networking.hostName;
  defaultRoot = pkgs.writeTextDir "index.html" ''
    <html><head><title>${host}</title></head>
    <body><h1>Welcome to ${host}</h1><p>served by tinyos httpd on ${host}</p></body></html>
  '';

  listenOpts = {
    options = {
      ip = mkOption { type = types.str; default = "*"; description = "IP to listen on (* for all)."; };
      port = mkOption { type = types.port; description = "Port to listen on."; };
      ssl = mkOption { type = types.bool; default = false; description = "Whether to enable SSL (https) (not supported by tinyos)."; };
    };
  };

  vhostOpts = { name, ... }: {
    options = {
      hostName = mkOption { type = types.str; default = name; description = "Canonical hostname for the server."; };
      serverAliases = mkOption { type = types.listOf types.str; default = [ ]; description = "Additional names of virtual hosts served by this virtual host configuration."; };
      listen = mkOption {
        type = types.listOf (types.submodule listenOpts);
        default = [ ];
        example = [ { ip = "192.154.1.1"; port = 80; } ];
        description = "Listen addresses and ports for this virtual host (empty: port 80).";
      };
      adminAddr = mkOption { type = types.nullOr types.str; default = null; description = "E-mail address of the server administrator."; };
      documentRoot = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = "The path of the document root directory (null: a page naming the host).";
      };
      extraConfig = mkOption { type = types.lines; default = ""; description = "Apache configuration (refused: busybox httpd reads no Apache configuration)."; };
    };
  };

  vhosts = lib.mapAttrsToList (_: v: v) cfg.virtualHosts;
  portsOf = v: if v.listen == [ ] then [ 80 ] else map (l: l.port) v.listen;
  ports = lib.unique (builtins.sort builtins.lessThan (builtins.concatMap portsOf vhosts));
  rootFor = port:
    let v = lib.findFirst (v: builtins.elem port (portsOf v)) null vhosts;
    in if v.documentRoot == null then defaultRoot else v.documentRoot;
in
{
  options.services.httpd = {
    enable = mkOption { type = types.bool; default = false; description = "Whether to enable the Apache HTTP Server (busybox httpd in tinyos)."; };
    adminAddr = mkOption { type = types.nullOr types.str; default = null; example = "admin@example.org"; description = "E-mail address of the server administrator."; };
    user = mkOption { type = types.str; default = "wwwrun"; description = "User account under which httpd serves."; };
    group = mkOption { type = types.str; default = "wwwrun"; description = "Group under which httpd serves."; };
    virtualHosts = mkOption {
      type = types.attrsOf (types.submodule vhostOpts);
      default = { localhost = { }; };
      example = { "foo.example.com" = { documentRoot = "/var/www/foo"; }; };
      description = "Specification of the virtual hosts served by httpd.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      { assertion = builtins.all (v: builtins.all (l: !l.ssl) v.listen) vhosts;
        message = "services.httpd.virtualHosts.*.listen.*.ssl: tinyos's httpd (busybox) has no TLS"; }
    ] ++ lib.mapAttrsToList (n: v: {
      assertion = v.extraConfig == "";
      message = "services.httpd.virtualHosts.${n}.extraConfig: tinyos cannot: its httpd is busybox's, which reads no Apache configuration.";
    }) cfg.virtualHosts ++ [
    ];
    # ids.nix: wwwrun's uid and gid are 54 when the user and group are "wwwrun"
    users.users.${cfg.user} = { isSystemUser = true; group = cfg.group; }
      // lib.optionalAttrs (cfg.user == "wwwrun") { uid = 54; description = "Apache httpd user"; };
    users.groups.${cfg.group} = lib.optionalAttrs (cfg.group == "wwwrun") { gid = 54; };

    systemd.services.httpd = {
      description = "Apache HTTPD";
      wantedBy = [ "multi-user.target" ];
      after = [ "network.target" ];
      serviceConfig.Restart = "always";
      # one foreground busybox httpd per port; the unit lives while they do
      script = ''
        ${lib.concatMapStrings (p: "httpd -f -p ${toString p} -u ${cfg.user}:${cfg.group} -h ${toString (rootFor p)} &\n") ports}
        wait
      '';
    };
  };
}
