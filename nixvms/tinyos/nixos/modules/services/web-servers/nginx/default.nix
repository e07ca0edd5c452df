# Mirrors nixos/modules/services/web-servers/nginx/default.nix
# (services.nginx) with Debian's nginx binary: virtualHosts with listen,
# serverName/serverAliases, root, default, locations (root, alias, index,
# return, proxyPass, tryFiles, extraConfig), and the http-level config hooks.
# As in NixOS: virtualHosts defaults to one host, "localhost"; a host with
# no root serves nginx's default page; nothing is opened in the firewall;
# it runs as user and group "nginx". TLS (addSSL, forceSSL, enableACME) is
# not supported (an assertion says so).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.nginx;
  common = cfg.package.debs.nginx-common or null;
  mimeTypes = if common != null then "${common}/etc/nginx/mime.types" else null;
  defaultRoot = if common != null then "${common}/usr/share/nginx/html" else "/var/empty";

  locationOpts = {
    options = {
      root = mkOption { type = types.nullOr types.path; default = null; description = "Root directory for requests."; };
      alias = mkOption { type = types.nullOr types.path; default = null; description = "Alias directory for requests."; };
      index = mkOption { type = types.nullOr types.str; default = null; description = "Adds the index directive."; };
      tryFiles = mkOption { type = types.nullOr types.str; default = null; description = "Adds the try_files directive."; };
      return = mkOption { type = types.nullOr (types.oneOf [ types.str types.int ]); default = null; description = "Adds a return directive."; };
      proxyPass = mkOption { type = types.nullOr types.str; default = null; description = "Adds proxy_pass directive."; };
      proxyWebsockets = mkOption { type = types.bool; default = false; description = "Whether to support proxying websocket connections."; };
      recommendedProxySettings = mkOption { type = types.bool; default = cfg.recommendedProxySettings; description = "Enable recommended proxy settings."; };
      extraConfig = mkOption { type = types.lines; default = ""; description = "These lines go to the end of the location verbatim."; };
      priority = mkOption { type = types.int; default = 1000; description = "Order of this location block in relation to the others."; };
    };
  };

  listenOpts = {
    options = {
      addr = mkOption { type = types.str; description = "Listen address."; };
      port = mkOption { type = types.nullOr types.port; default = null; description = "Port number (null: 80)."; };
      ssl = mkOption { type = types.bool; default = false; description = "Enable SSL (not supported by tinyos)."; };
      extraParameters = mkOption { type = types.listOf types.str; default = [ ]; description = "Extra parameters of this listen directive."; };
    };
  };

  vhostOpts = { name, ... }: {
    options = {
      serverName = mkOption { type = types.nullOr types.str; default = null; description = "Name of this virtual host (default: the attribute name)."; };
      serverAliases = mkOption { type = types.listOf types.str; default = [ ]; description = "Additional names of virtual hosts served by this virtual host configuration."; };
      listen = mkOption {
        type = types.listOf (types.submodule listenOpts);
        default = [ ];
        example = [ { addr = "195.154.1.1"; port = 8080; } ];
        description = "Listen addresses and ports for this virtual host (empty: port 80 on all addresses).";
      };
      default = mkOption { type = types.bool; default = false; description = "Makes this vhost the default (default_server)."; };
      globalRedirect = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "newserver.example.org";
        description = "If set, all requests for this host are redirected (with redirectCode) to the given hostname, keeping the path.";
      };
      redirectCode = mkOption {
        type = types.ints.between 300 399;
        default = 301;
        example = 308;
        description = "HTTP status used by globalRedirect.";
      };
      root = mkOption { type = types.nullOr types.path; default = null; example = "/data/webserver/docs"; description = "The path of the web root directory."; };
      locations = mkOption { type = types.attrsOf (types.submodule locationOpts); default = { }; description = "Declarative location config."; };
      extraConfig = mkOption { type = types.lines; default = ""; description = "These lines go to the end of the vhost verbatim."; };
      addSSL = mkOption { type = types.bool; default = false; description = "Enable HTTPS in addition to plain HTTP (not supported by tinyos)."; };
      forceSSL = mkOption { type = types.bool; default = false; description = "Redirect all requests to HTTPS (not supported by tinyos)."; };
      onlySSL = mkOption { type = types.bool; default = false; description = "Enable HTTPS only (not supported by tinyos)."; };
      enableACME = mkOption { type = types.bool; default = false; description = "Get a certificate with ACME (not supported by tinyos)."; };
      basicAuth = mkOption { type = types.attrsOf types.str; default = { }; description = "Basic Auth protection (not supported by tinyos: must be empty)."; };
    };
  };

  vhostNames = name: v: [ (if v.serverName != null then v.serverName else name) ] ++ v.serverAliases;
  listenLines = v:
    let ls = map (l: l // { port = if l.port == null then 80 else l.port; })
               (if v.listen == [ ] then cfg.defaultListen else v.listen);
    in lib.concatMapStrings (l:
      "listen ${l.addr}:${toString l.port}${lib.optionalString v.default " default_server"}"
      + "${lib.concatMapStrings (p: " ${p}") (l.extraParameters or [ ])};\n") ls;

  locationBlock = path: l: ''
    location ${path} {
      ${lib.optionalString (l.root != null) "root ${toString l.root};"}
      ${lib.optionalString (l.alias != null) "alias ${toString l.alias};"}
      ${lib.optionalString (l.index != null) "index ${l.index};"}
      ${lib.optionalString (l.tryFiles != null) "try_files ${l.tryFiles};"}
      ${lib.optionalString (l.proxyPass != null) "proxy_pass ${l.proxyPass};"}
      ${lib.optionalString (l.proxyPass != null && l.recommendedProxySettings) ''
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
      ''}
      ${lib.optionalString l.proxyWebsockets ''
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
      ''}
      ${l.extraConfig}
      ${lib.optionalString (l.return != null) "return ${toString l.return};"}
    }
  '';

  sortedLocations = locs:
    let names = builtins.sort (a: b: locs.${a}.priority < locs.${b}.priority
      || (locs.${a}.priority == locs.${b}.priority && a < b)) (builtins.attrNames locs);
    in lib.concatMapStrings (p: locationBlock p locs.${p}) names;

  serverBlock = name: v: ''
    server {
      ${listenLines v}
      server_name ${builtins.concatStringsSep " " (vhostNames name v)};
      root ${if v.root != null then toString v.root else defaultRoot};
      ${lib.optionalString (v.globalRedirect != null) ''
        location / {
          return ${toString v.redirectCode} http://${v.globalRedirect}$request_uri;
        }
      ''}
      ${sortedLocations v.locations}
      ${v.extraConfig}
    }
  '';

  configFile = pkgs.writeText "nginx.conf" ''
    pid /run/nginx/nginx.pid;
    error_log stderr;
    daemon off;
    user ${cfg.user} ${cfg.group};
    events { }
    ${cfg.appendConfig}
    http {
      ${lib.optionalString (mimeTypes != null) "include ${mimeTypes};"}
      default_type application/octet-stream;
      access_log /var/log/nginx/access.log;
      client_body_temp_path /var/cache/nginx/client_body;
      proxy_temp_path /var/cache/nginx/proxy;
      fastcgi_temp_path /var/cache/nginx/fastcgi;
      uwsgi_temp_path /var/cache/nginx/uwsgi;
      scgi_temp_path /var/cache/nginx/scgi;
      ${lib.optionalString cfg.recommendedGzipSettings "gzip on;"}
      ${cfg.commonHttpConfig}
      ${lib.concatStrings (lib.mapAttrsToList upstreamBlock cfg.upstreams)}
      ${lib.concatStrings (lib.mapAttrsToList serverBlock cfg.virtualHosts)}
      ${cfg.appendHttpConfig}
    }
  '';
  # upstream NAME { server ADDRESS k=v ... [backup]; ... } (ngx_http_upstream_module)
  upstreamBlock = name: u: ''
    upstream ${name} {
    ${lib.concatStrings (lib.mapAttrsToList (addr: server:
      "  server ${addr}${lib.concatStrings (lib.mapAttrsToList (k: v: " ${k}=${toString v}")
        (removeAttrs server [ "backup" ]))}${lib.optionalString server.backup " backup"};\n") u.servers)}
    ${u.extraConfig}
    }
  '';
  refused = desc: mkOption { type = types.bool; default = false; description = "${desc} (refused: tinyos cannot)."; };
  refusals = {
    recommendedOptimisation = "tinyos cannot: it does not write NixOS's optimisation directives (sendfile, tcp_nopush, tcp_nodelay, keepalive_timeout).";
    recommendedTlsSettings = "tinyos cannot: its nginx serves no TLS.";
    statusPage = "tinyos cannot: it does not serve NixOS's /nginx_status page (stub_status).";
  };
in
{
  options.services.nginx = {
    enable = mkOption { type = types.bool; default = false; description = "Whether to enable Nginx Web Server."; };
    package = mkOption {
      type = types.package;
      default = pkgs.nginx;
      defaultText = lib.literalExpression "pkgs.nginx";
      description = "Nginx package to use (tinyos: Debian's nginx).";
    };
    user = mkOption { type = types.str; default = "nginx"; description = "User account under which nginx runs."; };
    group = mkOption { type = types.str; default = "nginx"; description = "Group account under which nginx runs."; };
    defaultListen = mkOption {
      type = types.listOf (types.submodule {
        options = {
          addr = mkOption { type = types.str; description = "IP address."; };
          port = mkOption { type = types.nullOr types.port; default = null; description = "Port number (null: 80)."; };
          ssl = mkOption { type = types.nullOr types.bool; default = null; description = "Enable SSL (tinyos: not supported)."; };
          proxyProtocol = mkOption { type = types.bool; default = false; description = "Enable PROXY protocol (tinyos: not supported)."; };
        };
      });
      default = [ { addr = "0.0.0.0"; } ] ++ lib.optional config.networking.enableIPv6 { addr = "[::0]"; };
      defaultText = lib.literalExpression ''[ { addr = "0.0.0.0"; } ] ++ lib.optional config.networking.enableIPv6 { addr = "[::0]"; }'';
      example = [ { addr = "10.0.0.12"; } { addr = "[2002:a00:1::]"; } ];
      description = "The listen addresses (and ports) of virtual hosts that set no listen of their own.";
    };
    virtualHosts = mkOption {
      type = types.attrsOf (types.submodule vhostOpts);
      default = { localhost = { }; };
      example = { "example.org" = { root = "/var/www/example.org"; }; };
      description = "Declarative vhost config.";
    };
    upstreams = mkOption {
      type = types.attrsOf (types.submodule {
        options = {
          servers = mkOption {
            type = types.attrsOf (types.submodule {
              freeformType = types.attrsOf (types.oneOf [ types.bool types.int types.str ]);
              options.backup = mkOption { type = types.bool; default = false; description = "Marks the server as a backup server."; };
            });
            example = { "127.0.0.1:8000" = { }; "127.0.0.1:8001" = { backup = true; }; };
            description = "Defines the address and other parameters of the upstream servers.";
          };
          extraConfig = mkOption { type = types.lines; default = ""; description = "These lines go to the end of the upstream verbatim."; };
        };
      });
      default = { };
      description = "Defines a group of servers to use as proxy target.";
    };
    commonHttpConfig = mkOption { type = types.lines; default = ""; description = "Lines at the start of the http block."; };
    appendHttpConfig = mkOption { type = types.lines; default = ""; description = "Lines at the end of the http block."; };
    appendConfig = mkOption { type = types.lines; default = ""; description = "Lines at the top level of nginx.conf."; };
    recommendedGzipSettings = mkOption { type = types.bool; default = false; description = "Enable recommended gzip settings (tinyos: gzip on)."; };
    recommendedOptimisation = refused "Enable recommended optimisation settings";
    recommendedProxySettings = mkOption { type = types.bool; default = false; description = "Whether to enable recommended proxy settings."; };
    recommendedTlsSettings = refused "Enable recommended TLS settings";
    statusPage = refused "Enable status page reachable from localhost";
  };

  config = lib.mkIf cfg.enable {
    assertions = lib.mapAttrsToList (name: v: {
      assertion = !(v.addSSL || v.forceSSL || v.onlySSL || v.enableACME || builtins.any (l: l.ssl) v.listen) && v.basicAuth == { };
      message = "services.nginx.virtualHosts.${name}: TLS (addSSL, forceSSL, onlySSL, enableACME, listen.*.ssl) and basicAuth are not supported by tinyos";
    }) cfg.virtualHosts ++ [ {
      assertion = builtins.all (l: l.ssl != true && !l.proxyProtocol) cfg.defaultListen;
      message = "services.nginx.defaultListen: tinyos cannot listen with ssl or proxyProtocol (its nginx has no TLS set up)";
    } ] ++ lib.mapAttrsToList (k: why: { assertion = !cfg.${k}; message = "services.nginx.${k}: ${why}"; }) refusals;

    # ids.nix: nginx's uid and gid are 60 when the user and group are "nginx"
    users.users.${cfg.user} = { isSystemUser = true; group = cfg.group; }
      // lib.optionalAttrs (cfg.user == "nginx") { uid = 60; };
    users.groups.${cfg.group} = lib.optionalAttrs (cfg.group == "nginx") { gid = 60; };
    environment.etc."nginx/nginx.conf".source = configFile;

    systemd.services.nginx = {
      description = "Nginx Web Server";
      wantedBy = [ "multi-user.target" ];
      after = [ "network.target" ];
      serviceConfig.Restart = "always";
      preStart = ''
        mkdir -p /var/log/nginx /var/cache/nginx /run/nginx
        chown ${cfg.user}:${cfg.group} /var/log/nginx /var/cache/nginx
        ${cfg.package}/bin/nginx -t -q -e stderr -c ${configFile}
      '';
      script = "exec ${cfg.package}/bin/nginx -e stderr -c ${configFile}";
    };
    system.build.nginxConfig = configFile;
  };
}
