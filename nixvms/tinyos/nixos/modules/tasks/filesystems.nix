# Mirrors nixos/modules/tasks/filesystems.nix: fileSystems.<mountPoint> are
# mounted at boot (parents before children), after the kernel modules and
# the persistent disk; autoFormat makes a filesystem on a device that has
# none (busybox mke2fs for ext2/3/4; a device counts as empty when its
# first 64 KiB are zeros), as NixOS's autoFormat does. Devices are /dev
# paths or `label` (busybox findfs). The
# root (/) and /nix/store are tinyos's initramfs, as NixOS's qemu-vm.nix
# replaces them in a VM: definitions for them are accepted and not mounted.
# `depends` orders mounts as NixOS's does (after those mount points, and
# after a parent mount point). tinyos runs no fsck (busybox has no e2fsck):
# what NixOS does with noCheck = true, for every filesystem; it has no
# resize2fs either, so autoResize is refused.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;

  fsOpts = { name, config, ... }: {
    options = {
      mountPoint = mkOption { type = types.str; default = name; example = "/mnt/usb"; description = "Location of the mounted file system."; };
      device = mkOption { type = types.nullOr types.str; default = null; example = "/dev/vdb"; description = "Location of the device."; };
      label = mkOption { type = types.nullOr types.str; default = null; description = "Label of the device (if any)."; };
      fsType = mkOption { type = types.str; default = "auto"; example = "ext4"; description = "Type of the file system."; };
      options = mkOption { type = types.nonEmptyListOf types.str; default = [ "defaults" ]; example = [ "data=journal" ]; description = "Options used to mount the file system."; };
      autoFormat = mkOption { type = types.bool; default = false; description = "Create the file system at boot if the device has none."; };
      autoResize = mkOption { type = types.bool; default = false; description = "Grow the file system to the device's size (refused: tinyos has no resize2fs)."; };
      noCheck = mkOption { type = types.bool; default = false; description = "Disable running fsck on this filesystem (tinyos never runs fsck: as true for every filesystem)."; };
      neededForBoot = mkOption { type = types.bool; default = false; description = "Mount in the initrd (tinyos mounts everything at boot)."; };
      depends = mkOption { type = types.listOf types.str; default = [ ]; description = "Mount points this one must be mounted after."; };
    };
    config.device = lib.mkIf (config.label != null) (lib.mkDefault "/dev/disk/by-label/${config.label}");
  };

  skipped = [ "/" "/nix/store" "/nix" "/boot" ];
  byPath = builtins.sort (a: b: a.mountPoint < b.mountPoint)
    (builtins.filter (fs: !builtins.elem fs.mountPoint skipped) (builtins.attrValues config.fileSystems));
  # a before b: b depends on a's mount point, or lies under it
  mountsBefore = a: b: builtins.elem a.mountPoint b.depends
    || lib.hasPrefix (lib.removeSuffix "/" a.mountPoint + "/") b.mountPoint;
  sortedMounts = lib.toposort mountsBefore byPath;
  mounts = sortedMounts.result or (throw "fileSystems: a cycle in depends among: ${toString (map (fs: fs.mountPoint) (sortedMounts.cycle or [ ]))}");

  mkfs = fs:
    if builtins.elem fs.fsType [ "ext2" "ext3" "ext4" "auto" ] then "mke2fs -q ${lib.optionalString (fs.label != null) "-L ${lib.escapeShellArg fs.label}"} \"$dev\""
    else "echo \"fileSystems: cannot format ${fs.fsType} (tinyos formats ext2/3/4)\"";
  # mount(8) types for busybox: ext2/3 through the ext4 driver
  mountType = t: if builtins.elem t [ "ext2" "ext3" ] then "ext4" else t;
  noDevice = [ "tmpfs" "proc" "sysfs" "ramfs" "devpts" ];

  mountOne = fs: ''
    # ${fs.mountPoint}
    ${if builtins.elem fs.fsType noDevice then ''dev=${fs.fsType}'' else ''
      dev=${lib.escapeShellArg (if fs.device == null then "" else fs.device)}
      ${lib.optionalString (fs.label != null) ''dev=$(findfs LABEL=${lib.escapeShellArg fs.label} 2>/dev/null || echo "$dev")''}
      n=0; while [ ! -b "$dev" ] && [ $n -lt 50 ]; do n=$((n + 1)); sleep 0.1; done
      ${lib.optionalString fs.autoFormat ''
        # blank (its first 64 KiB all zero): no filesystem yet
        if [ -b "$dev" ] && [ -z "$(dd if="$dev" bs=4096 count=16 2>/dev/null | tr -d '\000' | head -c 1)" ]; then
          echo "fileSystems: formatting $dev for ${fs.mountPoint}"
          ${mkfs fs}
        fi
      ''}
    ''}
    mkdir -p ${lib.escapeShellArg fs.mountPoint}
    if mount ${lib.optionalString (fs.fsType != "auto") "-t ${mountType fs.fsType}"} -o ${lib.escapeShellArg (builtins.concatStringsSep "," fs.options)} "$dev" ${lib.escapeShellArg fs.mountPoint}; then
      echo "fileSystems: $dev mounted on ${fs.mountPoint}"
    else
      echo "fileSystems: mounting $dev on ${fs.mountPoint} failed"
    fi
  '';
  fsModules = { vfat = [ "vfat" "nls_cp437" "nls_iso8859-1" ]; btrfs = [ "btrfs" ]; xfs = [ "xfs" ]; };
in
{
  options.fileSystems = mkOption {
    type = types.attrsOf (types.submodule fsOpts);
    default = { };
    example = { "/data" = { device = "/dev/vdb"; fsType = "ext4"; autoFormat = true; }; };
    description = "The file systems to be mounted at boot.";
  };
  options.boot.supportedFilesystems = mkOption {
    type = types.listOf types.str;
    default = [ ];
    example = [ "btrfs" ];
    description = "Names of supported filesystem types (their kernel modules are loaded).";
  };

  config = {
    assertions = lib.mapAttrsToList (n: fs: {
      assertion = !fs.autoResize;
      message = "fileSystems.\"${n}\".autoResize: tinyos cannot: it has no resize2fs (busybox has none), so the filesystem keeps its size.";
    }) config.fileSystems;
    boot.initrd.availableKernelModules = lib.unique (builtins.concatMap (t: fsModules.${t} or [ ])
      (map (fs: fs.fsType) mounts ++ config.boot.supportedFilesystems));
    system.activationScripts.filesystems = lib.mkIf (mounts != [ ]) {
      deps = [ "modules" "disk" ];
      text = lib.concatMapStrings mountOne mounts;
    };
  };
}
