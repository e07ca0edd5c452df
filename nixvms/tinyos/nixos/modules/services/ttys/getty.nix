# Mirrors nixos/modules/services/ttys/getty.nix (services.getty) for the
# serial console's getty and the first virtual console's (tty1, on the
# screen, as NixOS's autovt@tty1), busybox getty, started by stage-2.nix's
# inittab.
# autologinUser logs that user in without a password, printing
# "<hostName> login: <user> (automatic login)" as agetty does.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.getty;
  bb = pkgs.busybox;
  serial = pkgs.tinyosPlatform.serialDevice;
  host = config.networking.hostName;
  autologin = pkgs.writeScript "autologin" ''
    #!${bb}/bin/sh
    echo "${host} login: ${cfg.autologinUser} (automatic login)"
    exec ${cfg.loginProgram} -f ${cfg.autologinUser}
  '';
in
{
  options.services.getty = {
    autologinUser = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "Username of the account that will be automatically logged in at the console.";
    };
    loginProgram = mkOption {
      type = types.path;
      default = "${bb}/bin/login";
      defaultText = lib.literalExpression "\"\${pkgs.busybox}/bin/login\"";
      description = "Path to the login binary executed by getty.";
    };
    loginOptions = mkOption { type = types.nullOr types.str; default = null; description = "Template for arguments to be passed to login (accepted)."; };
    extraArgs = mkOption { type = types.listOf types.str; default = [ ]; description = "Additional arguments passed to getty."; };
    greetingLine = mkOption { type = types.str; default = "<<< Welcome to tinyos (\\m) - \\l >>>"; description = "Welcome line printed by getty (/etc/issue)."; };
    helpLine = mkOption { type = types.lines; default = ""; description = "Help line printed by getty below the welcome line."; };
  };

  config = {
    environment.etc.issue.text = lib.mkDefault ''

      ${cfg.greetingLine}
      ${cfg.helpLine}
    '';
    # the inittab line of the serial console (stage-2.nix)
    # getty runs services.getty.loginProgram, as NixOS's agetty --login-program
    # does (busybox getty's own default, /bin/login, does not exist on tinyos)
    system.build.serialGetty = builtins.concatStringsSep " " ([ "${bb}/bin/getty" ]
      ++ (if cfg.autologinUser != null then [ "-n" "-l" "${autologin}" ]
          else [ "-l" "${cfg.loginProgram}" ])
      ++ cfg.extraArgs ++ [ "-L" "115200" serial "vt100" ]);
    system.build.vtGetty = builtins.concatStringsSep " " ([ "${bb}/bin/getty" ]
      ++ lib.optionals (cfg.autologinUser != null) [ "-n" "-l" "${autologin}" ]
      ++ cfg.extraArgs ++ [ "38400" "tty1" "linux" ]);
  };
}
