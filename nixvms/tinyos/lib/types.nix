# Mirrors nixpkgs lib/types.nix: option types with NixOS's names, descriptions (used in
# "is not of type `...'" errors), checks and merge functions.
#
# Difference from nixpkgs: type merging (two declarations of one option) uses
# `t1.typeMerge t2` (the other *type*), not a functor; `functor` is still provided.
{ lib }:
let
  inherit (builtins) head tail length filter all any isAttrs isList isString isInt isFloat
    isBool isFunction isPath elem concatLists concatStringsSep mapAttrs zipAttrsWith match
    foldl' attrNames toJSON;
  inherit (lib.options) mergeDefaultOption mergeOneOption mergeEqualOption mergeUniqueOption
    showOption showFiles showDefs getFiles getValues;
  inherit (lib.modules) mergeDefinitions pushDownProperties;

  isType = type: x: (x._type or "") == type;
  setType = typeName: value: value // { _type = typeName; };

  # lib.types.mkOptionType
  mkOptionType =
    { name
    , description ? null
    , descriptionClass ? null
    , check ? (_: true)
    , merge ? mergeDefaultOption
    , emptyValue ? { }
    , getSubOptions ? _: { }
    , getSubModules ? null
    , substSubModules ? _: null
    , typeMerge ? null
    , functor ? null
    , nestedTypes ? { }
    , deprecationMessage ? null
    , payload ? null
    }:
    let
      self = {
        _type = "option-type";
        inherit name check merge emptyValue getSubOptions getSubModules substSubModules
          nestedTypes descriptionClass deprecationMessage payload;
        description = if description == null then name else description;
        # Two declarations of the same option: identical simple types merge to themselves.
        typeMerge = if typeMerge != null then typeMerge
          else other: if other.name == self.name && other.description == self.description then self else null;
        functor = if functor != null then functor
          else { inherit name payload; type = null; wrapped = null; binOp = _: _: null; };
      };
    in
    self;

  # `t // attrs` for a type, with typeMerge recomputed for the result (so a renamed type,
  # e.g. ints.between built from int, merges only with itself).
  overrideType = t: attrs:
    let
      self = t // attrs // {
        typeMerge = attrs.typeMerge or (other:
          if other.name == self.name && other.description == self.description then self else null);
      };
    in
    self;

  # A type with one element type (listOf, attrsOf, nullOr, ...): merges element types.
  wrapperMerge = name: ctor: elemType: other:
    if other.name == name && other ? nestedTypes.elemType then
      let m = elemType.typeMerge other.nestedTypes.elemType; in
      if m == null then null else ctor m
    else null;

  showEnumValue = v:
    if isString v then ''"${v}"''
    else if isInt v then toString v
    else if isBool v then lib.boolToString v
    else if v == null then "null"
    else "<${builtins.typeOf v}>";

  isStorePath = lib.isStorePath;

  types = rec {
    inherit mkOptionType isType setType;
    isOptionType = isType "option-type";

    # types.raw: any value, not merged, exactly one definition.
    raw = mkOptionType {
      name = "raw";
      description = "raw value";
      descriptionClass = "noun";
      check = _: true;
      merge = mergeOneOption;
    };

    # types.anything: attrsets merged recursively, functions merged by result,
    # everything else must be equal.
    anything = mkOptionType {
      name = "anything";
      description = "anything";
      descriptionClass = "noun";
      check = _: true;
      merge = loc: defs:
        let
          getType = value: if isAttrs value && lib.isStringLike value then "stringCoercibleSet" else builtins.typeOf value;
          commonType = foldl' (type: def:
            if getType def.value == type then type
            else throw "The option `${showOption loc}' has conflicting option types in ${showFiles (getFiles defs)}")
            (getType (head defs).value) defs;
          mergeFunction = {
            set = (attrsOf anything).merge;
            stringCoercibleSet = mergeOneOption;
            # lists are not concatenated: two definitions conflict, as in nixpkgs
            list = loc: defs:
              if length defs == 1 then (head defs).value
              else throw "The option `${showOption loc}' has conflicting definitions, in ${showFiles (getFiles defs)}.";
            lambda = loc: defs: arg: anything.merge (loc ++ [ "<function body>" ])
              (map (def: { inherit (def) file; value = def.value arg; }) defs);
          }.${commonType} or mergeEqualOption;
        in
        mergeFunction loc defs;
    };

    unspecified = mkOptionType { name = "unspecified"; description = "unspecified value"; descriptionClass = "noun"; };

    bool = mkOptionType {
      name = "bool";
      description = "boolean";
      descriptionClass = "noun";
      check = isBool;
      merge = mergeEqualOption;
    };

    boolByOr = mkOptionType {
      name = "boolByOr";
      description = "boolean (merged using or)";
      descriptionClass = "noun";
      check = isBool;
      merge = loc: defs: foldl' (result: def: result || def.value) false defs;
    };

    int = mkOptionType {
      name = "int";
      description = "signed integer";
      descriptionClass = "noun";
      check = isInt;
      merge = mergeEqualOption;
    };

    # types.ints.*
    ints =
      let
        betweenDesc = lowest: highest: "${toString lowest} and ${toString highest} (both inclusive)";
        between = lowest: highest:
          assert lib.assertMsg (lowest <= highest) "ints.between: lowest must be smaller than highest";
          overrideType (addCheck int (x: x >= lowest && x <= highest)) {
            name = "intBetween";
            description = "integer between ${betweenDesc lowest highest}";
          };
        ign = lowest: highest: name: docStart:
          overrideType (between lowest highest) {
            inherit name;
            description = docStart + "; between ${betweenDesc lowest highest}";
          };
        unsign = bit: range: ign 0 (range - 1) "unsignedInt${toString bit}" "${toString bit} bit unsigned integer";
        sign = bit: range: ign (0 - (range / 2)) (range / 2 - 1) "signedInt${toString bit}" "${toString bit} bit signed integer";
      in
      {
        inherit between;
        unsigned = overrideType (addCheck int (x: x >= 0)) {
          name = "unsignedInt";
          description = "unsigned integer, meaning >=0";
        };
        positive = overrideType (addCheck int (x: x > 0)) {
          name = "positiveInt";
          description = "positive integer, meaning >0";
        };
        u8 = unsign 8 256;
        u16 = unsign 16 65536;
        u32 = unsign 32 4294967296;
        s8 = sign 8 256;
        s16 = sign 16 65536;
        s32 = sign 32 4294967296;
      };

    port = ints.u16;

    float = mkOptionType {
      name = "float";
      description = "floating point number";
      descriptionClass = "noun";
      check = isFloat;
      merge = mergeEqualOption;
    };

    number = either int float;

    numbers = {
      between = lowest: highest: overrideType (addCheck number (x: x >= lowest && x <= highest)) {
        name = "numberBetween";
        description = "integer or floating point number between ${toString lowest} and ${toString highest} (both inclusive)";
      };
      nonnegative = overrideType (addCheck number (x: x >= 0)) {
        name = "numberNonnegative";
        description = "nonnegative integer or floating point number, meaning >=0";
      };
      positive = overrideType (addCheck number (x: x > 0)) {
        name = "numberPositive";
        description = "positive integer or floating point number, meaning >0";
      };
    };

    str = mkOptionType {
      name = "str";
      description = "string";
      descriptionClass = "noun";
      check = isString;
      merge = mergeEqualOption;
    };

    nonEmptyStr = mkOptionType {
      name = "nonEmptyStr";
      description = "non-empty string";
      descriptionClass = "noun";
      check = x: str.check x && match "[ \t\n]*" x == null;
      inherit (str) merge;
    };

    # types.singleLineStr: a trailing newline is allowed and removed.
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
    };

    # types.separatedString: all definitions concatenated with `sep`.
    separatedString = sep: mkOptionType {
      name = "separatedString";
      description =
        if sep == "" then "Concatenated string"
        else "strings concatenated with ${toJSON sep}";
      descriptionClass = "noun";
      check = isString;
      merge = loc: defs: concatStringsSep sep (getValues defs);
      payload = sep;
      typeMerge = other:
        if other.name == "separatedString" && other.payload == sep then separatedString sep else null;
    };

    lines = separatedString "\n";
    commas = separatedString ",";
    envVar = separatedString ":";
    string = separatedString "";

    passwdEntry = entryType: overrideType (addCheck entryType (str: !(lib.hasInfix ":" str || lib.hasInfix "\n" str))) {
      name = "passwdEntry ${entryType.name}";
      description = "${entryType.description}, not containing newlines or colons";
    };

    attrs = mkOptionType {
      name = "attrs";
      description = "attribute set";
      check = isAttrs;
      merge = loc: foldl' (res: def: res // def.value) { };
      emptyValue = { value = { }; };
    };

    # types.package: a derivation or a store path (kept as given).
    package = mkOptionType {
      name = "package";
      descriptionClass = "noun";
      check = x: lib.isDerivation x || isStorePath x;
      merge = mergeOneOption;
    };

    shellPackage = overrideType package {
      name = "shellPackage";
      description = "shell package";
      check = x: lib.isDerivation x && x ? shellPath;
    };

    path = mkOptionType {
      name = "path";
      descriptionClass = "noun";
      check = x: lib.isStringLike x && builtins.substring 0 1 (toString x) == "/";
      merge = mergeEqualOption;
    };

    # types.pathWith { inStore; absolute; }: a path (or string) that is (or is
    # not) absolute and (or not) in the Nix store, null leaving it open. In the
    # store means inside a store object: /nix/store/<hash-name>[/...], not the
    # store directory itself nor its dot files.
    pathWith = { inStore ? null, absolute ? null }:
      if inStore == true && absolute == false then throw "In pathWith, inStore means the path must be absolute"
      else mkOptionType {
        name = "path";
        description = lib.optionalString (absolute != null) (if absolute then "absolute " else "relative ")
          + "path" + lib.optionalString (inStore != null) (if inStore then " in the Nix store" else " not in the Nix store");
        descriptionClass = "noun";
        check = x:
          let
            s = toString x;
            isAbsolute = builtins.substring 0 1 s == "/";
            isInStore = builtins.match "${lib.escapeRegex builtins.storeDir}/[^/.][^/]*(/.*)?" s != null;
          in
          lib.isStringLike x
          && (absolute == null || absolute == isAbsolute)
          && (inStore == null || inStore == isInStore);
        merge = mergeEqualOption;
        payload = { inherit inStore absolute; };
        typeMerge = other:
          if other.name == "path" && (other.payload or null) == { inherit inStore absolute; } then pathWith { inherit inStore absolute; }
          else null;
      };
    pathInStore = pathWith { inStore = true; };
    externalPath = pathWith { absolute = true; inStore = false; };

    # types.attrTag { tag = type or option; ... }: a value is { <tag> = value; }
    # with exactly one of the tags, merged by that tag's type; two definitions
    # with different tags, or a tag not listed, are not of this type.
    attrTag = tags0:
      let
        tags = builtins.mapAttrs (n: t:
          if isOptionType t then { type = t; } else t // { type = t.type or unspecified; }) tags0;
        names = attrNames tags;
        tagOf = v: head (attrNames v);
        self = mkOptionType {
          name = "attrTag";
          description = "attribute-tagged union of ${builtins.concatStringsSep ", " names}";
          descriptionClass = "composite";
          check = v: isAttrs v && length (attrNames v) == 1 && tags ? ${tagOf v};
          merge = loc: defs:
            let
              tag = tagOf (head defs).value;
              others = filter (d: tagOf d.value != tag) defs;
            in
            if others != [ ] then
              throw "A definition for option `${showOption loc}' is not of type `${self.description}'. The definitions use different tags. Definition values:${showDefs defs}"
            else {
              ${tag} = (lib.modules.mergeDefinitions (loc ++ [ tag ]) tags.${tag}.type
                (map (d: { inherit (d) file; value = d.value.${tag}; }) defs)).mergedValue;
            };
          payload = { inherit tags; };
          typeMerge = other:
            if other.name == "attrTag" && builtins.intersectAttrs tags other.payload.tags == { }
            then attrTag (tags0 // builtins.mapAttrs (_: t: t.type) other.payload.tags)
            else null;
        };
      in
      self;

    # types.listOf: definitions concatenated (in mkOrder order); each element may use
    # mkIf/mkMerge and is checked against elemType.
    listOf = elemType: mkOptionType rec {
      name = "listOf";
      description = "list of ${elemType.description}";
      descriptionClass = "composite";
      check = isList;
      merge = loc: defs:
        map (x: x.value) (filter (x: x ? value) (concatLists (lib.imap1 (n: def:
          lib.imap1 (m: def':
            (mergeDefinitions
              (loc ++ [ "[definition ${toString n}-entry ${toString m}]" ])
              elemType
              [ { inherit (def) file; value = def'; } ]
            ).optionalValue
          ) def.value
        ) defs)));
      emptyValue = { value = [ ]; };
      getSubOptions = prefix: elemType.getSubOptions (prefix ++ [ "*" ]);
      getSubModules = elemType.getSubModules;
      substSubModules = m: listOf (elemType.substSubModules m);
      nestedTypes.elemType = elemType;
      typeMerge = wrapperMerge name listOf elemType;
    };

    nonEmptyListOf = elemType:
      let list = addCheck (listOf elemType) (l: l != [ ]); in
      overrideType list {
        description = "non-empty ${list.description}";
        emptyValue = { };
        substSubModules = m: nonEmptyListOf (elemType.substSubModules m);
        typeMerge = wrapperMerge "listOf" nonEmptyListOf elemType;
      };

    # types.attrsOf / types.lazyAttrsOf: merged per attribute.
    attrsWith = { elemType, lazy ? false }: mkOptionType rec {
      name = if lazy then "lazyAttrsOf" else "attrsOf";
      description = (if lazy then "lazy attribute set of " else "attribute set of ") + elemType.description;
      descriptionClass = "composite";
      check = isAttrs;
      merge = loc: defs:
        let
          pushed = concatLists (map (def: map (v: mapAttrs (n: v': { inherit (def) file; value = v'; }) v)
            (pushDownProperties def.value)) defs);
          zipped = zipAttrsWith (name: defs: mergeDefinitions (loc ++ [ name ]) elemType defs) pushed;
        in
        if lazy then
          mapAttrs (name: merged: merged.optionalValue.value or elemType.emptyValue.value or merged.mergedValue) zipped
        else
          mapAttrs (n: v: v.value) (lib.filterAttrs (n: v: v ? value) (mapAttrs (n: v: v.optionalValue) zipped));
      emptyValue = { value = { }; };
      getSubOptions = prefix: elemType.getSubOptions (prefix ++ [ "<name>" ]);
      getSubModules = elemType.getSubModules;
      substSubModules = m: attrsWith { elemType = elemType.substSubModules m; inherit lazy; };
      nestedTypes.elemType = elemType;
      typeMerge = wrapperMerge name (t: attrsWith { elemType = t; inherit lazy; }) elemType;
    };
    attrsOf = elemType: attrsWith { inherit elemType; };
    lazyAttrsOf = elemType: attrsWith { inherit elemType; lazy = true; };

    # types.uniq / types.unique: the element type, but only one definition allowed.
    unique = { message }: type: mkOptionType rec {
      name = "unique";
      inherit (type) description descriptionClass check;
      merge = mergeUniqueOption { inherit message; inherit (type) merge; };
      emptyValue = type.emptyValue;
      getSubOptions = type.getSubOptions;
      getSubModules = type.getSubModules;
      substSubModules = m: uniq (type.substSubModules m);
      nestedTypes.elemType = type;
      typeMerge = wrapperMerge name uniq type;
    };
    uniq = unique { message = ""; };

    # types.nullOr
    nullOr = elemType: mkOptionType rec {
      name = "nullOr";
      description = "null or ${elemType.description}";
      descriptionClass = "conjunction";
      check = x: x == null || elemType.check x;
      merge = loc: defs:
        let nrNulls = lib.count (def: def.value == null) defs; in
        if nrNulls == length defs then null
        else if nrNulls != 0 then
          throw "The option `${showOption loc}' is defined both null and not null, in ${showFiles (getFiles defs)}."
        else elemType.merge loc defs;
      emptyValue = { value = null; };
      getSubOptions = elemType.getSubOptions;
      getSubModules = elemType.getSubModules;
      substSubModules = m: nullOr (elemType.substSubModules m);
      nestedTypes.elemType = elemType;
      typeMerge = wrapperMerge name nullOr elemType;
    };

    # types.functionTo: definitions merged by merging their results.
    functionTo = elemType: mkOptionType rec {
      name = "functionTo";
      description = "function that evaluates to a(n) ${elemType.description}";
      descriptionClass = "composite";
      check = lib.isFunction;
      merge = loc: defs: fnArgs:
        (mergeDefinitions (loc ++ [ "<function body>" ]) elemType
          (map (fn: { inherit (fn) file; value = fn.value fnArgs; }) defs)).mergedValue;
      getSubOptions = prefix: elemType.getSubOptions (prefix ++ [ "<function body>" ]);
      getSubModules = elemType.getSubModules;
      substSubModules = m: functionTo (elemType.substSubModules m);
      nestedTypes.elemType = elemType;
      typeMerge = wrapperMerge name functionTo elemType;
    };

    # types.enum
    enum = values: mkOptionType rec {
      name = "enum";
      description =
        if values == [ ] then "impossible (empty enum)"
        else if length values == 1 then "value ${showEnumValue (head values)} (singular enum)"
        else "one of ${concatStringsSep ", " (map showEnumValue values)}";
      descriptionClass = if length values < 2 then "noun" else "conjunction";
      check = x: elem x values;
      merge = mergeEqualOption;
      payload = values;
      typeMerge = other: if other.name == "enum" then enum (lib.unique (values ++ other.payload)) else null;
    };

    # types.either / types.oneOf
    either = t1: t2: mkOptionType rec {
      name = "either";
      description = "${t1.description} or ${t2.description}";
      descriptionClass = "conjunction";
      check = x: t1.check x || t2.check x;
      merge = loc: defs:
        let defList = map (d: d.value) defs; in
        if all (x: t1.check x) defList then t1.merge loc defs
        else if all (x: t2.check x) defList then t2.merge loc defs
        else mergeOneOption loc defs;
      nestedTypes = { left = t1; right = t2; };
      typeMerge = other:
        if other.name == "either" then
          let l = t1.typeMerge other.nestedTypes.left; r = t2.typeMerge other.nestedTypes.right; in
          if l == null || r == null then null else either l r
        else null;
    };

    oneOf = ts:
      if ts == [ ] then throw "types.oneOf needs to get at least one type in its argument"
      else foldl' either (head ts) (tail ts);

    # types.coercedTo: values of coercedType are converted with coerceFunc.
    coercedTo = coercedType: coerceFunc: finalType:
      assert lib.assertMsg (coercedType.getSubModules == null)
        "coercedTo: coercedType must not have submodules (it’s a ${coercedType.description})";
      mkOptionType rec {
        name = "coercedTo";
        description = "${finalType.description} or ${coercedType.description} convertible to it";
        check = x: (coercedType.check x && finalType.check (coerceFunc x)) || finalType.check x;
        merge = loc: defs:
          let coerceVal = val: if coercedType.check val then coerceFunc val else val; in
          finalType.merge loc (map (def: def // { value = coerceVal def.value; }) defs);
        emptyValue = finalType.emptyValue;
        getSubOptions = finalType.getSubOptions;
        getSubModules = finalType.getSubModules;
        substSubModules = m: coercedTo coercedType coerceFunc (finalType.substSubModules m);
        nestedTypes = { inherit coercedType finalType; };
        typeMerge = _: null;
      };

    # types.addCheck: an extra check on top of a type.
    addCheck = elemType: check: overrideType elemType { check = x: elemType.check x && check x; };

    # types.optionType: the type of _module.freeformType (types merge when declared twice).
    optionType = mkOptionType {
      name = "optionType";
      description = "optional type, e.g. `str`, `int`, ...";
      descriptionClass = "noun";
      check = isType "option-type";
      merge = loc: defs:
        if length defs == 1 then (head defs).value
        else foldl' (a: def:
          let m = a.typeMerge def.value; in
          if m == null then throw "The option `${showOption loc}' has conflicting definitions, in ${showFiles (getFiles defs)}." else m)
          (head defs).value (tail defs);
    };

    # types.deferredModule: module definitions collected, evaluated later by someone else.
    deferredModule = mkOptionType {
      name = "deferredModule";
      description = "module";
      descriptionClass = "noun";
      check = x: isAttrs x || lib.isFunction x || isPath x;
      merge = loc: defs: {
        imports = map (def: lib.setDefaultModuleLocation "${def.file}, via option ${showOption loc}" def.value) defs;
      };
    };

    submodule = modules: submoduleWith {
      shorthandOnlyDefinesConfig = true;
      modules = lib.toList modules;
    };

    # types.submoduleWith: each value is the config of its own evalModules, whose modules
    # are the type's modules + one per definition; `name` (_module.args.name) is the last
    # component of the option path (the attribute name under attrsOf).
    submoduleWith =
      { modules
      , specialArgs ? { }
      , shorthandOnlyDefinesConfig ? false
      , description ? null
      , class ? null
      }@attrs:
      let
        allModules = defs: map ({ value, file }:
          if isAttrs value && shorthandOnlyDefinesConfig
          then { _file = file; config = value; }
          else { _file = file; imports = [ value ]; }) defs;
        base = loc: extra: lib.evalModules {
          inherit specialArgs class;
          modules = [ { _module.args.name = lib.mkOptionDefault (lib.last loc); } ] ++ modules ++ extra;
          prefix = loc;
        };
      in
      mkOptionType {
        name = "submodule";
        description = if description != null then description else "submodule";
        descriptionClass = "noun";
        check = x: isAttrs x || lib.isFunction x || isPath x;
        merge = loc: defs: (base loc (allModules defs)).config;
        emptyValue = { value = { }; };
        getSubOptions = prefix: (base (prefix ++ [ "<name>" ]) [ ]).options;
        getSubModules = modules;
        substSubModules = m: submoduleWith (attrs // { modules = m; });
        payload = { inherit modules specialArgs shorthandOnlyDefinesConfig class; };
        nestedTypes = { };
        typeMerge = other:
          if other.name == "submodule" then
            let otherClass = other.payload.class or null; in
            if class != null && otherClass != null && class != otherClass then
              throw "A submoduleWith option is declared multiple times with conflicting class values ${builtins.toJSON class} and ${builtins.toJSON otherClass}."
            else
            submoduleWith (attrs // {
              class = if class != null then class else otherClass;
              modules = modules ++ other.payload.modules;
              specialArgs = specialArgs // other.payload.specialArgs;
              shorthandOnlyDefinesConfig = shorthandOnlyDefinesConfig && other.payload.shorthandOnlyDefinesConfig;
            })
          else null;
      };
  };
in
types
