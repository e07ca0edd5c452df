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
  };
}
