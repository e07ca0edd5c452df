# tinyos's root filesystem is the initramfs itself (there is no root disk to
# switch to). Its /nix/store is either a read-only store disk, mounted over
# it by a small stage 1 (boot.initrd.tinyosStoreDevice: the VM's
# virtualisation.useNixStoreImage), or, without one, the initrd is the whole
# store (the closure of the init). This module plays
# the parts of nixos/modules/system/boot/stage-1.nix (initialRamdisk),
# stage-2.nix (the init: mounts, /etc, then PID 1) and
# system/activation/activation-script.nix (system.activationScripts, run
# by bash through the system's `activate`, boot.postBootCommands) and
# config/shells-environment.nix's environment.binsh (/bin/sh, bash as on
# NixOS). PID 1 is busybox init: it runs the boot script (activation,
# services) once, then a getty on the serial console, which
# prints "<hostName> login:" as NixOS does; `poweroff` stops everything and
# powers the machine off.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  bb = pkgs.busybox;
  serial = pkgs.tinyosPlatform.serialDevice;
  multiarch = pkgs.tinyosPlatform.multiarch;

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
    # the activation scripts, in bash, in this order: ${toString activationOrder}
    # (system/activation/activate.sh; switch-to-configuration runs them too)
    /run/current-system/activate
    # boot.postBootCommands
    ${config.boot.postBootCommands}
    ${config.system.build.startServices}
    echo "tinyos: ${config.system.name} reached multi-user.target"
  '';

  shutdown = pkgs.writeScript "tinyos-shutdown" ''
    #!${bb}/bin/sh
    export PATH=${bb}/bin
    echo "tinyos: stopping ${config.system.name}"
    # boot.tinyosShutdownCommands (the disk is still mounted, processes run)
    ${config.boot.tinyosShutdownCommands}
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
    # Seal the kernel's time zone at UTC as systemd does first thing at boot
    # (clock_reset_timewarp): the kernel takes the first zone it is given
    # (settimeofday) to be the RTC's and shifts the clock by it, so
    # timedated's first `timedatectl set-timezone` would move the clock by
    # the zone's offset.
    hwclock --systz --utc 2>/dev/null || true
    exec </dev/console >/dev/console 2>&1
    echo
    echo "<<< tinyos: ${config.system.name} (${pkgs.system}) >>>"
    # /run/current-system (top-level.nix's runtime system: sw, etc, the
    # activation scripts, switch-to-configuration, specialisations)
    ln -s ${config.system.build.runtimeSystem} /run/current-system
    # /etc (environment.etc): symlinks into the store, copies where a mode
    # is set, with their mode, owner and group (etc.nix)
    /run/current-system/bin/setup-etc
    # Debian's system library directory (/lib/<multiarch>), where Debian's
    # bash (the activation scripts, /bin/sh), login shells and setuid
    # programs find their libraries: one link to the system's farm
    # (boot.tinyosSystemLibraries), made at build time
    mkdir -p /lib
    ln -s ${systemLibraries} /lib/${multiarch}
    # /bin/sh: environment.binsh (bash, as NixOS has it)
    ln -sf ${config.environment.binsh} /bin/sh
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

  # boot.tinyosSystemLibraries as one directory of links, the first
  # package's file of each name winning: linking them file by file at every
  # boot cost ~0.2 s of CPU under TCG per package set.
  systemLibraries = pkgs.runCommand "system-libraries-${multiarch}" {
    entries = config.boot.tinyosSystemLibraries;
  } ''
    mkdir $out
    for e in $entries; do
      if [ -f "$e" ]; then dirs=$(cat "$e"); else dirs=$e; fi
      for d in $dirs; do
        [ -d "$d" ] || continue
        for f in "$d"/*; do [ -e "$out/''${f##*/}" ] || ln -s "$f" "$out/"; done
      done
    done
  '';

  storeDevice = config.boot.initrd.tinyosStoreDevice;
  # Stage 1 with a store disk (NixOS's stage-1-init.sh, reduced to what the
  # VM needs): load the disk's driver and erofs, mount the disk whose virtio
  # serial is boot.initrd.tinyosStoreDevice read-only over the initrd's /nix/store,
  # and exec the init= of the kernel command line (the system's stage 2,
  # in that store). Its closure is busybox alone: the initrd holds this,
  # busybox and the modules, and the system is on the disk.
  stage1 = pkgs.writeScript "stage-1-init" ''
    #!${bb}/bin/sh
    export PATH=${bb}/bin
    fail() { echo "stage 1: $*"; poweroff -f; }
    mkdir -p /proc /sys /dev /nix/store
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    # (erofs needs libcrc32c, which needs a crc32c: the i686 kernel's is
    # the crc32c_generic module, which nothing would load before stage 2)
    # (one modprobe for all: each exec costs ~10 ms of CPU under TCG)
    modprobe -a virtio_pci virtio_blk crc32c_generic erofs 2>/dev/null ||
      for m in virtio_pci virtio_blk crc32c_generic erofs; do modprobe "$m" 2>/dev/null; done
    # mount_store SERIAL DIR: the erofs disk with that virtio serial, on DIR
    mount_store() {
      dev=
      tries=0
      while [ -z "$dev" ]; do
        for s in /sys/block/*/serial; do
          serial=
          { read -r serial < "$s"; } 2>/dev/null
          [ "$serial" = "$1" ] && dev=''${s%/serial} && dev=/dev/''${dev##*/}
        done
        [ -n "$dev" ] && break
        tries=$((tries + 1))
        [ $tries -lt 1000 ] || fail "no disk with serial $1 (a store image) appeared"
        usleep 10000
      done
      mount -t erofs -o ro "$dev" "$2" || fail "cannot mount the store image $dev on $2"
    }
    mount_store ${storeDevice} /nix/store
    # (each path without its context: the disk holds it, not the initrd)
    ${lib.concatStrings (lib.mapAttrsToList (serial: path: ''
    mount_store ${serial} ${builtins.unsafeDiscardStringContext path}
    '') config.boot.initrd.tinyosStorePathDevices)}
    init=
    read -r cmdline < /proc/cmdline
    for arg in $cmdline; do
      case $arg in init=*) init=''${arg#init=};; esac
    done
    [ -n "$init" ] || fail "no init= on the kernel command line"
    umount /dev; umount /sys; umount /proc
    exec "$init"
  '';
in
{
  options = {
    system.activationScripts = mkOption {
      type = types.attrsOf scriptType;
      default = { };
      description = "Shell snippets run at boot and by switch-to-configuration (as root, by bash, the system's activate script) in dependency order, before services.";
    };
    environment.binsh = mkOption {
      type = types.path;
      default = "${pkgs.bashInteractive}/bin/sh";
      defaultText = lib.literalExpression ''"''${pkgs.bashInteractive}/bin/sh"'';
      description = "The shell executable that is linked system-wide to /bin/sh.";
    };
    boot.initrd.tinyosStorePaths = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
      internal = true;
      description = "Store paths whose closures the initrd (the guest's /nix/store) holds besides the system's (virtualisation.additionalPaths).";
    };
    boot.initrd.tinyosStoreDevice = mkOption {
      type = types.nullOr types.str;
      default = null;
      internal = true;
      description = "The virtio serial of a read-only disk holding the guest's /nix/store (erofs), which stage 1 mounts before running the init= of the kernel command line; null: the initrd holds the store.";
    };
    boot.initrd.tinyosStorePathDevices = mkOption {
      type = types.attrsOf types.str;
      default = { };
      internal = true;
      description = "Virtio serial to store path: read-only erofs disks holding one store path each, which stage 1 mounts on that path once the store disk is mounted.";
    };
    boot.tinyosSystemLibraries = mkOption {
      type = types.listOf types.str;
      default = [ ];
      internal = true;
      description = "What /lib/<multiarch> (Debian's system library directory) holds: library directories, or files listing library directories one per line (a Debian package's nix-support/lib-dirs); missing ones are skipped; of two files with one name, the earlier entry's wins.";
    };
    boot.tinyosShutdownCommands = mkOption {
      type = types.lines;
      default = "";
      internal = true;
      description = "busybox sh commands run when the machine powers off or reboots, before its processes are stopped and its disks unmounted: machine state kept on a persistent root in NixOS is saved to the disk (/var/lib) here.";
    };
    boot.postBootCommands = mkOption {
      type = types.lines;
      default = "";
      description = "Shell commands executed just before the services are started.";
    };
  };

  config = {
    # bash and the system's login shells first (the activation runs in bash)
    boot.tinyosSystemLibraries = lib.mkBefore [ "${pkgs.bash}/nix-support/lib-dirs" ];
    # A switch to another system (switch-to-configuration) moves the link
    # atomically: bash, running this, keeps finding its libraries.
    system.activationScripts.systemLibraries = ''
      ln -sfn ${systemLibraries} /lib/.${multiarch}.new
      mv -fT /lib/.${multiarch}.new /lib/${multiarch}
    '';

    # One modprobe for all (busybox's -a), each again for its message if
    # that fails: a modprobe is an exec, ~10 ms of CPU each under TCG.
    system.activationScripts.modules = ''
      read -r release < /proc/sys/kernel/osrelease
      modules=$(< /lib/modules/$release/tinyos-load)
      if ! modprobe -a $modules 2>/dev/null; then
        for m in $modules; do
          modprobe "$m" || echo "modprobe: $m failed"
        done
      fi
    '';

    # Boot output goes to /dev/console (not to the serial device directly:
    # a tty's open files die with the hangup when its session ends, those
    # opened through /dev/console do not).
    environment.etc.inittab.text = ''
      ::sysinit:${boot}
      ${serial}::respawn:${config.system.build.serialGetty}
      ::ctrlaltdel:${bb}/bin/reboot
      ::shutdown:${shutdown}
    '';
    # /etc/issue and the getty's arguments: services/ttys/getty.nix

    system.build.activationScripts = map (n: {
      name = n;
      # bash's syntax, checked at build time (NixOS's activate is one bash script)
      file = pkgs.writeTextFile {
        name = "activation-${n}";
        text = scripts.${n}.text;
        checkPhase = ''${pkgs.stdenv.shellDryRun} "$target"'';
      };
    }) activationOrder;
    system.build.bootStage2 = init;
    system.build.bootScript = boot;
    system.build.initialRamdisk = pkgs.makeInitrd {
      name = "initrd-${config.system.name}";
      contents = [
        { object = if storeDevice == null then init else stage1; symlink = "/init"; }
        { object = "${config.system.build.modulesClosure}/lib/modules"; symlink = "/lib/modules"; }
      ] ++ lib.optionals (storeDevice == null) (lib.imap0 (i: p:
        { object = p; symlink = "/nix/var/tinyos/additional-paths/${toString i}"; })
        config.boot.initrd.tinyosStorePaths);
    };
  };
}
