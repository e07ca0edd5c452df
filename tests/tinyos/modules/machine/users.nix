{ config, lib, pkgs, ... }:
with lib;
let
  userOpts = { name, config, ... }: {
    options = {
      name = mkOption { type = types.passwdEntry types.str; default = name; };
      uid = mkOption { type = types.nullOr types.int; default = null; };
      isNormalUser = mkOption { type = types.bool; default = false; };
      isSystemUser = mkOption { type = types.bool; default = false; };
      group = mkOption { type = types.str; default = ""; };
      extraGroups = mkOption { type = types.listOf types.str; default = [ ]; };
      home = mkOption { type = types.path; default = "/var/empty"; };
      createHome = mkOption { type = types.bool; default = false; };
      shell = mkOption { type = types.either types.package types.path; default = "/run/current-system/sw/bin/sh"; };
      description = mkOption { type = types.str; default = ""; };
      hashedPassword = mkOption { type = types.nullOr types.str; default = null; };
      openssh.authorizedKeys.keys = mkOption { type = types.listOf types.singleLineStr; default = [ ]; };
    };
    config = mkMerge [
      (mkIf config.isNormalUser {
        group = mkDefault "users";
        createHome = mkDefault true;
        home = mkDefault "/home/${config.name}";
      })
    ];
  };
  groupOpts = { name, ... }: {
    options.name = mkOption { type = types.str; default = name; };
    options.gid = mkOption { type = types.nullOr types.int; default = null; };
    options.members = mkOption { type = types.listOf types.str; default = [ ]; };
  };
  cfg = config.users;
in
{
  options.users = {
    mutableUsers = mkOption { type = types.bool; default = true; };
    users = mkOption { type = types.attrsOf (types.submodule userOpts); default = { }; };
    groups = mkOption { type = types.attrsOf (types.submodule groupOpts); default = { }; };
  };
  config = {
    users.users.root = { uid = 0; home = "/root"; group = "root"; };
    users.users.nobody = { uid = 65534; isSystemUser = true; group = "nogroup"; };
    users.groups = { root.gid = 0; wheel.gid = 1; users.gid = 100; nogroup.gid = 65534; };
    environment.etc.passwd.text = concatStrings (mapAttrsToList (n: u:
      "${u.name}:x:${toString (if u.uid == null then 1000 else u.uid)}:${u.group}:${u.description}:${u.home}:${toString u.shell}\n") cfg.users);
    environment.etc.group.text = concatStrings (mapAttrsToList (n: g:
      "${g.name}:x:${toString g.gid}:${concatStringsSep "," g.members}\n") cfg.groups);
  };
}
