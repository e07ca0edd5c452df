# Modules that rename, alias, merge or remove options (nixpkgs lib/modules.nix:
# doRename, mkRenamedOptionModule, mkAliasOptionModule, mkRemovedOptionModule,
# mkMergedOptionModule, mkChangedOptionModule) and importApply. nixpkgs' semantics
# and warning sentences.
{ lib }:
let
  inherit (lib.options) mkOption showOption showFiles;
  inherit (lib.modules) mkIf mkMerge mkAliasAndWrapDefsWithPriority mkAliasAndWrapDefinitions;
  inherit (lib) types;
in
rec {
  # The option at `optionName` is declared (so defining it is not "unknown") but any
  # use of its value fails; a definition fails the `assertions` check (when the
  # evaluation has one: NixOS does, a bare evalModules may not).
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

  # Warns only once the oldest supported release is at least `sinceRelease`.
  mkRenamedOptionModuleWith = { from, to, sinceRelease }: doRename {
    inherit from to;
    visible = false;
    warn = lib.oldestSupportedReleaseIsAtLeast sinceRelease;
    use = lib.warnIf (lib.oldestSupportedReleaseIsAtLeast sinceRelease)
      "Obsolete option `${showOption from}' is used. It was renamed to `${showOption to}'.";
  };

  # Several old options feed one new one through mergeFn (given the whole config).
  mkMergedOptionModule = from: to: mergeFn: { config, options, ... }: {
    options = builtins.foldl' lib.recursiveUpdate { } (map (path:
      lib.setAttrByPath path (mkOption {
        visible = false;
        # a marker: the value when the old option is not set
        default = "_mkMergedOptionModule";
      })) from);
    config = {
      warnings = builtins.filter (x: x != "") (map (f:
        let
          val = lib.getAttrFromPath f config;
          opt = lib.getAttrFromPath f options;
        in
        lib.optionalString (val != "_mkMergedOptionModule")
          "The option `${showOption f}' defined in ${showFiles opt.files} has been changed to `${showOption to}' that has a different type. Please read `${showOption to}' documentation and update your configuration accordingly.")
        from);
    } // lib.setAttrByPath to (mkMerge (lib.optional
      (builtins.any (f: lib.getAttrFromPath f config != "_mkMergedOptionModule") from)
      (mergeFn config)));
  };

  mkChangedOptionModule = from: to: changeFn: mkMergedOptionModule [ from ] to changeFn;

  mkAliasOptionModule = from: to: doRename {
    inherit from to;
    visible = true;
    warn = false;
    use = lib.id;
  };
  mkAliasOptionModuleMD = mkAliasOptionModule;

  # The option `from` forwards its definitions to `to` (at their priority unless
  # withPriority = false) and reads as `to`'s value; `condition` (a boolean, may
  # depend on config) turns the forwarding off, e.g. while a migration is pending.
  doRename = { from, to, visible, warn, use, withPriority ? true, condition ? true }:
    { config, options, ... }:
    let
      fromOpt = lib.getAttrFromPath from options;
      toOf = lib.attrByPath to (abort "Renaming error: option `${showOption to}' does not exist.");
      toType = let opt = lib.attrByPath to { } options; in opt.type or (types.submodule { });
    in
    {
      options = lib.setAttrByPath from (mkOption {
        inherit visible;
        description = "Alias of {option}`${showOption to}`.";
        apply = x: use (toOf config);
      } // lib.optionalAttrs (toType != null) { type = toType; });
      config = mkIf condition (mkMerge [
        (lib.optionalAttrs (options ? warnings) {
          warnings = lib.optional (warn && fromOpt.isDefined)
            "The option `${showOption from}' defined in ${showFiles fromOpt.files} has been renamed to `${showOption to}'.";
        })
        (if withPriority
          then mkAliasAndWrapDefsWithPriority (lib.setAttrByPath to) fromOpt
          else mkAliasAndWrapDefinitions (lib.setAttrByPath to) fromOpt)
      ]);
    };

  # A module file that is a function of a static argument, applied, keeping the
  # file as the module's location (and not its key: the result depends on the argument).
  importApply = modulePath: staticArg:
    lib.setDefaultModuleLocation modulePath (import modulePath staticArg);
}
