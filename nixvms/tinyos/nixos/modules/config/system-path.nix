# Mirrors nixos/modules/config/system-path.nix: environment.systemPackages
# joined into one tree (system.path), which the booted system puts on PATH
# as /run/current-system/sw. bash, curl, netcat and busybox are always there
# (NixOS's corePackages: bashInteractive, curl, netcat, coreutils and
# friends), busybox last: a command another package has (sh, nc) is that
# package's, as on NixOS, not busybox's applet.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
in
{
  options = {
    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
      example = lib.literalExpression "[ pkgs.busybox ]";
      description = "The set of packages that appear in /run/current-system/sw.";
    };
    environment.pathsToLink = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "/share/doc" ];
      description = "Lists directories to be symlinked in /run/current-system/sw.";
    };
    environment.variables = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = { EDITOR = "vi"; };
      description = "Environment variables set by /etc/profile for login shells.";
    };
    system.path = mkOption {
      type = types.package;
      internal = true;
      readOnly = true;
      description = "The packages you want in the boot environment.";
    };
  };

  config = {
    environment.pathsToLink = [ "/bin" "/sbin" "/lib" "/share" "/etc" ];
    system.path = pkgs.buildEnv {
      name = "system-path";
      # NixOS's corePackages that tinyos has: bashInteractive, curl, netcat
      # (OpenBSD's, as nixpkgs'), busybox for coreutils and friends; the
      # first package with a name wins it
      paths = config.environment.systemPackages ++ [ pkgs.bashInteractive pkgs.curl pkgs.netcat pkgs.busybox ];
      pathsToLink = lib.unique config.environment.pathsToLink;
    };
    # /run/wrappers/bin first, as NixOS's PATH has it (security/wrappers)
    environment.variables.PATH = lib.mkDefault "/run/wrappers/bin:/run/current-system/sw/bin:/run/current-system/sw/sbin";
    environment.etc.profile.text = ''
      # /etc/profile: written by tinyos (environment.variables)
      ${builtins.concatStringsSep "\n" (lib.mapAttrsToList
        (n: v: "export ${n}=${lib.escapeShellArg v}") config.environment.variables)}
      PS1='\u@\h:\w\$ '
      # environment.profiles: the user's packages (users.users.<name>.packages) first
      if [ -n "$USER" ] && [ -d "/etc/profiles/per-user/$USER/bin" ]; then
        export PATH="/etc/profiles/per-user/$USER/bin:$PATH"
      fi
    '';
  };
}
