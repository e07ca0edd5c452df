# Mirrors nixos/modules/services/ttys/getty.nix (services.getty) for the
# serial console's getty and the virtual consoles' (tty1 to tty6, on the
# screen), busybox getty. tty1's is the unit getty@tty1.service, as on
# NixOS (autovt@tty1, systemd's alias of getty@tty1, wanted by getty.target;
# tinyos has no getty.target: multi-user.target wants it), restarted
# whenever it ends. The others are started by busybox init from
# /etc/inittab (stage-2.nix has the serial console's line, this module adds
# tty2 to tty6).
# autologinUser logs that user in without a password, printing
# "<hostName> login: <user> (automatic login)" as agetty does. NixOS runs
# getty@tty1 at boot and the others (autovt@ttyN) when logind sees the
# console switched to ttyN (NAutoVTs=6): the gettys of tty2 to tty6 wait
# for that switch before they log anybody in, so autologin starts one
# session per console the user looks at, as on NixOS.
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
  # the autologin of ttyN (2..6), once ttyN is the console on the screen
  # (the kernel names it in /sys/class/tty/tty0/active)
  autologinOnSwitch = n: pkgs.writeScript "autologin-tty${toString n}" ''
    #!${bb}/bin/sh
    while read -r active < /sys/class/tty/tty0/active && [ "$active" != tty${toString n} ]; do
      sleep 1
    done
    exec ${autologin}
  '';
  vtGetty = n: builtins.concatStringsSep " " ([ "${bb}/bin/getty" ]
    ++ (if cfg.autologinUser == null then [ "-l" "${cfg.loginProgram}" ]
        else [ "-n" "-l" "${if n == 1 then autologin else autologinOnSwitch n}" ])
    ++ cfg.extraArgs ++ [ "38400" "tty${toString n}" "linux" ]);
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
    loginOptions = mkOption { type = types.nullOr types.str; default = null; description = "Template for arguments to be passed to login (refused: busybox getty has no --login-options)."; };
    extraArgs = mkOption { type = types.listOf types.str; default = [ ]; description = "Additional arguments passed to getty."; };
    greetingLine = mkOption { type = types.str; default = "<<< Welcome to tinyos (\\m) - \\l >>>"; description = "Welcome line printed by getty (/etc/issue)."; };
    helpLine = mkOption { type = types.lines; default = ""; description = "Help line printed by getty below the welcome line."; };
  };

  config = {
    assertions = [ {
      assertion = cfg.loginOptions == null;
      message = "services.getty.loginOptions: tinyos cannot: its getty is busybox's, which has no --login-options (it runs loginProgram with the user's name).";
    } ];
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
    # NixOS's getty@ template for tty1: Restart=always, RestartSec=0, not
    # restarted by a switch of configuration (a login on it would end)
    systemd.services."getty@tty1" = {
      description = "Getty on tty1";
      wantedBy = [ "multi-user.target" ];
      restartIfChanged = false;
      serviceConfig = { ExecStart = vtGetty 1; Restart = "always"; RestartSec = 0; };
    };
    # the other virtual consoles' gettys (NixOS's autovt@tty2..6)
    environment.etc.inittab.text = lib.mkAfter (lib.concatMapStrings (n: ''
      tty${toString n}::respawn:${vtGetty n}
    '') [ 2 3 4 5 6 ]);
  };
}
