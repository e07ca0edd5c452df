# Reads a network file, as nixos-build-vms's build-vms.nix does with
# `import networkExpr`, and checks its shape with clear errors.
# networkFile is a path or an absolute path as a string (nixvms passes strings
# with --argstr: a path in a --arg expression cannot hold spaces).
# A NixOS test file (nixos-test.nix) is a network too: its nodes, and its
# `defaults`; reading one needs the package set (nixpkgs) for its `pkgs`
# and `lib`, and testArgs.nodes if it reads `nodes`.
{ networkFile, nixpkgs ? null, testArgs ? { } }:
let
  file = if builtins.isPath networkFile then networkFile else /. + networkFile;
  tracer = import ./tracer.nix;
  # Through the tracer, so that files the network reads are dependencies.
  value = tracer.import file;
  nixosTest = import ./nixos-test.nix
    ({ nixpkgs = if nixpkgs == null then throw "nixvms: no package set to read the NixOS test ${toString networkFile} with" else nixpkgs; }
      // testArgs)
    value;
  # Attributes that configure the network rather than name a machine
  # (nixops: network, defaults, resources; colmena: meta, defaults).
  reserved = [ "defaults" "network" "meta" "resources" ];
  isModule = v: builtins.isAttrs v || builtins.isFunction v || builtins.isPath v
    || (builtins.isString v && builtins.substring 0 1 v == "/");
  network =
    if nixosTest.isTest then nixosTest.network
    else if builtins.isAttrs value then value
    else if builtins.isFunction value then
      throw "the network file ${toString networkFile} is a function; like nixos-build-vms, nixvms needs an attribute set of machines (name = NixOS module)"
    else throw "the network file ${toString networkFile} must evaluate to an attribute set of machines (name = NixOS module), not a ${builtins.typeOf value}";
  names = builtins.filter (n: !(builtins.elem n reserved)) (builtins.attrNames network);
  checked = map
    (n:
      if isModule network.${n} then n
      else throw "machine '${n}' in ${toString networkFile} is a ${builtins.typeOf network.${n}}, not a NixOS module (an attribute set, a function or a path)")
    names;
in
{
  inherit nixosTest;
  machineNames = checked;
  # The VM hosts machines may run on (vm-hosts.nix): a table of the network's meta.
  vmHosts = let m = network.meta or { }; in if builtins.isAttrs m then m.vmHosts or { } else { };
  # The module applied to every machine (nixops/colmena `defaults`), if any.
  defaults =
    let d = network.defaults or { }; in
    if isModule d then tracer.module d
    else throw "'defaults' in ${toString networkFile} is a ${builtins.typeOf d}, not a NixOS module (an attribute set, a function or a path)";
  # Each use says which machine's expression was read, so that a machine
  # that reads another through `nodes` depends on its expression too.
  machine = name: builtins.trace "nixvms-node ${name}" (tracer.module network.${name});
}
