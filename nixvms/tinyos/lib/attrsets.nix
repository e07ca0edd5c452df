# Mirrors nixpkgs lib/attrsets.nix: attribute set helpers with the same names and semantics.
{ lib }:
let
  inherit (builtins) head tail length attrNames attrValues listToAttrs mapAttrs filter
    concatMap foldl' isAttrs hasAttr getAttr intersectAttrs catAttrs removeAttrs;
in
rec {
  inherit attrNames attrValues listToAttrs mapAttrs hasAttr getAttr intersectAttrs catAttrs
    removeAttrs isAttrs;
  # lib.showAttrPath: [ "a" "b c" ] -> a."b c"
  showAttrPath = path:
    if path == [ ] then "<root attribute path>"
    else builtins.concatStringsSep "." (map lib.strings.escapeNixIdentifier path);
  attrByPath = attrPath: default: set:
    let
      n = length attrPath;
      go = i: s:
        if i == n then s
        else let a = builtins.elemAt attrPath i; in
          if s ? ${a} then go (i + 1) s.${a} else default;
    in
    go 0 set;
  hasAttrByPath = attrPath: e:
    if attrPath == [ ] then true
    else let a = head attrPath; in
      if isAttrs e && e ? ${a} then hasAttrByPath (tail attrPath) e.${a} else false;
  setAttrByPath = attrPath: value:
    if attrPath == [ ] then value
    else { ${head attrPath} = setAttrByPath (tail attrPath) value; };
  getAttrFromPath = attrPath: set:
    let errorMsg = "cannot find attribute `" + lib.concatStringsSep "." attrPath + "'"; in
    attrByPath attrPath (throw errorMsg) set;
  attrVals = nameList: set: map (x: set.${x}) nameList;
  getAttrs = names: attrs: genAttrs names (name: attrs.${name});
  nameValuePair = name: value: { inherit name value; };
  genAttrs = names: f: listToAttrs (map (n: nameValuePair n (f n)) names);
  filterAttrs = pred: set:
    listToAttrs (concatMap (name: let v = set.${name}; in
      if pred name v then [ (nameValuePair name v) ] else [ ]) (attrNames set));
  filterAttrsRecursive = pred: set:
    listToAttrs (concatMap (name:
      let v = set.${name}; in
      if pred name v then [
        (nameValuePair name (if isAttrs v then filterAttrsRecursive pred v else v))
      ] else [ ]) (attrNames set));
  foldAttrs = op: nul: list_of_attrs:
    foldl' (a: n: foldl' (a: name: a // { ${name} = op n.${name} (a.${name} or nul); }) a (attrNames n))
      { } (lib.reverseList list_of_attrs);
  foldlAttrs = f: init: set: foldl' (acc: name: f acc name set.${name}) init (attrNames set);
  collect = pred: attrs:
    if pred attrs then [ attrs ]
    else if isAttrs attrs then concatMap (collect pred) (attrValues attrs)
    else [ ];
  mapAttrs' = f: set: listToAttrs (map (attr: f attr set.${attr}) (attrNames set));
  mapAttrsToList = f: attrs: map (name: f name attrs.${name}) (attrNames attrs);
  attrsToList = mapAttrsToList nameValuePair;
  concatMapAttrs = f: v: foldl' (a: b: a // b) { } (attrValues (mapAttrs f v));
  mapAttrsRecursive = mapAttrsRecursiveCond (_: true);
  mapAttrsRecursiveCond = cond: f: set:
    let
      recurse = path:
        mapAttrs (name: value:
          if isAttrs value && cond value then recurse (path ++ [ name ]) value
          else f (path ++ [ name ]) value);
    in
    recurse [ ] set;
  zipAttrsWithNames = names: f: sets:
    listToAttrs (map (name: { inherit name; value = f name (catAttrs name sets); }) names);
  zipAttrsWith = builtins.zipAttrsWith
    or (f: sets: zipAttrsWithNames (lib.unique (concatMap attrNames sets)) f sets);
  zipAttrs = zipAttrsWith (_: values: values);
  recursiveUpdateUntil = pred: lhs: rhs:
    let
      f = attrPath:
        zipAttrsWith (n: values:
          let here = attrPath ++ [ n ]; in
          if length values == 1 || pred here (builtins.elemAt values 1) (head values)
          then head values
          else f here values);
    in
    f [ ] [ rhs lhs ];
  recursiveUpdate = recursiveUpdateUntil (_: lhs: rhs: !(isAttrs lhs && isAttrs rhs));
  matchAttrs = pattern: attrs:
    lib.all (attr: attrs ? ${attr} && (let p = pattern.${attr}; v = attrs.${attr}; in
      if isAttrs p then isAttrs v && matchAttrs p v else p == v)) (attrNames pattern);
  overrideExisting = old: new: mapAttrs (name: value: new.${name} or value) old;
  optionalAttrs = cond: as: if cond then as else { };
  isDerivation = value: value.type or null == "derivation";
  toDerivation = path:
    let
      path' = builtins.storePath path;
      res = {
        type = "derivation"; name = builtins.unsafeDiscardStringContext (baseNameOf path');
        outPath = path'; outputs = [ "out" ]; out = res; outputName = "out";
      };
    in
    res;
  getOutput = output: pkg:
    if !pkg ? outputSpecified || !pkg.outputSpecified then pkg.${output} or pkg.out or pkg else pkg;
  getBin = getOutput "bin";
  getLib = getOutput "lib";
  getDev = getOutput "dev";
  getMan = getOutput "man";
  chooseDevOutputs = map getDev;
  recurseIntoAttrs = attrs: attrs // { recurseForDerivations = true; };
  dontRecurseIntoAttrs = attrs: attrs // { recurseForDerivations = false; };
  unionOfDisjoint = x: y:
    let intersection = intersectAttrs x y; collisions = lib.concatStringsSep " " (attrNames intersection); in
    if intersection == { } then x // y
    else throw "unionOfDisjoint: collision on ${collisions}";
  cartesianProductOfSets = attrsOfLists:
    foldl' (listOfAttrs: attrName:
      concatMap (attrs: map (listValue: attrs // { ${attrName} = listValue; }) attrsOfLists.${attrName})
        listOfAttrs) [ { } ] (attrNames attrsOfLists);
}
