# Mirrors nixos/modules/config/networking.nix: /etc/hosts from
# networking.hosts and networking.extraHosts (localhost first, then the
# machine's own name on 127.0.0.2, then extraHosts, as NixOS writes it),
# and /etc/protocols and /etc/services from pkgs.iana-etc, as NixOS links them.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.networking;
in
{
  options.networking = {
    hosts = mkOption {
      type = types.attrsOf (types.listOf types.str);
      example = { "127.0.0.1" = [ "foo.bar.baz" ]; "192.168.0.2" = [ "fileserver.local" "nameserver.local" ]; };
      description = "Locally defined maps of hostnames to IP addresses, written to /etc/hosts.";
    };
    extraHosts = mkOption {
      type = types.lines;
      default = "";
      example = "192.168.0.1 lanlocalhost";
      description = "Additional verbatim entries to be appended to /etc/hosts.";
    };
  };

  config = {
    networking.hosts."127.0.0.2" =
      lib.optional (cfg.hostName != "" && cfg.domain != null) "${cfg.hostName}.${cfg.domain}"
      ++ lib.optional (cfg.hostName != "") cfg.hostName;

    environment.etc.protocols.source = "${pkgs.iana-etc}/etc/protocols";
    environment.etc.services.source = "${pkgs.iana-etc}/etc/services";

    environment.etc.hosts.text =
      let
        entries = lib.filterAttrs (_: names: names != [ ]) cfg.hosts;
        line = ip: ip + " " + builtins.concatStringsSep " " entries.${ip} + "\n";
      in
      "127.0.0.1 localhost\n::1 localhost\n"
      + builtins.concatStringsSep "" (map line (builtins.attrNames entries))
      + lib.optionalString (cfg.extraHosts != "") (cfg.extraHosts + "\n");
  };
}
