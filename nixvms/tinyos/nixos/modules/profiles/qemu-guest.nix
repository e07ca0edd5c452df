# Mirrors nixos/modules/profiles/qemu-guest.nix: the virtio drivers a QEMU
# guest needs (tinyos's VMs load them anyway).
{ ... }:
{
  boot.initrd.availableKernelModules = [ "virtio_net" "virtio_pci" "virtio_mmio" "virtio_blk" "virtio_scsi" "9p" "9pnet_virtio" ];
  boot.initrd.kernelModules = [ "virtio_balloon" "virtio_console" "virtio_rng" ];
}
