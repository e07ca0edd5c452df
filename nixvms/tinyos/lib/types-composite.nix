# lib.types made of other types (nixpkgs lib/types.nix): lists, attribute sets,
# attribute lists, tagged unions, nullOr, functionTo, submodules, deferred modules,
# enum, either/oneOf, coercedTo, addCheck, serializable values. `types` is the whole
# namespace (types.nix), `helpers` its shared functions.
{ lib, types, helpers }:
let
  inherit (builtins) head tail length filter all isAttrs isList isString isInt isBool
    isFunction attrNames mapAttrs concatLists concatMap foldl' elem sort elemAt;
  inherit (lib.options) mergeOneOption mergeEqualOption mergeUniqueOption showOption showFiles
    getFiles showDefs;
  inherit (lib.modules) mergeDefinitions defaultOrderPriority defaultOverridePriority
    mkDefinition mkOrder mkOverride;
  inherit (types) mkOptionType defaultFunctor optionDescriptionPhrase isType path;
  inherit (helpers) elemTypeFunctor checkDefsForError inAttrPosSuffix v2Check v2Merge mergeV2;
  escapeId = lib.strings.escapeNixIdentifier;
in
rec {
  listOf = elemType: mkOptionType rec {
    name = "listOf";
    description = "list of ${optionDescriptionPhrase (class: class == "noun" || class == "composite") elemType}";
    descriptionClass = "composite";
    check = v2Check isList;
    # each element merged alone (it may use mkIf/mkMerge/mkOrder inside)
    merge = v2Merge ({ loc, defs }:
      let
        evals = filter (x: x.optionalValue ? value) (concatLists (lib.imap1 (n: def:
          lib.imap1 (m: def':
            mergeDefinitions (loc ++ [ "[definition ${toString n}-entry ${toString m}]" ]) elemType
              [ { inherit (def) file; value = def'; } ]) def.value) defs));
      in
      {
        headError = checkDefsForError check loc defs;
        value = map (x: x.optionalValue.value or x.mergedValue) evals;
        valueMeta.list = map (v: v.checkedAndMerged.valueMeta) evals;
      });
    emptyValue = { value = [ ]; };
    getSubOptions = prefix: elemType.getSubOptions (prefix ++ [ "*" ]);
    getSubModules = elemType.getSubModules;
    substSubModules = m: listOf (elemType.substSubModules m);
    functor = elemTypeFunctor name { inherit elemType; } // { type = payload: listOf payload.elemType; };
    nestedTypes.elemType = elemType;
  };

  nonEmptyListOf = elemType:
    let list = addCheck (listOf elemType) (l: l != [ ]); in
    list // {
      description = "non-empty ${optionDescriptionPhrase (class: class == "noun") list}";
      emptyValue = { }; # unset: no value
      substSubModules = m: nonEmptyListOf (elemType.substSubModules m);
    };

  attrListOf = elemType: attrListWith { inherit elemType; };

  # An ordered list of single-key attribute sets ([ { a = 1; } { b = 2; } ]), or an
  # attribute set (its names in order). Definitions are concatenated, ordered by
  # mkOrder (on an element or its value), and per key the highest mkOverride priority
  # wins; each value is merged alone by elemType at loc ++ [ key ]. With asAttrs the
  # value is an attribute set (mergeAttrValues name values combines repeated keys).
  attrListWith = { elemType, asAttrs ? false, mergeAttrValues ? _name: values: values }:
    mkOptionType rec {
      name = "attrListOf";
      description = "attribute list of ${optionDescriptionPhrase (class: class == "noun" || class == "composite") elemType}";
      descriptionClass = "composite";
      check = v2Check (x: isList x || isAttrs x);
      merge = v2Merge ({ loc, defs }:
        let
          # mkOrder (consumed here) and mkOverride (kept for mergeDefinitions) in any nesting
          peel = value:
            let t = value._type or null; in
            if t == "order" then let inner = peel value.content; in { inherit (inner) value overridePrio; prio = value.priority; }
            else if t == "override" then
              let inner = peel value.content; in
              { inherit (inner) prio; overridePrio = value.priority; value = mkOverride value.priority inner.value; }
            else { inherit value; prio = defaultOrderPriority; overridePrio = defaultOverridePriority; };
          notOfType = file: raw: why:
            throw "A definition for option `${showOption loc}' is not of type `${description}'. ${why}.${showDefs [ { inherit file; value = raw; } ]}";
          fromElement = file: raw:
            let
              ordered = isType "order" raw;
              item = if ordered then raw.content else raw;
            in
            if !isAttrs item then notOfType file raw "Each list element must be an attribute set, but got ${builtins.typeOf item}"
            else if length (attrNames item) != 1 then
              notOfType file raw "Each list element must be a single-key attribute set, but got ${toString (length (attrNames item))} keys"
            else
              let key = head (attrNames item); peeled = peel item.${key}; in
              peeled // { inherit file key; prio = if ordered then raw.priority else peeled.prio; };
          itemsOf = def:
            if isList def.value then map (fromElement def.file) def.value
            else map (key: peel def.value.${key} // { inherit (def) file; inherit key; }) (attrNames def.value);
          allItems = concatMap itemsOf defs;
          winning = foldl' (acc: item:
            if item.overridePrio < acc.${item.key} or defaultOverridePriority then acc // { ${item.key} = item.overridePrio; } else acc)
            { } allItems;
          items = sort (a: b: a.prio < b.prio)
            (filter (item: item.overridePrio == winning.${item.key} or defaultOverridePriority) allItems);
          evals = filter (e: e.eval.optionalValue ? value) (map (item: {
            inherit (item) key file prio;
            eval = mergeDefinitions (loc ++ [ item.key ]) elemType [ { inherit (item) file value; } ];
          }) items);
          valueOf = e: e.eval.optionalValue.value or e.eval.mergedValue;
          attrListValue = map (e: { ${e.key} = valueOf e; }) evals;
        in
        {
          headError = checkDefsForError check loc defs;
          value = if asAttrs then lib.zipAttrsWith mergeAttrValues attrListValue else attrListValue;
          valueMeta.attrList = map (e: e.eval.checkedAndMerged.valueMeta) evals;
          # the ordered list, also when asAttrs is set
          valueMeta.attrListValue = attrListValue;
          # the merged elements as definitions (their file, their order), to forward
          valueMeta.definitions = map (e: mkDefinition { inherit (e) file; value = mkOrder e.prio { ${e.key} = valueOf e; }; }) evals;
        });
      emptyValue = { value = if asAttrs then { } else [ ]; };
      getSubOptions = prefix: elemType.getSubOptions (prefix ++ [ "*" ]);
      getSubModules = elemType.getSubModules;
      substSubModules = m: attrListWith { inherit asAttrs mergeAttrValues; elemType = elemType.substSubModules m; };
      typeMerge = t: null; # declared twice: an error
      nestedTypes.elemType = elemType;
    };

  attrsOf = elemType: attrsWith { inherit elemType; };
  # Lazy in its values: `foo.a = mkIf false 1` still makes `foo ? a` true.
  lazyAttrsOf = elemType: attrsWith { inherit elemType; lazy = true; };

  # attrsOf and lazyAttrsOf; `placeholder` names the attribute in option paths
  # (`<name>` by default) and merges with another unless both set different ones.
  attrsWith =
    let
      binOp = lhs: rhs:
        let
          elemType = lhs.elemType.typeMerge rhs.elemType.functor;
          lazy = if lhs.lazy == rhs.lazy then lhs.lazy else null;
          placeholder =
            if lhs.placeholder == rhs.placeholder then lhs.placeholder
            else if lhs.placeholder == "name" then rhs.placeholder
            else if rhs.placeholder == "name" then lhs.placeholder
            else null;
        in
        if elemType == null || lazy == null || placeholder == null then null else { inherit elemType lazy placeholder; };
    in
    { elemType, lazy ? false, placeholder ? "name" }:
    mkOptionType rec {
      name = if lazy then "lazyAttrsOf" else "attrsOf";
      description = (if lazy then "lazy attribute set" else "attribute set")
        + " of ${optionDescriptionPhrase (class: class == "noun" || class == "composite") elemType}";
      descriptionClass = "composite";
      check = v2Check isAttrs;
      merge = v2Merge ({ loc, defs }:
        let
          byName = lib.zipAttrsWith (name: defs: mergeDefinitions (loc ++ [ name ]) elemType defs)
            (map (def: mapAttrs (n: v: { inherit (def) file; value = v; }) def.value) defs);
          # attrsOf drops names whose definitions are all mkIf false (less lazy)
          evals = if lazy then byName else lib.filterAttrs (n: v: v.optionalValue ? value) byName;
        in
        {
          headError = checkDefsForError check loc defs;
          value = mapAttrs (n: v:
            if lazy then v.optionalValue.value or elemType.emptyValue.value or v.mergedValue
            else v.optionalValue.value) evals;
          valueMeta.attrs = mapAttrs (n: v: v.checkedAndMerged.valueMeta) evals;
        });
      emptyValue = { value = { }; };
      getSubOptions = prefix: elemType.getSubOptions (prefix ++ [ "<${placeholder}>" ]);
      getSubModules = elemType.getSubModules;
      substSubModules = m: attrsWith { elemType = elemType.substSubModules m; inherit lazy placeholder; };
      functor = elemTypeFunctor "attrsWith" { inherit elemType lazy placeholder; } // { inherit binOp; };
      nestedTypes.elemType = elemType;
    };

  loaOf = elemType: attrsOf elemType // {
    name = "loaOf";
    deprecationMessage = "Mixing lists with attribute values is no longer possible; please use `types.attrsOf` instead. See https://github.com/NixOS/nixpkgs/issues/1800 for the motivation.";
    nestedTypes.elemType = elemType;
  };

  # { <tag> = value; }, exactly one of the tags, each tag an option (mkOption) whose
  # type merges the value at loc ++ [ tag ].
  attrTag = tags_:
    let
      tags = mapAttrs (n: opt:
        builtins.addErrorContext "while checking that attrTag tag ${escapeId n} is an option with a type${inAttrPosSuffix tags_ n}" (
          lib.throwIf (opt._type or null != "option")
            "In attrTag, each tag value must be an option, but tag ${escapeId n} ${
              if opt ? _type then
                (if opt._type == "option-type" then "was a bare type, not wrapped in mkOption." else "was of type ${lib.strings.escapeNixString opt._type}.")
              else "was not."}"
            opt // (let pos = builtins.unsafeGetAttrPos n tags_; in {
              declarations = opt.declarations or (if pos == null then [ ] else [ pos.file ]);
              declarationPositions = opt.declarationPositions or (if pos == null then [ ] else [ pos ]);
            }))) tags_;
      choicesStr = lib.concatMapStringsSep ", " escapeId (attrNames tags);
    in
    mkOptionType {
      name = "attrTag";
      description = "attribute-tagged union with choices: ${choicesStr}";
      descriptionClass = "noun";
      getSubOptions = prefix: mapAttrs (tagName: tagOption: tagOption // { loc = prefix ++ [ tagName ]; }) tags;
      check = v: isAttrs v && length (attrNames v) == 1 && tags ? ${head (attrNames v)};
      merge = loc: defs:
        let
          choice = head (attrNames (head defs).value);
          checkedValueDefs = map (def:
            assert length (attrNames def.value) == 1;
            if head (attrNames def.value) != choice then
              throw "The option `${showOption loc}` is defined both as `${choice}` and `${head (attrNames def.value)}`, in ${showFiles (getFiles defs)}."
            else { inherit (def) file; value = def.value.${choice}; }) defs;
        in
        if tags ? ${choice} then { ${choice} = (lib.modules.evalOptionValue (loc ++ [ choice ]) tags.${choice} checkedValueDefs).value; }
        else throw "The option `${showOption loc}` is defined as ${escapeId choice}, but ${escapeId choice} is not among the valid choices (${choicesStr}). Value ${choice} was defined in ${showFiles (getFiles defs)}.";
      nestedTypes = tags;
      functor = defaultFunctor "attrTag" // {
        type = { tags, ... }: attrTag tags;
        payload = { inherit tags; };
        # a tag declared in both: its two options merge as two option declarations
        binOp = a: b:
          let wrap = option: { options = option; _file = "<attrTag {...}>"; pos = null; }; in
          {
            tags = a.tags // b.tags // mapAttrs (tagName: bOpt:
              lib.modules.mergeOptionDecls [ tagName ] [ (wrap a.tags.${tagName}) (wrap bOpt) ] // {
                declarations = a.tags.${tagName}.declarations ++ bOpt.declarations;
                declarationPositions = a.tags.${tagName}.declarationPositions ++ bOpt.declarationPositions;
              }) (builtins.intersectAttrs a.tags b.tags);
          };
      };
    };

  uniq = unique { message = ""; };
  # The type, but defined once only (`message` says why).
  unique = { message }: type: mkOptionType rec {
    name = "unique";
    inherit (type) description descriptionClass check;
    merge = mergeUniqueOption { inherit message; inherit (type) merge; };
    emptyValue = type.emptyValue;
    getSubOptions = type.getSubOptions;
    getSubModules = type.getSubModules;
    substSubModules = m: uniq (type.substSubModules m);
    functor = elemTypeFunctor name { elemType = type; } // { type = payload: unique { inherit message; } payload.elemType; };
    nestedTypes.elemType = type;
  };

  nullOr = elemType: mkOptionType rec {
    name = "nullOr";
    description = "null or ${optionDescriptionPhrase (class: class == "noun" || class == "conjunction") elemType}";
    descriptionClass = "conjunction";
    check = x: x == null || elemType.check x;
    merge = loc: defs:
      let nulls = filter (def: def.value == null) defs; in
      if nulls == [ ] then elemType.merge loc defs
      else if length nulls == length defs then null
      else throw "The option `${showOption loc}` is defined both null and not null, in ${showFiles (getFiles defs)}.";
    emptyValue = { value = null; };
    getSubOptions = elemType.getSubOptions;
    getSubModules = elemType.getSubModules;
    substSubModules = m: nullOr (elemType.substSubModules m);
    functor = elemTypeFunctor name { inherit elemType; } // { type = payload: nullOr payload.elemType; };
    nestedTypes.elemType = elemType;
  };

  # Definitions merged by merging their results; the merged function has the
  # arguments of the definitions (with a default where all of them have one).
  functionTo = elemType: mkOptionType {
    name = "functionTo";
    description = "function that evaluates to a(n) ${optionDescriptionPhrase (class: class == "noun" || class == "composite") elemType}";
    descriptionClass = "composite";
    check = isFunction;
    merge = loc: defs: {
      __functionArgs = lib.zipAttrsWith (_: all (x: x)) (map (fn: lib.functionArgs fn.value) defs);
      __functor = _: callerArgs:
        (mergeDefinitions (loc ++ [ "<function body>" ]) elemType
          (map (fn: { inherit (fn) file; value = fn.value callerArgs; }) defs)).mergedValue;
    };
    getSubOptions = prefix: elemType.getSubOptions (prefix ++ [ "<function body>" ]);
    getSubModules = elemType.getSubModules;
    substSubModules = m: functionTo (elemType.substSubModules m);
    functor = elemTypeFunctor "functionTo" { inherit elemType; } // { type = payload: functionTo payload.elemType; };
    nestedTypes.elemType = elemType;
  };

  enum = values:
    let
      show = v:
        if isString v then ''"${v}"'' else if isInt v then toString v
        else if isBool v then lib.boolToString v else "<${builtins.typeOf v}>";
    in
    mkOptionType rec {
      name = "enum";
      # empty and one-value enums exist to be extended by other declarations
      description =
        if values == [ ] then "impossible (empty enum)"
        else if length values == 1 then "value ${show (head values)} (singular enum)"
        else "one of ${lib.concatMapStringsSep ", " show values}";
      descriptionClass = if length values < 2 then "noun" else "conjunction";
      check = x: elem x values;
      merge = mergeEqualOption;
      functor = defaultFunctor name // {
        payload = { inherit values; };
        type = payload: enum payload.values;
        binOp = a: b: { values = lib.unique (a.values ++ b.values); };
      };
    };

  # Values a serialization format can hold (null when nullable, booleans, numbers,
  # strings, paths, and attribute sets and lists of them), described as "<typeName> value".
  serializableValueWith = { typeName, nullable ? true }:
    let
      baseType = oneOf [ types.bool types.int types.float types.str types.path (attrsOf valueType) (listOf valueType) ];
      valueType = (if nullable then nullOr baseType else baseType) // { description = "${typeName} value"; };
    in
    valueType;
  json = serializableValueWith { typeName = "JSON"; };
  toml = serializableValueWith { typeName = "TOML"; nullable = false; };

  # The first type whose check all definitions pass merges them.
  either = t1: t2: mkOptionType rec {
    name = "either";
    description =
      if t1.descriptionClass or null == "nonRestrictiveClause" then
        "${t1.description}, or ${optionDescriptionPhrase (class: class == "noun" || class == "conjunction") t2}"
      else
        "${optionDescriptionPhrase (class: class == "noun" || class == "conjunction") t1} or ${
          optionDescriptionPhrase (class: class == "noun" || class == "conjunction" || class == "composite") t2}";
    descriptionClass = "conjunction";
    check = v2Check (x: t1.check x || t2.check x);
    merge = v2Merge ({ loc, defs }:
      let
        r1 = mergeV2 loc t1 defs;
        r2 = mergeV2 loc t2 defs;
      in
      if r1.headError == null then r1
      else if r2.headError == null then r2
      else rec {
        valueMeta = { inherit headError; };
        headError.message = "The option `${showOption loc}` is neither a value of type `${t1.description}` nor `${t2.description}`, Definition values: ${showDefs defs}";
        # nixpkgs still accepts this (one definition) with a warning, until 26.05
        value = lib.warn ''
          One or more definitions did not pass the type-check of the 'either' type.
          ${headError.message}
          If `either`, `oneOf` or similar is used in freeformType, ensure that it is preceded by an 'attrsOf' such as: `freeformType = types.attrsOf (types.either t1 t2)`.
          Otherwise consider using the correct type for the option `${showOption loc}`.  This will be an error in Nixpkgs 26.05.
        '' (mergeOneOption loc defs);
      });
    typeMerge = f':
      let
        mt1 = t1.typeMerge (head f'.payload.elemType).functor;
        mt2 = t2.typeMerge (elemAt f'.payload.elemType 1).functor;
      in
      if name == f'.name && mt1 != null && mt2 != null then functor.type mt1 mt2 else null;
    functor = elemTypeFunctor name { elemType = [ t1 t2 ]; };
    nestedTypes.left = t1;
    nestedTypes.right = t2;
  };

  oneOf = ts:
    let head' = if ts == [ ] then throw "types.oneOf needs to get at least one type in its argument" else head ts; in
    foldl' either head' (tail ts);

  # A value of coercedType is converted by coerceFunc into a value of finalType.
  coercedTo = coercedType: coerceFunc: finalType:
    assert lib.assertMsg (coercedType.getSubModules == null)
      "coercedTo: coercedType must not have submodules (it’s a ${coercedType.description})";
    mkOptionType rec {
      name = "coercedTo";
      description = "${optionDescriptionPhrase (class: class == "noun") finalType} or ${
        optionDescriptionPhrase (class: class == "noun") coercedType} convertible to it";
      check = v2Check (x: (coercedType.check x && finalType.check (coerceFunc x)) || finalType.check x);
      merge = v2Merge ({ loc, defs }:
        let
          coerced = def:
            if coercedType.merge ? v2 then
              (if (mergeV2 loc coercedType [ def ]).headError == null then coerceFunc def.value else def.value)
            else if coercedType.check def.value then coerceFunc def.value
            else def.value;
          finalDefs = map (def: def // { value = coerced def; }) defs;
        in
        if finalType.merge ? v2 then mergeV2 loc finalType finalDefs
        else { value = finalType.merge loc finalDefs; valueMeta = { }; headError = checkDefsForError check loc defs; });
      emptyValue = finalType.emptyValue;
      getSubOptions = finalType.getSubOptions;
      getSubModules = finalType.getSubModules;
      substSubModules = m: coercedTo coercedType coerceFunc (finalType.substSubModules m);
      typeMerge = t: null;
      functor = defaultFunctor name;
      nestedTypes.coercedType = coercedType;
      nestedTypes.finalType = finalType;
    };

  # The type with one more check (a v2 type keeps its v2 merge and reports the
  # failed check as its headError).
  addCheck = elemType: check:
    if elemType.merge ? v2 then
      elemType // {
        check = v2Check (x: elemType.check x && check x);
        merge = v2Merge ({ loc, defs }@args:
          let orig = lib.modules.checkV2MergeCoherence loc elemType (elemType.merge.v2 args); in
          orig // { headError = if orig.headError != null then orig.headError else checkDefsForError check loc defs; });
      }
    else elemType // { check = x: elemType.check x && check x; };

  inherit (import ./types-modules.nix { inherit lib types helpers; })
    submodule submoduleWith deferredModule deferredModuleWith;
}
