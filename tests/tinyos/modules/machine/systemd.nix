{ config, lib, pkgs, ... }:
with lib;
let
  serviceOpts = { name, config, ... }: {
    options = {
      enable = mkOption { type = types.bool; default = true; };
      description = mkOption { type = types.str; default = ""; };
      wantedBy = mkOption { type = types.listOf types.str; default = [ ]; };
      after = mkOption { type = types.listOf types.str; default = [ ]; };
      requires = mkOption { type = types.listOf types.str; default = [ ]; };
      path = mkOption { type = types.listOf types.package; default = [ ]; };
      environment = mkOption { type = types.attrsOf types.str; default = { }; };
      script = mkOption { type = types.lines; default = ""; };
      preStart = mkOption { type = types.lines; default = ""; };
      serviceConfig = mkOption { type = types.attrsOf (types.oneOf [ types.str types.int types.bool (types.listOf types.str) ]); default = { }; };
      restartIfChanged = mkOption { type = types.bool; default = true; };
      unitText = mkOption { type = types.str; readOnly = true; };
    };
    config.unitText = ''
      [Unit]
      Description=${config.description}
      After=${concatStringsSep " " config.after}
      [Service]
      ${concatStrings (mapAttrsToList (k: v: "${k}=${toString v}\n") config.serviceConfig)}
      ExecStart=${config.script}
    '';
  };
in
{
  options.systemd = {
    services = mkOption { type = types.attrsOf (types.submodule serviceOpts); default = { }; };
    targets = mkOption { type = types.attrsOf (types.attrsOf types.anything); default = { }; };
    defaultUnit = mkOption { type = types.str; default = "multi-user.target"; };
  };
  config.systemd.targets.multi-user = { description = "Multi-User"; };
  config.environment.etc = mapAttrs' (n: s: nameValuePair "systemd/system/${n}.service" { text = s.unitText; })
    (filterAttrs (n: s: s.enable) config.systemd.services);
}
