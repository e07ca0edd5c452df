{ config, lib, ... }:
with lib;
let cfg = config.networking; in
{
  options.networking = {
    hostName = mkOption { type = types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$"; default = "nixos"; };
    domain = mkOption { type = types.nullOr types.str; default = null; };
    fqdn = mkOption { type = types.str; readOnly = true; };
    nameservers = mkOption { type = types.listOf types.str; default = [ ]; };
    defaultGateway = mkOption { type = types.nullOr types.str; default = null; };
    useDHCP = mkOption { type = types.bool; default = true; };
    enableIPv6 = mkOption { type = types.bool; default = true; };
    extraHosts = mkOption { type = types.lines; default = ""; };
    hosts = mkOption { type = types.attrsOf (types.listOf types.str); default = { }; };
    primaryIPAddress = mkOption { type = types.str; default = ""; };
    interfaces = mkOption {
      default = { };
      type = types.attrsOf (types.submodule ({ name, config, ... }: {
        options = {
          name = mkOption { type = types.str; default = name; };
          useDHCP = mkOption { type = types.nullOr types.bool; default = null; };
          mtu = mkOption { type = types.nullOr types.ints.positive; default = null; };
          macAddress = mkOption { type = types.nullOr types.str; default = null; };
          ipv4.addresses = mkOption {
            default = [ ];
            type = types.listOf (types.submodule {
              options.address = mkOption { type = types.str; };
              options.prefixLength = mkOption { type = types.ints.between 0 32; };
            });
          };
        };
      }));
    };
  };
  config = {
    networking.fqdn = if cfg.domain == null then cfg.hostName else "${cfg.hostName}.${cfg.domain}";
    networking.hosts."127.0.0.1" = [ "localhost" ];
    networking.hosts."127.0.0.2" = mkIf (cfg.hostName != "") [ cfg.hostName ];
    networking.extraHosts = concatStringsSep "\n"
      (mapAttrsToList (ip: names: "${ip} ${concatStringsSep " " names}") cfg.hosts);
    networking.interfaces.lo.ipv4.addresses = [ { address = "127.0.0.1"; prefixLength = 8; } ];
    assertions = [ { assertion = cfg.hostName != ""; message = "hostName must be set"; } ];
  };
}
