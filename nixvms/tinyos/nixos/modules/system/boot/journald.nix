# Mirrors the options of nixos/modules/system/boot/systemd/journald.nix
# (services.journald): written to /etc/systemd/journald.conf as NixOS
# writes it. tinyos's journal (systemd.nix's journalctl) keeps each unit's
# output in RAM and on the console whatever they say. Values it cannot
# honour are refused: its journal is volatile (storage = "volatile" is true
# of it; NixOS's default "persistent" keeps earlier boots' journals, which
# tinyos does not), has no rate limit (0 disables NixOS's), forwards to no
# syslog, collects no audit messages and reads no journald.conf text.
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

  config.assertions = [
    { assertion = cfg.extraConfig == "";
      message = "services.journald.extraConfig: tinyos cannot: its journal is not systemd-journald and reads no journald.conf settings."; }
    { assertion = !cfg.forwardToSyslog;
      message = "services.journald.forwardToSyslog: tinyos cannot: it has no syslog daemon to forward to."; }
    { assertion = cfg.audit != true;
      message = "services.journald.audit: tinyos cannot: its journal collects no audit messages."; }
    { assertion = builtins.elem cfg.storage [ "persistent" "volatile" ];
      message = "services.journald.storage: tinyos cannot set it to \"${cfg.storage}\": its journal is always kept in /run (\"volatile\").";
    }
    { assertion = builtins.elem cfg.rateLimitBurst [ 10000 0 ];
      message = "services.journald.rateLimitBurst: tinyos cannot set it to ${toString cfg.rateLimitBurst}: its journal has no rate limit (0, no limit, is true of it).";
    }
    { assertion = builtins.elem cfg.rateLimitInterval [ "30s" "0" "0s" ];
      message = "services.journald.rateLimitInterval: tinyos cannot set it to \"${cfg.rateLimitInterval}\": its journal has no rate limit (\"0\", no limit, is true of it).";
    }
  ];
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
