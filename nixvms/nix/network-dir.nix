# The network directory that `result` points at: bin/run-vms, network.json
# and vms/<machine> -> each machine's VM. The VMs are referenced as store
# paths, so they are references of this path: `result` is a GC root that
# keeps the whole network alive, as nixos-build-vms's result is.
{ nixpkgs, files, vmsJSON }:
let
  # The host's package set: the directory holds scripts run on the host.
  pkgs = import nixpkgs { };
  vms = builtins.fromJSON vmsJSON;
  linkVm = name: path:
    "ln -s ${builtins.storePath path} \"$out/vms/\"${pkgs.lib.escapeShellArg name}\n";
in
pkgs.runCommand "nixos-vms" { } ''
  mkdir -p "$out/bin" "$out/vms"
  cp ${files}/run-vms "$out/bin/run-vms"
  chmod 0555 "$out/bin/run-vms"
  cp ${files}/network.json "$out/network.json"
  ${pkgs.lib.concatStrings (pkgs.lib.mapAttrsToList linkVm vms)}
''
