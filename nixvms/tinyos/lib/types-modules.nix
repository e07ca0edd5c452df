# lib.types whose values are modules (nixpkgs lib/types.nix): submodule, submoduleWith,
# deferredModule, deferredModuleWith.
{ lib, types, helpers }:
let
  inherit (builtins) isAttrs isFunction attrNames;
  inherit (lib.options) showOption;
  inherit (types) mkOptionType defaultFunctor optionDescriptionPhrase noCheckForDocsModule path;
  inherit (helpers) checkDefsForError v2Check v2Merge;
in
rec {
  submodule = modules: submoduleWith { shorthandOnlyDefinesConfig = true; modules = lib.toList modules; };

  # Each value is the config of its own evaluation: the type's modules (evaluated
  # once as `base`) extended by one module per definition, at the option's path, with
  # `name` the last component of that path. valueMeta.configuration is that evaluation.
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

      base = lib.evalModules {
        inherit class specialArgs;
        # a `name` for documentation and the freeform type, before the option path is known
        modules = [ { _module.args.name = lib.mkOptionDefault "‹name›"; } ] ++ modules;
      };
      freeformType = base._module.freeformType;
      name = "submodule";
      check = v2Check (x: isAttrs x || isFunction x || path.check x);
    in
    mkOptionType {
      inherit name check;
      description =
        if description != null then description
        else
          let docsEval = base.extendModules { modules = [ noCheckForDocsModule ]; }; in
          if docsEval._module.freeformType ? description then
            "open ${name} of ${optionDescriptionPhrase (class: class == "noun" || class == "composite") docsEval._module.freeformType}"
          else name;
      merge = v2Merge ({ loc, defs }:
        let
          configuration = base.extendModules {
            modules = [ { _module.args.name = lib.last loc; } ] ++ allModules defs;
            prefix = loc;
          };
        in
        {
          headError = checkDefsForError check loc defs;
          value = configuration.config;
          valueMeta = { inherit configuration; };
        });
      emptyValue = { value = base.config; };
      getSubOptions = prefix:
        let
          docsEval = base.extendModules { inherit prefix; modules = [ noCheckForDocsModule ]; };
          # the freeform type of the unchecked evaluation (see noCheckForDocsModule)
          inherit (docsEval._module) freeformType;
        in
        docsEval.options // lib.optionalAttrs (freeformType != null) {
          # the freeform type's sub-options, under a name no option can have
          _freeformOptions = freeformType.getSubOptions prefix;
        };
      getSubModules = modules;
      substSubModules = m: submoduleWith (attrs // { modules = m; });
      nestedTypes = lib.optionalAttrs (freeformType != null) { inherit freeformType; };
      functor = defaultFunctor name // {
        type = submoduleWith;
        payload = { inherit modules class specialArgs shorthandOnlyDefinesConfig description; };
        # two declarations: their modules together, the other attributes agreeing
        # (null: either is fine)
        binOp = lhs: rhs:
          let
            agree = what: a: b:
              if a == null then b else if b == null then a else if a == b then a
              else throw "A submoduleWith option is declared multiple times with conflicting ${what}";
          in
          {
            class =
              if lhs.class or null == null then rhs.class or null
              else if rhs.class or null == null then lhs.class or null
              else if lhs.class or null == rhs.class then lhs.class or null
              else throw "A submoduleWith option is declared multiple times with conflicting class values \"${toString lhs.class}\" and \"${toString rhs.class}\".";
            modules = lhs.modules ++ rhs.modules;
            specialArgs =
              let intersecting = builtins.intersectAttrs lhs.specialArgs rhs.specialArgs; in
              if intersecting == { } then lhs.specialArgs // rhs.specialArgs
              else throw "A submoduleWith option is declared multiple times with the same specialArgs \"${toString (attrNames intersecting)}\"";
            shorthandOnlyDefinesConfig = agree "shorthandOnlyDefinesConfig values" lhs.shorthandOnlyDefinesConfig rhs.shorthandOnlyDefinesConfig;
            description = agree "descriptions" lhs.description rhs.description;
          };
      };
    };

  deferredModule = deferredModuleWith { };

  # Module definitions collected for someone else to evaluate (as `imports`);
  # staticModules are always included (and documented).
  deferredModuleWith = attrs@{ staticModules ? [ ] }:
    mkOptionType {
      name = "deferredModule";
      description = "module";
      descriptionClass = "noun";
      check = x: isAttrs x || isFunction x || path.check x;
      merge = loc: defs: {
        imports = staticModules ++ map (def:
          lib.setDefaultModuleLocation "${def.file}, via option ${showOption loc}" def.value) defs;
      };
      inherit (submoduleWith { modules = staticModules; }) getSubOptions getSubModules;
      substSubModules = m: deferredModuleWith (attrs // { staticModules = m; });
      functor = defaultFunctor "deferredModuleWith" // {
        type = deferredModuleWith;
        payload = { inherit staticModules; };
        binOp = lhs: rhs: { staticModules = lhs.staticModules ++ rhs.staticModules; };
      };
    };
}
