# Mirrors nixos/modules/system/etc/etc.nix: environment.etc entries become a
# store tree (system.build.etc, toplevel/etc) that boot copies into /etc:
# symlinks into the store for mode "symlink", real files otherwise, which
# boot gives the entry's mode, user and group as NixOS's setup-etc.pl does
# (the store keeps no modes but 444/555, so they are applied at boot from
# the tree's `owners` list).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;

  etcOpts = { name, config, ... }: {
    options = {
      enable = mkOption { type = types.bool; default = true; description = "Whether this /etc file should be generated."; };
      target = mkOption { type = types.str; default = name; description = "Name of the file, relative to /etc."; };
      text = mkOption { type = types.nullOr types.lines; default = null; description = "Text of the file."; };
      source = mkOption { type = types.path; description = "Path of the source file."; };
      mode = mkOption {
        type = types.str;
        default = "symlink";
        example = "0600";
        description = "If not \"symlink\", the file is copied with this mode instead of symlinked.";
      };
      user = mkOption { type = types.str; default = "+0"; description = "Owner of a copied file (name, or +uid)."; };
      group = mkOption { type = types.str; default = "+0"; description = "Group of a copied file (name, or +gid)."; };
    };
    config.source = lib.mkIf (config.text != null)
      (lib.mkDefault (pkgs.writeText "etc-${baseNameOf config.target}" config.text));
  };

  entries = builtins.filter (e: e.enable) (builtins.attrValues config.environment.etc);
  etc = pkgs.runCommand "etc" {
    # one line per entry: mode, owner, group, target, source
    entries = lib.concatMapStrings (e:
      "${e.mode} ${e.user} ${e.group} ${e.target} ${e.source}\n") entries;
    passAsFile = [ "entries" ];
  } ''
    mkdir -p $out/etc
    while read -r mode user group target source; do
      mkdir -p "$out/etc/$(dirname "$target")"
      if [ "$mode" = symlink ]; then
        ln -s "$source" "$out/etc/$target"
      else
        cp "$source" "$out/etc/$target"
        echo "$mode $user $group $target" >> $out/owners
      fi
    done < "$entriesPath"
    touch $out/owners
  '';
in
{
  options.environment.etc = mkOption {
    type = types.attrsOf (types.submodule etcOpts);
    default = { };
    example = { "resolv.conf".text = "nameserver 10.0.2.3\n"; };
    description = "Set of files that have to be linked in /etc.";
  };
  config.system.build.etc = etc;
}
