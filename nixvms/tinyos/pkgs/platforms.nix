# The systems tinyos supports, one table entry each (nixpkgs' lib/systems
# plays this role there). Both the Nix side and scripts/setup-tinyos read it
# (setup through `nix-instantiate --eval --json`), so adding a system, say
# i686-linux, is one entry here plus its Debian architecture's apt sources.
{
  x86_64-linux = {
    debArch = "amd64";
    # Debian's kernel flavour for VMs: virtio drivers, fast boot. A
    # metapackage: setup resolves it to the versioned linux-image-<abi> package.
    kernelPackage = "linux-image-cloud-amd64";
    # Debian package names setup must fetch for this system (.deb, unpacked,
    # never installed). The first provides the bootstrap builder.
    debs = [ "busybox-static" "linux-image-cloud-amd64" ];
    qemuBinary = "qemu-system-x86_64";
    # as nixos/lib/qemu-common.nix qemuBinary (q35, -cpu max); the accelerator
    # is left to QEMU's default (TCG) and QEMU_OPTS (e.g. -accel kvm).
    qemuMachineOptions = "-machine q35 -cpu max";
    serialDevice = "ttyS0"; # nixos/lib/qemu-common.nix qemuSerialDevice
    kernelTarget = "bzImage";
    is32bit = false;
    # Debian's multiarch triplet (where libraries live) and the program
    # interpreter its binaries name (PT_INTERP): the guest gets it at that
    # path, pointing into libc6's store path (see stage-2.nix).
    multiarch = "x86_64-linux-gnu";
    loader = { guestPath = "/lib64/ld-linux-x86-64.so.2"; debPath = "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"; };
  };
  # 32-bit x86 (nixpkgs' i686-linux): Debian's i386 architecture (setup adds
  # it with dpkg --add-architecture). Nix on an x86_64-linux host builds
  # i686-linux derivations without configuration: its default
  # extra-platforms includes i686-linux (`nix show-config | grep platforms`).
  i686-linux = {
    debArch = "i386";
    # Debian 12 i386 has no cloud flavour; the 686 flavour (no PAE needed)
    # has virtio_pci/virtio_net/virtio_blk as modules, loaded from the initrd.
    kernelPackage = "linux-image-686";
    debs = [ "busybox-static" "linux-image-686" ];
    qemuBinary = "qemu-system-i386";
    qemuMachineOptions = "-machine q35 -cpu max";
    serialDevice = "ttyS0";
    kernelTarget = "bzImage";
    is32bit = true;
    multiarch = "i386-linux-gnu";
    loader = { guestPath = "/lib/ld-linux.so.2"; debPath = "lib/i386-linux-gnu/ld-linux.so.2"; };
  };
}
