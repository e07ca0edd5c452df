# Mirrors nixos/modules/virtualisation/qemu-vm.nix: system.build.vm, whose
# bin/run-<name>-vm boots the machine under QEMU with the same environment
# contract (QEMU_OPTS, QEMU_NET_OPTS, QEMU_KERNEL_PARAMS, NIX_DISK_IMAGE,
# TMPDIR/USE_TMPDIR, SHARED_DIR, and QEMU_VDE_SOCKET_<n> through
# virtualisation.qemu.options). Not in module-list.nix, as in NixOS.
#
# Differences, and why:
# - QEMU is the host's (qemu-system-* on PATH): tinyos builds from Debian
#   binaries and has no QEMU of its own; NixOS uses pkgs.qemu.
# - No accelerator is chosen (QEMU's default: TCG); QEMU_OPTS="-accel kvm"
#   turns KVM on where guests run under it.
# - The disk is not the root filesystem (the initrd is): it is made ext4
#   (label "nixos") by the VM script, as NixOS's, and mounted at /var/lib,
#   where services keep their state; a blank disk (no mkfs.ext4 on the host,
#   or made by hand) is formatted by the guest on first boot (busybox mke2fs).
# - The serial console is the primary console even with graphics (see
#   virtualisation.qemu.consoles).
# - Shared directories are passed with -virtfs as NixOS does; the guest
#   mounts them only if its kernel has 9p loaded, which it is not by default
#   (Debian's cloud kernel has no 9p; i686's 686 kernel has it as a module,
#   loaded by importing profiles/qemu-guest.nix or boot.initrd.
#   availableKernelModules = [ "9p" "9pnet_virtio" ]): QEMU cannot save a
#   machine while a 9p share is mounted, and nixvms snapshots machines.
# - The store: NixOS's test VMs mount the host's /nix/store over 9p. tinyos
#   does not: QEMU refuses to migrate (and so to snapshot) a machine while a
#   9p export is mounted, and nixvms restores "ready" snapshots instead of
#   booting. virtualisation.useNixStoreImage is therefore on by default
#   (NixOS's default is off, for the 9p store): the system's closure, its
#   specialisations' and those of virtualisation.additionalPaths (NixOS's
#   option of that name) are a read-only erofs disk built with the system
#   (system.build.nixStoreImage; NixOS mounts it read-only as well unless
#   writableStore, which tinyos does not have), so `ls ''${pkgs.x}` works
#   for every x they reach. A read-only disk is outside QEMU's snapshots,
#   which stay valid since the image of a system never changes. With it off,
#   the initrd holds that store in RAM (in every snapshot, unpacked by the
#   kernel at every boot: about 1 s more CPU under TCG; bench/README.md).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.virtualisation;
  platform = pkgs.tinyosPlatform;
  bb = pkgs.busybox;
  toplevel = config.system.build.toplevel;
  name = config.system.name;
  consoles = builtins.concatStringsSep " " (map (c: "console=${c}") cfg.qemu.consoles);
  positive = types.ints.positive or types.int;
  # Added by the VM's script, not boot.kernelParams (which stays NixOS's):
  # they only save emulated CPU (issue 28, bench/README.md). The crypto
  # self-tests check the kernel's own algorithm implementations at
  # registration, the same on every boot of the same kernel; EDD is the
  # setup code's query of BIOS disk data, unused by virtio disks.
  vmKernelParams = "cryptomgr.notests edd=off"
    # the stage 2 that stage 1 runs once the store disk is mounted (NixOS's
    # VM passes its toplevel's init= the same way)
    + lib.optionalString cfg.useNixStoreImage " init=${toplevel}/init";
  storeImage = config.system.build.nixStoreImage;
  # store paths on disks of their own, mounted over their empty directories
  # in the store image: the kernel's, shared by every machine
  # (pkgs/build-support/make-store-image.nix says why)
  separateStorePaths = [ config.system.build.kernel ];
  separateStoreDisks = lib.imap1 (i: path: {
    serial = "nix-store-${toString i}";
    inherit path;
    image = pkgs.makeStorePathImage path;
  }) separateStorePaths;

  # #! busybox sh from the store: always present with the VM (it is in the
  # guest's closure too) and independent of the host's shells.
  startVM = ''
    #!${bb}/bin/sh
    # run-${name}-vm: boot tinyos machine "${name}" under QEMU (${platform.qemuBinary} from PATH).
    set -e
    qemu=${platform.qemuBinary}
    command -v "$qemu" >/dev/null || { echo "run-${name}-vm: $qemu not found on PATH (tinyos uses the host's QEMU)" >&2; exit 1; }

    NIX_DISK_IMAGE=$(readlink -f "''${NIX_DISK_IMAGE:-${toString cfg.diskImage}}") || test -z "$NIX_DISK_IMAGE"
    if test -n "$NIX_DISK_IMAGE" && ! test -e "$NIX_DISK_IMAGE"; then
        echo "Disk image do not exist, creating the virtualisation disk image..."
        # An ext4 filesystem labelled "nixos", made here as NixOS's
        # createEmptyFilesystemImage does (natively: under TCG the guest's
        # mke2fs cost ~0.3 s of emulated CPU). The host's mkfs.ext4
        # (e2fsprogs, "required" on Debian), found also where /sbin is not on
        # PATH; without it the guest formats the blank disk on first boot.
        # Inode tables and journal are written here, not by the guest's
        # ext4lazyinit after boot.
        mkfs=$(PATH=$PATH:/usr/sbin:/sbin command -v mkfs.ext4 || true)
        if [ -n "$mkfs" ]; then
            raw=$(mktemp)
            qemu-img create -q -f raw "$raw" ${toString cfg.diskSize}M
            "$mkfs" -q -L nixos -E lazy_itable_init=0,lazy_journal_init=0 "$raw"
            qemu-img convert -f raw -O qcow2 "$raw" "$NIX_DISK_IMAGE"
            rm -f "$raw"
        else
            qemu-img create -q -f qcow2 "$NIX_DISK_IMAGE" ${toString cfg.diskSize}M
        fi
        echo "Virtualisation disk image created."
    fi

    # Create a directory for storing temporary data of the running VM.
    if [ -z "$TMPDIR" ] || [ -z "$USE_TMPDIR" ]; then
        TMPDIR=$(mktemp -d -t nix-vm.XXXXXXXXXX)
    fi
    # virtualisation.emptyDiskImages: fresh blank disks for every run, as NixOS makes them
    ${lib.concatImapStrings (i: size: ''
    qemu-img create -q -f qcow2 "$TMPDIR/empty${toString i}.qcow2" ${toString size}M
    '') cfg.emptyDiskImages}
    # Create a directory for exchanging data with the VM.
    mkdir -p "$TMPDIR/xchg"
    cd "$TMPDIR"

    exec "$qemu" ${platform.qemuMachineOptions} \
        -name ${name} \
        -m ${toString cfg.memorySize} \
        -smp ${toString cfg.cores} \
        -device virtio-rng-pci \
        -no-reboot \
        ${builtins.concatStringsSep " " cfg.qemu.networkingOptions} \
        ${builtins.concatStringsSep " \\\n    " (lib.mapAttrsToList (tag: share:
          "-virtfs local,path=${share.source},security_model=${share.securityModel},mount_tag=${tag}")
          cfg.sharedDirectories)} \
        ${lib.optionalString (cfg.diskImage != null)
          ''-drive file="$NIX_DISK_IMAGE",if=none,id=drive1,cache=writeback,werror=report -device virtio-blk-pci,drive=drive1,serial=root''} \
        ${lib.concatImapStrings (i: _:
          ''-drive file="$TMPDIR/empty${toString i}.qcow2",if=none,id=empty${toString i},cache=writeback,werror=report -device virtio-blk-pci,drive=empty${toString i},serial=empty${toString i} '')
          cfg.emptyDiskImages} \
        ${lib.optionalString cfg.useNixStoreImage
          "-drive file=${storeImage}/nix-store.img,if=none,id=nix-store,format=raw,readonly=on -device virtio-blk-pci,drive=nix-store,serial=nix-store"} \
        ${lib.optionalString cfg.useNixStoreImage (lib.concatMapStrings (d:
          "-drive file=${d.image}/nix-store.img,if=none,id=${d.serial},format=raw,readonly=on -device virtio-blk-pci,drive=${d.serial},serial=${d.serial} ")
          separateStoreDisks)} \
        -kernel ${toplevel}/kernel \
        -initrd ${toplevel}/initrd \
        -append "$(cat ${toplevel}/kernel-params) ${consoles} ${vmKernelParams} $QEMU_KERNEL_PARAMS" \
        ${builtins.concatStringsSep " \\\n    " cfg.qemu.options} \
        $QEMU_OPTS \
        "$@"
  '';

  sharedOpts = {
    options = {
      source = mkOption { type = types.str; description = "The path of the directory to share, can be a shell variable"; };
      target = mkOption { type = types.path; description = "The mount point of the directory inside the virtual machine"; };
      securityModel = mkOption {
        type = types.enum [ "passthrough" "mapped-xattr" "mapped-file" "none" ];
        default = "mapped-xattr";
        description = "The security model to use for this share.";
      };
    };
  };
in
{
  options = {
    virtualisation.memorySize = mkOption { type = positive; default = 1024; description = "The memory size of the virtual machine in MiB (1024×1024 bytes)."; };
    virtualisation.cores = mkOption { type = positive; default = 1; description = "Specify the number of cores the guest is permitted to use."; };
    virtualisation.diskSize = mkOption { type = positive; default = 1024; description = "The disk size in MiB of the virtual machine."; };
    virtualisation.diskImage = mkOption {
      type = types.nullOr types.str;
      default = "./${name}.qcow2";
      description = "Path to the disk image (created on startup if it does not exist). Null: no disk.";
    };
    virtualisation.graphics = mkOption {
      type = types.bool;
      default = true;
      description = "Whether to run QEMU with a graphics window, or in nographic mode (console on the serial port and stdio).";
    };
    virtualisation.emptyDiskImages = mkOption {
      type = types.listOf positive;
      default = [ ];
      description = "Additional disk images to provide to the VM, sizes in MiB: blank qcow2 files in $TMPDIR made at every start (/dev/vdb, /dev/vdc, ... after the disk image).";
    };
    virtualisation.vlans = mkOption {
      type = types.listOf (types.ints.unsigned or types.int);
      default = if cfg.interfaces == { } then [ 1 ] else [ ];
      example = [ 1 2 ];
      description = "Virtual networks to which the VM is connected (the NICs themselves come from virtualisation.qemu.options, added by the network's module).";
    };
    virtualisation.interfaces = mkOption {
      type = types.attrsOf (types.submodule {
        options.vlan = mkOption { type = types.ints.unsigned; description = "VLAN to which the network interface is connected."; };
        options.assignIP = mkOption { type = types.bool; default = false; description = "Automatically assign an IP address to the network interface using the same scheme as virtualisation.vlans."; };
      });
      default = { };
      example = { enp1s0.vlan = 1; };
      description = "Network interfaces to add to the VM, by name (the test network's module adds the NICs and names them, see boot.initrd.services.udev.rules).";
    };
    virtualisation.allInterfaces = mkOption {
      type = types.attrsOf (types.submodule {
        options.name = mkOption { type = types.str; internal = true; description = "Interface name."; };
        options.vlan = mkOption { type = types.ints.unsigned; description = "VLAN to which the network interface is connected."; };
        options.assignIP = mkOption { type = types.bool; default = false; description = "Whether an address is assigned from the address plan."; };
      });
      internal = true;
      default = { };
      description = "All network interfaces of the VM: eth1, eth2, ... for virtualisation.vlans, then virtualisation.interfaces.";
    };
    virtualisation.additionalPaths = mkOption {
      type = types.listOf types.path;
      default = [ ];
      description = "A list of paths whose closure should be made available to the VM (in tinyos: in its store image, or its initrd without one).";
    };
    virtualisation.useNixStoreImage = mkOption {
      type = types.bool;
      # NixOS: false (its VMs see the host's store over 9p, which tinyos
      # cannot snapshot; see the top of this file)
      default = true;
      description = "Build and use a disk image for the Nix store (read-only, the last virtio disk), instead of holding the store in the initrd.";
    };
    virtualisation.sharedDirectories = mkOption {
      type = types.attrsOf (types.submodule sharedOpts);
      default = { };
      description = "Directories shared with the VM over VirtFS (9P over virtio); the attribute name is the mount tag.";
    };
    virtualisation.forwardPorts = mkOption {
      type = types.listOf (types.submodule {
        options.from = mkOption { type = types.enum [ "host" ]; default = "host"; description = "Direction (only host-to-guest in tinyos)."; };
        options.proto = mkOption { type = types.enum [ "tcp" "udp" ]; default = "tcp"; description = "The protocol to forward."; };
        options.host.address = mkOption { type = types.str; default = ""; description = "The IPv4 address of the host."; };
        options.host.port = mkOption { type = types.port; description = "The host port to be mapped."; };
        options.guest.address = mkOption { type = types.str; default = ""; description = "The IPv4 address on the guest VLAN."; };
        options.guest.port = mkOption { type = types.port; description = "The guest port to be mapped."; };
      });
      default = [ ];
      description = "Ports forwarded from the host to the guest through the user-mode network (eth0).";
    };
    virtualisation.qemu.options = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "-vga std" ];
      description = "Options passed to QEMU (shell fragments, inserted unquoted).";
    };
    virtualisation.qemu.networkingOptions = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Networking-related command-line options that should be passed to qemu (default: user-mode eth0).";
    };
    virtualisation.qemu.consoles = mkOption {
      type = types.listOf types.str;
      # NixOS makes tty0 primary when graphics is on; tinyos has only a text
      # console and keeps the serial port primary, so boot and service output
      # reach QEMU's stdio (where runners log it) either way.
      default = [ "tty0" "${platform.serialDevice},115200n8" ];
      description = "The console devices passed to the kernel; the primary console is the last item.";
    };
    networking.primaryIPAddress = mkOption { type = types.str; default = ""; internal = true; description = "Primary IP address used in /etc/hosts."; };
    networking.primaryIPv6Address = mkOption { type = types.str; default = ""; internal = true; description = "Primary IPv6 address used in /etc/hosts."; };
  };

  config = {
    # as NixOS's qemu-vm.nix: the VLANs' NICs eth1.. (with an address) and the named interfaces
    virtualisation.allInterfaces =
      builtins.listToAttrs (lib.imap1 (k: vlan: {
        name = "eth${toString k}";
        value = { name = "eth${toString k}"; inherit vlan; assignIP = true; };
      }) cfg.vlans)
      // builtins.mapAttrs (name: i: { inherit name; inherit (i) vlan assignIP; }) cfg.interfaces;

    virtualisation.sharedDirectories = {
      xchg = { source = ''"$TMPDIR"/xchg''; securityModel = "none"; target = "/tmp/xchg"; };
      shared = { source = ''"''${SHARED_DIR:-$TMPDIR/xchg}"''; target = "/tmp/shared"; securityModel = "none"; };
    };

    virtualisation.qemu.networkingOptions =
      let fwd = lib.concatMapStrings (r:
        "hostfwd=${r.proto}:${r.host.address}:${toString r.host.port}-${r.guest.address}:${toString r.guest.port},")
        cfg.forwardPorts;
      in [
        "-net nic,netdev=user.0,model=virtio"
        ''-netdev user,id=user.0,${fwd}"$QEMU_NET_OPTS"''
      ];

    virtualisation.qemu.options = lib.mkIf (!cfg.graphics) [ "-nographic" ];

    boot.initrd.tinyosStorePaths = lib.mkIf (!cfg.useNixStoreImage) cfg.additionalPaths;
    boot.initrd.tinyosStoreDevice = lib.mkIf cfg.useNixStoreImage "nix-store";
    boot.initrd.tinyosStorePathDevices = lib.mkIf cfg.useNixStoreImage
      (builtins.listToAttrs (map (d: lib.nameValuePair d.serial "${d.path}") separateStoreDisks));
    # The toplevel's closure holds its specialisations' systems; the
    # modules' closure is only in the initrd's (compressed) bytes otherwise.
    system.build.nixStoreImage = pkgs.makeStoreImage {
      name = "nix-store-image-${name}";
      contents = [ toplevel config.system.build.modulesClosure ] ++ cfg.additionalPaths;
      separatePaths = separateStorePaths;
    };

    # ext4 for the disk (built into the x86_64 cloud kernel, a module in
    # Debian's i386 686 kernel; ext4 wants crc32c, which the boot loads too)
    boot.initrd.kernelModules = [ "virtio_pci" "virtio_net" "virtio_blk" "virtio_rng" "ext4" ]
      ++ lib.optional cfg.useNixStoreImage "erofs";
    boot.initrd.availableKernelModules = [ "virtio_console" "crc32c_generic" ];

    system.activationScripts.disk = lib.mkIf (cfg.diskImage != null) {
      deps = [ "modules" ];
      text = ''
        # the persistent disk (NIX_DISK_IMAGE): ext2 magic 0xef53 at byte 1080, else format it
        if [ -b /dev/vda ]; then
          if [ "$(dd if=/dev/vda bs=2 skip=540 count=1 2>/dev/null | hexdump -e '1/2 "%04x"')" != ef53 ]; then
            echo "disk: formatting /dev/vda (first boot)"
            mke2fs -q -L nixos /dev/vda >/dev/null
          fi
          mount -t ext4 /dev/vda /var/lib && echo "disk: /dev/vda mounted on /var/lib"
        fi
      '';
    };

    system.activationScripts.sharedDirectories = {
      deps = [ "modules" ];
      text = ''
        if grep -qw 9p /proc/filesystems; then
          ${lib.concatStrings (lib.mapAttrsToList (tag: share: ''
            mkdir -p ${share.target}
            mount -t 9p -o trans=virtio,version=9p2000.L,msize=16384 ${tag} ${share.target} || true
          '') cfg.sharedDirectories)}
        fi
      '';
    };

    system.build.vm = pkgs.runCommand "tinyos-vm-${name}" { } ''
      mkdir -p $out/bin
      ln -s ${toplevel} $out/system
      ln -s ${pkgs.writeScript "run-tinyos-vm" startVM} $out/bin/run-${name}-vm
    '';
  };
}
