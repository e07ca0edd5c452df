# Mirrors time.timeZone of nixos/modules/config/locale.nix: /etc/localtime
# points to /etc/zoneinfo/<zone>, /etc/zoneinfo is tzdata's zoneinfo
# directory (Debian's tzdata here), and TZDIR and TZ are set for login shells. null
# means UTC, as in NixOS. A zone tzdata does not have fails the build.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  tz = config.time.timeZone;
  zoneinfo = "${pkgs.tzdata}/share/zoneinfo";
  # /etc/zoneinfo: tzdata's zoneinfo, once the zone is known to be there
  checked = pkgs.runCommand "zoneinfo-${lib.replaceStrings [ "/" ] [ "-" ] tz}" { } ''
    [ -f ${zoneinfo}/${tz} ] || { echo "time.timeZone: no zone ${tz} in tzdata (${zoneinfo})" >&2; exit 1; }
    ln -s ${zoneinfo} $out
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
    # as NixOS: /etc/localtime -> /etc/zoneinfo/<zone>
    environment.etc.localtime.source = "/etc/zoneinfo/${tz}";
    environment.etc.zoneinfo.source = checked;
    environment.variables = { TZDIR = "/etc/zoneinfo"; TZ = tz; };
  };
}
