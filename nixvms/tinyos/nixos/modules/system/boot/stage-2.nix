# tinyos boots in one stage: the initrd is the whole system (the closure of
# its init), as there is no root filesystem to switch to. This module plays
# the parts of nixos/modules/system/boot/stage-1.nix (initialRamdisk),
# stage-2.nix (the init: mounts, /etc, then PID 1) and
# system/activation/activation-script.nix (system.activationScripts,
# boot.postBootCommands). PID 1 is busybox init: it runs the boot script
# (activation, services) once, then a getty on the serial console, which
# prints "<hostName> login:" as NixOS does; `poweroff` stops everything and
# powers the machine off.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  bb = pkgs.busybox;
  serial = pkgs.tinyosPlatform.serialDevice;

  scriptType = types.coercedTo types.str (text: { inherit text; }) (types.submodule {
    options = {
      text = mkOption { type = types.lines; description = "The content of the script."; };
      deps = mkOption { type = types.listOf types.str; default = [ ]; description = "Scripts this one runs after."; };
    };
  });
  scripts = config.system.activationScripts;
  sorted = lib.toposort (a: b: builtins.elem a scripts.${b}.deps)
    (builtins.sort builtins.lessThan (builtins.attrNames scripts));
  activationOrder = sorted.result or (throw
    "system.activationScripts: dependency cycle among ${builtins.concatStringsSep ", " (sorted.cycle or [ ])}");

  # The boot script (busybox init's sysinit action).
  boot = pkgs.writeScript "tinyos-boot" ''
    #!${bb}/bin/sh
    export PATH=/run/current-system/sw/bin:/run/current-system/sw/sbin:${bb}/bin
    # the activation scripts, in this order: ${toString activationOrder}
    # (/run/current-system/activation: switch-to-configuration runs them too)
    for script in $(cat /run/current-system/activation-order); do
      . /run/current-system/activation/$script
    done
    # boot.postBootCommands
    ${config.boot.postBootCommands}
    ${config.system.build.startServices}
    echo "tinyos: ${config.system.name} reached multi-user.target"
  '';

  shutdown = pkgs.writeScript "tinyos-shutdown" ''
    #!${bb}/bin/sh
    export PATH=${bb}/bin
    echo "tinyos: stopping ${config.system.name}"
    kill -TERM -1 2>/dev/null; sleep 0.3; kill -KILL -1 2>/dev/null
    sync
    # disks: unmount, or at least make read-only, before power-off
    umount -a -r 2>/dev/null
    sync
  '';

  # PID 1 until it execs busybox init.
  init = pkgs.writeScript "init" ''
    #!${bb}/bin/sh
    export PATH=${bb}/bin
    mkdir -p /proc /sys /dev /run /tmp /var/tmp /etc /var/lib /var/log /var/empty /root /bin /usr /mnt /home
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    mkdir -p /dev/pts /dev/shm
    mount -t devpts devpts /dev/pts
    mount -t tmpfs -o mode=1777 tmpfs /dev/shm
    mount -t tmpfs -o mode=755 tmpfs /run
    # /tmp and /var/tmp as systemd-tmpfiles makes them on NixOS (tmp.conf: 1777)
    chmod 1777 /tmp /var/tmp
    ln -s /run /var/run
    exec </dev/console >/dev/console 2>&1
    echo
    echo "<<< tinyos: ${config.system.name} (${pkgs.system}) >>>"
    # /run/current-system (top-level.nix's runtime system: sw, etc, the
    # activation scripts, switch-to-configuration, specialisations)
    ln -s ${config.system.build.runtimeSystem} /run/current-system
    # /etc (environment.etc): symlinks into the store, copies where a mode
    # is set, with their mode, owner and group (etc.nix)
    /run/current-system/bin/setup-etc
    # /bin/sh and /usr/bin/env as NixOS has them
    ln -sf ${bb}/bin/sh /bin/sh
    # /usr/bin and /usr/sbin are the system's: commands run over ssh get
    # dropbear's compiled-in PATH (/usr/bin:/bin:...), where NixOS's sshd
    # gives them the system PATH through PAM; /usr/bin/env is there as NixOS has it.
    ln -s /run/current-system/sw/bin /usr/bin
    ln -s /run/current-system/sw/sbin /usr/sbin
    # the dynamic loader at its Debian path (the PT_INTERP of pkgs' Debian binaries)
    mkdir -p ${dirOf pkgs.tinyosPlatform.loader.guestPath}
    ln -sf ${pkgs.glibc}/${pkgs.tinyosPlatform.loader.debPath} ${pkgs.tinyosPlatform.loader.guestPath}
    exec ${bb}/bin/init
  '';
in
{
  options = {
    system.activationScripts = mkOption {
      type = types.attrsOf scriptType;
      default = { };
      description = "Shell snippets run at boot (as root, busybox sh) in dependency order, before services.";
    };
    boot.initrd.tinyosStorePaths = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
      internal = true;
      description = "Store paths whose closures the initrd (the guest's /nix/store) holds besides the system's (virtualisation.additionalPaths).";
    };
    boot.postBootCommands = mkOption {
      type = types.lines;
      default = "";
      description = "Shell commands executed just before the services are started.";
    };
  };

  config = {
    system.activationScripts.modules = ''
      for m in $(cat /lib/modules/$(uname -r)/tinyos-load); do
        modprobe "$m" || echo "modprobe: $m failed"
      done
    '';

    # Boot output goes to /dev/console (not to the serial device directly:
    # a tty's open files die with the hangup when its session ends, those
    # opened through /dev/console do not).
    environment.etc.inittab.text = ''
      ::sysinit:${boot}
      ${serial}::respawn:${config.system.build.serialGetty}
      tty1::respawn:${config.system.build.vtGetty}
      ::ctrlaltdel:${bb}/bin/reboot
      ::shutdown:${shutdown}
    '';
    # /etc/issue and the getty's arguments: services/ttys/getty.nix

    system.build.activationScripts = map (n: {
      name = n;
      file = pkgs.writeText "activation-${n}" scripts.${n}.text;
    }) activationOrder;
    system.build.bootStage2 = init;
    system.build.bootScript = boot;
    system.build.initialRamdisk = pkgs.makeInitrd {
      name = "initrd-${config.system.name}";
      contents = [
        { object = init; symlink = "/init"; }
        { object = "${config.system.build.modulesClosure}/lib/modules"; symlink = "/lib/modules"; }
      ] ++ lib.imap0 (i: p: { object = p; symlink = "/nix/var/tinyos/additional-paths/${toString i}"; })
        config.boot.initrd.tinyosStorePaths;
    };
  };
}
