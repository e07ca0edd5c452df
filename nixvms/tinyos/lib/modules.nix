# The module system: mirrors nixpkgs lib/modules.nix (evalModules, mkIf/mkMerge/mkOverride/
# mkOrder, pushDownProperties, dischargeProperties, mergeDefinitions, evalOptionValue).
# Written from the documented NixOS semantics; the data flow is the same:
#   collect modules (imports closure, `key` dedup)  ->  walk the option-declaration tree
#   and the definition tree together  ->  per option: discharge mkIf/mkMerge, keep the
#   highest priority, sort by mkOrder, type-check, type.merge.
{ lib, unknownOptionHint ? "" }:
let
  inherit (builtins) head tail length filter all any attrNames concatLists concatMap map
    mapAttrs isAttrs isList isString isPath isBool foldl' genericClosure zipAttrsWith elem
    removeAttrs sort functionArgs addErrorContext seq;
  inherit (lib.options) showOption showDefs showFiles mkOption isOption;
  inherit (lib) types;

  # NixOS's defaultOverridePriority (a plain definition).
  defaultOverridePriority = 100;
  defaultOrderPriority = 1000;
in
rec {
  inherit defaultOverridePriority;
  defaultPriority = defaultOverridePriority;

  # ---- properties (lib.mkIf, lib.mkMerge, lib.mkOverride, lib.mkOrder and friends) ----
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkAssert = assertion: message: content:
    mkIf (if assertion then true else throw "\nFailed assertion: ${message}") content;
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkOptionDefault = mkOverride 1500; # priority of option defaults
  mkDefault = mkOverride 1000; # used in config sections of non-user modules
  mkImageMediaOverride = mkOverride 60;
  mkForce = mkOverride 50;
  mkVMOverride = mkOverride 10; # used by ‘nixos-rebuild build-vm’
  mkFixStrictness = lib.id;
  mkOrder = priority: content: { _type = "order"; inherit priority content; };
  mkBefore = mkOrder 500;
  mkAfter = mkOrder 1500;

  # lib.mkAliasDefinitions: forward the definitions of one option to another.
  mkAliasDefinitions = mkAliasAndWrapDefinitions lib.id;
  mkAliasAndWrapDefinitions = wrap: option:
    mkAliasIfDef option (wrap (mkMerge option.definitions));
  mkAliasIfDef = option: mkIf (isOption option && option.isDefined);
  mkAliasAndWrapDefsWithPriority = wrap: option:
    let
      prio = option.highestPrio or defaultOverridePriority;
      defsWithPrio = map (mkOverride prio) option.definitions;
    in
    mkAliasIfDef option (wrap (mkMerge defsWithPrio));

  # lib.mkRemovedOptionModule / mkRenamedOptionModule / mkAliasOptionModule / doRename.
  # Warnings go to config.warnings only if a `warnings` option is declared.
  mkRemovedOptionModule = optionName: replacementInstructions: { options, ... }: {
    options = lib.setAttrByPath optionName (mkOption {
      visible = false;
      apply = x: throw "The option `${showOption optionName}' can no longer be used since it's been removed. ${replacementInstructions}";
    });
    config = lib.optionalAttrs (options ? assertions) {
      assertions =
        let opt = lib.getAttrFromPath optionName options; in
        [{
          assertion = !opt.isDefined;
          message = ''
            The option definition `${showOption optionName}' in ${showFiles opt.files} no longer has any effect; please remove it.
            ${replacementInstructions}
          '';
        }];
    };
  };
  mkRenamedOptionModule = from: to: doRename {
    inherit from to;
    visible = false;
    warn = true;
    use = builtins.trace "Obsolete option `${showOption from}' is used. It was renamed to `${showOption to}'.";
  };
  mkAliasOptionModule = from: to: doRename {
    inherit from to;
    visible = true;
    warn = false;
    use = lib.id;
  };
  doRename = { from, to, visible, warn, use, withPriority ? true }:
    { config, options, ... }:
    let
      fromOpt = lib.getAttrFromPath from options;
      toOf = lib.attrByPath to (abort "Renaming error: option `${showOption to}' does not exist.");
      toType = let opt = lib.attrByPath to { } options; in opt.type or (types.submodule { });
    in
    {
      options = lib.setAttrByPath from (mkOption {
        inherit visible;
        description = "Alias of `${showOption to}'.";
        apply = x: use (toOf config);
        type = toType;
      });
      config = mkMerge [
        (lib.optionalAttrs (options ? warnings) {
          warnings = lib.optional (warn && fromOpt.isDefined)
            "The option `${showOption from}' defined in ${showFiles fromOpt.files} has been renamed to `${showOption to}'.";
        })
        (if withPriority
          then mkAliasAndWrapDefsWithPriority (lib.setAttrByPath to) fromOpt
          else mkAliasAndWrapDefinitions (lib.setAttrByPath to) fromOpt)
      ];
    };

  # lib.pushDownProperties: turn mkIf/mkMerge/mkOverride around an attribute set into
  # a list of attribute sets whose *values* carry the properties, so the set of attribute
  # names of a definition never depends on a condition (config stays lazy).
  pushDownProperties = cfg:
    let t = cfg._type or ""; in
    if t == "merge" then concatMap pushDownProperties cfg.contents
    else if t == "if" then
      map (mapAttrs (n: v: mkIf cfg.condition v)) (pushDownProperties cfg.content)
    else if t == "override" then
      map (mapAttrs (n: v: mkOverride cfg.priority v)) (pushDownProperties cfg.content)
    else [ cfg ];

  # lib.dischargeProperties: a definition value -> list of values, evaluating mkIf
  # conditions and flattening mkMerge. (mkOverride/mkOrder are handled in mergeDefinitions.)
  dischargeProperties = def:
    let t = def._type or ""; in
    if t == "merge" then concatMap dischargeProperties def.contents
    else if t == "if" then
      if isBool def.condition then
        (if def.condition then dischargeProperties def.content else [ ])
      else throw "mkIf called with a non-Boolean condition"
    else [ def ];

  # Like dischargeProperties, but also peels mkOverride/mkOrder (at any depth between
  # mkIf/mkMerge), returning [ { prio; order; value; } ]. The outermost override wins.
  dischargeWithPriorities = prio: order: v:
    let t = v._type or ""; in
    if t == "merge" then concatMap (dischargeWithPriorities prio order) v.contents
    else if t == "if" then
      if isBool v.condition then
        (if v.condition then dischargeWithPriorities prio order v.content else [ ])
      else throw "mkIf called with a non-Boolean condition"
    else if t == "override" then
      dischargeWithPriorities (if prio == null then v.priority else prio) order v.content
    else if t == "order" then
      dischargeWithPriorities prio (if order == null then v.priority else order) v.content
    else [{
      prio = if prio == null then defaultOverridePriority else prio;
      order = if order == null then defaultOrderPriority else order;
      value = v;
    }];

  # lib.filterOverrides': keep only the definitions with the highest priority (lowest number).
  filterOverrides' = defs:
    let
      getPrio = def: if def.value._type or "" == "override" then def.value.priority else defaultOverridePriority;
      highestPrio = foldl' (prio: def: lib.min (getPrio def) prio) 9999 defs;
      strip = def: if def.value._type or "" == "override" then def // { value = def.value.content; } else def;
    in
    { inherit highestPrio; values = concatMap (def: if getPrio def == highestPrio then [ (strip def) ] else [ ]) defs; };
  filterOverrides = defs: (filterOverrides' defs).values;

  # lib.sortProperties: stable sort by mkOrder priority.
  sortProperties = defs:
    let
      getOrder = def: if def.value._type or "" == "order" then def.value.priority else defaultOrderPriority;
    in
    map (d: d // { value = peelOrder d.value; }) (sort (a: b: getOrder a < getOrder b) defs);
  peelOrder = v: if v._type or "" == "order" then peelOrder v.content else v;

  # lib.mergeDefinitions: definitions [ { file; value; } ] of one option -> merged value.
  mergeDefinitions = loc: type: defs:
    let
      discharged = concatMap (def:
        map (p: { inherit (def) file; inherit (p) prio order value; })
          (addErrorContext "while evaluating definitions from `${def.file}':"
            (dischargeWithPriorities null null def.value))) defs;
      highestPrio = foldl' (p: d: if d.prio < p then d.prio else p) 9999 discharged;
      filtered = filter (d: d.prio == highestPrio) discharged;
      sorted =
        if all (d: d.order == defaultOrderPriority) filtered then filtered
        else sort (a: b: a.order < b.order) filtered;
      defsFinal = map (d: { inherit (d) file value; }) sorted;
      isDefined = defsFinal != [ ];
      mergedValue =
        if isDefined then
          if all (def: type.check def.value) defsFinal then type.merge loc defsFinal
          else
            let allInvalid = filter (def: !type.check def.value) defsFinal; in
            throw "A definition for option `${showOption loc}' is not of type `${type.description}'. Definition values:${showDefs allInvalid}"
        else
          throw "The option `${showOption loc}' was accessed but has no value defined. Try setting the option.";
    in
    {
      defsFinal' = { inherit highestPrio; values = defsFinal; };
      inherit defsFinal isDefined mergedValue;
      optionalValue = if isDefined then { value = mergedValue; } else { };
    };

  # lib.evalOptionValue: merged declaration + definitions -> the option attrset
  # (value, isDefined, definitions, files, highestPrio, ...).
  evalOptionValue = loc: opt: defs:
    let
      type = opt.type or types.unspecified;
      defs' = (lib.optional (opt ? default) {
        file = head opt.declarations;
        value = mkOptionDefault opt.default;
      }) ++ defs;
      res =
        if opt.readOnly or false && length defs' > 1 then
          let separateDefs = map (def: def // { value = (mergeDefinitions loc type [ def ]).mergedValue; }) defs'; in
          throw "The option `${showOption loc}' is read-only, but it's set multiple times. Definition values:${showDefs separateDefs}"
        else mergeDefinitions loc type defs';
      value = if opt ? apply then opt.apply res.mergedValue else res.mergedValue;
    in
    opt // {
      value = addErrorContext "while evaluating the option `${showOption loc}':" value;
      inherit (res.defsFinal') highestPrio;
      definitions = map (def: def.value) res.defsFinal;
      files = map (def: def.file) res.defsFinal;
      definitionsWithLocations = res.defsFinal;
      inherit (res) isDefined;
      inherit type loc;
      __toString = _: showOption loc;
    };

  # lib.mergeOptionDecls: several declarations of one option (e.g. a submodule option
  # extended by another module). Types merge through type.typeMerge.
  mergeOptionDecls = loc: decls:
    foldl' (res: d:
      let
        opt0 = d.options;
        # setDefaultModuleLocation on the type's submodules, so errors name the declaring file
        opt =
          if opt0 ? type && opt0.type.getSubModules or null != null then
            opt0 // { type = opt0.type.substSubModules (map (setDefaultModuleLocation d.file) opt0.type.getSubModules); }
          else opt0;
        bothHave = k: opt ? ${k} && res ? ${k};
        mergedType = if bothHave "type" then res.type.typeMerge opt.type else null;
      in
      if bothHave "default" || bothHave "example" || bothHave "description" || bothHave "apply"
        || (bothHave "type" && mergedType == null)
      then throw "The option `${showOption loc}' in `${d.file}' is already declared in ${showFiles res.declarations}."
      else opt // res // {
        declarations = res.declarations ++ [ d.file ];
        # lib.modules: where each declaration is ({ file; line; column; }, or the file alone)
        declarationPositions = res.declarationPositions ++ [
          (if d.pos or null != null then d.pos else { inherit (d) file; line = null; column = null; }) ];
      }
        // (if mergedType != null then { type = mergedType; } else { })
    ) { inherit loc; declarations = [ ]; declarationPositions = [ ]; } decls;

  setDefaultModuleLocation = file: m: { _file = file; imports = [ m ]; };

  # ---- loading modules (lib.modules: loadModule, unifyModuleSyntax, applyModuleArgs) ----

  unifyModuleSyntax = file: key: m:
    let
      addFreeformType = config:
        if m ? freeformType then mkMerge [ config { _module.freeformType = m.freeformType; } ] else config;
      addMeta = config: if m ? meta then mkMerge [ config { meta = m.meta; } ] else config;
    in
    if m ? config || m ? options then
      let badAttrs = removeAttrs m [ "_class" "_file" "key" "disabledModules" "imports" "options" "config" "meta" "freeformType" ]; in
      if badAttrs != { } then
        throw "Module `${key}' has an unsupported attribute `${head (attrNames badAttrs)}'. This is caused by introducing a top-level `config' or `options' attribute. Add configuration attributes immediately on the top level instead, or move all of them (namely: ${toString (attrNames badAttrs)}) into the explicit `config' attribute."
      else {
        _file = toString m._file or file;
        key = toString m.key or key;
        disabledModules = m.disabledModules or [ ];
        imports = m.imports or [ ];
        options = m.options or { };
        config = addFreeformType (addMeta (m.config or { }));
      }
    else {
      _file = toString m._file or file;
      key = toString m.key or key;
      disabledModules = m.disabledModules or [ ];
      imports = m.require or [ ] ++ m.imports or [ ];
      options = { };
      config = addFreeformType (removeAttrs m [ "_class" "_file" "key" "disabledModules" "require" "imports" "freeformType" ]);
    };

  # lib.modules.applyModuleArgs: call a function module with exactly the arguments it names,
  # each taken lazily from specialArgs/the fixed arguments, else from config._module.args.
  applyModuleArgs = key: f: args@{ config, ... }:
    let
      extraArgs = mapAttrs (name: _:
        addErrorContext "while evaluating the module argument `${name}' in \"${key}\":"
          (args.${name} or config._module.args.${name})) (lib.functionArgs f);
    in
    f (args // extraArgs);
  applyModuleArgsIfFunction = key: f: args:
    if lib.isFunction f then applyModuleArgs key f args else f;

  # `_class` of a module (or of what a function module returns) must match the
  # evaluation's class, when both are given.
  checkClass = class: fallbackFile: fallbackKey: m:
    if class != null && isAttrs m && m ? _class && m._class != null && m._class != class then
      throw "The module ${toString (m._file or m.key or (if fallbackKey != "" then fallbackKey else fallbackFile))} was imported into ${class} instead of ${m._class}."
    else m;

  loadModule = loadModuleOfClass null;
  loadModuleOfClass = class: args: fallbackFile: fallbackKey: m0:
    let m = checkClass class fallbackFile fallbackKey m0; in
    if lib.isFunction m then
      unifyModuleSyntax fallbackFile fallbackKey
        (checkClass class fallbackFile fallbackKey (applyModuleArgs fallbackKey m args))
    else if isAttrs m then
      let t = m._type or "module"; in
      if t == "module" then unifyModuleSyntax fallbackFile fallbackKey m
      else if t == "if" || t == "override" || t == "merge" then
        loadModuleOfClass class args fallbackFile fallbackKey { config = m; }
      else throw ("Could not load a value as a module, because it is of type ${builtins.toJSON t}, in file ${fallbackFile}."
        + lib.optionalString (t == "configuration")
          " A configuration is not a module: please only import the modules that make up the configuration (pass them to evalModules again, or use extendModules).")
    else if isList m then
      throw "Module imports can't be nested lists. Perhaps you meant to remove one level of lists? Definitions: ${showDefs [ { file = fallbackFile; value = m; } ]}"
    else
      let file = toString m; in
      unifyModuleSyntax file file
        (checkClass class file file (applyModuleArgsIfFunction file (import m) args));

  # lib.modules.collectModules: the imports closure, deduplicated by `key`
  # (the first occurrence in breadth-first order wins), minus disabledModules.
  collectModules = collectModulesOfClass null;
  collectModulesOfClass = class: modulesPath: initialModules: args:
    let
      structured = parentFile: parentKey: ms: lib.imap1 (n: x:
        let module = loadModuleOfClass class args parentFile "${parentKey}:anon-${toString n}" x; in
        { inherit (module) key; inherit module;
          modules = structured module._file module.key module.imports; }) ms;
      start = structured "<unknown-file>" "" initialModules;
      all' = genericClosure { startSet = start; operator = x: x.modules; };
      toKey = file: m:
        if isString m && builtins.substring 0 1 m != "/" then toString modulesPath + "/" + m
        else if isAttrs m then
          if m ? key then toString m.key
          else throw ("Module `${file}' contains a disabledModules item that is an attribute set,"
            + " presumably a module, that does not have a `key' attribute. Without a key the module"
            + " system cannot tell which module to disable: give a path, a string relative to"
            + " modulesPath, or an attribute set with a `key'.")
        else toString m;
      disabledKeys = concatMap (x: map (toKey x.module._file) x.module.disabledModules) all';
      keep = x: !(elem x.key disabledKeys);
      filtered = if disabledKeys == [ ] then all' else genericClosure {
        startSet = filter keep start;
        operator = x: filter keep x.modules;
      };
    in
    map (x: x.module) filtered;

  # ---- merging the declaration tree with the definition tree (lib.mergeModules') ----

  # decls: [ { file; options; } ] and defs: [ { file; value; } ] at one level of the
  # option tree (defs' values already pushed down). Returns { options; config; unmatched; }.
  mergeLevel = loc: decls: defs:
    let
      declsByName = zipAttrsWith (n: v: v)
        (map (d: mapAttrs (n: o: { inherit (d) file; options = o; pos = builtins.unsafeGetAttrPos n d.options; }) d.options) decls);
      defsByName = zipAttrsWith (n: v: v)
        (map (d: mapAttrs (n: v: { inherit (d) file; value = v; }) d.value) defs);
      results = mapAttrs (name: ds:
        let
          loc' = loc ++ [ name ];
          subDefs = defsByName.${name} or [ ];
          nOpts = lib.count (d: isOption d.options) ds;
        in
        if nOpts == 0 then
          mergeLevel loc' ds (concatMap (d: map (v:
            if isAttrs v then { inherit (d) file; value = v; }
            else throw "The option `${showOption loc'}' is a set of options, but a definition is not an attribute set. Definition values:${showDefs [ { inherit (d) file; value = v; } ]}")
            (pushDownProperties d.value)) subDefs)
        else
          let
            # An option tree declared next to an option: it extends the option's
            # submodule (as NixOS does).
            optDecl = lib.findFirst (d: isOption d.options) null ds;
            optType = optDecl.options.type or null;
            nested = filter (d: !(isOption d.options)) ds;
            # options nested under an option whose type cannot hold them
            cannotNest = nOpts != length ds && (optType == null || optType.getSubModules or null == null);
            nestError = throw ("The option `${showOption loc'}' in module `${optDecl.file}' would be a parent of the following options,"
              + " but its type `${if optType == null then "<no description>" else optType.description}' does not support nested options.\n"
              + lib.concatMapStrings (d: "  - option(s) with prefix `${showOption (loc' ++ [ (head (attrNames d.options)) ])}' in module `${d.file}'\n") nested);
            ds' = if nOpts == length ds then ds else if cannotNest then nestError else map (d:
              if isOption d.options then d
              else { inherit (d) file pos; options = mkOption { type = types.submoduleWith { modules = [ { options = d.options; } ]; }; }; }) ds;
            opt = evalOptionValue loc' (mergeOptionDecls loc' ds') subDefs;
          in
          { options = opt; config = opt.value; unmatched = [ ]; }
      ) declsByName;
      unmatchedHere = concatMap (name:
        if declsByName ? ${name} then [ ]
        else map (d: { inherit (d) file value; prefix = [ name ]; }) defsByName.${name})
        (attrNames defsByName);
    in
    {
      options = mapAttrs (n: r: r.options) results;
      config = mapAttrs (n: r: r.config) results;
      unmatched = unmatchedHere ++ concatLists (lib.mapAttrsToList (n: r:
        map (u: u // { prefix = [ n ] ++ u.prefix; }) r.unmatched) results);
    };

  # ---- "Did you mean": declared names close to a name that does not exist ----

  # Levenshtein distance of two short strings (option names)
  editDistance = a: b:
    let
      la = builtins.stringLength a;
      lb = builtins.stringLength b;
      charA = i: builtins.substring i 1 a;
      charB = j: builtins.substring j 1 b;
      # one row of the table from the previous one
      nextRow = prev: i: builtins.foldl' (row: j:
        row ++ [ (lib.min (lib.min (builtins.elemAt prev (j + 1) + 1) (lib.last row + 1))
                   (builtins.elemAt prev j + (if charA i == charB j then 0 else 1))) ])
        [ (i + 1) ] (lib.range 0 (lb - 1));
      last = builtins.foldl' nextRow (lib.range 0 lb) (lib.range 0 (la - 1));
    in
    if la == 0 then lb else if lb == 0 then la else lib.last last;

  # For a definition path whose first unknown name is `n`, the declared paths
  # at that place whose names are within a small distance of `n`.
  suggestions = prefix: options: path:
    let
      go = node: done: rest:
        if rest == [ ] || isOption node || !isAttrs node then [ ]
        else
          let n = head rest; in
          if node ? ${n} then go node.${n} (done ++ [ n ]) (tail rest)
          else
            let
              names = filter (c: builtins.substring 0 1 c != "_") (attrNames node);
              limit = if builtins.stringLength n <= 3 then 1 else 2;
              scored = map (c: { inherit c; d = editDistance (lib.toLower n) (lib.toLower c); }) names;
              near = sort (x: y: x.d < y.d || (x.d == y.d && x.c < y.c)) (filter (x: x.d <= limit) scored);
            in
            map (x: prefix ++ done ++ [ x.c ]) (lib.take 3 near);
    in
    go options [ ] path;

  # ---- lib.evalModules ----
  evalModules = evalModulesArgs@{ modules, prefix ? [ ], specialArgs ? { }, args ? { }, check ? true, class ? null }:
    let
      internalModule = {
        _file = "lib/modules.nix";
        key = "lib/modules.nix";
        options = {
          _module.args = mkOption {
            type = types.lazyAttrsOf types.raw;
            internal = true;
            description = "Additional arguments passed to each module in addition to ones like `lib`, `config`, and `pkgs`, `modulesPath`.";
          };
          _module.check = mkOption {
            type = types.bool;
            internal = true;
            default = true;
            description = "Whether to check whether all option definitions have matching declarations.";
          };
          # tinyos: a line added to "The option `x' does not exist" (eval-config.nix
          # sets it to say that this is tinyos and how to use real nixpkgs).
          _module.unknownOptionHint = mkOption {
            type = types.str;
            internal = true;
            visible = false;
            default = unknownOptionHint;
            description = "A line appended to the error for an option that does not exist.";
          };
          _module.freeformType = mkOption {
            type = types.nullOr types.optionType;
            internal = true;
            default = null;
            description = "If set, merge all definitions that don't have an associated option together using this type.";
          };
        };
        config = {
          _module.args = { inherit extendModules; moduleType = type; } // args;
          _module.check = lib.mkDefault check;
        };
      };

      moduleArgs = { inherit lib options config specialArgs; } // specialArgs;

      collected = collectModulesOfClass class (specialArgs.modulesPath or "") ([ internalModule ] ++ modules) moduleArgs;

      # As in NixOS, modules are merged in reverse collection order: definitions from
      # imported modules come before those of the importer (e.g. in list options).
      ordered = lib.reverseList collected;
      merged = mergeLevel prefix
        (map (m: { file = m._file; options = m.options; }) ordered)
        (concatMap (m: map (v:
          if isAttrs v then { file = m._file; value = v; }
          else throw ("In module `${m._file}', you're trying to define a value of type `${builtins.typeOf v}'\n"
            + "rather than an attribute set for the option `${showOption prefix}'!\n"
            + "This happens when a definition's value is not an attribute set where options are expected;"
            + " check the option's documentation for the shape of its value."))
          (pushDownProperties m.config)) ordered);

      options = merged.options;
      declaredConfig = merged.config;
      freeformType = declaredConfig._module.freeformType;

      # lib.evalModules: definitions without a declaration go to _module.freeformType.
      config =
        if freeformType == null then declaredConfig
        else lib.recursiveUpdate (freeformConfig) declaredConfig;
      freeformConfig =
        if merged.unmatched == [ ] then { }
        else freeformType.merge prefix (map (u: {
          inherit (u) file;
          value = lib.setAttrByPath u.prefix u.value;
        }) merged.unmatched);

      checkUnmatched =
        if declaredConfig._module.check && freeformType == null && merged.unmatched != [ ] then
          let
            firstDef = head merged.unmatched;
            hint = declaredConfig._module.unknownOptionHint;
            close = suggestions prefix options firstDef.prefix;
            didYouMean = lib.optionalString (close != [ ])
              " Did you mean ${lib.concatMapStringsSep ", " (p: "`${showOption p}'") close}?";
            name = showOption (prefix ++ firstDef.prefix);
            values =
              addErrorContext "while evaluating the error message for definitions for `${name}', which is an option that does not exist:"
                (addErrorContext "while evaluating a definition from `${firstDef.file}':" (showDefs [ firstDef ]));
          in
          throw "The option `${name}' does not exist.${didYouMean} Definition values:${values}${lib.optionalString (hint != "") "\n${hint}"}"
        else null;
      checked = seq checkUnmatched;

      extendModules = extendArgs@{ modules ? [ ], specialArgs ? { }, prefix ? [ ] }:
        evalModules (evalModulesArgs // {
          modules = evalModulesArgs.modules ++ modules;
          specialArgs = evalModulesArgs.specialArgs or { } // specialArgs;
          prefix = extendArgs.prefix or evalModulesArgs.prefix or [ ];
        });

      type = types.submoduleWith { inherit modules specialArgs; };
    in
    {
      _type = "configuration";
      options = checked options;
      config = checked (removeAttrs config [ "_module" ]);
      _module = checked config._module;
      inherit extendModules type class;
    };
}
