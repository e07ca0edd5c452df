# The machine list of a network file: names only, no module is evaluated.
# As nixops and colmena read a network, `defaults` (a module for every machine),
# `network`, `meta` and `resources` are not machines.
{ networkFile, nixpkgs ? null }:
let
  network = import ./network-file.nix { inherit networkFile nixpkgs; };
in
network.machineNames
