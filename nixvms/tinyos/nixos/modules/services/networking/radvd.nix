# Mirrors nixos/modules/services/networking/radvd.nix (services.radvd): the
# IPv6 Router Advertisement Daemon, Debian's radvd, run as the radvd unit
# under its own system user with the configuration file written from
# services.radvd.config. Like NixOS's module it leaves IPv6 forwarding
# alone (boot.kernel.sysctl."net.ipv6.conf.all.forwarding" or
# networking.nat.enableIPv6 turn it on); radvd 2.19 advertises its
# AdvDefaultLifetime (a default route for the clients) either way: in
# nixpkgs' ipv6.nix the router does not forward, and its clients get
# "default via <router's fe80 address> dev eth1 proto ra".
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.radvd;
  confFile = pkgs.writeText "radvd.conf" cfg.config;
in
{
  options.services.radvd = {
    enable = mkOption {
      type = types.bool;
      default = false;
      description = "Whether to enable the Router Advertisement Daemon (radvd), which advertises IPv6 router addresses and prefixes for stateless address autoconfiguration (SLAAC).";
    };
    package = mkOption {
      type = types.package;
      default = pkgs.radvd;
      defaultText = lib.literalExpression "pkgs.radvd";
      description = "The radvd package to use.";
    };
    debugLevel = mkOption {
      type = types.ints.between 0 5;
      default = 0;
      example = 5;
      description = "The debugging level, from 1 (quiet) to 5 (very verbose); 0 turns debugging off.";
    };
    config = mkOption {
      type = types.lines;
      example = ''
        interface eth0 {
          AdvSendAdvert on;
          prefix 2001:db8:1234:5678::/64 { };
        };
      '';
      description = "The contents of the radvd configuration file.";
    };
  };

  config = lib.mkIf cfg.enable {
    users.users.radvd = {
      isSystemUser = true;
      group = "radvd";
      description = "Router Advertisement Daemon User";
    };
    users.groups.radvd = { };

    systemd.services.radvd = {
      description = "IPv6 Router Advertisement Daemon";
      wantedBy = [ "multi-user.target" ];
      after = [ "network.target" ];
      # NixOS's ExecStart is "@<radvd> radvd -n ..." (argv[0] given): the
      # same command, tinyos's unit runner takes no "@" prefix. radvd logs
      # to syslog (errors to stderr too), which NixOS's journal collects;
      # tinyos has no syslog, so "-m stderr" sends every message (the
      # debugLevel ones too) to the unit's output, tinyos's journal
      serviceConfig = {
        ExecStart = "${cfg.package}/bin/radvd -n -m stderr -u radvd -d ${toString cfg.debugLevel} -C ${confFile}";
        Restart = "always";
      };
    };
  };
}
