# lib.fileset, the part types.fileset needs (nixpkgs lib/fileset): a file set is a
# set of files under local paths; a path stands for the file set of the files it is
# or contains. Provided: isFileset, empty, union, unions, toList. Written for tinyos:
# a file set here is { _type = "fileset"; _files = { "<absolute path>" = path; }; },
# not nixpkgs' internal representation (file sets of the two libs do not mix).
{ lib }:
let
  inherit (builtins) isPath pathExists readDir attrNames concatMap listToAttrs typeOf foldl' attrValues;

  # Why a value is not a file set (null when it is one, or a path that exists).
  coerceError = context: value:
    if value._type or "" == "fileset" then null
    else if !isPath value then
      if value ? _isLibCleanSourceWith then
        "${context} is a `lib.sources`-based value, but it should be a file set or a path instead."
      else if lib.isStringLike value then
        "${context} (\"${toString value}\") is a string-like value, but it should be a file set or a path instead."
      else "${context} is of type ${typeOf value}, but it should be a file set or a path instead."
    else if !pathExists value then "${context} (${toString value}) is a path that does not exist."
    else null;

  # The regular files (and symbolic links) at or under a path.
  filesUnder = path:
    let type = (readDir (dirOf path)).${baseNameOf path} or "directory"; in
    if type == "directory" then concatMap (n: filesUnder (path + "/${n}")) (attrNames (readDir path))
    else [ path ];

  coerce = context: value:
    let err = coerceError context value; in
    if err != null then throw err
    else if isPath value then
      { _type = "fileset"; _files = listToAttrs (map (p: { name = toString p; value = p; }) (filesUnder value)); }
    else value;
in
rec {
  isFileset = x: coerceError "" x == null;
  empty = { _type = "fileset"; _files = { }; };
  union = a: b: unions [ a b ];
  unions = list:
    if !builtins.isList list then throw "lib.fileset.unions: Argument is of type ${typeOf list}, but it should be a list instead."
    else foldl' (acc: x: { _type = "fileset"; _files = acc._files // (coerce "lib.fileset.unions: Element" x)._files; }) empty list;
  # The files as paths, sorted.
  toList = fileset: attrValues (coerce "lib.fileset.toList: Argument" fileset)._files;
}
