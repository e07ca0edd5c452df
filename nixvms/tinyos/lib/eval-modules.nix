# lib.evalModules (nixpkgs lib/modules.nix): the internal `_module` options, the module
# arguments (lib, config, options, specialArgs, _class, _prefix and specialArgs'
# attributes), the freeform type, and the "option does not exist" check with its
# "Did you mean" suggestions. `modules` is the lib.modules namespace.
#
# tinyos addition: `_module.unknownOptionHint`, a line appended to the "does not exist"
# error (tinyos's eval-config.nix says there that this is tinyos).
{ lib, unknownOptionHint, modules }:
let
  inherit (builtins) head length attrNames addErrorContext seq removeAttrs;
  inherit (lib.options) mkOption showOption showDefs;
  inherit (lib) types;
  inherit (modules) mkDefault collectModules mergeModules;
  isOption = lib.options.isOption;

  evalModules = evalModulesArgs@{ modules, prefix ? [ ], specialArgs ? { }, class ? null
    , args ? { } # deprecated: set config._module.args
    , check ? true # deprecated: set config._module.check
    }:
    let
      withWarnings = x:
        lib.warnIf (evalModulesArgs ? args) "The args argument to evalModules is deprecated. Please set config._module.args instead."
          (lib.warnIf (evalModulesArgs ? check) "The check argument to evalModules is deprecated. Please set config._module.check instead." x);
      legacyModules =
        lib.optional (evalModulesArgs ? args) { config._module.args = args; }
        ++ lib.optional (evalModulesArgs ? check) { config._module.check = mkDefault check; };
      regularModules = modules ++ legacyModules;

      internalModule = rec {
        _file = "lib/modules.nix";
        key = _file;
        options = {
          _module.args = mkOption {
            type = types.lazyAttrsOf types.raw;
            # visible at the top level only (one set of docs)
            ${if prefix == [ ] then null else "internal"} = true;
            description = "Additional arguments passed to each module in addition to ones like `lib`, `config`, and `pkgs`, `modulesPath`.";
          };
          _module.check = mkOption {
            type = types.bool;
            internal = true;
            default = true;
            description = "Whether to check whether all option definitions have matching declarations.";
          };
          _module.freeformType = mkOption {
            type = types.nullOr types.optionType;
            internal = true;
            default = null;
            description = "If set, merge all definitions that don't have an associated option together using this type.";
          };
          _module.specialArgs = mkOption {
            readOnly = true;
            internal = true;
            description = "Externally provided module arguments that can't be modified from within a configuration, but can be used in module imports.";
          };
          _module.unknownOptionHint = mkOption {
            type = types.str;
            internal = true;
            visible = false;
            default = unknownOptionHint;
            description = "A line appended to the error for an option that does not exist (tinyos).";
          };
        };
        config = {
          _module.args = { inherit extendModules; moduleType = type; };
          _module.specialArgs = specialArgs;
        };
      };

      collected = collectModules class (specialArgs.modulesPath or "") (regularModules ++ [ internalModule ]) ({
        inherit lib options specialArgs;
        _class = class;
        _prefix = prefix;
        config = addErrorContext "if you get an infinite recursion here, you probably reference `config` in `imports`. If you are trying to achieve a conditional import behavior dependent on `config`, consider importing unconditionally, and using `mkEnableOption` and `mkIf` to control its effect." config;
      } // specialArgs);

      # Reverse collection order: definitions of imported modules come first.
      merged = mergeModules prefix (lib.reverseList collected.modules);
      options = merged.matchedOptions;

      config =
        let
          declaredConfig = lib.mapAttrsRecursiveCond (v: !isOption v) (_: v: v.value) options;
          freeformConfig =
            let defs = map (def: { inherit (def) file; value = lib.setAttrByPath def.prefix def.value; }) merged.unmatchedDefns; in
            if defs == [ ] then { } else declaredConfig._module.freeformType.merge prefix defs;
        in
        if declaredConfig._module.freeformType == null then declaredConfig
        # declared options win over freeform ones (which cannot be strict in them)
        else lib.recursiveUpdate freeformConfig declaredConfig;

      checkUnmatched =
        if config._module.check && config._module.freeformType == null && merged.unmatchedDefns != [ ] then
          let
            firstDef = head merged.unmatchedDefns;
            optText = showOption (prefix ++ firstDef.prefix);
            defText = addErrorContext "while evaluating the error message for definitions for `${optText}', which is an option that does not exist"
              (addErrorContext "while evaluating a definition from `${firstDef.file}'" (showDefs [ firstDef ]));
            # up to three declared siblings of the unknown name, closest first
            absParent = lib.init (prefix ++ firstDef.prefix);
            parent = lib.init firstDef.prefix;
            siblings = attrNames (lib.attrByPath parent { } options);
            candidates = if parent == [ ] then lib.remove "_module" siblings else siblings;
            invalid = lib.last firstDef.prefix;
            distance = lib.strings.levenshtein invalid;
            suggestions = lib.take 3 (lib.sortOn distance
              (if length candidates < 100 then candidates
              else builtins.filter (lib.strings.levenshteinAtMost 2 invalid) candidates));
            show = s: "`${showOption (absParent ++ [ s ])}'";
            suggestion =
              if suggestions == [ ] then ""
              else if length suggestions == 1 then "\n\nDid you mean ${show (head suggestions)}?"
              else "\n\nDid you mean ${lib.concatMapStringsSep ", " show (lib.init suggestions)} or ${show (lib.last suggestions)}?";
            baseMsg = "The option `${optText}' does not exist. Definition values:${defText}${suggestion}";
            hint = config._module.unknownOptionHint;
            withHint = msg: msg + lib.optionalString (hint != "") "\n${hint}";
          in
          if attrNames options == [ "_module" ] then
            (if showOption prefix == "" then
              throw (withHint ''
                ${baseMsg}

                It seems as if you're trying to declare an option by placing it into `config' rather than `options'!
              '')
            else
              throw (withHint ''
                ${baseMsg}

                However there are no options defined in `${showOption prefix}'. Are you sure you've
                declared your options properly? This can happen if you e.g. declared your options in `types.submodule'
                under `config' rather than `options'.
              ''))
          else throw (withHint baseMsg)
        else null;
      checked = seq checkUnmatched;

      extendModules = extendArgs@{ modules ? [ ], specialArgs ? { }, prefix ? [ ] }:
        evalModules (evalModulesArgs // {
          modules = regularModules ++ modules;
          specialArgs = evalModulesArgs.specialArgs or { } // specialArgs;
          prefix = extendArgs.prefix or evalModulesArgs.prefix or [ ];
        });

      type = types.submoduleWith { inherit modules specialArgs class; };
    in
    withWarnings {
      _type = "configuration";
      options = checked options;
      config = checked (removeAttrs config [ "_module" ]);
      _module = checked config._module;
      inherit (collected) graph;
      inherit extendModules type class;
    };
in
evalModules
