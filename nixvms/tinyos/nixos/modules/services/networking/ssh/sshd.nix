# Mirrors nixos/modules/services/networking/ssh/sshd.nix (services.openssh),
# served by dropbear instead of OpenSSH: a host key generated at first boot
# and kept in /var/lib/dropbear (the persistent disk when there is one),
# root login with the keys of users.users.<name>.openssh.authorizedKeys
# (users-groups.nix copies them to ~/.ssh/authorized_keys, which dropbear reads).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.openssh;
  permitRoot = if cfg.settings.PermitRootLogin != null then cfg.settings.PermitRootLogin else cfg.permitRootLogin;
  # dropbear: -w disallows root, -g root password logins; -s all password logins
  rootFlags = {
    yes = "";
    prohibit-password = "-g";
    without-password = "-g";
    forced-commands-only = "-g";
    no = "-w";
  }.${permitRoot};
in
{
  options.services.openssh = {
    enable = mkOption { type = types.bool; default = false; description = "Whether to enable the secure shell daemon (dropbear in tinyos), which allows secure remote logins."; };
    ports = mkOption { type = types.listOf types.port; default = [ 22 ]; description = "Specifies on which ports the SSH daemon listens."; };
    openFirewall = mkOption { type = types.bool; default = true; description = "Whether to automatically open the specified ports in the firewall."; };
    permitRootLogin = mkOption {
      type = types.enum [ "yes" "without-password" "prohibit-password" "forced-commands-only" "no" ];
      default = "prohibit-password";
      description = "Whether the root user can login using ssh (older NixOS name of settings.PermitRootLogin).";
    };
    settings = mkOption {
      type = types.submodule {
        freeformType = types.attrsOf types.unspecified;
        options.PermitRootLogin = mkOption {
          type = types.nullOr (types.enum [ "yes" "without-password" "prohibit-password" "forced-commands-only" "no" ]);
          default = null;
          description = "Whether the root user can login using ssh (default: permitRootLogin's value).";
        };
        options.PasswordAuthentication = mkOption { type = types.bool; default = true; description = "Whether password authentication is allowed."; };
      };
      default = { };
      description = "Configuration for sshd_config (PermitRootLogin and PasswordAuthentication are honoured; other keys are accepted).";
    };
  };

  config = lib.mkIf cfg.enable {
    environment.systemPackages = [ pkgs.dropbear ];
    # dropbear lets a user in only if the login shell is listed here
    environment.etc.shells.text = ''
      /bin/sh
      ${pkgs.busybox}/bin/sh
      ${pkgs.busybox}/bin/ash
      /run/current-system/sw/bin/sh
    '';
    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall cfg.ports;

    systemd.services.sshd = {
      description = "SSH Daemon";
      wantedBy = [ "multi-user.target" ];
      after = [ "network.target" ];
      path = [ pkgs.dropbear ];
      preStart = ''
        mkdir -p /var/lib/dropbear
        [ -s /var/lib/dropbear/ed25519_host_key ] || dropbearkey -t ed25519 -f /var/lib/dropbear/ed25519_host_key
      '';
      serviceConfig.Restart = "always";
      # -F foreground, -E log to stderr, -s/-g/-w as settings say
      script = ''
        exec dropbear -F -E -r /var/lib/dropbear/ed25519_host_key \
          ${lib.concatMapStringsSep " " (p: "-p ${toString p}") cfg.ports} \
          ${rootFlags} ${lib.optionalString (!cfg.settings.PasswordAuthentication) "-s"}
      '';
    };
  };
}
