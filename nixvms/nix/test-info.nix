# What nixvms needs of a NixOS test file (nixos-test.nix) to run it: its
# name, its options, and its testScript. The script, when it is a function
# of `{ nodes, ... }`, needs the machines' configurations: give planJSON
# (the plan they were built with) and it is called with them.
# hostPythonJSON: the Python distributions the host's Python has, by name;
# extraPythonPackages is called with them (an attribute it lacks is an
# error naming the package).
{ testFile, nixpkgs, planJSON ? null, hostPythonJSON ? null }:
let
  network = import ./network-file.nix { networkFile = testFile; inherit nixpkgs; testArgs = { inherit nodes; }; };
  nixosTest = network.nixosTest;
  test = nixosTest.test;
  names = network.machineNames;
  nodes =
    if names == [ ] then { }
    else if planJSON == null then throw "nixvms: the machines' configurations are read after they are built"
    else (import ./machine.nix {
      networkFile = testFile;
      inherit nixpkgs planJSON;
      name = builtins.head names;
    }).nodes;
  script = test.testScript or (throw "the NixOS test ${toString testFile} has no testScript");
  scriptIsFunction = builtins.isFunction script;
  callScript = f:
    let formals = builtins.functionArgs f; args = { inherit nodes; }; in
    f (if formals == { } then args else builtins.intersectAttrs formals args);
  hostPython = builtins.listToAttrs (map (n: { name = n; value = { pname = n; }; })
    (builtins.fromJSON hostPythonJSON));
  toInt = v: if builtins.isInt v then v else throw "globalTimeout must be a number of seconds";
in
if !nixosTest.isTest then
  throw "${toString testFile} is not a NixOS test (a function or attribute set with testScript)"
else {
  name = test.name or (builtins.replaceStrings [ ".nix" ] [ "" ] (baseNameOf (toString testFile)));
  nodeNames = names;
  inherit (nixosTest) unsupported interactive;
  skipLint = test.skipLint or false;
  skipTypeCheck = test.skipTypeCheck or false;
  # nixos/lib/testing/run.nix's default
  globalTimeout = toInt (test.globalTimeout or 3600);
  enableOCR = test.enableOCR or false;
  hasExtraPythonPackages = test ? extraPythonPackages;
  extraPythonPackages =
    if hostPythonJSON == null || !(test ? extraPythonPackages) then [ ]
    else map (p: p.pname or p.name or (toString p)) (test.extraPythonPackages hostPython);
  inherit scriptIsFunction;
  testScript =
    if !scriptIsFunction then toString script
    else if planJSON == null then null
    else toString (callScript script);
}
