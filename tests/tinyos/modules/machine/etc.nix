{ config, lib, ... }:
with lib;
{
  options.environment.etc = mkOption {
    default = { };
    type = types.attrsOf (types.submodule ({ name, config, ... }: {
      options = {
        enable = mkOption { type = types.bool; default = true; };
        target = mkOption { type = types.str; default = name; };
        text = mkOption { type = types.nullOr types.lines; default = null; };
        source = mkOption { type = types.nullOr types.str; default = null; };
        mode = mkOption { type = types.str; default = "symlink"; };
      };
    }));
  };
  config.environment.etc.hostname.text = config.networking.hostName + "\n";
  config.environment.etc.hosts.text = config.networking.extraHosts;
}
