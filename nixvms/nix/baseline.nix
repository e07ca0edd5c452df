# The benchmark's baseline: the whole network in one nix-build, as NixOS's
# nixos-build-vms does (its build-vms.nix evaluates every node and builds
# every VM in one derivation graph). Every machine goes through machine.nix,
# the same glue nixvms evaluates one machine at a time, so the two differ
# only in how the work is scheduled, not in what is evaluated and built.
#
#   nix-build nixvms/nix/baseline.nix --arg networkFile ./network.nix \
#     --arg nixpkgs <nixpkgs or nixvms/tinyos> -o result
#
# The address plan is nixvms's (network.py), made here as for machines not
# yet evaluated: machines sorted by name are numbered 1..n, each listed in
# /etc/hosts on VLAN 1 under its name (pass planJSON for another plan). sshPublicKey
# is the key the network module authorises for root where sshd is enabled
# (nixvms passes its project's key; nixos-build-vms has none).
{ networkFile, nixpkgs, planJSON ? null, sshPublicKey ? "" }:
let
  network = import ./network-file.nix { inherit networkFile nixpkgs; };
  names = builtins.sort builtins.lessThan network.machineNames;
  indexed = builtins.genList (i: { name = builtins.elemAt names i; number = i + 1; })
    (builtins.length names);
  defaultPlan = builtins.toJSON {
    numbers = builtins.listToAttrs (map (m: { inherit (m) name; value = m.number; }) indexed);
    # As network.py's make_plan for machines not yet evaluated: each on VLAN 1
    # under its own name (network-module.nix computes the addresses).
    hosts = map (m: { inherit (m) number; vlan = 1; hostName = m.name; domain = null; }) indexed;
    inherit sshPublicKey;
  };
  plan = if planJSON == null then defaultPlan else planJSON;

  # machine.nix returns the VM's .drv path (written to the store, since
  # nix-build evaluates in read-write mode); importing a .drv file gives back
  # the derivation, with outPath, as `import` does for any .drv in the store.
  vm = name: import (import ./machine.nix {
    inherit networkFile nixpkgs name;
    planJSON = plan;
  }).drvPath;

  pkgs = import nixpkgs { };
  link = name: "ln -s ${vm name} \"$out/vms/\"${pkgs.lib.escapeShellArg name}\n";
in
pkgs.runCommand "nixos-vms-baseline" { } ''
  mkdir -p "$out/vms"
  ${pkgs.lib.concatStrings (map link names)}
''
