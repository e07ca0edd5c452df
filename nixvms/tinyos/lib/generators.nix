# Mirrors (a subset of) nixpkgs lib/generators.nix: toPretty (used in module system
# error messages), toKeyValue, toINI, mkKeyValueDefault.
{ lib }:
let
  inherit (builtins) isInt isFloat isString isBool isList isAttrs isPath length filter split
    attrNames concatStringsSep;
in
rec {
  mkValueStringDefault = { }: v:
    if isInt v || isFloat v then toString v
    else if isString v then v
    else if v == true then "true"
    else if v == false then "false"
    else if v == null then "null"
    else if lib.isStringLike v then toString v
    else throw "generators.mkValueStringDefault: cannot convert ${builtins.typeOf v} to a string";

  mkKeyValueDefault = { mkValueString ? mkValueStringDefault { } }: sep: k: v:
    "${lib.escape [ sep ] k}${sep}${mkValueString v}";

  toKeyValue = { mkKeyValue ? mkKeyValueDefault { } "=", listsAsDuplicateKeys ? false }: attrs:
    let
      mkLine = k: v: mkKeyValue k v + "\n";
      mkLines = if listsAsDuplicateKeys
        then k: v: map (mkLine k) (if isList v then v else [ v ])
        else k: v: [ (mkLine k v) ];
    in
    lib.concatStrings (lib.concatLists (lib.mapAttrsToList mkLines attrs));

  toINI = { mkSectionName ? (name: lib.escape [ "[" "]" ] name)
          , mkKeyValue ? mkKeyValueDefault { } "="
          , listsAsDuplicateKeys ? false }: attrsOfAttrs:
    let
      mkSection = sectName: sectValues: ''
        [${mkSectionName sectName}]
      '' + toKeyValue { inherit mkKeyValue listsAsDuplicateKeys; } sectValues;
    in
    concatStringsSep "\n" (lib.mapAttrsToList mkSection attrsOfAttrs);

  toJSON = { }: builtins.toJSON;

  # lib.generators.toPretty: a Nix-syntax-like rendering of a value; depth-limited.
  toPretty = { allowPrettyValues ? false, multiline ? true, indent ? "", depthLimit ? 10 }:
    let
      escapeSingle = lib.escape [ "\\" "\"" "\${" ];
      escapeMulti = lib.replaceStrings [ "\${" "''" ] [ "''\${" "'''" ];
      attrName = n:
        if builtins.match "[a-zA-Z_][a-zA-Z0-9_'-]*" n != null then n
        else "\"${escapeSingle n}\"";
      go = indent: depth: v:
        let
          introSpace = if multiline then "\n${indent}  " else " ";
          outroSpace = if multiline then "\n${indent}" else " ";
          inner = go (indent + "  ") (depth + 1);
        in
        if depth > depthLimit then "<...>"
        else if isInt v || isFloat v then toString v
        else if isString v then
          let lines = filter (x: !isList x) (split "\n" v); in
          if multiline && length lines > 1 then
            let
              escaped = map escapeMulti lines;
              lastLine = lib.last escaped;
            in
            "''" + introSpace + concatStringsSep introSpace (lib.init escaped)
            + (if lastLine == "" then outroSpace else introSpace + lastLine) + "''"
          else "\"" + concatStringsSep "\\n" (map escapeSingle lines) + "\""
        else if v == true then "true"
        else if v == false then "false"
        else if v == null then "null"
        else if isPath v then toString v
        else if isList v then
          if v == [ ] then "[ ]"
          else "[" + introSpace + concatStringsSep introSpace (map inner v) + outroSpace + "]"
        else if lib.isFunction v then
          let
            fna = lib.functionArgs v;
            showFnas = concatStringsSep ", " (lib.mapAttrsToList
              (name: hasDefVal: if hasDefVal then name + "?" else name) fna);
          in
          if fna == { } then "<function>" else "<function, args: {${showFnas}}>"
        else if isAttrs v then
          if allowPrettyValues && v ? __pretty && v ? val then v.__pretty v.val
          else if v == { } then "{ }"
          else if v.type or null == "derivation" then "<derivation ${v.name or "???"}>"
          else "{" + introSpace
            + concatStringsSep introSpace (map (n: "${attrName n} = ${inner v.${n}};") (attrNames v))
            + outroSpace + "}"
        else "<${builtins.typeOf v}>";
    in
    go indent 0;
}
