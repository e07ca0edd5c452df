# Mirrors time.timeZone of nixos/modules/config/locale.nix: /etc/zoneinfo
# is tzdata's zoneinfo directory (Debian's tzdata here) and TZDIR names it;
# a zone set makes /etc/localtime a link to its file and TZ name it for
# login shells; null means UTC until `timedatectl set-timezone` changes it.
# A zone tzdata does not have fails the build.
#
# timedatectl is systemd's (Debian's), talking over the system bus
# (services.dbus) to systemd-timedated, which the bus starts when it is
# first asked (NixOS: through systemd). Debian's timedated differs from
# NixOS's patched one in two ways this module makes up for:
# - it reads and writes zones under /usr/share/zoneinfo (NixOS's:
#   /etc/zoneinfo), so /usr/share/zoneinfo links to /etc/zoneinfo and a
#   set zone's /etc/localtime names /usr/share/zoneinfo/<zone> (timedated
#   reads the zone from that link's text: `timedatectl` shows it);
# - with time.timeZone set NixOS's timedated refuses SetTimezone
#   (NIXOS_STATIC_TIMEZONE in its environment); Debian's has no such check,
#   so the bus refuses the call to it instead (a mandatory deny rule), and
#   `timedatectl set-timezone` fails with the bus's "Access denied".
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

  systemd = pkgs.debianPackages.systemd;
  timedatectl = pkgs.runCommand "timedatectl" { } ''
    mkdir -p $out/bin
    ln -s ${systemd}/bin/timedatectl $out/bin/timedatectl
  '';
  # org.freedesktop.timedate1 on the system bus: Debian's policy file, and a
  # service file the bus starts timedated from (Debian's names systemd's
  # unit, SystemdService=, which only systemd can start)
  timedated = pkgs.runCommand "systemd-timedated-dbus" { } ''
    mkdir -p $out/share/dbus-1/system-services $out/share/dbus-1/system.d
    printf '[D-BUS Service]\nName=org.freedesktop.timedate1\nExec=%s\nUser=root\n' \
      ${systemd}/bin/systemd-timedated > $out/share/dbus-1/system-services/org.freedesktop.timedate1.service
    ln -s ${systemd.debs.systemd}/usr/share/dbus-1/system.d/org.freedesktop.timedate1.conf $out/share/dbus-1/system.d/
  '';
  staticZone = pkgs.writeTextDir "share/dbus-1/system.d/timedate1-static-zone.conf" ''
    <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
     "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
    <busconfig>
      <!-- time.timeZone = "${tz}": the zone is the configuration's -->
      <policy context="mandatory">
        <deny send_destination="org.freedesktop.timedate1" send_interface="org.freedesktop.timedate1"
              send_member="SetTimezone"/>
      </policy>
    </busconfig>
  '';

  # With time.timeZone = null, /etc/localtime is the machine's own state
  # (timedated's to change), kept on NixOS's persistent root. tinyos's root
  # is a tmpfs and its persistent disk is /var/lib: the link is saved there
  # when the machine powers off and put back at the next boot. (A power
  # cut loses a change made since the last boot.)
  saved = "/var/lib/tinyos/localtime";
in
{
  options.time = {
    timeZone = mkOption {
      type = types.nullOr (types.addCheck types.str (s: !(lib.hasInfix " " s)));
      default = null;
      example = "America/New_York";
      description = "The time zone used when displaying times and dates (null: UTC, changeable at run time with timedatectl).";
    };
    hardwareClockInLocalTime = mkOption { type = types.bool; default = false; description = "If set, keep the hardware clock in local time instead of UTC (refused: tinyos reads QEMU's RTC as UTC)."; };
  };

  config = lib.mkMerge [
    {
      assertions = [ {
        assertion = !config.time.hardwareClockInLocalTime;
        message = "time.hardwareClockInLocalTime: tinyos cannot: its boot reads QEMU's RTC as UTC (no /etc/adjtime LOCAL, no clock warp as systemd does).";
      } ];
      environment.etc.zoneinfo.source = if tz == null then zoneinfo else checked;
      environment.variables.TZDIR = "/etc/zoneinfo";
      environment.systemPackages = [ timedatectl ];
      services.dbus.packages = [ timedated ] ++ lib.optional (tz != null) staticZone;
      system.activationScripts.usrShareZoneinfo = ''
        mkdir -p /usr/share
        ln -sfn /etc/zoneinfo /usr/share/zoneinfo
      '';
    }
    (lib.mkIf (tz != null) {
      environment.etc.localtime.source = "/usr/share/zoneinfo/${tz}";
      environment.variables.TZ = tz;
      # (a zone set later in the configuration: the saved one is stale)
      boot.tinyosShutdownCommands = "rm -f ${saved}";
    })
    (lib.mkIf (tz == null) {
      system.activationScripts.localtime = {
        deps = [ "disk" ];
        # at boot only: on a switch, the running link is the newer one
        text = ''
          if [ ! -e /run/tinyos/localtime-restored ]; then
            if [ -L ${saved} ] && [ ! -L /etc/localtime ]; then
              ln -s "$(readlink ${saved})" /etc/localtime
            fi
            mkdir -p /run/tinyos
            touch /run/tinyos/localtime-restored
          fi
        '';
      };
      boot.tinyosShutdownCommands = ''
        if [ -L /etc/localtime ]; then
          mkdir -p ${dirOf saved}
          ln -sfn "$(readlink /etc/localtime)" ${saved}
        else
          rm -f ${saved}
        fi
      '';
    })
  ];
}
