# Mirrors nixpkgs lib/trivial.nix and lib/fixed-points.nix: small combinators.
{ lib }:
let
  inherit (builtins) isFunction functionArgs trace;
in
rec {
  id = x: x;
  const = x: _: x;
  pipe = builtins.foldl' (x: f: f x);
  concat = x: y: x ++ y;
  or = x: y: x || y;
  and = x: y: x && y;
  xor = x: y: (!x) != (!y);
  bitAnd = builtins.bitAnd;
  bitOr = builtins.bitOr;
  bitXor = builtins.bitXor;
  flip = f: a: b: f b a;
  mapNullable = f: a: if a == null then a else f a;
  boolToString = b: if b then "true" else "false";
  mergeAttrs = x: y: x // y;
  min = x: y: if x < y then x else y;
  max = x: y: if x > y then x else y;
  mod = base: int: base - (int * (builtins.div base int));
  compare = a: b: if a < b then -1 else if a > b then 1 else 0;
  defaultTo = default: maybeValue: if maybeValue != null then maybeValue else default;
  isFunction = f: builtins.isFunction f || (f ? __functor && isFunction (f.__functor f));
  # functionArgs that also understands functors, as lib.functionArgs does.
  functionArgs = f:
    if f ? __functor then f.__functionArgs or (functionArgs (f.__functor f))
    else builtins.functionArgs f;
  setFunctionArgs = f: args: { __functor = _: f; __functionArgs = args; };
  toFunction = v: if isFunction v then v else _: v;

  # lib.fixedPoints
  fix = f: let x = f x; in x;
  fix' = f: let x = f x // { __unfix__ = f; }; in x;
  extends = overlay: f: final: let prev = f final; in prev // overlay final prev;
  composeExtensions = f: g: final: prev:
    let fApplied = f final prev; prev' = prev // fApplied; in fApplied // g final prev';
  composeManyExtensions = builtins.foldl' (x: y: composeExtensions x y) (final: prev: { });
  makeExtensible = makeExtensibleWithCustomName "extend";
  makeExtensibleWithCustomName = extenderName: rattrs:
    fix' (self: (rattrs self) // {
      ${extenderName} = f: makeExtensibleWithCustomName extenderName (extends f rattrs);
    });

  # Warnings and assertions (lib.warn, lib.warnIf, lib.throwIf, lib.assertMsg, lib.assertOneOf)
  # As nixpkgs': Nix's own builtins.warn where it exists (it honours the abort-on-warn
  # setting), else a trace, or an error when NIX_ABORT_ON_WARN is set.
  warn =
    if builtins ? warn then builtins.warn
    else if builtins.elem (builtins.getEnv "NIX_ABORT_ON_WARN") [ "1" "true" "yes" ] then
      msg: throw "warning: ${msg}\nAborted due to warning: NIX_ABORT_ON_WARN is set."
    else msg: trace "warning: ${msg}";
  warnIf = cond: msg: if cond then warn msg else id;
  warnIfNot = cond: msg: if cond then id else warn msg;
  info = msg: trace "INFO: ${msg}";
  throwIf = cond: msg: if cond then throw msg else id;
  throwIfNot = cond: msg: if cond then id else throw msg;
  assertMsg = pred: msg: pred || throw msg;
  assertOneOf = name: val: xs:
    assertMsg (builtins.elem val xs)
      "${name} must be one of ${builtins.toJSON xs}, but is: ${builtins.toJSON val}";
  showWarnings = warnings: res: lib.foldr (w: x: warn w x) res warnings;

  importJSON = path: builtins.fromJSON (builtins.readFile path);
  importTOML = path: builtins.fromTOML (builtins.readFile path);

  inPureEvalMode = !(builtins ? currentSystem);
  version = "23.05pre-tinyos";
  release = "23.05";
  codeName = "tinyos";
  oldestSupportedRelease = 2211;
  isInOldestRelease = release: release <= oldestSupportedRelease;
  oldestSupportedReleaseIsAtLeast = isInOldestRelease;

  # lib.trivial.toHexString / toBaseDigits
  toBaseDigits = base: i:
    let
      go = i:
        if i < base then [ i ]
        else let r = i - ((i / base) * base); q = (i - r) / base; in [ r ] ++ go q;
    in
    assert base >= 2; assert i >= 0; lib.reverseList (go i);
  toHexString = i:
    let
      toHexDigit = d:
        if d < 10 then toString d
        else { "10" = "A"; "11" = "B"; "12" = "C"; "13" = "D"; "14" = "E"; "15" = "F"; }.${toString d};
    in
    lib.concatMapStrings toHexDigit (toBaseDigits 16 i);
}
