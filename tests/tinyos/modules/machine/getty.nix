{ config, lib, pkgs, ... }:
with lib;
{
  options.services.getty = {
    autologinUser = mkOption { type = types.nullOr types.str; default = null; };
    greetingLine = mkOption { type = types.str; default = "<<< Welcome to tinyos >>>"; };
    helpLine = mkOption { type = types.lines; default = ""; };
  };
  config.systemd.services."serial-getty@ttyS0" = {
    description = "Serial getty";
    wantedBy = [ "multi-user.target" ];
    script = "${pkgs.agetty}/bin/agetty ${optionalString (config.services.getty.autologinUser != null) "--autologin ${config.services.getty.autologinUser}"} ttyS0";
  };
}
