# Mirrors nixos/modules/services/networking/ssh/sshd.nix (services.openssh),
# served by dropbear instead of OpenSSH. What NixOS's settings mean is done
# with dropbear's flags where it has one, and refused otherwise:
# - PermitRootLogin (default "prohibit-password"): -w / -g;
# - PasswordAuthentication: -s; PrintMotd = false: -m; Banner: -b;
#   GatewayPorts "yes": -a;
# - AllowUsers, DenyUsers, AllowGroups, DenyGroups: tinyos knows every
#   account at build time, so it computes who may log in and lets dropbear
#   check it (-G, a group of exactly those users); patterns (*, ?, user@host)
#   are refused;
# - the other settings NixOS declares keep NixOS's defaults (dropbear
#   behaves so, or has no such knob); another value is refused, naming the
#   option, as is any undeclared (freeform) key. Ciphers, KexAlgorithms and
#   Macs may also be null (no line in sshd_config: the daemon's own
#   algorithms, dropbear's compiled-in ones), which is their default with
#   enableRecommendedAlgorithms = false, as in NixOS;
# - listenAddresses: ListenAddress lines, dropbear's -p address:port (an
#   address without a port listens on each of ports, as OpenSSH does).
# The host key: NixOS's hostKeys path /etc/ssh/ssh_host_ed25519_key (and
# .pub), OpenSSH format; generated at first boot into /var/lib/dropbear (the
# persistent disk, as NixOS's /etc/ssh persists) since tinyos's /etc is
# made anew at every boot. NixOS also makes an RSA key; tinyos does not.
# users.users.<name>.openssh.authorizedKeys: config/users-groups.nix.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.openssh;
  s = cfg.settings;
  nullOr = types.nullOr;
  hostKey = { type = "ed25519"; path = "/etc/ssh/ssh_host_ed25519_key"; };
  # the host key (dropbear's, kept on the persistent disk) and its OpenSSH
  # form at hostKeys' path: sshd's preStart, or sshd-keygen's alone
  keygen = ''
    mkdir -p /var/lib/dropbear /etc/ssh
    [ -s /var/lib/dropbear/ed25519_host_key ] || dropbearkey -t ed25519 -f /var/lib/dropbear/ed25519_host_key
    umask 077
    dropbearconvert dropbear openssh /var/lib/dropbear/ed25519_host_key /etc/ssh/ssh_host_ed25519_key
    umask 022
    dropbearkey -y -f /var/lib/dropbear/ed25519_host_key | grep '^ssh-' > /etc/ssh/ssh_host_ed25519_key.pub
  '';
  rootModes = [ "yes" "without-password" "prohibit-password" "forced-commands-only" "no" ];

  # dropbear: -w disallows root, -g root password logins; -s all password logins
  rootFlags = {
    yes = "";
    prohibit-password = "-g";
    without-password = "-g";
    forced-commands-only = "-g";
    no = "-w";
    "" = "-g"; # null: not in sshd_config, OpenSSH's default prohibit-password
  }.${toString s.PermitRootLogin};

  # The settings NixOS declares that dropbear cannot change: NixOS's default,
  # and what tinyos says when another value is set.
  fixed = {
    AuthorizedPrincipalsFile = { default = "none"; why = "dropbear has no certificate authentication"; };
    Ciphers = { default = algorithms "Ciphers"; why = "dropbear's ciphers are compiled in"; };
    KexAlgorithms = { default = algorithms "KexAlgorithms"; why = "dropbear's key exchange algorithms are compiled in"; };
    Macs = { default = algorithms "Macs"; why = "dropbear's MACs are compiled in"; };
    KbdInteractiveAuthentication = { default = true; why = "dropbear has no keyboard-interactive authentication to turn off (only password authentication: PasswordAuthentication)"; };
    LogLevel = { default = "INFO"; why = "dropbear has no log levels"; };
    StrictModes = { default = true; why = "dropbear always checks the modes of ~/.ssh"; };
    UseDns = { default = false; why = "dropbear never looks up client names"; };
    UsePAM = { default = true; why = "dropbear is built without PAM; password logins are checked against /etc/shadow"; };
    X11Forwarding = { default = false; why = "dropbear is built without X11 forwarding"; };
  };
  algorithms = k: if cfg.enableRecommendedAlgorithms then recommended.${k} else null;
  # null: no line in sshd_config, the daemon's own (dropbear's compiled-in) set
  nullable = [ "Ciphers" "KexAlgorithms" "Macs" ];
  # dropbear's -p [address:]port per ListenAddress (and per port when the
  # address has none), or per port
  listenFlags =
    if cfg.listenAddresses == [ ] then map (p: "-p ${toString p}") cfg.ports
    else lib.concatMap (la:
      map (p: "-p ${lib.optionalString (la.addr != null) "${la.addr}:"}${toString p}")
        (if la.port != null then [ la.port ] else cfg.ports)) cfg.listenAddresses;
  recommended = {
    Ciphers = [ "chacha20-poly1305@openssh.com" "aes256-gcm@openssh.com" "aes128-gcm@openssh.com" "aes256-ctr" "aes192-ctr" "aes128-ctr" ];
    KexAlgorithms = [ "mlkem768x25519-sha256" "sntrup761x25519-sha512" "sntrup761x25519-sha512@openssh.com"
                      "curve25519-sha256" "curve25519-sha256@libssh.org" "diffie-hellman-group-exchange-sha256" ];
    Macs = [ "hmac-sha2-512-etm@openssh.com" "hmac-sha2-256-etm@openssh.com" "umac-128-etm@openssh.com" ];
  };
  honoured = [ "PermitRootLogin" "PasswordAuthentication" "PrintMotd" "Banner" "GatewayPorts"
               "AllowUsers" "DenyUsers" "AllowGroups" "DenyGroups" ];
  freeform = builtins.filter (k: !(fixed ? ${k}) && !builtins.elem k honoured) (builtins.attrNames s);

  # Who may log in (sshd_config(5): DenyUsers, AllowUsers, DenyGroups, AllowGroups)
  accessLists = [ "AllowUsers" "DenyUsers" "AllowGroups" "DenyGroups" ];
  restricted = builtins.any (k: s.${k} != null) accessLists;
  patterns = k: builtins.filter (n: builtins.match ".*[*?@!,].*" n != null) (if s.${k} == null then [ ] else s.${k});
  accounts = builtins.filter (u: u.enable) (builtins.attrValues config.users.users);
  groupsOf = u: [ u.group ] ++ u.extraGroups
    ++ lib.mapAttrsToList (_: g: g.name)
      (lib.filterAttrs (n: g: n != loginGroup && builtins.elem u.name g.members) config.users.groups);
  inList = k: xs: s.${k} != null && builtins.any (x: builtins.elem x s.${k}) xs;
  allowed = u:
    !(inList "DenyUsers" [ u.name ]) && (s.AllowUsers == null || inList "AllowUsers" [ u.name ])
    && !(inList "DenyGroups" (groupsOf u)) && (s.AllowGroups == null || inList "AllowGroups" (groupsOf u));
  loginGroup = "tinyos-sshd-allowed";

  # scp alone of OpenSSH's client programs (Debian's openssh-client)
  scp = pkgs.runCommand "scp-${pkgs.openssh-client.version}" { } ''
    mkdir -p $out/bin
    ln -s ${pkgs.openssh-client}/bin/scp $out/bin/scp
  '';

  setting = name: type: default: description: mkOption { inherit type default description; };
in
{
  options.services.openssh = {
    enable = mkOption { type = types.bool; default = false; description = "Whether to enable the secure shell daemon (dropbear in tinyos), which allows secure remote logins."; };
    ports = mkOption { type = types.listOf types.port; default = [ 22 ]; description = "Specifies on which ports the SSH daemon listens."; };
    listenAddresses = mkOption {
      type = types.listOf (types.submodule {
        options = {
          addr = mkOption { type = nullOr types.str; default = null; description = "Host, IPv4 or IPv6 address to listen to."; };
          port = mkOption { type = nullOr types.int; default = null; description = "Port to listen to."; };
        };
      });
      default = [ ];
      example = [ { addr = "192.168.3.1"; port = 22; } { addr = "0.0.0.0"; port = 64022; } ];
      description = "List of addresses and ports to listen on (ListenAddress directive in config). If port is not specified for address sshd will listen on all ports specified by ports option.";
    };
    # NixOS's default also has an RSA key (bits = 4096); tinyos's dropbear
    # makes and serves the ed25519 key alone, so that is the default here
    # and any other key is refused
    hostKeys = mkOption {
      type = types.listOf types.attrs;
      default = [ hostKey ];
      example = [ { type = "ed25519"; path = "/etc/ssh/ssh_host_ed25519_key"; } ];
      description = "NixOS can automatically generate SSH host keys. This option specifies the path, type and size of each key (tinyos: the ed25519 key at /etc/ssh/ssh_host_ed25519_key only).";
    };
    generateHostKeys = mkOption {
      type = types.bool;
      default = false;
      description = "Whether to generate SSH host keys even if sshd is disabled (the sshd-keygen unit).";
    };
    enableRecommendedAlgorithms = mkOption {
      type = types.bool;
      default = true;
      description = "Allow only a secure, curated set of algorithms (the defaults of settings.Ciphers, KexAlgorithms and Macs); false leaves them null, the daemon's defaults.";
    };
    openFirewall = mkOption { type = types.bool; default = true; description = "Whether to automatically open the specified ports in the firewall."; };
    # NixOS: mkRenamedOptionModule to settings.PermitRootLogin (a warning)
    permitRootLogin = mkOption {
      type = nullOr (types.enum rootModes);
      default = null;
      visible = false;
      description = "Renamed to services.openssh.settings.PermitRootLogin.";
    };
    settings = mkOption {
      type = types.submodule {
        freeformType = types.attrsOf types.unspecified;
        options = {
          PermitRootLogin = setting "PermitRootLogin" (nullOr (types.enum rootModes)) "prohibit-password" "Whether the root user can login using ssh.";
          PasswordAuthentication = setting "PasswordAuthentication" (nullOr types.bool) true "Specifies whether password authentication is allowed.";
          PrintMotd = setting "PrintMotd" (nullOr types.bool) false "Whether to print /etc/motd when a user logs in interactively.";
          Banner = setting "Banner" (nullOr types.path) null "The file whose contents are sent to the remote user before authentication.";
          GatewayPorts = setting "GatewayPorts" (nullOr types.str) "no" "Specifies whether remote hosts are allowed to connect to ports forwarded for the client.";
          AllowUsers = setting "AllowUsers" (nullOr (types.listOf types.str)) null "If specified, login is allowed only for the listed users.";
          DenyUsers = setting "DenyUsers" (nullOr (types.listOf types.str)) null "If specified, login is denied for all listed users.";
          AllowGroups = setting "AllowGroups" (nullOr (types.listOf types.str)) null "If specified, login is allowed only for users part of the listed groups.";
          DenyGroups = setting "DenyGroups" (nullOr (types.listOf types.str)) null "If specified, login is denied for all users part of the listed groups.";
        } // builtins.mapAttrs (k: f: mkOption {
          type = types.unspecified;
          inherit (f) default;
          description = "As in NixOS (sshd_config(5)); tinyos accepts only the default: ${f.why}.";
        }) fixed;
      };
      default = { };
      description = "Configuration for sshd_config (see the file's header for what dropbear honours).";
    };
  };

  config = lib.mkMerge [ (lib.mkIf (cfg.generateHostKeys && !cfg.enable) {
    # NixOS's sshd-keygen: the keys without the daemon
    systemd.services.sshd-keygen = {
      description = "SSH Host Keys Generation";
      wantedBy = [ "multi-user.target" ];
      path = [ pkgs.dropbear ];
      serviceConfig = { Type = "oneshot"; RemainAfterExit = true; };
      script = keygen;
    };
  }) (lib.mkIf cfg.enable {
    services.openssh.settings.PermitRootLogin = lib.mkIf (cfg.permitRootLogin != null) cfg.permitRootLogin;
    warnings = lib.optional (cfg.permitRootLogin != null)
      "The option `services.openssh.permitRootLogin' has been renamed to `services.openssh.settings.PermitRootLogin'.";

    assertions =
      lib.mapAttrsToList (k: f: {
        assertion = s.${k} == f.default || (builtins.elem k nullable && s.${k} == null);
        message = "services.openssh.settings.${k}: tinyos cannot set it to ${builtins.toJSON s.${k}}: its sshd is dropbear, and ${f.why}.";
      }) fixed
      ++ map (k: {
        assertion = false;
        message = "services.openssh.settings.${k}: tinyos cannot honour this sshd_config key: its sshd is dropbear, which has no such setting.";
      }) freeform
      ++ map (k: {
        assertion = patterns k == [ ];
        message = "services.openssh.settings.${k}: tinyos cannot match patterns (${toString (patterns k)}): dropbear checks a list of names.";
      }) accessLists
      ++ map (k: {
        assertion = k == hostKey;
        message = "services.openssh.hostKeys: tinyos cannot make ${builtins.toJSON k}: dropbear serves one key, ${builtins.toJSON hostKey}.";
      }) cfg.hostKeys
      ++ [ {
        assertion = builtins.elem s.GatewayPorts [ "no" "yes" null ];
        message = "services.openssh.settings.GatewayPorts: tinyos cannot set it to \"${toString s.GatewayPorts}\": dropbear has only \"no\" and \"yes\" (-a).";
      } ];

    users.groups.${loginGroup} = lib.mkIf restricted { members = map (u: u.name) (builtins.filter allowed accounts); };

    # NixOS's sshd.nix serves the sftp subsystem ("Subsystem sftp
    # ${cfg.sftpServerExecutable}", OpenSSH's sftp-server) and puts OpenSSH,
    # with scp, on PATH. dropbear runs sftp at its compiled-in
    # SFTPSERVER_PATH, /usr/lib/sftp-server, which boot links to OpenSSH's
    # (Debian's openssh-sftp-server); `scp -O` runs `scp -t` on PATH.
    environment.systemPackages = [ pkgs.dropbear scp ];
    system.activationScripts.sftpServer = ''
      mkdir -p /usr/lib
      ln -sfn ${pkgs.openssh-sftp-server}/bin/sftp-server /usr/lib/sftp-server
    '';
    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall cfg.ports;

    systemd.services.sshd = {
      description = "SSH Daemon";
      wantedBy = [ "multi-user.target" ];
      after = [ "network.target" ];
      path = [ pkgs.dropbear ];
      preStart = keygen;
      serviceConfig.Restart = "always";
      # -F foreground, -E log to stderr; the rest as settings say
      script = ''
        exec dropbear -F -E -r /var/lib/dropbear/ed25519_host_key \
          ${builtins.concatStringsSep " " listenFlags} \
          ${rootFlags} ${lib.optionalString (s.PasswordAuthentication == false) "-s"} \
          ${lib.optionalString (s.PrintMotd != true) "-m"} \
          ${lib.optionalString (s.Banner != null) "-b ${s.Banner}"} \
          ${lib.optionalString (s.GatewayPorts == "yes") "-a"} \
          ${lib.optionalString restricted "-G ${loginGroup}"}
      '';
    };
  }) ];
}
