# services.dbus of nixos/modules/services/system/dbus.nix: the system
# message bus, Debian's dbus-daemon, on every machine as in NixOS (whose
# systemd module turns it on). Its configuration is NixOS's shape:
# /etc/dbus-1/system.conf names the system-services and system.d
# directories of services.dbus.packages. The bus listens on
# /run/dbus/system_bus_socket; the unit dbus.socket is active while it does
# (tinyos has no socket activation: dbus.service opens the socket itself).
#
# Not as NixOS: the daemon runs as root, and bus-activates services by
# exec'ing their Exec= line itself (NixOS: as messagebus, through the
# setuid dbus-daemon-launch-helper, or systemd). Debian's launch helper
# reads its configuration from /usr/share/dbus-1/system.conf, a path fixed
# at Debian's build, and loads libraries a setuid program cannot be given
# through tinyos's LD_LIBRARY_PATH wrappers (security/wrappers).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.dbus;
  dirs = sub: lib.concatMapStrings (p: "  <${sub.tag}>${p}/${sub.path}</${sub.tag}>\n") cfg.packages;
  systemConf = pkgs.writeText "system.conf" ''
    <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
     "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
    <busconfig>
      <type>system</type>
      <listen>unix:path=/run/dbus/system_bus_socket</listen>
      <auth>EXTERNAL</auth>
    ${dirs { tag = "servicedir"; path = "share/dbus-1/system-services"; }}
      <!-- the default policy of dbus's system.conf: every user may connect and
           talk to the bus; a service's own system.d file opens its name -->
      <policy context="default">
        <allow user="*"/>
        <deny own="*"/>
        <deny send_type="method_call"/>
        <allow send_type="signal"/>
        <allow send_requested_reply="true" send_type="method_return"/>
        <allow send_requested_reply="true" send_type="error"/>
        <allow receive_type="method_call"/>
        <allow receive_type="method_return"/>
        <allow receive_type="error"/>
        <allow receive_type="signal"/>
        <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
        <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
        <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
        <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
              send_member="UpdateActivationEnvironment"/>
      </policy>
      <policy user="root">
        <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
      </policy>
    ${dirs { tag = "includedir"; path = "share/dbus-1/system.d"; }}
    </busconfig>
  '';
in
{
  options.services.dbus = {
    enable = mkOption {
      type = types.bool;
      default = true;
      description = "Whether to start the D-Bus message bus daemon, which is required by many other system services and applications.";
    };
    packages = mkOption {
      type = types.listOf types.path;
      default = [ ];
      description = "Packages whose D-Bus configuration files (share/dbus-1/system.d) and system services (share/dbus-1/system-services) the system bus uses.";
    };
    implementation = mkOption {
      type = types.enum [ "dbus" "broker" ];
      default = "dbus";
      description = "The D-Bus implementation (tinyos: dbus only).";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [ {
      assertion = cfg.implementation == "dbus";
      message = "services.dbus.implementation = \"broker\": tinyos cannot: it has no dbus-broker (its bus is dbus-daemon).";
    } ];
    environment.systemPackages = [ pkgs.dbus ];
    environment.etc."dbus-1/system.conf".source = systemConf;
    systemd.services.dbus = {
      description = "D-Bus System Message Bus";
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        ExecStart = "${pkgs.dbus}/bin/dbus-daemon --config-file=/etc/dbus-1/system.conf --nofork --nopidfile";
        RuntimeDirectory = "dbus";
      };
    };
    systemd.tinyosSocketUnits."dbus.socket" = {
      description = "D-Bus System Message Bus Socket";
      listenStream = "/run/dbus/system_bus_socket";
      service = "dbus.service";
    };
  };
}
