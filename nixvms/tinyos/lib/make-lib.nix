# tinyos `lib`: a nixpkgs-shaped library (same names and semantics as nixpkgs' lib, written
# for nixvms). As in nixpkgs, the namespaces (lib.trivial, lib.lists, lib.strings,
# lib.attrsets, lib.options, lib.modules) are also re-exported flat at the top level;
# lib.types, lib.generators, lib.cli, lib.gvariant and lib.fileset stay namespaced.
# nixpkgs' own module-system suite (lib/tests/modules.sh) passes against this lib
# (tests/tinyos/test_lib_modules_sh.py runs it when a nixpkgs.lib checkout is given).
#
# Not provided (compared with nixpkgs' lib): lib.versions, lib.systems,
# lib.sources/cleanSource, lib.platforms, and of lib.fileset only what types.fileset
# needs (fileset.nix).
#
# This file is a function: `unknownOptionHint` is a line added to "The option
# `x' does not exist" errors of every evaluation made with this lib, submodules
# included (tinyos's eval-config.nix says there that this is tinyos).
# default.nix is this lib without such a line.
{ unknownOptionHint ? "" }:
let
  lib = builtins.foldl' (acc: ns: acc // ns) { } [
    builtinsSubset
    trivial
    fixedPoints
    lists
    strings
    attrsets
    options
    modules
    customisation
    meta
    {
      inherit (types) mkOptionType isType setType isOptionType;
    }
  ] // {
    inherit trivial fixedPoints lists strings attrsets options modules types generators
      customisation fileset cli gvariant meta;
    # lib.debug (subset)
    debug = { inherit (builtins) trace; traceVal = x: builtins.trace x x; traceSeq = x: y: builtins.trace (builtins.deepSeq x x) y; };
    traceVal = x: builtins.trace x x;
    traceSeq = x: y: builtins.trace (builtins.deepSeq x x) y;
  };

  builtinsSubset = {
    inherit (builtins) isString isAttrs isList isBool isInt isFloat isPath typeOf seq deepSeq
      elem elemAt length head tail filter map genList toJSON fromJSON readFile pathExists
      baseNameOf dirOf match split substring stringLength getEnv tryEval trace storeDir
      unsafeDiscardStringContext hasContext addErrorContext genericClosure;
    toString = builtins.toString;
    id = x: x;
  };

  trivial = import ./trivial.nix { inherit lib; };
  fixedPoints = { inherit (trivial) fix fix' extends composeExtensions composeManyExtensions makeExtensible makeExtensibleWithCustomName; };
  lists = import ./lists.nix { inherit lib; };
  strings = import ./strings.nix { inherit lib; };
  attrsets = import ./attrsets.nix { inherit lib; };
  options = import ./options.nix { inherit lib; };
  modules = import ./modules.nix { inherit lib unknownOptionHint; };
  types = import ./types.nix { inherit lib; };
  generators = import ./generators.nix { inherit lib; };
  customisation = import ./customisation.nix { inherit lib; };
  meta = import ./meta.nix { inherit lib; };
  fileset = import ./fileset.nix { inherit lib; };
  cli = import ./cli.nix { inherit lib; };
  gvariant = import ./gvariant.nix { inherit lib; };
in
lib
