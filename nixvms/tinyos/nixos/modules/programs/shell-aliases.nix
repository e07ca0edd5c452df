# Mirrors environment.shellAliases (nixos/modules/config/shells-environment.nix)
# and programs.bash.shellAliases (nixos/modules/programs/bash/bash.nix): the
# aliases every interactive shell has. NixOS writes them into /etc/bashrc;
# tinyos's bash is Debian's, which reads /etc/bash.bashrc in interactive
# shells that are not login shells, and /etc/profile in login shells (bash's
# and busybox sh's), so both get them, for interactive shells only.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  aliasesType = types.attrsOf (types.nullOr (types.either types.str types.path));
  aliases = lib.concatStrings (lib.mapAttrsToList (k: v: "alias -- ${k}=${lib.escapeShellArg (toString v)}\n")
    (lib.filterAttrs (_: v: v != null) config.programs.bash.shellAliases));
  interactive = ''
    case $- in *i*)
    ${aliases}
    ;; esac
  '';
in
{
  options = {
    environment.shellAliases = mkOption {
      type = aliasesType;
      example = { l = null; ll = "ls -l"; };
      description = "An attribute set that maps aliases (the top level attribute names in this option) to command strings or directly to build outputs. The aliases are added to all users' shells. Aliases mapped to null are ignored.";
    };
    programs.bash.shellAliases = mkOption {
      type = aliasesType;
      default = { };
      description = "Set of aliases for bash shell, which overrides environment.shellAliases.";
    };
  };
  config = {
    # NixOS's defaults
    environment.shellAliases = lib.mapAttrs (_: lib.mkDefault) { ls = "ls --color=tty"; ll = "ls -l"; l = "ls -alh"; };
    programs.bash.shellAliases = lib.mapAttrs (_: lib.mkDefault) config.environment.shellAliases;
    environment.etc."bash.bashrc".text = interactive;
    environment.etc.profile.text = lib.mkAfter interactive;
  };
}
