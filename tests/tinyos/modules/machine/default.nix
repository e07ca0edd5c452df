# A realistic machine-shaped module set (about 15 modules, 100+ options) used to test and time
# the tinyos module system: `import ./. { lib; hostName; }` -> evalModules result.
{ lib, hostName ? "machine", extraModules ? [ ] }:
lib.evalModules {
  specialArgs = { modulesPath = toString ./.; };
  modules = [
    ./pkgs.nix
    ./assertions.nix
    ./environment.nix
    ./networking.nix
    ./users.nix
    ./systemd.nix
    ./boot.nix
    ./openssh.nix
    ./nginx.nix
    ./getty.nix
    ./etc.nix
    ./firewall.nix
    ./qemu-vm.nix
    ./toplevel.nix
    ({ lib, ... }: {
      networking.hostName = hostName;
      services.openssh.enable = true;
      services.nginx.enable = lib.mkDefault true;
      services.nginx.virtualHosts.${hostName}.root = "/var/www";
      services.nginx.virtualHosts."static.${hostName}" = { port = 8080; };
      users.users.alice = { isNormalUser = true; extraGroups = [ "wheel" ]; };
      users.users.bob.isNormalUser = true;
      environment.systemPackages = lib.mkAfter [ "/nix/store/00000000000000000000000000000000-vim" ];
      virtualisation.vlans = [ 1 2 ];
    })
  ] ++ extraModules;
}
