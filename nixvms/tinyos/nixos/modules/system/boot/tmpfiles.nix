# Mirrors nixos/modules/system/boot/systemd/tmpfiles.nix:
# systemd.tmpfiles.rules go to /etc/tmpfiles.d/00-nixos.conf and each
# systemd.tmpfiles.settings.<name> to /etc/tmpfiles.d/<name>.conf, which
# tinyos's systemd-tmpfiles (systemd/tmpfiles.sh) applies at boot (before
# the services, as systemd-tmpfiles-setup.service) and on
# switch-to-configuration. Each line is checked here: what tinyos's
# systemd-tmpfiles cannot do (device nodes, ACLs, attributes, age-based
# cleaning, specifiers) is refused with the option's name.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.systemd.tmpfiles;

  supportedTypes = [ "d" "D" "e" "f" "F" "w" "L" "z" "Z" "r" "R" "p" "C" "x" "X" ];
  field = "([^[:space:]]+)";
  sp = "[[:space:]]+";
  # type path [mode [user [group [age [argument]]]]]
  lineRegex = "[[:space:]]*${field}${sp}${field}(${sp}${field}(${sp}${field}(${sp}${field}(${sp}${field}(${sp}(.*))?)?)?)?)?[[:space:]]*";
  parse = line:
    let m = builtins.match lineRegex line; at = i: if m == null then null else builtins.elemAt m i; in
    if m == null then null else {
      type = at 0; path = at 1; mode = at 3; user = at 5; group = at 7; age = at 9; argument = at 11;
    };
  # why tinyos refuses a line, or null
  problem = line:
    let e = parse line; orDash = v: if v == null then "-" else v; in
    if builtins.match "[[:space:]]*(#.*)?" line != null then null
    else if e == null then "cannot be read as 'type path mode user group age argument'"
    else let base = builtins.head (builtins.match "([a-zA-Z]*).*" e.type); in
    if !builtins.elem base supportedTypes then "type '${e.type}' is not supported by tinyos (it does ${toString supportedTypes})"
    else if builtins.match "[a-zA-Z][+!=-]*" e.type == null then "type modifiers other than + and ! are not supported by tinyos"
    else if lib.hasInfix "%" line then "specifiers (%...) are not supported by tinyos"
    else if builtins.match "-|[0-7]{3,4}" (orDash e.mode) == null then "mode '${e.mode}' is not supported by tinyos (octal or -)"
    else if orDash e.age != "-" then "age '${e.age}': tinyos does no age-based cleaning"
    else if lib.hasPrefix "\"" e.path || lib.hasPrefix "'" e.path then "quoted paths are not supported by tinyos"
    else if !lib.hasPrefix "/" e.path then "the path must be absolute"
    else null;
  check = option: lines: map (line: {
    assertion = problem line == null;
    message = "${option}: \"${line}\": ${toString (problem line)}";
  }) lines;

  settingsOpts = types.attrsOf (types.attrsOf (types.attrsOf (types.submodule ({ name, ... }: {
    options = {
      type = mkOption { type = types.str; default = name; defaultText = "‹tmpfiles-type›"; description = "The type of operation to perform on the file (the attribute name)."; };
      mode = mkOption { type = types.str; default = "-"; example = "0755"; description = "The file access mode to use when creating this file or directory."; };
      user = mkOption { type = types.str; default = "-"; example = "root"; description = "The user of the file."; };
      group = mkOption { type = types.str; default = "-"; example = "root"; description = "The group of the file."; };
      age = mkOption { type = types.str; default = "-"; example = "10d"; description = "Delete a file when it reaches a certain age (refused by tinyos unless -)."; };
      argument = mkOption { type = types.str; default = ""; example = ""; description = "An argument whose meaning depends on the type of operation."; };
    };
  }))));
  settingsLines = name: entries: lib.concatLists (lib.mapAttrsToList (path: types':
    lib.mapAttrsToList (_: e: lib.concatStringsSep " " ([ e.type path e.mode e.user e.group e.age ]
      ++ lib.optional (e.argument != "") e.argument)) types') entries);
in
{
  options.systemd.tmpfiles = {
    rules = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "d /tmp 1777 root root 10d" ];
      description = "Rules for creation, deletion and cleaning of volatile and temporary files automatically (tmpfiles.d(5)).";
    };
    settings = mkOption {
      type = settingsOpts;
      default = { };
      description = "Declare systemd-tmpfiles rules to create, delete, and clean up volatile and temporary files and directories (/etc/tmpfiles.d/<name>.conf).";
    };
    packages = mkOption {
      type = types.listOf types.package;
      default = [ ];
      description = "List of packages containing systemd-tmpfiles rules (refused by tinyos: their lines cannot be checked at evaluation).";
    };
  };

  config = {
    environment.etc = lib.mkMerge [
      (lib.mkIf (cfg.rules != [ ]) { "tmpfiles.d/00-nixos.conf".text = ''
        # This file is created automatically and should not be modified.
        # Please change the option ‘systemd.tmpfiles.rules’ instead.

        ${lib.concatStringsSep "\n" cfg.rules}
      ''; })
      (lib.mapAttrs' (name: entries: lib.nameValuePair "tmpfiles.d/${name}.conf" {
        text = lib.concatStringsSep "\n" (settingsLines name entries) + "\n";
      }) cfg.settings)
    ];
    assertions = check "systemd.tmpfiles.rules" cfg.rules
      ++ lib.concatLists (lib.mapAttrsToList (name: entries:
        check "systemd.tmpfiles.settings.${name}" (settingsLines name entries)) cfg.settings)
      ++ [{
        assertion = cfg.packages == [ ];
        message = "systemd.tmpfiles.packages: tinyos cannot take rules from packages (their lines could not be checked); use systemd.tmpfiles.rules";
      }];
    # systemd-tmpfiles-setup.service: at boot, after /etc and the users, before the services
    system.activationScripts.tmpfiles = {
      deps = [ "users" "disk" "filesystems" ];
      text = "${config.systemd.package}/bin/systemd-tmpfiles --create --remove --boot";
    };
  };
}
