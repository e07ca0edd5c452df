# Mirrors nixos/modules/security/sudo.nix: /etc/sudoers (0440) from
# security.sudo.{extraRules,extraConfig} with NixOS's rules (root, then
# %wheel with or without NOPASSWD), checked with visudo at build time, and
# a setuid-root sudo and sudoedit in /run/wrappers/bin (security.wrappers;
# execWheelOnly: group wheel, no execute bit for others).
#
# tinyos's part: the wrapper is Debian's sudo binary itself (see
# security/wrappers), so its libraries are linked into /lib/<multiarch>,
# the search path a setuid program keeps; /etc/sudo.conf points sudo at its
# plugins in the store; /etc/pam.d/sudo authenticates with pam_unix against
# /etc/shadow, as NixOS's PAM service does by default.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.security.sudo;
  # visudo runs where the machine is built (nixpkgs would take it from
  # buildPackages): an i686 machine built on x86_64 cannot run its own
  # i386 visudo there, which has no i386 loader
  visudoSudo =
    if pkgs.stdenv.hostPlatform.system == builtins.currentSystem then cfg.package
    else (import pkgs.path { system = builtins.currentSystem; }).sudo;
  debs = cfg.package.debs;
  real = debs.sudo;
  multiarch = pkgs.tinyosPlatform.multiarch;
  pamModules = "${debs."libpam-modules"}/lib/${multiarch}/security";
  # What sudo, its sudoers plugin and pam_unix load (their ELF NEEDED), and
  # no more: the package's whole Depends closure (debconf's perl with it)
  # would double every machine's initrd, sudo being on by default.
  neededDebs = [ "sudo" "libc6" "libaudit1" "libcap-ng0" "libselinux1" "libpcre2-8-0" "libpam0g" "libpam-modules" "zlib1g" "libcrypt1" ];
  libDirs = [ "${real}/usr/libexec/sudo" ] ++ builtins.concatMap (n:
    [ "${debs.${n}}/lib/${multiarch}" "${debs.${n}}/usr/lib/${multiarch}" ])
    (builtins.filter (n: debs ? ${n}) neededDebs);

  toUserString = user: if builtins.isInt user then "#${toString user}" else user;
  toGroupString = group: if builtins.isInt group then "%#${toString group}" else "%${group}";
  toCommandOptionsString = options:
    "${lib.concatStringsSep ":" options}${lib.optionalString (options != [ ]) ":"} ";
  toCommandsString = commands: lib.concatStringsSep ", " (map (command:
    if builtins.isString command then command
    else "${toCommandOptionsString command.options}${command.command}") commands);
  ruleLines = rule: lib.optionals (rule.commands != [ ]) (
    map (user: "${toUserString user}\t${rule.host}=(${rule.runAs})\t${toCommandsString rule.commands}") rule.users
    ++ map (group: "${toGroupString group}\t${rule.host}=(${rule.runAs})\t${toCommandsString rule.commands}") rule.groups);

  commandOpts = types.submodule {
    options = {
      command = mkOption { type = types.str; description = "A command: a path (any arguments), a command with its arguments, or with \"\" (no arguments)."; };
      options = mkOption {
        type = types.listOf (types.enum [ "NOPASSWD" "PASSWD" "NOEXEC" "EXEC" "SETENV" "NOSETENV" "LOG_INPUT" "NOLOG_INPUT" "LOG_OUTPUT" "NOLOG_OUTPUT" "MAIL" "NOMAIL" "FOLLOW" "NOFOLLOW" ]);
        default = [ ];
        description = "Options for running the command (sudoers(5)).";
      };
    };
  };
  ruleOpts = types.submodule {
    options = {
      users = mkOption { type = types.listOf (types.either types.str types.int); default = [ ]; description = "The usernames / UIDs this rule should apply for."; };
      groups = mkOption { type = types.listOf (types.either types.str types.int); default = [ ]; description = "The groups / GIDs this rule should apply for."; };
      host = mkOption { type = types.str; default = "ALL"; description = "For what host this rule should apply."; };
      runAs = mkOption { type = types.str; default = "ALL:ALL"; description = "Under which user/group the specified command is allowed to run."; };
      commands = mkOption { type = types.listOf (types.either types.str commandOpts); description = "The commands for which the rule should apply."; };
    };
  };
in
{
  options.security.sudo = {
    enable = mkOption {
      type = types.bool;
      default = true;
      description = "Whether to enable the sudo command, which allows non-root users to execute commands as root.";
    };
    package = mkOption {
      type = types.package;
      default = pkgs.sudo;
      defaultText = lib.literalExpression "pkgs.sudo";
      description = "Which package to use for `sudo` (tinyos: Debian's, whose binary the setuid wrapper is).";
    };
    wheelNeedsPassword = mkOption {
      type = types.bool;
      default = true;
      description = "Whether users of the `wheel` group must provide a password to run commands as super user via sudo.";
    };
    execWheelOnly = mkOption {
      type = types.bool;
      default = false;
      description = "Only allow members of the `wheel` group to execute sudo by setting the executable's permissions accordingly.";
    };
    keepTerminfo = mkOption {
      type = types.bool;
      default = true;
      description = "Whether to keep the TERMINFO and TERMINFO_DIRS environment variables for root and the wheel group.";
    };
    configFile = mkOption {
      type = types.lines;
      description = "This string contains the contents of the sudoers file.";
    };
    extraRules = mkOption {
      type = types.listOf ruleOpts;
      default = [ ];
      description = "Define specific rules to be in the sudoers file (more specific rules after more general ones).";
    };
    extraConfig = mkOption {
      type = types.lines;
      default = "";
      description = "Extra configuration text appended to sudoers.";
    };
  };

  config = lib.mkIf cfg.enable {
    # first, with room for a user's mkBefore (NixOS's mkOrder 600)
    security.sudo.extraRules = lib.mkOrder 600 [{
      groups = [ "wheel" ];
      commands = [{ command = "ALL"; options = if cfg.wheelNeedsPassword then [ "SETENV" ] else [ "NOPASSWD" "SETENV" ]; }];
    }];

    security.sudo.configFile = ''
      # Don't edit this file. Set the NixOS options ‘security.sudo.configFile’
      # or ‘security.sudo.extraRules’ instead.
      ${lib.optionalString cfg.keepTerminfo ''
        # Keep terminfo database for root and %wheel.
        Defaults:root,%wheel env_keep+=TERMINFO_DIRS
        Defaults:root,%wheel env_keep+=TERMINFO
      ''}
      # "root" is allowed to do anything.
      root        ALL=(ALL:ALL) SETENV: ALL

      # extraRules
      ${lib.concatStringsSep "\n" (lib.concatMap ruleLines cfg.extraRules)}

      ${cfg.extraConfig}
    '';

    security.wrappers = let
      owner = "root";
      group = if cfg.execWheelOnly then "wheel" else "root";
      permissions = if cfg.execWheelOnly then "u+rx,g+x" else "u+rx,g+x,o+x";
    in {
      sudo = { source = "${real}/usr/bin/sudo"; setuid = true; inherit owner group permissions; };
      sudoedit = { source = "${real}/usr/bin/sudoedit"; setuid = true; inherit owner group permissions; };
    };

    # (NixOS also puts the package on PATH; tinyos does not, see neededDebs:
    # sudo and sudoedit are the wrappers, visudo is used at build time only)
    assertions = [{
      assertion = cfg.package ? debs && cfg.package.debs ? sudo;
      message = "security.sudo.package: tinyos's sudo wrapper is Debian's sudo binary; ${cfg.package.name or "this package"} is not pkgs.sudo";
    }];

    environment.etc.sudoers = {
      # checked as NixOS checks it: visudo -c
      source = pkgs.runCommand "sudoers" { src = pkgs.writeText "sudoers-in" cfg.configFile; } ''
        ${visudoSudo}/bin/visudo -f $src -c && cp $src $out
      '';
      mode = "0440";
    };
    environment.etc."sudo.conf".text = ''
      Path plugin_dir ${real}/usr/libexec/sudo/
    '';
    environment.etc."pam.d/sudo".text = ''
      auth     required ${pamModules}/pam_unix.so
      account  required ${pamModules}/pam_unix.so
      session  required ${pamModules}/pam_unix.so
    '';

    # the search path of a setuid program: sudo's libraries in /lib/<multiarch>
    boot.tinyosSystemLibraries = libDirs;
  };
}
