# One machine's VM, as nixos-build-vms builds each node of the network:
# the NixOS configuration of the machine plus qemu-vm.nix and the network
# module, evaluated with NixOS's own eval-config.nix (from real nixpkgs or
# from tinyos, which has the same shape). Returns what nixvms records.
# networkFile and nixpkgs are paths or absolute paths as strings (--argstr:
# a path in a --arg expression cannot hold spaces or non-ASCII characters).
{ networkFile, nixpkgs, name, planJSON }:
let
  asPath = p: if builtins.isPath p then p else /. + p;
  nixpkgsPath = asPath nixpkgs;
  network = import ./network-file.nix { inherit networkFile; nixpkgs = nixpkgsPath; testArgs = { inherit nodes; }; };
  plan = builtins.fromJSON planJSON;

  evalMachine = machineName: import (nixpkgsPath + "/nixos/lib/eval-config.nix") {
    # Omitting nixpkgs.system in a machine means the host's system, as in
    # NixOS (eval-config sets nixpkgs.system = mkDefault system).
    system = builtins.currentSystem;
    # nixvms's modules are extraModules, with the base modules: a
    # specialisation with inheritParentConfig = false keeps them (its VM, its
    # backdoor, its network), as NixOS's test nodes keep qemu-vm.nix and the
    # test instrumentation (their baseModules, nixos/lib/testing/nodes.nix)
    extraModules = [
      (nixpkgsPath + "/nixos/modules/virtualisation/qemu-vm.nix")
      # As nixos-build-vms's network: NixOS's test instrumentation (the root
      # shell on /dev/hvc0 that the test driver talks to).
      (nixpkgsPath + "/nixos/modules/testing/test-instrumentation.nix")
      (import ./vlan-links.nix).module
      (import ./vm-hosts.nix).module
      (import ./network-module.nix {
        name = machineName;
        number = plan.numbers.${machineName};
        hosts = plan.hosts;
        sshPublicKey = plan.sshPublicKey;
      })
    ];
    modules = [
      {
        _file = "${toString networkFile}@defaults";
        imports = [ network.defaults ];
      }
      {
        # Errors in an inline machine module name the network file and the machine.
        _file = "${toString networkFile}@node-${machineName}";
        imports = [ (network.machine machineName) ];
      }
    ];
    # `nodes`: the other machines' configurations, evaluated only if read.
    # `nodes.x.config.y` (nixops, old NixOS tests) and `nodes.x.y` (current
    # NixOS tests) both work.
    specialArgs = { inherit nodes; };
  };

  nodes = builtins.listToAttrs (map
    (n: {
      name = n;
      value = let c = (if n == name then evaluated else evalMachine n).config; in c // { config = c; };
    })
    network.machineNames);

  evaluated = evalMachine name;
  config = evaluated.config;
  number = plan.numbers.${name};
  nics = import ./nics.nix { inherit config number; inherit (evaluated.pkgs) lib; };
in
{
  # every machine's configuration, for a NixOS test's testScript (test-info.nix)
  inherit nodes;
  drvPath = config.system.build.vm.drvPath;
  vm = config.system.build.vm;
  # What the machine is, in the shape of nixvms's MachineFacts record
  # (nixvms/supervisor/facts.py: its field names, snake_case), read back by
  # nix.evaluate_machine and written as it is into network.json.
  facts = {
    inherit name number;
    # The platform the machine runs: nixpkgs.hostPlatform (or localSystem)
    # wins over nixpkgs.system in NixOS, and the package set knows which.
    system = evaluated.pkgs.stdenv.hostPlatform.system or config.nixpkgs.system;
    host_name = config.networking.hostName;
    # qemu-vm.nix names the VM script bin/run-${config.system.name}-vm.
    system_name = config.system.name;
    domain = config.networking.domain;
    target_host = config.deployment.targetHost;
    tags = config.deployment.tags;
    # The NICs the network module gives it (nics.nix: the same list), and
    # their VLANs, which the supervisor gives a switch each.
    vlans = map (nic: nic.vlan) nics;
    addresses = map
      (nic: {
        inherit (nic) vlan interface ipv6 mac;
        ip = nic.ipv4;
        prefix_length = 24; # network-module.nix's
      })
      nics;
    # What the supervisor needs to reach it: its ssh server (sshd.nix) and
    # the forwards its VM script sets up (qemu-vm.nix's virtualisation.forwardPorts).
    ssh_ports = if config.services.openssh.enable or false then config.services.openssh.ports else [ ];
    forward_ports = map
      (f: {
        proto = f.proto or "tcp";
        host_address = f.host.address or "";
        host_port = f.host.port;
        guest_port = f.guest.port;
      })
      (builtins.filter (f: (f.from or "host") == "host") (config.virtualisation.forwardPorts or [ ]));
    vm = config.system.build.vm.outPath;
    links = (import ./vlan-links.nix).facts config;
    # qemu-vm.nix's guest RAM (MiB): the supervisor checks the host can hold it
    memory_size = config.virtualisation.memorySize or 0;
    vm_host = (import ./vm-hosts.nix).facts config network.vmHosts;
  };
}
