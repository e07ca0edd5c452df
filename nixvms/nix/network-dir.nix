# The network directory that `result` points at:
#
#   bin/run-vms                 the launcher (rendered by nixvms: templates/launcher.sh.j2)
#   bin/nixos-run-vms           the same (the name the nixos-build-vms manual uses)
#   bin/nixos-test-driver       the test driver (lib/nixvms_supervisor/driver_main.py): a
#                               Python session over the machines, or a test script
#   lib/nixvms_supervisor/      the supervisor: nixvms/supervisor/*.py, standard library only
#   lib/python3                 nixpkgs' python3, when the package set has one
#                               (with tinyos the launcher uses the host's python3)
#   network.json                machines, addresses, VMs, the project's state directory
#   vms/<machine>               each machine's VM
#
# The VMs are referenced as store paths, so they are references of this path:
# `result` is a GC root that keeps the whole network alive, as
# nixos-build-vms's result is.
#
# nixpkgs and files are paths or absolute paths as strings (nixvms passes
# strings with --argstr: a path in a --arg expression cannot hold spaces).
{ nixpkgs, files, vmsJSON }:
let
  asPath = p: if builtins.isPath p then p else /. + p;
  # The host's package set: the directory holds scripts run on the host.
  pkgs = import (asPath nixpkgs) { };
  vms = builtins.fromJSON vmsJSON;
  # Only the rendered files: a temporary file that an interrupted nixvms
  # left beside them must not change the network's store path.
  rendered = builtins.path {
    path = asPath files;
    name = "network";
    filter = path: type: builtins.elem (baseNameOf path) [ "run-vms" "nixos-test-driver" "network.json" ];
  };
  # The supervisor's Python files only (no __pycache__, no editor files).
  supervisor = builtins.path {
    path = ../supervisor;
    name = "nixvms-supervisor";
    filter = path: type:
      type == "regular" && builtins.match "[A-Za-z0-9_]+\\.py" (baseNameOf path) != null;
  };
  python = if pkgs ? python3 then "ln -s ${pkgs.python3}/bin/python3 \"$out/lib/python3\"" else "";
  linkVm = name: path:
    "ln -s ${builtins.storePath path} \"$out/vms/\"${pkgs.lib.escapeShellArg name}\n";
in
pkgs.runCommand "nixos-vms" { } ''
  mkdir -p "$out/bin" "$out/vms" "$out/lib/nixvms_supervisor"
  cp ${rendered}/run-vms "$out/bin/run-vms"
  chmod 0555 "$out/bin/run-vms"
  ln -s run-vms "$out/bin/nixos-run-vms"
  cp ${rendered}/nixos-test-driver "$out/bin/nixos-test-driver"
  chmod 0555 "$out/bin/nixos-test-driver"
  cp ${supervisor}/*.py "$out/lib/nixvms_supervisor/"
  ${python}
  cp ${rendered}/network.json "$out/network.json"
  ${pkgs.lib.concatStrings (pkgs.lib.mapAttrsToList linkVm vms)}
''
