# Mirrors nixos/modules/config/users-groups.nix and what its
# update-users-groups.pl does at activation, done at build time instead
# (tinyos's /etc is made anew at every boot from the store, as NixOS's is
# with users.mutableUsers = false):
# - /etc/passwd, /etc/group and /etc/shadow (0640 root:shadow, as the
#   script writes it); uids and gids NixOS's ranges (normal users from 1000
#   up, system users and groups from 999 down), allocated by name;
# - passwords: `password`/`initialPassword` hashed with SHA-512 crypt, as
#   the script's hashPassword does (mkpasswd -m sha-512); NixOS draws a
#   random salt at activation, tinyos derives it from the user's name and
#   password so that a build is reproducible (the clear password is in the
#   world-readable store either way, as NixOS's option text warns);
# - homes made with homeMode and the user's owner (createHome);
# - the standard groups of NixOS (ids.nix gids), members from extraGroups;
# - the assertions and their messages, NixOS's.
# users.users.<name>.openssh.authorizedKeys (declared by NixOS in
# services/networking/ssh/sshd.nix) goes to /etc/ssh/authorized_keys.d/<user>,
# which boot also copies to ~<user>/.ssh/authorized_keys (dropbear reads that).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkDefault mkIf types;
  cfg = config.users;

  userOpts = { name, config, ... }: {
    options = {
      enable = mkOption { type = types.bool; default = true; description = "If set to false, the user account will not be created."; };
      name = mkOption { type = types.str; default = name; description = "The name of the user account."; };
      uid = mkOption { type = types.nullOr types.int; default = null; description = "The account UID. If the UID is null, a free UID is picked."; };
      isNormalUser = mkOption { type = types.bool; default = false; description = "Indicates whether this is an account for a “real” user (group users, home /home/<name> created, the default shell)."; };
      isSystemUser = mkOption { type = types.bool; default = false; description = "Indicates if the user is a system user (uid allocated below 1000)."; };
      group = mkOption { type = types.str; default = ""; description = "The user's primary group."; };
      extraGroups = mkOption { type = types.listOf types.str; default = [ ]; description = "The user's auxiliary groups."; };
      description = mkOption { type = types.str; default = ""; description = "A short description of the user account (GECOS)."; };
      home = mkOption { type = types.str; default = "/var/empty"; description = "The user's home directory."; };
      homeMode = mkOption { type = types.strMatching "[0-7]{1,5}"; default = "700"; description = "The user's home directory mode, applied if createHome is true."; };
      createHome = mkOption { type = types.bool; default = false; description = "Whether to create the home directory and ensure ownership and permissions."; };
      shell = mkOption {
        type = types.nullOr (types.either types.package types.str);
        default = pkgs.shadow;
        defaultText = lib.literalExpression "pkgs.shadow";
        description = "The path to the user's shell (a package with shellPath, or a path).";
      };
      useDefaultShell = mkOption { type = types.bool; default = false; description = "If true, the user's shell will be set to users.defaultUserShell."; };
      hashedPassword = mkOption { type = types.nullOr types.str; default = null; description = "Specifies the hashed password for the user (mkpasswd); \"\" logs in without a password."; };
      password = mkOption { type = types.nullOr types.str; default = null; description = "Specifies the (clear text) password for the user (world-readable in the Nix store)."; };
      initialPassword = mkOption { type = types.nullOr types.str; default = null; description = "Specifies the initial password for the user."; };
      initialHashedPassword = mkOption { type = types.nullOr types.str; default = null; description = "Specifies the initial hashed password for the user."; };
      packages = mkOption {
        type = types.listOf types.package;
        default = [ ];
        example = lib.literalExpression "[ pkgs.curl ]";
        description = "The set of packages that should be made available to the user (/etc/profiles/per-user/<name>).";
      };
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
    config = lib.mkMerge [
      { shell = mkIf config.useDefaultShell (mkDefault cfg.defaultUserShell); }
      (mkIf config.isNormalUser {
        group = mkDefault "users";
        createHome = mkDefault true;
        home = mkDefault "${cfg.defaultUserHome}/${config.name}";
        homeMode = mkDefault "700";
        useDefaultShell = mkDefault true;
        isSystemUser = mkDefault false;
      })
      # If !mutableUsers, initialPassword is password (and the hashed ones alike).
      (mkIf (!cfg.mutableUsers && config.initialPassword != null) { password = mkDefault config.initialPassword; })
      (mkIf (!cfg.mutableUsers && config.initialHashedPassword != null) { hashedPassword = mkDefault config.initialHashedPassword; })
    ];
  };

  groupOpts = { name, ... }: {
    options = {
      name = mkOption { type = types.str; default = name; description = "The name of the group."; };
      gid = mkOption { type = types.nullOr types.int; default = null; description = "The group GID. If the GID is null, a free GID is picked."; };
      members = mkOption { type = types.listOf types.str; default = [ ]; description = "The user names of the group members, added to the /etc/group file."; };
    };
  };

  # services' DynamicUser accounts (system/boot/systemd.nix): name -> uid
  dynamic = cfg.tinyosDynamicUsers;
  users = builtins.filter (u: u.enable) (builtins.attrValues cfg.users);
  byName = builtins.sort (a: b: a.name < b.name);

  # update-users-groups.pl's allocUid/allocGid, by name: normal users from
  # 1000 up, system users (and groups) from 999 down, skipping fixed ids.
  fixedUids = map (u: u.uid) (builtins.filter (u: u.uid != null) users);
  fixedGids = map (g: g.gid) (builtins.filter (g: g.gid != null) (builtins.attrValues cfg.groups));
  allocate = fixed: start: step: names:
    (builtins.foldl' (acc: n:
      let next = i: if builtins.elem i fixed then next (i + step) else i;
          id = next acc.at;
      in { at = id + step; ids = acc.ids // { ${n} = id; }; })
      { at = start; ids = { }; } names).ids;
  unallocated = pred: map (u: u.name) (byName (builtins.filter (u: u.uid == null && pred u) users));
  autoUids = allocate fixedUids 1000 1 (unallocated (u: u.isNormalUser))
    // allocate fixedUids 999 (-1) (unallocated (u: !u.isNormalUser));
  uidOf = u: if u.uid != null then u.uid else autoUids.${u.name};
  autoGids = allocate fixedGids 999 (-1)
    (builtins.filter (n: cfg.groups.${n}.gid == null) (builtins.attrNames cfg.groups));
  gidOf = g: if g.gid != null then g.gid else autoGids.${g.name};
  gidOfName = n: if cfg.groups ? ${n} then toString (gidOf cfg.groups.${n}) else "65534";

  # utils.toShellPath: a shell package is /run/current-system/sw + its shellPath
  toShellPath = s:
    if s == null then "/run/current-system/sw/bin/nologin"
    else if lib.isDerivation s then
      (if s ? shellPath then "/run/current-system/sw${s.shellPath}"
       else throw "${s} is not a shell package")
    else toString s;
  shellPackages = builtins.filter lib.isDerivation (map (u: u.shell) users);

  # The password a user ends up with, in NixOS's order of precedence
  # (right overrides left), mutable: initialHashedPassword ->
  # initialPassword -> hashedPassword -> password; immutable:
  # initialHashedPassword -> hashedPassword -> initialPassword -> password.
  secretOf = u:
    let
      order = if cfg.mutableUsers
        then [ { h = u.initialHashedPassword; } { p = u.initialPassword; } { h = u.hashedPassword; } { p = u.password; } ]
        else [ { h = u.initialHashedPassword; } { h = u.hashedPassword; } { p = u.initialPassword; } { p = u.password; } ];
      set = builtins.filter (x: (x.h or x.p) != null) order;
    in if set == [ ] then { h = "!"; } else lib.last set;
  saltOf = u: pw: builtins.substring 0 16 (builtins.hashString "sha256" "${u.name}:${pw}");
  sortedUsers = builtins.sort (a: b: uidOf a < uidOf b) users;
  # /etc/shadow, hashed by busybox's mkpasswd (SHA-512 crypt, as glibc's crypt)
  shadow = pkgs.runCommand "etc-shadow" (builtins.listToAttrs (lib.imap0 (i: u:
    let s = secretOf u; in
    { name = "pw${toString i}"; value = if s ? p then s.p else ""; }) sortedUsers)) ''
    {
    ${lib.concatImapStrings (i: u: let s = secretOf u; in
      if s ? p then ''
        printf '%s:%s:1::::::\n' ${lib.escapeShellArg u.name} \
          "$(printf '%s\n' "$pw${toString (i - 1)}" | mkpasswd -m sha512 -S ${saltOf u s.p} -P 0)"
      '' else ''
        printf '%s:%s:1::::::\n' ${lib.escapeShellArg u.name} ${lib.escapeShellArg s.h}
      '') sortedUsers}
    ${lib.concatStrings (lib.mapAttrsToList (n: _: "printf '%s:!:1::::::\\n' ${n}\n") dynamic)}
    } > $out
  '';

  keysOf = u: u.openssh.authorizedKeys.keys
    ++ map (f: lib.removeSuffix "\n" (builtins.readFile f)) u.openssh.authorizedKeys.keyFiles;
  membersOf = g: lib.unique (g.members
    ++ map (u: u.name) (builtins.filter (u: builtins.elem g.name u.extraGroups) users));

  # assertions (users-groups.nix's, with its messages)
  groupNames = lib.mapAttrsToList (_: g: g.name) cfg.groups;
  withoutGroup = builtins.filter (u: u.group != "" && !builtins.elem u.group groupNames) users;
  unique = ids: builtins.length ids == builtins.length (lib.unique ids);
  xor = a: b: a != b;
  nameRegex = "[a-zA-Z0-9_.][a-zA-Z0-9_.-]*";

  # ids.nix's gids of the groups users-groups.nix always defines
  standardGroups = {
    root = 0; wheel = 1; kmem = 2; tty = 3; disk = 6; audio = 17; floppy = 18; uucp = 19; lp = 20;
    cdrom = 24; tape = 25; video = 26; dialout = 27; utmp = 29; adm = 55; users = 100; input = 174;
    kvm = 302; render = 303; sgx = 304; shadow = 318; nixbld = 30000; nogroup = 65534;
  };
in
{
  # NixOS's aliases (nixos/modules/config/users-groups.nix's imports)
  imports = [
    (lib.mkAliasOptionModule [ "users" "extraUsers" ] [ "users" "users" ])
    (lib.mkAliasOptionModule [ "users" "extraGroups" ] [ "users" "groups" ])
  ];

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
      description = "Whether users may be changed at run time; in tinyos /etc is made anew at every boot, so the initial passwords always apply.";
    };
    defaultUserShell = mkOption {
      type = types.either types.package types.str;
      default = pkgs.bashInteractive;
      defaultText = lib.literalExpression "pkgs.bashInteractive";
      description = "This option defines the default shell assigned to user accounts (useDefaultShell).";
    };
    defaultUserHome = mkOption { type = types.str; default = "/home"; description = "The default home directory for normal users."; };
    enforceIdUniqueness = mkOption { type = types.bool; default = true; description = "Whether to require that no two users/groups share the same uid/gid."; };
    tinyosDynamicUsers = mkOption {
      type = types.attrsOf types.int;
      default = { };
      internal = true;
      visible = false;
      description = "The DynamicUser accounts of services (name -> uid), set by systemd.nix.";
    };
  };

  config = {
    users.users.root = {
      uid = 0;
      description = "System administrator";
      home = "/root";
      shell = mkDefault cfg.defaultUserShell;
      group = "root";
    };
    users.users.nobody = { uid = 65534; isSystemUser = true; description = "Unprivileged account (don't use!)"; group = "nogroup"; };
    users.groups = builtins.mapAttrs (_: gid: { inherit gid; }) standardGroups;

    environment.systemPackages = shellPackages ++ [ pkgs.shadow ];
    # config/shells-environment.nix: /etc/shells, the login shells (dropbear lets a user in only with one)
    environment.etc = {
      shells.text = lib.concatMapStrings (s: "${s}\n") (lib.unique ([
        "/run/current-system/sw/bin/sh" "/run/current-system/sw/bin/bash" "/bin/sh" "${pkgs.busybox}/bin/sh"
      ] ++ map (u: toShellPath u.shell) users));
      passwd = {
        mode = "0644";
        text = lib.concatMapStrings (u:
          "${u.name}:x:${toString (uidOf u)}:${gidOfName u.group}:${u.description}:${u.home}:${toShellPath u.shell}\n") sortedUsers
          + lib.concatStrings (lib.mapAttrsToList (n: id:
            "${n}:x:${toString id}:${toString id}:Dynamic User:/:/run/current-system/sw/bin/nologin\n") dynamic);
      };
      group = {
        mode = "0644";
        text = lib.concatMapStrings (g:
          "${g.name}:x:${toString (gidOf g)}:${builtins.concatStringsSep "," (membersOf g)}\n")
          (builtins.sort (a: b: gidOf a < gidOf b) (builtins.attrValues cfg.groups))
          + lib.concatStrings (lib.mapAttrsToList (n: id: "${n}:x:${toString id}:\n") dynamic);
      };
      shadow = { mode = "0640"; group = "shadow"; source = shadow; };
    } // builtins.listToAttrs (map (u: {
      name = "ssh/authorized_keys.d/${u.name}";
      value = { mode = "0444"; text = builtins.concatStringsSep "\n" (keysOf u) + "\n"; };
    }) (builtins.filter (u: keysOf u != [ ]) users))
    # the users' packages: /etc/profiles/per-user/<name>, on their PATH (system-path.nix)
      // builtins.listToAttrs (map (u: {
      name = "profiles/per-user/${u.name}";
      value.source = pkgs.buildEnv { name = "user-environment"; paths = u.packages; pathsToLink = [ "/bin" "/sbin" "/share" ]; };
    }) (builtins.filter (u: u.packages != [ ]) users));

    assertions = [
      { assertion = !cfg.enforceIdUniqueness || (unique fixedUids && unique fixedGids);
        message = "UIDs and GIDs must be unique!"; }
      { assertion = withoutGroup == [ ];
        message = ''
          The following users have a primary group that is undefined: ${toString (map (u: u.name) withoutGroup)}
          Hint: Add this to your NixOS configuration:
            ${lib.concatStringsSep "\n  " (map (g: "users.groups.${g} = {};") (lib.unique (map (u: u.group) withoutGroup)))}
        ''; }
    ] ++ builtins.concatMap (user: [
      # tinyos's own: su and login are busybox's, whose crypt has md5, sha-256
      # and sha-512 only (dropbear would take more: it uses glibc's crypt)
      (let h = lib.findFirst (x: x != null) null [ user.hashedPassword user.initialHashedPassword ];
           scheme = if h == null then null else builtins.match "[$]([^$]+)[$].*" h; in {
        assertion = scheme == null || builtins.elem (builtins.head scheme) [ "1" "5" "6" ];
        message = "users.users.${user.name}.hashedPassword: tinyos cannot check \$${builtins.head scheme}\$ hashes (its su and login are busybox's: \$1\$, \$5\$, \$6\$ only); make one with `mkpasswd -m sha-512`.";
      })
      { assertion = builtins.match nameRegex user.name != null;
        message = "The username \"${user.name}\" is not valid, it does not match the regex \"${nameRegex}\"."; }
      { assertion = user.hashedPassword != null -> builtins.match ".*:.*" user.hashedPassword == null;
        message = ''
          The password hash of user "${user.name}" contains a ":" character.
          This is invalid and would break the login system because the fields
          of /etc/shadow (file where hashes are stored) are colon-separated.
          Please check the value of option `users.users."${user.name}".hashedPassword`.''; }
      { assertion = user.isNormalUser && user.uid != null -> user.uid >= 1000;
        message = ''
          A user cannot have a users.users.${user.name}.uid set below 1000 and set users.users.${user.name}.isNormalUser.
          Either users.users.${user.name}.isSystemUser must be set to true instead of users.users.${user.name}.isNormalUser
          or users.users.${user.name}.uid must be changed to 1000 or above.
        ''; }
      { assertion = xor (user.isSystemUser || (user.uid != null && user.uid < 1000 && !user.isNormalUser)) user.isNormalUser;
        message = ''
          Exactly one of users.users.${user.name}.isSystemUser and users.users.${user.name}.isNormalUser must be set.
        ''; }
      { assertion = user.group != "";
        message = ''
          users.users.${user.name}.group is unset. This used to default to
          nogroup, but this is unsafe. For example you can create a group
          for this user with:
          users.users.${user.name}.group = "${user.name}";
          users.groups.${user.name} = {};
        ''; }
    ]) users;

    warnings = map (user: ''
      The user '${user.name}' has multiple of the options
      `initialHashedPassword`, `hashedPassword`, `initialPassword`, `password`
      & `hashedPasswordFile` set to a non-null value.
    '') (builtins.filter (user: 1 < builtins.length (builtins.filter (x: x != null)
      ([ user.hashedPassword user.password ] ++ lib.optionals cfg.mutableUsers [ user.initialHashedPassword user.initialPassword ]))) users);

    # Login shells that are Debian binaries (pkgs.bash) find their libraries
    # in /lib/<multiarch>, Debian's system search path (pkgs/top-level.nix).
    boot.tinyosSystemLibraries = map (p: "${p}/nix-support/lib-dirs")
      (lib.unique (shellPackages ++ [ pkgs.bashInteractive ]));

    # update-users-groups.pl's homes: /root 0700, /home 0755, createHome
    # with the owner and homeMode; ~/.ssh/authorized_keys for dropbear. An
    # activation script, as NixOS's "users" one: switch-to-configuration
    # runs it again when the users change.
    system.activationScripts.users.deps = [ "disk" "filesystems" ];
    system.activationScripts.users.text = ''
      mkdir -p /root /home
      chmod 0700 /root
      chmod 0755 /home
    '' + lib.concatMapStrings (u: ''
      ${lib.optionalString u.createHome ''
        mkdir -p ${lib.escapeShellArg u.home}
        chown ${toString (uidOf u)}:${gidOfName u.group} ${lib.escapeShellArg u.home}
        chmod ${u.homeMode} ${lib.escapeShellArg u.home}
      ''}
      ${lib.optionalString (keysOf u != [ ]) ''
        mkdir -p ${lib.escapeShellArg u.home}/.ssh
        cp /etc/ssh/authorized_keys.d/${u.name} ${lib.escapeShellArg u.home}/.ssh/authorized_keys
        chmod 700 ${lib.escapeShellArg u.home}/.ssh
        chmod 600 ${lib.escapeShellArg u.home}/.ssh/authorized_keys
        chown -R ${toString (uidOf u)} ${lib.escapeShellArg u.home}/.ssh
      ''}
    '') users;

    system.build.userIds = builtins.listToAttrs (map (u: { name = u.name; value = uidOf u; }) users);
  };
}
