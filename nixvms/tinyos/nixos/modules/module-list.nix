# Mirrors nixos/modules/module-list.nix. As in NixOS,
# virtualisation/qemu-vm.nix is not listed: whoever wants a VM imports it.
[
  ./misc/nixpkgs.nix
  ./misc/assertions.nix
  ./config/networking.nix
  ./config/system-path.nix
  ./config/users-groups.nix
  ./services/networking/firewall.nix
  ./services/networking/ssh/sshd.nix
  ./services/web-servers/apache-httpd/default.nix
  ./system/activation/top-level.nix
  ./system/boot/kernel.nix
  ./system/boot/stage-2.nix
  ./system/boot/systemd.nix
  ./system/etc/etc.nix
  ./tasks/network-interfaces.nix
]
