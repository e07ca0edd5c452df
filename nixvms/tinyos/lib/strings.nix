# Mirrors nixpkgs lib/strings.nix: string helpers with the same names and semantics.
{ lib }:
let
  inherit (builtins) stringLength substring head tail length filter elemAt concatStringsSep
    replaceStrings toString isString split match genList;
in
rec {
  inherit stringLength substring concatStringsSep replaceStrings toString isString match split;
  concatStrings = concatStringsSep "";
  concatMapStrings = f: list: concatStrings (map f list);
  concatImapStrings = f: list: concatStrings (lib.imap1 f list);
  intersperse = separator: list:
    if list == [ ] || length list == 1 then list
    else tail (lib.concatMap (x: [ separator x ]) list);
  concatMapStringsSep = sep: f: list: concatStringsSep sep (map f list);
  concatImapStringsSep = sep: f: list: concatStringsSep sep (lib.imap1 f list);
  concatLines = concatMapStrings (s: s + "\n");
  optionalString = cond: string: if cond then string else "";
  hasPrefix = pref: str: substring 0 (stringLength pref) str == pref;
  hasSuffix = suffix: content:
    let lenContent = stringLength content; lenSuffix = stringLength suffix; in
    lenContent >= lenSuffix && substring (lenContent - lenSuffix) lenContent content == suffix;
  hasInfix = infix: content: match ".*${escapeRegex infix}.*" "${content}" != null;
  stringToCharacters = s: genList (p: substring p 1 s) (stringLength s);
  stringAsChars = f: s: concatMapStrings f (stringToCharacters s);
  removePrefix = prefix: str:
    let preLen = stringLength prefix; in
    if substring 0 preLen str == prefix then substring preLen (stringLength str - preLen) str
    else str;
  removeSuffix = suffix: str:
    let sufLen = stringLength suffix; sLen = stringLength str; in
    if sufLen <= sLen && suffix == substring (sLen - sufLen) sufLen str
    then substring 0 (sLen - sufLen) str else str;
  lowerChars = stringToCharacters "abcdefghijklmnopqrstuvwxyz";
  upperChars = stringToCharacters "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  toLower = replaceStrings upperChars lowerChars;
  toUpper = replaceStrings lowerChars upperChars;
  escape = list: replaceStrings list (map (c: "\\${c}") list);
  escapeRegex = escape (stringToCharacters "\\[{()^$?*+|.");
  # As nixpkgs': a word of shell-safe characters is left as it is, anything
  # else is single-quoted ("/root" stays /root, "" becomes '').
  escapeShellArg = arg:
    let string = toString arg; in
    if match "[[:alnum:],._+:@%/-]+" string != null then string
    else "'${replaceStrings [ "'" ] [ "'\\''" ] string}'";
  escapeShellArgs = concatMapStringsSep " " escapeShellArg;
  escapeNixString = s: escape [ "$" ] (builtins.toJSON s);
  # lib.strings.escapeNixIdentifier: an attribute name as Nix source would write it,
  # quoted when it is not a plain identifier or is a keyword.
  escapeNixIdentifier = s:
    if match "[a-zA-Z_][a-zA-Z0-9_'-]*" s != null
      && !(builtins.elem s [ "assert" "else" "if" "in" "inherit" "let" "or" "rec" "then" "with" ])
    then s else escapeNixString s;
  # lib.strings.isConvertibleWithToString: what `toString` accepts without an error.
  isConvertibleWithToString = x:
    isStringLike x || builtins.elem (builtins.typeOf x) [ "null" "int" "float" "bool" ]
    || (builtins.isList x && builtins.all isConvertibleWithToString x);
  # lib.strings.levenshtein: the edit distance of two strings (one row of the
  # table at a time), used for "Did you mean" suggestions.
  levenshtein = a: b:
    let
      la = stringLength a;
      lb = stringLength b;
      nextRow = prev: i: builtins.foldl' (row: j:
        row ++ [ (lib.min (lib.min (elemAt prev (j + 1) + 1) (lib.last row + 1))
          (elemAt prev j + (if substring i 1 a == substring j 1 b then 0 else 1))) ])
        [ (i + 1) ] (genList (j: j) lb);
    in
    if la == 0 then lb else if lb == 0 then la
    else lib.last (builtins.foldl' nextRow (genList (j: j) (lb + 1)) (genList (i: i) la));
  # lib.strings.levenshteinAtMost k a b: whether the distance is at most k.
  levenshteinAtMost = k: a: b:
    let d = stringLength a - stringLength b; in
    (if d < 0 then 0 - d else d) <= k && levenshtein a b <= k;
  escapeXML = replaceStrings [ "\"" "'" "<" ">" "&" ] [ "&quot;" "&apos;" "&lt;" "&gt;" "&amp;" ];
  # lib.splitString: like builtins.split on a literal separator.
  splitString = sep: s:
    let splits = filter isString (split (escapeRegex (toString sep)) (toString s)); in
    map (x: addContextFrom s x) splits;
  addContextFrom = a: b: substring 0 0 a + b;
  trim = s:
    let m = match "[[:space:]]*(.*[^[:space:]])[[:space:]]*" s; in
    if m == null then "" else head m;
  fixedWidthString = width: filler: str:
    let strw = stringLength str; reqWidth = width - (stringLength filler); in
    assert lib.assertMsg (strw <= width)
      "fixedWidthString: requested string length (${toString width}) must not be shorter than actual length (${toString strw})";
    if strw == width then str else filler + fixedWidthString reqWidth filler str;
  fixedWidthNumber = width: n: fixedWidthString width "0" (toString n);
  floatToString = float: toString float;
  isStringLike = x: isString x || builtins.isPath x || x ? outPath || x ? __toString;
  isCoercibleToString = isStringLike;
  isStorePath = x:
    if isStringLike x then
      let str = toString x; in
      substring 0 1 str == "/" && dirOf str == builtins.storeDir
    else false;
  toInt = str:
    let m = match "[[:space:]]*(-?[0-9]+)[[:space:]]*" str; in
    if m == null then throw "toInt: Could not convert ${escapeNixString str} to int." else builtins.fromJSON (head m);
  toIntBase10 = toInt;
  versionOlder = v1: v2: builtins.compareVersions v2 v1 == 1;
  versionAtLeast = v1: v2: !versionOlder v1 v2;
  makeSearchPath = subDir: paths:
    concatStringsSep ":" (map (path: path + "/" + subDir) (filter (x: x != null) paths));
  makeSearchPathOutput = output: subDir: pkgs:
    makeSearchPath subDir (map (lib.getOutput output) pkgs);
  makeBinPath = makeSearchPathOutput "bin" "bin";
  makeLibraryPath = makeSearchPathOutput "lib" "lib";
  enableFeature = enable: feat: "--${if enable then "enable" else "disable"}-${feat}";
  withFeature = with_: feat: "--${if with_ then "with" else "without"}-${feat}";
  fileContents = file: removeSuffix "\n" (builtins.readFile file);
  commonPrefixLength = a: b:
    let
      m = lib.min (stringLength a) (stringLength b);
      go = i: if i >= m then m else if substring i 1 a == substring i 1 b then go (i + 1) else i;
    in
    go 0;
  getName = x:
    let parse = drv: (builtins.parseDrvName drv).name; in
    if isString x then parse x else x.pname or (parse x.name);
  getVersion = x:
    let parse = drv: (builtins.parseDrvName drv).version; in
    if isString x then parse x else x.version or (parse x.name);
  sanitizeDerivationName = s:
    let m = builtins.replaceStrings [ "/" " " ] [ "-" "-" ] s; in
    if m == "" then "unknown" else m;
}
