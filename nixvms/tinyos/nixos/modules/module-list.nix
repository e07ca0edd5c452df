# Mirrors nixos/modules/module-list.nix. As in NixOS,
# virtualisation/qemu-vm.nix is not listed: whoever wants a VM imports it.
[
  ./misc/nixpkgs.nix
  ./misc/assertions.nix
  ./config/networking.nix
  ./config/sysctl.nix
  ./config/timezone.nix
  ./config/system-path.nix
  ./config/users-groups.nix
  ./services/networking/firewall.nix
  ./services/networking/ssh/sshd.nix
  ./services/ttys/getty.nix
  ./services/web-servers/apache-httpd/default.nix
  ./services/web-servers/nginx/default.nix
  ./system/activation/top-level.nix
  ./system/boot/kernel.nix
  ./system/boot/journald.nix
  ./system/boot/stage-2.nix
  ./system/boot/systemd.nix
  ./system/boot/timers.nix
  ./system/etc/etc.nix
  ./tasks/filesystems.nix
  ./tasks/network-interfaces.nix
]
