# Mirrors what nixos/modules/security/wrappers/default.nix gives every
# NixOS machine: /run/wrappers/bin, first on PATH, with setuid-root su and
# passwd (shadow's in NixOS), so that an unprivileged user's `su alice`
# asks for alice's password and checks it against /etc/shadow. tinyos's are
# copies of busybox (whose su and passwd refuse to run without the setuid
# bit), made at boot since the store keeps no setuid bits; busybox drops
# its privileges for every other applet. security.wrappers itself (wrappers
# of your own) is not declared: setting it is NixOS's "does not exist" error.
{ config, lib, pkgs, ... }:
{
  config = {
    system.activationScripts.wrappers = ''
      mkdir -p /run/wrappers/bin
      for w in su passwd; do
        cp ${pkgs.busybox}/bin/busybox /run/wrappers/bin/$w
        chown root:root /run/wrappers/bin/$w
        chmod 4755 /run/wrappers/bin/$w
      done
    '';
    # (on PATH: config/system-path.nix)
  };
}
