# services.timesyncd.enable of nixos/modules/services/system/timesyncd.nix.
# tinyos has no systemd-timesyncd: the guest's clock is QEMU's RTC, read at
# boot. The option is false here (NixOS: true outside containers) and true
# is refused with its name.
{ config, lib, ... }:
{
  options.services.timesyncd.enable = lib.mkOption {
    type = lib.types.bool;
    default = false;
    description = "Enables the systemd NTP client daemon.";
  };
  config.assertions = [ {
    assertion = !config.services.timesyncd.enable;
    message = "services.timesyncd.enable: tinyos cannot: it has no systemd-timesyncd (the clock comes from QEMU's RTC).";
  } ];
}
