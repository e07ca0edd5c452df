# Mirrors (a subset of) nixpkgs lib/customisation.nix: callPackageWith, makeOverridable,
# makeScope, for building a nixpkgs-shaped package set.
{ lib }:
let
  inherit (builtins) functionArgs intersectAttrs isFunction mapAttrs attrNames filter;
in
rec {
  # lib.makeOverridable: adds .override (re-call with changed arguments).
  makeOverridable = f: origArgs:
    let
      result = f origArgs;
      overrideWith = newArgs: origArgs // (if lib.isFunction newArgs then newArgs origArgs else newArgs);
      overrideResult = g: makeOverridable (args: g (f args));
    in
    if builtins.isAttrs result then
      result // {
        override = newArgs: makeOverridable f (overrideWith newArgs);
        overrideDerivation = fdrv: overrideResult (x: lib.overrideDerivation x fdrv) origArgs;
      }
    else if lib.isFunction result then
      lib.setFunctionArgs result (lib.functionArgs result) // { override = newArgs: makeOverridable f (overrideWith newArgs); }
    else result;

  overrideDerivation = drv: f:
    let newDrv = derivation (drv.drvAttrs // (f drv)); in
    newDrv // { meta = drv.meta or { }; passthru = drv.passthru or { }; };

  # lib.callPackageWith: call a package function with the arguments it names, taken from
  # autoArgs, overridden by explicit args. Missing arguments are a clear error.
  callPackageWith = autoArgs: fn: args:
    let
      f = if lib.isFunction fn then fn else import fn;
      fargs = lib.functionArgs f;
      allArgs = intersectAttrs fargs autoArgs // args;
      missingArgs = filter (name: !(fargs.${name}) && !(allArgs ? ${name})) (attrNames fargs);
      where = if lib.isFunction fn then "a package function" else toString fn;
    in
    if missingArgs == [ ] then makeOverridable f allArgs
    else throw "Function called without required argument \"${builtins.head missingArgs}\" (${where}).";

  callPackagesWith = autoArgs: fn: args:
    let
      f = if lib.isFunction fn then fn else import fn;
      auto = intersectAttrs (lib.functionArgs f) autoArgs;
    in
    mapAttrs (name: _: makeOverridable (a: (f a).${name}) (auto // args)) (f (auto // args));

  # lib.makeScope: a package set with callPackage, newScope, overrideScope.
  makeScope = newScope: f:
    let
      self = f self // {
        newScope = scope: newScope (self // scope);
        callPackage = self.newScope { };
        overrideScope = g: makeScope newScope (lib.extends g f);
        packages = f;
      };
    in
    self;
}
