# Mirrors time.timeZone of nixos/modules/config/locale.nix: /etc/localtime
# points into tzdata's zoneinfo (Debian's tzdata here), /etc/zoneinfo is
# the zoneinfo directory, and TZDIR and TZ are set for login shells. null
# means UTC, as in NixOS. A zone tzdata does not have fails the build.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  tz = config.time.timeZone;
  zoneinfo = "${pkgs.tzdata}/share/zoneinfo";
  checked = pkgs.runCommand "localtime-${lib.replaceStrings [ "/" ] [ "-" ] tz}" { } ''
    [ -f ${zoneinfo}/${tz} ] || { echo "time.timeZone: no zone ${tz} in tzdata (${zoneinfo})" >&2; exit 1; }
    ln -s ${zoneinfo}/${tz} $out
  '';
in
{
  options.time = {
    timeZone = mkOption {
      type = types.nullOr (types.addCheck types.str (s: !(lib.hasInfix " " s)));
      default = null;
      example = "America/New_York";
      description = "The time zone used when displaying times and dates (null: UTC).";
    };
    hardwareClockInLocalTime = mkOption { type = types.bool; default = false; description = "If set, keep the hardware clock in local time instead of UTC (accepted)."; };
  };

  config = lib.mkIf (tz != null) {
    environment.etc.localtime.source = checked;
    environment.etc.zoneinfo.source = zoneinfo;
    environment.variables = { TZDIR = "/etc/zoneinfo"; TZ = tz; };
  };
}
