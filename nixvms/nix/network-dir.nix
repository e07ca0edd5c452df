# The network directory that `result` points at: bin/run-vms, network.json
# and vms/<machine> -> each machine's VM. The VMs are referenced as store
# paths, so they are references of this path: `result` is a GC root that
# keeps the whole network alive, as nixos-build-vms's result is.
#
# nixpkgs and files are paths or absolute paths as strings (nixvms passes
# strings with --argstr: a path in a --arg expression cannot hold spaces).
{ nixpkgs, files, vmsJSON }:
let
  asPath = p: if builtins.isPath p then p else /. + p;
  # The host's package set: the directory holds scripts run on the host.
  pkgs = import (asPath nixpkgs) { };
  vms = builtins.fromJSON vmsJSON;
  # Only the two rendered files: a temporary file that an interrupted
  # nixvms left beside them must not change the network's store path.
  rendered = builtins.path {
    path = asPath files;
    name = "network";
    filter = path: type: builtins.elem (baseNameOf path) [ "run-vms" "network.json" ];
  };
  linkVm = name: path:
    "ln -s ${builtins.storePath path} \"$out/vms/\"${pkgs.lib.escapeShellArg name}\n";
in
pkgs.runCommand "nixos-vms" { } ''
  mkdir -p "$out/bin" "$out/vms"
  cp ${rendered}/run-vms "$out/bin/run-vms"
  chmod 0555 "$out/bin/run-vms"
  # The name the nixos-build-vms manual tells users to run.
  ln -s run-vms "$out/bin/nixos-run-vms"
  cp ${rendered}/network.json "$out/network.json"
  ${pkgs.lib.concatStrings (pkgs.lib.mapAttrsToList linkVm vms)}
''
