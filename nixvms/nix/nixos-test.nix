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

  # NixOS's test VMs mount the host's whole store (qemu-vm.nix's 9p
  # /nix/store), so a testScript may run any path it names, such as
  # `${pkgs.hello}/bin/hello`; a tinyos guest's store holds only its closure.
  # So the store paths a string testScript names join every node's
  # virtualisation.additionalPaths, as one file that lists them (its closure
  # is theirs). The file holds the paths, not the script, so that editing the
  # script changes no machine. A script that is a function of `nodes` is
  # left alone: the paths it names can be the nodes' own systems.
  script = test.testScript or null;
  scriptPathsModule = { pkgs, ... }:
    let
      pattern = "(${builtins.storeDir}/[0-9a-z]{32}-[-+._?=0-9A-Za-z]+)";
      found = builtins.filter builtins.isList (builtins.split pattern script);
      unique = builtins.attrNames (builtins.listToAttrs
        (map (m: { name = builtins.head m; value = null; }) found));
      # substring 0 0 keeps the script's context (what the paths are built
      # from) and none of its text
      listing = builtins.concatStringsSep "\n" unique + builtins.substring 0 0 script;
    in
    { virtualisation.additionalPaths = [ (pkgs.writeText "nixos-test-script-paths" listing) ]; };
  namesStorePaths = builtins.isString script && builtins.hasContext script;
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
    // {
      defaults =
        if namesStorePaths then { imports = [ (test.defaults or { }) scriptPathsModule ]; }
        else test.defaults or { };
    };
}
