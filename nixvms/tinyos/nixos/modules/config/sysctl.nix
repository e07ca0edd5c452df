# Mirrors nixos/modules/config/sysctl.nix: boot.kernel.sysctl, written to
# /etc/sysctl.d/60-nixos.conf and applied at boot after the kernel modules
# are loaded (NixOS's systemd-sysctl.service). true/false are 1/0, null
# leaves the key alone.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  value = v: if v == true then "1" else if v == false then "0" else toString v;
  set = lib.filterAttrs (_: v: v != null) config.boot.kernel.sysctl;
in
{
  options.boot.kernel.sysctl = mkOption {
    type = types.attrsOf (types.nullOr (types.oneOf [ types.bool types.str types.int ]));
    default = { };
    example = { "net.ipv4.tcp_syncookies" = false; "vm.swappiness" = 60; };
    description = "Runtime parameters of the Linux kernel, as set by sysctl(8).";
  };

  config = {
    environment.etc."sysctl.d/60-nixos.conf".text =
      lib.concatStrings (lib.mapAttrsToList (k: v: "${k}=${value v}\n") set);
    system.activationScripts.sysctl = {
      deps = [ "modules" ];
      text = ''
        sysctl -q -p /etc/sysctl.d/60-nixos.conf || echo "sysctl: some settings of /etc/sysctl.d/60-nixos.conf failed"
      '';
    };
  };
}
