# A NixOS test file (nixos/lib/testing: `{ name; nodes; defaults; testScript;
# ... }`), as nixvms reads it. Both forms nixpkgs uses:
#   - the runTest module: `{ pkgs, lib, ... }: { name = ...; nodes = ...; }`
#     (or the attribute set alone);
#   - the older `import ./make-test-python.nix ({ pkgs, ... }: { ... })`, which
#     tracer.nix turns into { __nixvmsMakeTest = f; }.
# An interactive run wraps the file's value in { __nixvmsInteractive = ...; }
# (nixvms writes that wrapper), so that interactive.nodes apply.
#
# nixpkgs: the package set's path (nixpkgs or tinyos), for the test's
# `pkgs` and `lib`; nodes: the machines' evaluated configurations (only
# read if the test asks for `nodes` or `config.nodes`).
{ nixpkgs, nodes ? throw "nixvms: the test's nodes are not known here" }:
value:
let
  interactive = builtins.isAttrs value && value ? __nixvmsInteractive;
  inner = if interactive then value.__nixvmsInteractive else value;
  isMarker = builtins.isAttrs inner && inner ? __nixvmsMakeTest;
  fn = if isMarker then inner.__nixvmsMakeTest else inner;
  # A function is a test if what it gives has a testScript (a network file
  # that is a function stays an error of network-file.nix's).
  isTest = isMarker || interactive
    || (builtins.isFunction inner && builtins.isAttrs test && test ? testScript)
    || (builtins.isAttrs inner && !(inner ? __functor) && inner ? testScript);

  nixpkgsPath = if builtins.isPath nixpkgs then nixpkgs else /. + nixpkgs;
  system = builtins.currentSystem;
  pkgs = import nixpkgsPath { inherit system; };
  lib = import (nixpkgsPath + "/lib");
  # What nixos/lib/testing gives a test module (and make-test-python.nix its
  # function): the package set, lib, the test's own config with `nodes`.
  args = { inherit pkgs lib nodes system; hostPkgs = pkgs; config = test // { inherit nodes; }; };
  call = f:
    let formals = builtins.functionArgs f; in
    f (if formals == { } then args else builtins.intersectAttrs formals args);
  test = if builtins.isFunction fn then call fn else fn;

  # The options nixvms runs; anything else is refused by name (test-info.nix).
  supported = [ "name" "nodes" "defaults" "testScript" "skipLint" "skipTypeCheck"
    "globalTimeout" "extraPythonPackages" "meta" "interactive" "enableOCR" "passthru" ];
  interactiveNodes = (test.interactive or { }).nodes or { };
  node = n:
    if interactive && interactiveNodes ? ${n}
    then { imports = [ test.nodes.${n} interactiveNodes.${n} ]; }
    else test.nodes.${n};
in
{
  inherit isTest interactive test;
  unsupported = builtins.filter (n: !(builtins.elem n supported)) (builtins.attrNames test)
    ++ map (n: "interactive.${n}")
      (builtins.filter (n: n != "nodes") (builtins.attrNames (test.interactive or { })));
  # The test as a network file: its nodes, and `defaults` for every node.
  network = builtins.mapAttrs (n: _: node n) (test.nodes or { })
    // { defaults = test.defaults or { }; };
}
