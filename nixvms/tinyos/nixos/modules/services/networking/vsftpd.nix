# Mirrors nixos/modules/services/networking/vsftpd.nix (services.vsftpd):
# Debian's vsftpd run as NixOS's vsftpd unit (forking, background=YES) with
# the configuration file NixOS writes: one YES/NO line per boolean option,
# listen_ipv6 (both address families), nopriv_user vsftpd, secure_chroot_dir
# /var/empty, the anonymous user ftp (ids.nix's uid and gid 8) with its
# read-only home made by a tmpfiles rule. tinyos has no PAM, so logins that
# need it (localUsers, enableVirtualUsers) are refused; anonymous FTP needs
# none.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.vsftpd;

  # NixOS's boolean options: option name, vsftpd.conf name, default, description
  yesNo = [
    [ "allowWriteableChroot" "allow_writeable_chroot" false "Allow the use of writeable root inside chroot()." ]
    [ "virtualUseLocalPrivs" "virtual_use_local_privs" false "If enabled, virtual users will use the same privileges as local users." ]
    [ "anonymousUser" "anonymous_enable" false "Whether to enable the anonymous FTP user." ]
    [ "anonymousUserNoPassword" "no_anon_password" false "Whether to disable the password for the anonymous FTP user." ]
    [ "localUsers" "local_enable" false "Whether to enable FTP for local users." ]
    [ "writeEnable" "write_enable" false "Whether any write activity is permitted to users." ]
    [ "anonymousUploadEnable" "anon_upload_enable" false "Whether any uploads are permitted to anonymous users." ]
    [ "anonymousMkdirEnable" "anon_mkdir_write_enable" false "Whether any uploads are permitted to anonymous users." ]
    [ "chrootlocalUser" "chroot_local_user" false "Whether local users are confined to their home directory." ]
    [ "userlistEnable" "userlist_enable" false "Whether users are included." ]
    [ "userlistDeny" "userlist_deny" false "Specifies whether userlistFile is a list of user names to allow (false) or deny access." ]
    [ "forceLocalLoginsSSL" "force_local_logins_ssl" false "Only applies if sslEnable is true. Non anonymous (local) users must use a secure SSL connection to send a password." ]
    [ "forceLocalDataSSL" "force_local_data_ssl" false "Only applies if sslEnable is true. Non anonymous (local) users must use a secure SSL connection for the data connection." ]
    [ "portPromiscuous" "port_promiscuous" false "Set to YES to disable the PORT security check that ensures that outgoing data connections can only connect to the client." ]
    [ "ssl_tlsv1" "ssl_tlsv1" true "Only applies if ssl_enable is activated: permit TLS v1 protocol connections." ]
    [ "ssl_sslv2" "ssl_sslv2" false "Only applies if ssl_enable is activated: permit SSL v2 protocol connections." ]
    [ "ssl_sslv3" "ssl_sslv3" false "Only applies if ssl_enable is activated: permit SSL v3 protocol connections." ]
  ];
  yesNoOptions = builtins.listToAttrs (map (o: {
    name = builtins.elemAt o 0;
    value = mkOption { type = types.bool; default = builtins.elemAt o 2; description = builtins.elemAt o 3; };
  }) yesNo);
  yesNoLines = lib.concatMapStrings (o:
    "${builtins.elemAt o 1}=${if cfg.${builtins.elemAt o 0} then "YES" else "NO"}\n") yesNo;

  configFile = pkgs.writeText "vsftpd.conf" ''
    ${yesNoLines}
    ${lib.optionalString (cfg.rsaCertFile != null) "ssl_enable=YES\nrsa_cert_file=${cfg.rsaCertFile}"}
    ${lib.optionalString (cfg.rsaKeyFile != null) "rsa_private_key_file=${cfg.rsaKeyFile}"}
    ${lib.optionalString (cfg.userlistFile != null) "userlist_file=${cfg.userlistFile}"}
    background=YES
    listen=NO
    listen_ipv6=YES
    nopriv_user=vsftpd
    secure_chroot_dir=/var/empty
    ${lib.optionalString (cfg.localRoot != null) "local_root=${cfg.localRoot}"}
    syslog_enable=YES
    ${lib.optionalString (pkgs.stdenv.hostPlatform.system == "x86_64-linux") "seccomp_sandbox=NO"}
    anon_umask=${cfg.anonymousUmask}
    ${lib.optionalString cfg.anonymousUser "anon_root=${cfg.anonymousUserHome}"}
    ${lib.optionalString cfg.enableVirtualUsers "guest_enable=YES\nguest_username=vsftpd"}
    pam_service_name=vsftpd
    ${cfg.extraConfig}
  '';
in
{
  options.services.vsftpd = yesNoOptions // {
    enable = mkOption { type = types.bool; default = false; description = "Whether to enable vsftpd."; };
    userlist = mkOption { type = types.listOf types.str; default = [ ]; description = "See userlistFile."; };
    userlistFile = mkOption {
      type = types.path;
      default = pkgs.writeText "userlist" (lib.concatMapStrings (x: "${x}\n") cfg.userlist);
      defaultText = lib.literalExpression ''pkgs.writeText "userlist" (concatMapStrings (x: "''${x}\n") cfg.userlist)'';
      description = "Newline separated list of names to be allowed/denied if userlistEnable is true (see userlistDeny).";
    };
    enableVirtualUsers = mkOption { type = types.bool; default = false; description = "Whether to enable the pam_userdb-based virtual user system (tinyos cannot: it has no PAM)."; };
    userDbPath = mkOption { type = types.nullOr types.str; default = null; example = "/etc/vsftpd/userDb"; description = "Only applies if enableVirtualUsers is true: the pam_userdb user database."; };
    localRoot = mkOption { type = types.nullOr types.str; default = null; example = "/var/www/$USER"; description = "A directory which vsftpd will try to change into after a local (i.e. non-anonymous) login."; };
    anonymousUserHome = mkOption { type = types.path; default = "/home/ftp/"; description = "Directory to consider the HOME of the anonymous user."; };
    rsaCertFile = mkOption { type = types.nullOr types.path; default = null; description = "RSA certificate file."; };
    rsaKeyFile = mkOption { type = types.nullOr types.path; default = null; description = "RSA private key file."; };
    anonymousUmask = mkOption { type = types.str; default = "077"; example = "002"; description = "Anonymous write umask."; };
    extraConfig = mkOption { type = types.lines; default = ""; example = "ftpd_banner=Hello"; description = "Extra configuration to add at the bottom of the generated configuration file."; };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      # NixOS's assertions, with its messages
      { assertion = (cfg.forceLocalLoginsSSL -> cfg.rsaCertFile != null) && (cfg.forceLocalDataSSL -> cfg.rsaCertFile != null);
        message = "vsftpd: If forceLocalLoginsSSL or forceLocalDataSSL is true then a rsaCertFile must be provided!"; }
      { assertion = (cfg.enableVirtualUsers -> cfg.userDbPath != null) && (cfg.enableVirtualUsers -> cfg.localUsers);
        message = "vsftpd: If enableVirtualUsers is true, you need to setup both the userDbPath and localUsers options."; }
      # tinyos's
      { assertion = !cfg.localUsers;
        message = "services.vsftpd.localUsers: tinyos cannot: vsftpd checks local users' passwords with PAM, which tinyos does not have (anonymousUser works)."; }
      { assertion = !cfg.enableVirtualUsers;
        message = "services.vsftpd.enableVirtualUsers: tinyos cannot: virtual users are PAM's pam_userdb, which tinyos does not have."; }
    ];

    users.users.vsftpd = {
      group = "vsftpd";
      isSystemUser = true;
      description = "VSFTPD user";
      home = if cfg.localRoot != null then cfg.localRoot else "/homeless-shelter";
    };
    users.users.ftp = lib.mkIf cfg.anonymousUser {
      uid = 8;
      group = "ftp";
      description = "Anonymous FTP user";
      home = cfg.anonymousUserHome;
    };
    users.groups.vsftpd = { };
    users.groups.ftp.gid = 8;

    # If you really have to access root via FTP use mkOverride or
    # userlistDeny = false and whitelist root (NixOS's comment)
    services.vsftpd.userlist = lib.optional cfg.userlistDeny "root";

    # NixOS quotes the fields ('/home/ftp/'); tinyos's tmpfiles reads
    # unquoted ones, the same rule for a path without spaces
    systemd.tmpfiles.rules = lib.optional cfg.anonymousUser
      "d ${builtins.toString cfg.anonymousUserHome} 0555 ftp ftp - -";

    systemd.services.vsftpd = {
      description = "Vsftpd Server";
      wantedBy = [ "multi-user.target" ];
      # NixOS's ExecStart is "@<vsftpd> vsftpd <conf>" (argv[0] given):
      # tinyos's unit runner takes no "@" prefix
      serviceConfig.ExecStart = "${pkgs.vsftpd}/bin/vsftpd ${configFile}";
      serviceConfig.Restart = "always";
      serviceConfig.Type = "forking";
    };
  };
}
