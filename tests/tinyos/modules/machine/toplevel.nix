{ config, lib, pkgs, ... }:
with lib;
let
  failed = map (x: x.message) (filter (x: !x.assertion) config.assertions);
in
{
  options.system.build = mkOption { type = types.lazyAttrsOf types.unspecified; default = { }; };
  options.system.stateVersion = mkOption { type = types.str; default = "23.05"; };
  options.system.summary = mkOption { type = types.attrsOf types.anything; readOnly = true; };
  config.system.summary = if failed != [ ] then throw (concatStringsSep "\n" failed) else {
    inherit (config.networking) hostName fqdn;
    etc = mapAttrs (n: e: e.text) (filterAttrs (n: e: e.enable) config.environment.etc);
    users = mapAttrs (n: u: { inherit (u) home group extraGroups; }) config.users.users;
    services = attrNames config.systemd.services;
    packages = map (p: p.name or p) config.environment.systemPackages;
    qemu = config.virtualisation.qemu.options ++ config.virtualisation.qemu.networkingOptions;
    kernelParams = config.boot.kernelParams;
    firewall = config.networking.firewall.rules;
    interfaces = mapAttrs (n: i: i.ipv4.addresses) config.networking.interfaces;
  };
}
