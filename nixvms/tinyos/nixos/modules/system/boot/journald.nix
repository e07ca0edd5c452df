# Mirrors the options of nixos/modules/system/boot/systemd/journald.nix
# (services.journald): written to /etc/systemd/journald.conf as NixOS
# writes it. tinyos's journal (systemd.nix's journalctl) keeps each unit's
# output in RAM and on the console whatever they say; the options are
# accepted so that the same configuration builds NixOS.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.journald;
in
{
  options.services.journald = {
    console = mkOption { type = types.str; default = ""; description = "If non-empty, write log messages to the specified TTY device."; };
    rateLimitInterval = mkOption { type = types.str; default = "30s"; description = "Configures the rate limiting interval."; };
    rateLimitBurst = mkOption { type = types.int; default = 10000; description = "Configures the rate limiting burst limit."; };
    storage = mkOption {
      type = types.enum [ "persistent" "volatile" "auto" "none" ];
      default = "persistent";
      description = "Controls where to store journal data.";
    };
    extraConfig = mkOption { type = types.lines; default = ""; example = "Storage=volatile"; description = "Extra config options for systemd-journald (journald.conf)."; };
    forwardToSyslog = mkOption { type = types.bool; default = false; description = "Whether to forward log messages to syslog."; };
    audit = mkOption { type = types.nullOr types.bool; default = null; description = "Whether journald collects audit messages."; };
  };

  config.environment.etc."systemd/journald.conf".text = ''
    [Journal]
    Storage=${cfg.storage}
    RateLimitInterval=${cfg.rateLimitInterval}
    RateLimitBurst=${toString cfg.rateLimitBurst}
    ${lib.optionalString (cfg.console != "") "ForwardToConsole=yes\nTTYPath=${cfg.console}"}
    ${lib.optionalString cfg.forwardToSyslog "ForwardToSyslog=yes"}
    ${cfg.extraConfig}
  '';
}
