# lib.types (nixpkgs lib/types.nix), written for tinyos from nixpkgs' documented
# semantics: the same names, descriptions (they appear in "is not of type `...'"
# errors), checks, merges, empty values, and type merging through functors (two
# declarations of one option merge their types with `t1.typeMerge t2.functor`).
# Types whose merge has a `v2` attribute also report headError and valueMeta
# (options.<path>.valueMeta). This file has the simple types; types-composite.nix
# the types made of other types.
{ lib }:
let
  inherit (builtins) head length filter all isAttrs isList isString isInt isFloat isBool
    isPath concatStringsSep foldl' match substring;
  inherit (lib.options) mergeDefaultOption mergeOneOption mergeEqualOption mergeUniqueOption
    showOption showFiles getFiles getValues showDefs;

  helpers = rec {
    # The functor of a type with an element type: merging two of them merges the
    # element types.
    elemTypeFunctor = name: { elemType, ... }@payload: {
      inherit name payload;
      type = types.${name};
      binOp = a: b:
        let merged = a.elemType.typeMerge b.elemType.functor; in
        if merged == null then null else { elemType = merged; };
    };

    # The headError of a v2 merge whose definitions fail `check`.
    checkDefsForError = check: loc: defs:
      if all (def: check def.value) defs then null
      else { message = "Definition values: ${showDefs (filter (def: !check def.value) defs)}"; };

    # " at file:line:column" of an attribute, when Nix knows it
    inAttrPosSuffix = v: name:
      let pos = builtins.unsafeGetAttrPos name v; in
      if pos == null then "" else " at ${pos.file}:${toString pos.line}:${toString pos.column}";

    # A check for types with a v2 merge: calling it is the check; the marker tells the
    # module system that the merge reports the same failures (see checkV2MergeCoherence).
    v2Check = f: { __functor = _self: f; isV2MergeCoherent = true; };
    # A v2 merge: called the old way, it returns the value.
    v2Merge = v2: { __functor = self: loc: defs: (self.v2 { inherit loc defs; }).value; inherit v2; };
    # A type's merge as { headError; value; valueMeta; } whether it has a v2 merge or not.
    mergeV2 = loc: type: defs:
      if type.merge ? v2 then lib.modules.checkV2MergeCoherence loc type (type.merge.v2 { inherit loc defs; })
      else { value = type.merge loc defs; headError = checkDefsForError type.check loc defs; valueMeta = { }; };
  };

  # A path "inside a store object": /nix/store/<hash-name>[/...], not the store
  # directory itself nor one of its dot files (nixpkgs' lib.path.hasStorePathPrefix).
  hasStorePathPrefix = p:
    match "${lib.escapeRegex builtins.storeDir}/[^/.][^/]*(/.*)?" (toString p) != null;

  basic = rec {
    isType = type: x: (x._type or "") == type;
    setType = typeName: value: value // { _type = typeName; };
    isOptionType = isType "option-type";

    # The default type merge: same name, and payloads combined by the functor's binOp.
    defaultTypeMerge = f: f':
      let
        mergedPayload = f.binOp f.payload f'.payload;
        hasPayload = assert (f'.payload != null) == (f.payload != null); f.payload != null;
      in
      if f.name != f'.name then null
      else if hasPayload then (if mergedPayload == null then null else f.type mergedPayload)
      else f.type;

    defaultFunctor = name: {
      inherit name;
      type = types.${name} or null;
      payload = null;
      binOp = a: b: null;
    };

    mkOptionType =
      { name
      , description ? null
      , descriptionClass ? null # noun, conjunction, composite or nonRestrictiveClause
      , check ? (x: true)
      , merge ? mergeDefaultOption
      , emptyValue ? { } # { value = ...; } for types with a value meaning "nothing"
      , getSubOptions ? prefix: { }
      , getSubModules ? null
      , substSubModules ? m: null
      , typeMerge ? defaultTypeMerge functor
      , functor ? defaultFunctor name
      , deprecationMessage ? null
      , nestedTypes ? { }
      }:
      {
        _type = "option-type";
        inherit name check merge emptyValue getSubOptions getSubModules substSubModules
          typeMerge deprecationMessage nestedTypes descriptionClass functor;
        description = if description == null then name else description;
      };

    # A type's description, parenthesized unless its class fits the sentence.
    optionDescriptionPhrase = unparenthesize: t:
      if unparenthesize (t.descriptionClass or null) then t.description else "(${t.description})";

    # Merges two types (the first one's typeMerge), or a "merge-error".
    mergeTypes = a: b:
      assert isOptionType a && isOptionType b;
      let merged = a.typeMerge b.functor; in
      if merged == null then setType "merge-error" { error = "Cannot merge types"; } else merged;

    # Turns the unknown-option check off, for documentation.
    noCheckForDocsModule = {
      config._module.check = lib.mkForce false;
      _file = "<built-in module that disables checks for the purpose of documentation generation>";
    };

    raw = mkOptionType {
      name = "raw";
      description = "raw value";
      descriptionClass = "noun";
      check = value: true;
      merge = mergeOneOption;
    };

    # Attribute sets merged recursively, functions by their results, string-coercible
    # sets (packages) once, anything else when all definitions are equal.
    anything = mkOptionType {
      name = "anything";
      description = "anything";
      descriptionClass = "noun";
      check = value: true;
      merge = loc: defs:
        let
          getType = value: if isAttrs value && lib.isStringLike value then "stringCoercibleSet" else builtins.typeOf value;
          commonType = foldl' (type: def:
            if getType def.value == type then type
            else throw "The option `${showOption loc}' has conflicting option types in ${showFiles (getFiles defs)}")
            (getType (head defs).value) defs;
          mergeFunction = {
            set = (types.attrsOf anything).merge;
            stringCoercibleSet = mergeOneOption;
            lambda = loc: defs: arg: anything.merge (loc ++ [ "<function body>" ])
              (map (def: { inherit (def) file; value = def.value arg; }) defs);
          }.${commonType} or mergeEqualOption;
        in
        mergeFunction loc defs;
    };

    unspecified = mkOptionType { name = "unspecified"; description = "unspecified value"; descriptionClass = "noun"; };

    bool = mkOptionType { name = "bool"; description = "boolean"; descriptionClass = "noun"; check = isBool; merge = mergeEqualOption; };

    boolByOr = mkOptionType {
      name = "boolByOr";
      description = "boolean (merged using or)";
      descriptionClass = "noun";
      check = isBool;
      merge = loc: defs: foldl' (result: def: result || def.value) false defs;
    };

    int = mkOptionType { name = "int"; description = "signed integer"; descriptionClass = "noun"; check = isInt; merge = mergeEqualOption; };

    ints =
      let
        betweenDesc = lowest: highest: "${toString lowest} and ${toString highest} (both inclusive)";
        between = lowest: highest:
          assert lib.assertMsg (lowest <= highest) "ints.between: lowest must be smaller than highest";
          types.addCheck int (x: x >= lowest && x <= highest) // {
            name = "intBetween";
            description = "integer between ${betweenDesc lowest highest}";
          };
        ign = lowest: highest: name: docStart:
          between lowest highest // { inherit name; description = docStart + "; between ${betweenDesc lowest highest}"; };
        unsign = bit: range: ign 0 (range - 1) "unsignedInt${toString bit}" "${toString bit} bit unsigned integer";
        sign = bit: range: ign (0 - (range / 2)) (range / 2 - 1) "signedInt${toString bit}" "${toString bit} bit signed integer";
      in
      {
        inherit between;
        unsigned = types.addCheck int (x: x >= 0) // {
          name = "unsignedInt"; description = "unsigned integer, meaning >=0"; descriptionClass = "nonRestrictiveClause";
        };
        positive = types.addCheck int (x: x > 0) // {
          name = "positiveInt"; description = "positive integer, meaning >0"; descriptionClass = "nonRestrictiveClause";
        };
        u8 = unsign 8 256;
        u16 = unsign 16 65536;
        u32 = unsign 32 4294967296;
        s8 = sign 8 256;
        s16 = sign 16 65536;
        s32 = sign 32 4294967296;
      };

    port = ints.u16;

    float = mkOptionType { name = "float"; description = "floating point number"; descriptionClass = "noun"; check = isFloat; merge = mergeEqualOption; };

    number = types.either int float;

    numbers =
      let betweenDesc = lowest: highest: "${builtins.toJSON lowest} and ${builtins.toJSON highest} (both inclusive)"; in
      {
        between = lowest: highest:
          assert lib.assertMsg (lowest <= highest) "numbers.between: lowest must be smaller than highest";
          types.addCheck number (x: x >= lowest && x <= highest) // {
            name = "numberBetween";
            description = "integer or floating point number between ${betweenDesc lowest highest}";
          };
        nonnegative = types.addCheck number (x: x >= 0) // {
          name = "numberNonnegative";
          description = "nonnegative integer or floating point number, meaning >=0";
          descriptionClass = "nonRestrictiveClause";
        };
        positive = types.addCheck number (x: x > 0) // {
          name = "numberPositive";
          description = "positive integer or floating point number, meaning >0";
          descriptionClass = "nonRestrictiveClause";
        };
      };

    str = mkOptionType { name = "str"; description = "string"; descriptionClass = "noun"; check = isString; merge = mergeEqualOption; };

    nonEmptyStr = mkOptionType {
      name = "nonEmptyStr";
      description = "non-empty string";
      descriptionClass = "noun";
      check = x: str.check x && match "[ \t\n]*" x == null;
      inherit (str) merge;
    };

    # A trailing newline is allowed, and removed.
    singleLineStr =
      let inherit (strMatching "[^\n\r]*\n?") check merge; in
      mkOptionType {
        name = "singleLineStr";
        description = "(optionally newline-terminated) single-line string";
        descriptionClass = "noun";
        inherit check;
        merge = loc: defs: lib.removeSuffix "\n" (merge loc defs);
      };

    strMatching = pattern: mkOptionType {
      name = "strMatching ${lib.escapeNixString pattern}";
      description = "string matching the pattern ${pattern}";
      descriptionClass = "noun";
      check = x: str.check x && match pattern x != null;
      inherit (str) merge;
      functor = defaultFunctor "strMatching" // {
        type = payload: strMatching payload.pattern;
        payload = { inherit pattern; };
        binOp = lhs: rhs: if lhs == rhs then lhs else null;
      };
    };

    # All definitions concatenated with `sep`.
    separatedString = sep: mkOptionType rec {
      name = "separatedString";
      description = "strings concatenated with ${builtins.toJSON sep}";
      descriptionClass = "noun";
      check = isString;
      merge = loc: defs: concatStringsSep sep (getValues defs);
      functor = defaultFunctor name // {
        payload = { inherit sep; };
        type = payload: separatedString payload.sep;
        binOp = lhs: rhs: if lhs.sep == rhs.sep then { inherit (lhs) sep; } else null;
      };
    };
    lines = separatedString "\n";
    commas = separatedString ",";
    envVar = separatedString ":";
    # removed from nixpkgs (it was separatedString ""); kept for older modules
    string = separatedString "" // { name = "string"; deprecationMessage = "See https://github.com/NixOS/nixpkgs/pull/66346 for better alternative types."; };

    passwdEntry = entryType:
      types.addCheck entryType (str: !(lib.hasInfix ":" str || lib.hasInfix "\n" str)) // {
        name = "passwdEntry ${entryType.name}";
        description = "${optionDescriptionPhrase (class: class == "noun") entryType}, not containing newlines or colons";
        descriptionClass = "nonRestrictiveClause";
      };

    attrs = mkOptionType {
      name = "attrs";
      description = "attribute set";
      check = isAttrs;
      merge = loc: foldl' (res: def: res // def.value) { };
      emptyValue = { value = { }; };
    };

    # lib.fileset values; several definitions are their union.
    fileset = mkOptionType {
      name = "fileset";
      description = "fileset";
      descriptionClass = "noun";
      check = lib.fileset.isFileset;
      merge = loc: defs: lib.fileset.unions (map (x: x.value) defs);
      emptyValue.value = lib.fileset.empty;
    };

    # A top-level store path: a derivation, or a store path (a string without
    # context or a path literal becomes a derivation-like value).
    package = mkOptionType {
      name = "package";
      descriptionClass = "noun";
      check = x: lib.isDerivation x || lib.isStorePath x;
      merge = loc: defs:
        let res = mergeOneOption loc defs; in
        if isPath res || (isString res && !builtins.hasContext res) then lib.toDerivation res else res;
    };

    shellPackage = package // { check = x: lib.isDerivation x && x ? shellPath; };

    pkgs = types.addCheck (types.unique { message = "A Nixpkgs pkgs set can not be merged with another pkgs set."; } attrs // {
      name = "pkgs";
      descriptionClass = "noun";
      description = "Nixpkgs package set";
    }) (x: (x._type or null) == "pkgs");

    path = pathWith { absolute = true; };
    pathInStore = pathWith { inStore = true; };
    externalPath = pathWith { absolute = true; inStore = false; };

    # A path or string, absolute or relative, in the store or not (null: either).
    # Outside the store, a path literal is refused: it would be copied into the store
    # when used.
    pathWith = { inStore ? null, absolute ? null }:
      lib.throwIf (inStore != null && absolute != null && inStore && !absolute)
        "In pathWith, inStore means the path must be absolute"
        mkOptionType {
          name = "path";
          description = (if absolute == null then "" else if absolute then "absolute " else "relative ")
            + "path" + (if inStore == null then "" else if inStore then " in the Nix store" else " not in the Nix store");
          descriptionClass = "noun";
          merge = mergeEqualOption;
          functor = defaultFunctor "path" // {
            type = pathWith;
            payload = { inherit inStore absolute; };
            binOp = lhs: rhs: if lhs == rhs then lhs else null;
          };
          check = x:
            let
              isExpectedType = if inStore == null || inStore then lib.isStringLike x else isString x;
              s = toString x;
              isAbsolute = substring 0 1 s == "/";
              isInStore = hasStorePathPrefix (if isPath x then x else "/" + lib.removePrefix "/" (builtins.unsafeDiscardStringContext s));
            in
            isExpectedType && (inStore == null || inStore == isInStore) && (absolute == null || absolute == isAbsolute);
        };

    # A value made by lib.mkLuaInline.
    luaInline = mkOptionType {
      name = "luaInline";
      description = "inline lua";
      descriptionClass = "noun";
      check = x: x._type or null == "lua-inline";
      merge = mergeEqualOption;
    };

    # An option declaration (mkOption's result), not an evaluated option.
    optionDeclaration = mkOptionType {
      name = "optionDeclaration";
      description = "option declaration";
      descriptionClass = "noun";
      check = opt: isType "option" opt && !(opt ? value);
    };

    # The type of a type (_module.freeformType): several definitions merge as two
    # declarations of one option would, submodules included.
    optionType = mkOptionType {
      name = "optionType";
      description = "optionType";
      descriptionClass = "noun";
      check = isType "option-type";
      merge = loc: defs:
        if length defs == 1 then (head defs).value
        else
          let
            optionModules = map ({ value, file }: { _file = file; options = lib.mkOption { type = value; }; }) defs;
            # mergeOptionDecls wants { _file; options; pos; }
            decls = map (m: { inherit (m) _file options; pos = null; }) optionModules;
          in
          (lib.modules.fixupOptionType loc (lib.modules.mergeOptionDecls loc decls)).type;
    };
  };

  types = basic // import ./types-composite.nix { inherit lib types helpers; } // { inherit types; };
in
types
