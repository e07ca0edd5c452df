# The module system: nixpkgs lib/modules.nix's evalModules, written for tinyos from
# nixpkgs' documented semantics and behaviour (its own test suite, lib/tests/modules.sh,
# is the reference). The data flow is nixpkgs':
#   collect modules (imports closure, `key` dedup, disabledModules, `_class` checks)
#   -> walk the option-declaration tree and the definition tree together
#   -> per option: discharge mkIf/mkMerge, keep the highest priority, sort by mkOrder,
#      type-check and merge (a type's `merge.v2` also reports valueMeta).
# Properties live in module-properties.nix, renames in module-renames.nix; both are
# part of this namespace.
{ lib, unknownOptionHint ? "" }:
let
  inherit (builtins) head length filter all any attrNames concatLists concatMap map
    mapAttrs isAttrs isList isString foldl' genericClosure elem removeAttrs
    addErrorContext seq typeOf unsafeGetAttrPos concatStringsSep;
  inherit (lib.options) showOption showDefs showFiles mkOption isOption unknownModule;
  inherit (lib) types;
  # lib's, not builtins': a functor (an attribute set with __functor, as
  # lib.setFunctionArgs and nixvms's import tracer make) is a function module
  inherit (lib) isFunction;
  props = import ./module-properties.nix { inherit lib; };
  renames = import ./module-renames.nix { inherit lib; };
  inherit (props) mkOptionDefault mkDefault mkMerge pushDownProperties dischargeProperties
    filterOverrides' sortProperties defaultOverridePriority;

  showDeclPrefix = loc: decl: prefix:
    " - option(s) with prefix `${showOption (loc ++ [ prefix ])}' in module `${decl._file}'";
  showRawDecls = loc: decls:
    concatStringsSep "\n" (builtins.sort (a: b: a < b)
      (concatMap (decl: map (showDeclPrefix loc decl) (attrNames decl.options)) decls));

  # The sentences nixpkgs' module system uses for values that are not modules.
  # (nixpkgs highlights some words with terminal colours; Nix strips them when the
  # error is not shown on a terminal, and the words are the same.)
  notAModule = { fallbackFile, _type, expectedClass ? null, prefix }:
    let
      intoFile = lib.optionalString (fallbackFile != null && fallbackFile != unknownModule)
        ", while trying to load a module into ${toString fallbackFile}";
      intoPrefix = lib.optionalString (prefix != [ ])
        ", while trying to load a module into ${showOption prefix}";
      extra = {
        configuration = ''
          If you really mean to import this configuration, instead please only import the modules that make up the configuration.
          You may have to create a `let` binding, file or attribute to give yourself access to the relevant modules.
          While loading a configuration into the module system is a very sensible idea, it can not be done cleanly in practice.'';
        flake = ''
          Perhaps you forgot to select an attribute name?
          Instead of, for example,
              inputs.someflake
          you need to write something like
              inputs.someflake${if expectedClass == null then ".modules.someApp.default" else ".modules.${expectedClass}.default"}''
          + ({ nixos = "\nor\n    inputs.someflake.nixosModules.default"; darwin = "\nor\n    inputs.someflake.darwinModules.default"; }.${toString expectedClass} or "");
      };
    in
    ''
      Expected a module, but found a value of type ${lib.strings.escapeNixString _type}${intoFile}${intoPrefix}.
      A module is typically loaded by adding it to the imports = [ ... ]; attribute of an existing module, or in the modules = [ ... ]; argument of various functions.
      Please make sure that each of the list items is a module, and not a different kind of value.''
    + lib.optionalString (extra ? ${_type}) "\n\n${extra.${_type}}";

  throwDeclarationTypeError = loc: actualTag: file:
    let
      name = lib.strings.escapeNixIdentifier (lib.last loc);
      comment = lib.optionalString (length loc > 1) "\n    # ${showOption loc}";
    in
    throw (concatStringsSep "\n\n" ([
      "In module ${file}: expected an option declaration at option path `${showOption loc}` but got an attribute set with type ${actualTag}"
    ] ++ lib.optional (actualTag == "option-type") ''
      When declaring an option, you must wrap the type in a `mkOption` call. It should look somewhat like:
          ${comment}
          ${name} = lib.mkOption {
            description = ...;
            type = <the type you wrote for ${name}>;
            ...
          };
    ''));

  # Whether a type's merge result comes with a coherent check (types.addCheck keeps
  # it; `type // { check = ...; }` loses it, and v2 merging would skip that check).
  checkV2MergeCoherence = loc: type: result:
    if type.check.isV2MergeCoherent or false then result
    else throw ''
      The option `${showOption loc}' has a type `${type.description}' that uses
      an ad-hoc `type // { check = ...; }' override, which is incompatible with
      the v2 merge mechanism.

      Please use `lib.types.addCheck` instead of `type // { check }' to add
      custom validation. For example:

        lib.types.addCheck baseType (value: /* your check */)

      instead of:

        baseType // { check = value: /* your check */; }
    '';

  self = props // renames // rec {
    inherit checkV2MergeCoherence;

    # ---- loading modules ----

    setDefaultModuleLocation = file: m: { _file = file; imports = [ m ]; };

    unifyModuleSyntax = file: key: m:
      let
        addMeta = config: if m ? meta then mkMerge [ config { meta = m.meta; } ] else config;
        addFreeformType = config:
          if m ? freeformType then mkMerge [ config { _module.freeformType = m.freeformType; } ] else config;
      in
      if m ? config || m ? options then
        let badAttrs = removeAttrs m [ "_class" "_file" "key" "disabledModules" "imports" "options" "config" "meta" "freeformType" ]; in
        if badAttrs != { } then
          throw "Module `${key}' has an unsupported attribute `${head (attrNames badAttrs)}'. This is caused by introducing a top-level `config' or `options' attribute. Add configuration attributes immediately on the top level instead, or move all of them (namely: ${toString (attrNames badAttrs)}) into the explicit `config' attribute."
        else {
          _file = toString m._file or file;
          _class = m._class or null;
          key = toString m.key or key;
          disabledModules = m.disabledModules or [ ];
          imports = m.imports or [ ];
          options = m.options or { };
          config = addFreeformType (addMeta (m.config or { }));
        }
      else
        lib.throwIfNot (isAttrs m) "module ${file} (${key}) does not look like a module." {
          _file = toString m._file or file;
          _class = m._class or null;
          key = toString m.key or key;
          disabledModules = m.disabledModules or [ ];
          imports = m.require or [ ] ++ m.imports or [ ];
          options = { };
          config = addFreeformType (removeAttrs m [ "_class" "_file" "key" "disabledModules" "require" "imports" "freeformType" ]);
        };

    # Call a function module with the arguments it names: fixed ones (lib, config,
    # specialArgs, ...) first, else config._module.args, lazily.
    applyModuleArgs = key: f: args@{ config, ... }:
      let
        context = name: ''while evaluating the module argument `${name}' in "${key}":'';
        extraArgs = mapAttrs (name: _:
          addErrorContext (context name) (args.${name} or (addErrorContext
            "noting that argument `${name}` is not externally provided, so querying `_module.args` instead, requiring `config`"
            config._module.args.${name}))) (lib.functionArgs f);
      in
      f (args // extraArgs);
    applyModuleArgsIfFunction = key: f: args@{ config, ... }:
      if isFunction f then applyModuleArgs key f args else f;

    # collectModules class modulesPath modules args -> { modules; graph; }: the imports
    # closure (first occurrence of a key wins), disabledModules removed, every module's
    # `_class` checked against `class`.
    collectModules = class:
      let
        loadModule = args: fallbackFile: fallbackKey: m:
          if isFunction m then unifyModuleSyntax fallbackFile fallbackKey (applyModuleArgs fallbackKey m args)
          else if isAttrs m then
            if m._type or "module" == "module" then unifyModuleSyntax fallbackFile fallbackKey m
            else if m._type == "if" || m._type == "override" then loadModule args fallbackFile fallbackKey { config = m; }
            else throw (notAModule { inherit fallbackFile; inherit (m) _type; expectedClass = class; prefix = args._prefix; })
          else if isList m then
            throw "Module imports can't be nested lists. Perhaps you meant to remove one level of lists? Definitions: ${showDefs [ { file = fallbackFile; value = m; } ]}"
          else unifyModuleSyntax (toString m) (toString m) (applyModuleArgsIfFunction (toString m) (import m) args);

        checkModule = m:
          if class == null || m._class == null || m._class == class then m
          else throw ''
            The module `${m._file or m.key}` (class: ${lib.strings.escapeNixString m._class}) cannot be imported into a module evaluation that expects class ${lib.strings.escapeNixString class}.

            Help:
            - Ensure that you are importing the correct module.
            - Verify that the module's `_class`, ${lib.strings.escapeNixString m._class} matches the expected `class` ${lib.strings.escapeNixString class}.
            - If you are using a custom class, make sure it is correctly defined and used consistently across your modules.
          '';

        isDisabled = modulesPath: disabledList:
          let
            moduleKey = file: m:
              if isString m then
                (if builtins.substring 0 1 m == "/" then m else toString modulesPath + "/" + m)
              else if lib.strings.isConvertibleWithToString m then
                (if m ? key && m.key != toString m then
                  throw "Module `${file}` contains a disabledModules item that is an attribute set that can be converted to a string (${toString m}) but also has a `.key` attribute (${m.key}) with a different value. This makes it ambiguous which module should be disabled."
                else toString m)
              else if m ? key then m.key
              else if isAttrs m then
                throw "Module `${file}` contains a disabledModules item that is an attribute set, presumably a module, that does not have a `key` attribute. This means that the module system doesn't have any means to identify the module that should be disabled. Make sure that you've put the correct value in disabledModules: a string path relative to modulesPath, a path value, or an attribute set with a `key` attribute."
              else
                throw "Each disabledModules item must be a path, string, or a attribute set with a key attribute, or a value supported by toString. However, one of the disabledModules items in `${toString file}` is none of that, but is of type ${typeOf m}.";
            disabledKeys = concatMap ({ file, disabled }: map (moduleKey file) disabled) disabledList;
          in
          structured: elem structured.key disabledKeys;

        # [ { key; module; modules; disabled; } ], the tree of imports as loaded
        collectStructured = parentFile: parentKey: initialModules: args:
          let
            modules = lib.imap1 (n: x:
              let
                module = checkModule (loadModule args parentFile "${parentKey}:anon-${toString n}" x);
                imported = collectStructured module._file module.key module.imports args;
              in
              {
                inherit (module) key;
                inherit module;
                modules = imported.modules;
                disabled = lib.optional (module.disabledModules != [ ]) { file = module._file; disabled = module.disabledModules; }
                  ++ imported.disabled;
              }) initialModules;
          in
          { inherit modules; disabled = concatLists (lib.catAttrs "disabled" modules); };

        filterModules = modulesPath: { disabled, modules }:
          let keep = filter (x: !isDisabled modulesPath disabled x); in
          map (x: x.module) (genericClosure { startSet = keep modules; operator = x: keep x.modules; });

        toGraph = modulesPath: { disabled, modules }:
          let
            isDisabledModule = isDisabled modulesPath disabled;
            toModuleGraph = s: {
              disabled = isDisabledModule s;
              inherit (s) key;
              file = s.module._file;
              imports = map toModuleGraph s.modules;
            };
          in
          map toModuleGraph (filter (x: x.key != "lib/modules.nix") modules);
      in
      modulesPath: initialModules: args:
      let structured = collectStructured unknownModule "" initialModules args; in
      {
        modules = filterModules modulesPath structured;
        graph = toGraph modulesPath structured;
      };

    # ---- merging declarations with definitions ----

    mergeModules = prefix: modules:
      mergeModules' prefix modules
        (concatMap (m: map (config: { file = m._file; inherit config; }) (pushDownProperties m.config)) modules);

    # One level of the option tree: { matchedOptions; unmatchedDefns; }.
    mergeModules' = prefix: modules: configs:
      let
        declsByName = lib.zipAttrs (map (module:
          let subtree = module.options; in
          if !(isAttrs subtree) then
            throw ''
              An option declaration for `${concatStringsSep "." prefix}' has type
              `${typeOf subtree}' rather than an attribute set.
              Did you mean to define this outside of `options'?
            ''
          else mapAttrs (n: option: { inherit (module) _file; pos = unsafeGetAttrPos n subtree; options = option; }) subtree
        ) modules);

        checkedConfigs =
          assert all (c: isAttrs c.config || throw ''
            In module `${c.file}', you're trying to define a value of type `${typeOf c.config}'
            rather than an attribute set for the option
            `${concatStringsSep "." prefix}'!

            This usually happens if `${concatStringsSep "." prefix}' has option
            definitions inside that are not matched. Please check how to properly define
            this option by e.g. referring to `man 5 configuration.nix'!
          '') configs;
          configs;

        # definitions per name, properties pushed down (for nested option sets)
        pushedDownDefinitionsByName = lib.zipAttrsWith (n: concatLists) (map (module:
          mapAttrs (n: value: map (config: { inherit (module) file; inherit config; }) (pushDownProperties value)) module.config
        ) checkedConfigs);
        # definitions per name as written (for options: their type merges them)
        rawDefinitionsByName = lib.zipAttrs (map (module:
          mapAttrs (n: value: { inherit (module) file; inherit value; }) module.config) checkedConfigs);

        # An option tree declared next to a submodule option extends the submodule.
        optionTreeToOption = decl:
          if isOption decl.options then decl
          else decl // {
            options = mkOption {
              type = types.submoduleWith { modules = [ { options = decl.options; } ]; shorthandOnlyDefinesConfig = null; };
            };
          };

        resultsByName = mapAttrs (name: decls:
          let
            loc = prefix ++ [ name ];
            defns = pushedDownDefinitionsByName.${name} or [ ];
            defns' = rawDefinitionsByName.${name} or [ ];
            optionDecls = filter (m: m.options ? _type
              && (m.options._type == "option" || throwDeclarationTypeError loc m.options._type m._file)) decls;
          in
          if length optionDecls == length decls then
            { matchedOptions = evalOptionValue loc (fixupOptionType loc (mergeOptionDecls loc decls)) defns'; unmatchedDefns = [ ]; }
          else if optionDecls != [ ] then
            if all (x: x.options.type.name or null == "submodule") optionDecls then
              { matchedOptions = evalOptionValue loc (fixupOptionType loc (mergeOptionDecls loc (map optionTreeToOption decls))) defns'; unmatchedDefns = [ ]; }
            else
              throw "The option `${showOption loc}' in module `${(head optionDecls)._file}' would be a parent of the following options, but its type `${(head optionDecls).options.type.description or "<no description>"}' does not support nested options.\n${showRawDecls loc (filter (m: !isOption m.options) decls)}"
          else mergeModules' loc decls defns
        ) declsByName;

        matchedOptions = mapAttrs (n: v: v.matchedOptions) resultsByName;
        unmatchedDefnsByName = mapAttrs (n: v: v.unmatchedDefns) resultsByName
          // removeAttrs rawDefinitionsByName (attrNames matchedOptions);
      in
      {
        inherit matchedOptions;
        unmatchedDefns =
          if configs == [ ] then [ ] # no definitions here: nothing to report
          else concatLists (lib.mapAttrsToList (name: defs:
            map (def: def // { prefix = [ name ] ++ (def.prefix or [ ]); }) defs) unmatchedDefnsByName);
      };

    # Several declarations of one option: types merge through their functors, other
    # attributes may be given once; submodules declared along the way are collected
    # (with the declaring file as their location) in `options`.
    mergeOptionDecls = loc: opts:
      foldl' (res: opt:
        let
          mergedType = res.type.typeMerge opt.options.type.functor;
          typeSet =
            if opt.options ? type && res ? type then
              (if mergedType != null then { type = mergedType; }
              else throw "The option `${showOption loc}' in `${opt._file}' is already declared in ${showFiles res.declarations}.")
            else { };
          bothHave = k: opt.options ? ${k} && res ? ${k};
          getSubModules = opt.options.type.getSubModules or null;
        in
        if bothHave "default" || bothHave "example" || bothHave "description" || bothHave "apply" then
          throw "The option `${showOption loc}' in `${opt._file}' is already declared in ${showFiles res.declarations}."
        else
          opt.options // res // {
            declarations = res.declarations ++ [ opt._file ];
            declarationPositions = res.declarationPositions
              ++ [ (if opt.pos != null then opt.pos else { file = opt._file; line = null; column = null; }) ];
            options = (if getSubModules != null then map (setDefaultModuleLocation opt._file) getSubModules else [ ]) ++ res.options;
          } // typeSet
      ) { inherit loc; declarations = [ ]; declarationPositions = [ ]; options = [ ]; } opts;

    # The submodules collected by mergeOptionDecls go into the type.
    fixupOptionType = loc: opt:
      if opt.type.getSubModules or null == null then opt // { type = opt.type or types.unspecified; }
      else opt // { type = opt.type.substSubModules opt.options; options = [ ]; };

    # A merged declaration and its definitions -> the option as `options.<path>` shows it.
    evalOptionValue = loc: opt: defs:
      let
        defs' = lib.optional (opt ? default) { file = head opt.declarations; value = mkOptionDefault opt.default; } ++ defs;
        res =
          if opt.readOnly or false && length defs' > 1 then
            let separateDefs = map (def: def // { value = (mergeDefinitions loc opt.type [ def ]).mergedValue; }) defs'; in
            throw "The option `${showOption loc}' is read-only, but it's set multiple times. Definition values:${showDefs separateDefs}"
          else mergeDefinitions loc opt.type defs';
        value = if opt ? apply then opt.apply res.mergedValue else res.mergedValue;
        warnDeprecation =
          if opt.type.deprecationMessage or null != null then
            lib.warn "The type `types.${opt.type.name}' of option `${showOption loc}' defined in ${showFiles opt.declarations} is deprecated. ${opt.type.deprecationMessage}"
          else x: x;
      in
      warnDeprecation opt // {
        value = addErrorContext "while evaluating the option `${showOption loc}':" value;
        inherit (res.defsFinal') highestPrio;
        definitions = map (def: def.value) res.defsFinal;
        files = map (def: def.file) res.defsFinal;
        definitionsWithLocations = res.defsFinal;
        inherit (res) isDefined;
        inherit (res.checkedAndMerged) valueMeta;
        __toString = _: showOption loc;
      };

    # The definitions [ { file; value; } ] of one option -> { mergedValue; optionalValue;
    # isDefined; defsFinal; defsFinal'; checkedAndMerged; }.
    mergeDefinitions = loc: type: defs: rec {
      defsFinal' =
        let
          # mkDefinition values name their own file
          defsNormalized = concatMap (m: map (value:
            if value._type or null == "definition" then value else { inherit (m) file; inherit value; })
            (addErrorContext "while evaluating definitions from `${m.file}':" (dischargeProperties m.value))) defs;
          defsFiltered = filterOverrides' defsNormalized;
          defsSorted =
            if any (def: def.value._type or "" == "order") defsFiltered.values
            then sortProperties defsFiltered.values else defsFiltered.values;
        in
        # one plain definition: nothing to discharge (keeps the value lazy)
        if length defs == 1 && (let d = head defs; in
          addErrorContext "while evaluating definitions from `${d.file}':" (!(isAttrs d.value && d.value ? _type)))
        then { values = defs; highestPrio = defaultOverridePriority; }
        else { values = defsSorted; inherit (defsFiltered) highestPrio; };
      defsFinal = defsFinal'.values;

      mergedValue =
        if isDefined then
          if type.merge ? v2 then
            if checkedAndMerged.headError or null != null then
              throw "A definition for option `${showOption loc}' is not of type `${type.description}'. TypeError: ${checkedAndMerged.headError.message}"
            else checkedAndMerged.value
          else if all (def: type.check def.value) defsFinal then type.merge loc defsFinal
          else
            let allInvalid = filter (def: !type.check def.value) defsFinal; in
            throw "A definition for option `${showOption loc}' is not of type `${type.description}'. Definition values:${showDefs allInvalid}"
        else if type.emptyValue ? value then type.emptyValue.value
        else throw "The option `${showOption loc}' was accessed but has no value defined. Try setting the option.";

      checkedAndMerged =
        if type.merge ? v2 then
          let r = checkV2MergeCoherence loc type (type.merge.v2 { inherit loc; defs = defsFinal; }); in
          { inherit (r) headError value; valueMeta = r.valueMeta // { _internal = { inherit type; }; }; }
        else { headError = null; value = mergedValue; valueMeta = { }; };

      isDefined = defsFinal != [ ];
      optionalValue = if isDefined then { value = mergedValue; } else { };
    };

    # The definitions of an attrsOf option, merged per attribute with their priority.
    mergeAttrDefinitionsWithPrio = opt:
      let
        defsByAttr = lib.zipAttrs (concatLists (concatMap ({ value, ... }@def:
          map (lib.mapAttrsToList (k: value: { ${k} = def // { inherit value; }; })) (pushDownProperties value))
          opt.definitionsWithLocations));
      in
      assert opt.type.name == "attrsOf" || opt.type.name == "lazyAttrsOf";
      mapAttrs (k: v:
        let merging = mergeDefinitions (opt.loc ++ [ k ]) opt.type.nestedTypes.elemType v; in
        { value = merging.mergedValue; inherit (merging.defsFinal') highestPrio; }) defsByAttr;

    # An evaluation without the unknown-option check (deprecated in nixpkgs).
    fixMergeModules = modules: args: evalModules { inherit modules args; check = false; };

    # ---- lib.evalModules ----
    evalModules = import ./eval-modules.nix { inherit lib unknownOptionHint; modules = self; };
  };
in
self
