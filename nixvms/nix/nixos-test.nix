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
  # So the store paths the testScript names join every node's
  # virtualisation.additionalPaths, as one file that lists them (its closure
  # is theirs). The file holds the paths, not the script, so that editing the
  # script changes no machine.
  #
  # A script that is a function of `nodes` (nixos/lib/testing/testScript.nix)
  # is called with the nodes to be scanned, and may read any node's
  # configuration, with one exception: a node's systems (system.build:
  # toplevel, vm, ...) hold the very paths scanned here, so naming them would
  # be a cycle. For the scan they are names that are not store paths; the
  # script that runs (test-info.nix) gets the real ones, which each node's
  # own store holds. A function's module is always imported (whether it
  # names paths is known only once the nodes are evaluated, and the modules
  # of a node must be known before that); it adds nothing if it finds none.
  script = test.testScript or null;
  scriptIsFunction = builtins.isFunction script;
  scanNodes = builtins.mapAttrs (n: node:
    let
      c = node.config;
      unscanned = a: let p = "nixvms-unscanned-${n}-system.build.${a}"; in { outPath = p; drvPath = p; name = a; };
      build = builtins.mapAttrs (a: _: unscanned a) c.system.build;
      scanned = c // { system = c.system // { inherit build; }; };
    in scanned // { config = scanned; }) nodes;
  callScript = f:
    let formals = builtins.functionArgs f; args = { nodes = scanNodes; }; in
    f (if formals == { } then args else builtins.intersectAttrs formals args);
  scriptPathsModule = { pkgs, ... }:
    let
      text = if scriptIsFunction then callScript script else script;
      pattern = "(${builtins.storeDir}/[0-9a-z]{32}-[-+._?=0-9A-Za-z]+)";
      found = builtins.filter builtins.isList (builtins.split pattern text);
      unique = builtins.attrNames (builtins.listToAttrs
        (map (m: { name = builtins.head m; value = null; }) found));
      # substring 0 0 keeps the script's context (what the paths are built
      # from) and none of its text
      listing = builtins.concatStringsSep "\n" unique + builtins.substring 0 0 text;
    in
    { virtualisation.additionalPaths =
        if unique == [ ] then [ ] else [ (pkgs.writeText "nixos-test-script-paths" listing) ]; };
  namesStorePaths = scriptIsFunction || (builtins.isString script && builtins.hasContext script);
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
