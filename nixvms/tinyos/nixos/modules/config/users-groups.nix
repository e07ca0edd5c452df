# Mirrors nixos/modules/config/users-groups.nix (and, for
# users.users.<name>.openssh.authorizedKeys, the declaration NixOS makes in
# services/networking/ssh/sshd.nix): /etc/passwd, /etc/group, /etc/shadow
# and /etc/ssh/authorized_keys.d/<user>, which boot also copies to
# ~<user>/.ssh/authorized_keys for servers that only read that (dropbear).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.users;

  userOpts = { name, config, ... }: {
    options = {
      name = mkOption { type = types.str; default = name; description = "The name of the user account."; };
      uid = mkOption { type = types.nullOr types.int; default = null; description = "The account UID (allocated from 1000 for normal users when null)."; };
      isNormalUser = mkOption { type = types.bool; default = false; description = "A normal user: home under /home, uid from 1000."; };
      isSystemUser = mkOption { type = types.bool; default = false; description = "A system user: uid below 1000."; };
      group = mkOption { type = types.str; default = ""; description = "The user's primary group."; };
      extraGroups = mkOption { type = types.listOf types.str; default = [ ]; description = "The user's auxiliary groups."; };
      description = mkOption { type = types.str; default = ""; description = "A short description of the user account (GECOS)."; };
      home = mkOption {
        type = types.str;
        default = if config.isNormalUser then "/home/${name}" else "/var/empty";
        description = "The user's home directory.";
      };
      createHome = mkOption { type = types.bool; default = config.isNormalUser; description = "Whether to create the home directory at boot."; };
      shell = mkOption {
        type = types.nullOr (types.either types.package types.str);
        default = null;
        description = "The path to the user's shell (default: busybox sh).";
      };
      hashedPassword = mkOption { type = types.nullOr types.str; default = null; description = "The user's password hash (crypt(3)); \"!\" locks the account."; };
      password = mkOption { type = types.nullOr types.str; default = null; description = "The user's password in clear text (world-readable in the Nix store); set at boot."; };
      initialPassword = mkOption { type = types.nullOr types.str; default = null; description = "As password (tinyos's /etc is rebuilt at every boot)."; };
      packages = mkOption {
        type = types.listOf types.package;
        default = [ ];
        example = lib.literalExpression "[ pkgs.curl ]";
        description = "The packages of this user (tinyos puts them in the system's PATH; NixOS in the user's profile).";
      };
      initialHashedPassword = mkOption { type = types.nullOr types.str; default = null; description = "As hashedPassword (tinyos's /etc is rebuilt at every boot)."; };
      openssh.authorizedKeys.keys = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "A list of verbatim OpenSSH public keys that should be added to the user's authorized keys.";
      };
      openssh.authorizedKeys.keyFiles = mkOption {
        type = types.listOf types.path;
        default = [ ];
        description = "A list of files each containing one OpenSSH public key.";
      };
    };
  };

  groupOpts = { name, ... }: {
    options = {
      name = mkOption { type = types.str; default = name; description = "The name of the group."; };
      gid = mkOption { type = types.nullOr types.int; default = null; description = "The group GID."; };
      members = mkOption { type = types.listOf types.str; default = [ ]; description = "The user names of the group members."; };
    };
  };

  users = builtins.attrValues cfg.users;
  normalNames = map (u: u.name) (builtins.filter (u: u.uid == null && u.name != "root") users);
  # uids as NixOS's update-users-groups.pl allocates them, but
  # deterministically: by name, normal users from 1000, others from 400.
  autoUid = u:
    let
      pool = builtins.filter (n: (cfg.users.${n}.isNormalUser) == u.isNormalUser) normalNames;
      index = lib.lists.findFirstIndex (n: n == u.name) 0 pool;
    in (if u.isNormalUser then 1000 else 400) + index;
  uidOf = u: if u.uid != null then u.uid else if u.name == "root" then 0 else autoUid u;
  groupNames = builtins.attrNames cfg.groups;
  gidOf = g: if g.gid != null then g.gid
    else if g.name == "root" then 0
    else 500 + lib.lists.findFirstIndex (n: n == g.name) 0 groupNames;
  primaryGroup = u: if u.group != "" then u.group else if u.isNormalUser then "users" else "nogroup";
  shellOf = u: if u.shell == null then "${pkgs.busybox}/bin/sh" else toString u.shell;
  passwordOf = u:
    if u.hashedPassword != null then u.hashedPassword
    else if u.initialHashedPassword != null then u.initialHashedPassword
    else "!";
  keysOf = u: u.openssh.authorizedKeys.keys
    ++ map (f: lib.removeSuffix "\n" (builtins.readFile f)) u.openssh.authorizedKeys.keyFiles;
  membersOf = g: lib.unique (g.members
    ++ map (u: u.name) (builtins.filter (u: builtins.elem g.name u.extraGroups) users));
in
{
  options.users = {
    users = mkOption {
      type = types.attrsOf (types.submodule userOpts);
      default = { };
      description = "Additional user accounts to be created automatically by the system.";
    };
    groups = mkOption {
      type = types.attrsOf (types.submodule groupOpts);
      default = { };
      description = "Additional groups to be created automatically by the system.";
    };
    mutableUsers = mkOption {
      type = types.bool;
      default = true;
      description = "Accepted for NixOS compatibility; tinyos rebuilds /etc/passwd at every boot.";
    };
  };

  config = {
    users.users.root = {
      uid = 0;
      description = "System administrator";
      home = "/root";
      group = "root";
      createHome = true;
    };
    users.users.nobody = { uid = 65534; description = "Unprivileged account (don't use!)"; group = "nogroup"; };
    users.groups = {
      root.gid = 0;
      wheel.gid = 1;
      users.gid = 100;
      nogroup.gid = 65534;
    };

    environment.etc = {
      passwd = {
        mode = "0644";
        text = lib.concatMapStrings (u:
          "${u.name}:x:${toString (uidOf u)}:${toString (gidOf cfg.groups.${primaryGroup u})}:${u.description}:${u.home}:${shellOf u}\n") (builtins.sort (a: b: uidOf a < uidOf b) users);
      };
      group = {
        mode = "0644";
        text = lib.concatMapStrings (g:
          "${g.name}:x:${toString (gidOf g)}:${builtins.concatStringsSep "," (membersOf g)}\n")
          (builtins.sort (a: b: gidOf a < gidOf b) (builtins.attrValues cfg.groups));
      };
      shadow = {
        mode = "0600";
        text = lib.concatMapStrings (u: "${u.name}:${passwordOf u}:1::::::\n")
          (builtins.sort (a: b: uidOf a < uidOf b) users);
      };
    } // builtins.listToAttrs (map (u: {
      name = "ssh/authorized_keys.d/${u.name}";
      value = { mode = "0444"; text = builtins.concatStringsSep "\n" (keysOf u) + "\n"; };
    }) (builtins.filter (u: keysOf u != [ ]) users));

    assertions = map (u: {
      assertion = cfg.groups ? ${primaryGroup u};
      message = "users.users.${u.name}.group: group `${primaryGroup u}' is not defined in users.groups.";
    }) users;

    environment.systemPackages = builtins.concatMap (u: u.packages) users;

    # Homes and ~/.ssh/authorized_keys (tinyos's update-users-groups).
    boot.postBootCommands = lib.concatMapStrings (u: ''
      ${let pw = if u.password != null then u.password else u.initialPassword; in
        lib.optionalString (pw != null && u.hashedPassword == null)
          "echo ${lib.escapeShellArg "${u.name}:${pw}"} | chpasswd >/dev/null\n"}
      ${lib.optionalString u.createHome ''
        mkdir -p ${lib.escapeShellArg u.home}
        chown ${toString (uidOf u)}:${toString (gidOf cfg.groups.${primaryGroup u})} ${lib.escapeShellArg u.home}
      ''}
      ${lib.optionalString (keysOf u != [ ]) ''
        mkdir -p ${lib.escapeShellArg u.home}/.ssh
        cp /etc/ssh/authorized_keys.d/${u.name} ${lib.escapeShellArg u.home}/.ssh/authorized_keys
        chmod 700 ${lib.escapeShellArg u.home}/.ssh
        chmod 600 ${lib.escapeShellArg u.home}/.ssh/authorized_keys
        chown -R ${toString (uidOf u)} ${lib.escapeShellArg u.home}/.ssh
      ''}
    '') users;
  };
}
