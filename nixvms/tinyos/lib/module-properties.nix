# The properties of definitions (nixpkgs lib/modules.nix: mkIf, mkMerge, mkOverride,
# mkOrder, mkDefinition) and the functions that discharge them: pushDownProperties,
# dischargeProperties, filterOverrides', sortProperties. Written from nixpkgs'
# documented semantics; the names and error sentences are nixpkgs'.
{ lib }:
let
  inherit (builtins) concatMap isAttrs isBool mapAttrs length head foldl' sort;
in
rec {
  defaultOverridePriority = 100;
  defaultPriority = defaultOverridePriority;
  defaultOrderPriority = 1000;

  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkAssert = assertion: message: content:
    mkIf (if assertion then true else throw "\nFailed assertion: ${message}") content;
  mkMerge = contents: { _type = "merge"; inherit contents; };
  # A definition that carries its own file (shown in error messages instead of the
  # defining module's), e.g. forwarded by another option.
  mkDefinition = args@{ file, value, ... }: args // { _type = "definition"; };
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkOptionDefault = mkOverride 1500; # priority of option defaults
  mkDefault = mkOverride 1000; # used in config sections of non-user modules
  mkImageMediaOverride = mkOverride 60;
  mkForce = mkOverride 50;
  mkVMOverride = mkOverride 10; # used by ‘nixos-rebuild build-vm’
  mkFixStrictness = lib.warn "lib.mkFixStrictness has no effect and will be removed. It returns its argument unmodified, so you can just remove any calls." lib.id;
  mkOrder = priority: content: { _type = "order"; inherit priority content; };
  mkBefore = mkOrder 500;
  mkAfter = mkOrder 1500;

  # Apply f to the value under any properties, keeping the properties.
  mapDefinitionValue = f: def:
    let t = def._type or null; in
    if t == "merge" then def // { contents = map (mapDefinitionValue f) def.contents; }
    else if t == "if" || t == "override" || t == "order" then def // { content = mapDefinitionValue f def.content; }
    else if t == "definition" then def // { value = mapDefinitionValue f def.value; }
    else f def;

  # mkIf/mkMerge/mkOverride around an attribute set become a list of attribute sets
  # whose values carry the properties: the names a definition sets never depend on a
  # condition, so `config` stays lazy. A non-attrset content is left for the caller
  # to report.
  pushDownProperties = cfg:
    let
      t = cfg._type or "";
      mapIfAttrs = f: v: if isAttrs v then mapAttrs f v else v;
    in
    if t == "merge" then concatMap pushDownProperties cfg.contents
    else if t == "if" then map (mapIfAttrs (n: v: mkIf cfg.condition v)) (pushDownProperties cfg.content)
    else if t == "override" then map (mapIfAttrs (n: v: mkOverride cfg.priority v)) (pushDownProperties cfg.content)
    else [ cfg ];

  # A definition value -> the list of values it stands for: mkIf conditions evaluated,
  # mkMerge flattened (mkOverride and mkOrder are left for filterOverrides/sortProperties).
  dischargeProperties = def:
    let t = def._type or ""; in
    if t == "merge" then concatMap dischargeProperties def.contents
    else if t == "if" then
      if isBool def.condition then
        (if def.condition then dischargeProperties def.content else [ ])
      else throw "‘mkIf’ called with a non-Boolean condition"
    else [ def ];

  # Keep the definitions of the highest priority (the lowest number), unwrapped.
  filterOverrides' = defs:
    let
      getPrio = def: if def.value._type or "" == "override" then def.value.priority else defaultOverridePriority;
      strip = def: if def.value._type or "" == "override" then def // { value = def.value.content; } else def;
    in
    if length defs == 1 then { values = map strip defs; highestPrio = getPrio (head defs); }
    else
      let highestPrio = foldl' (prio: def: lib.min (getPrio def) prio) 9999 defs; in
      { values = concatMap (def: if getPrio def == highestPrio then [ (strip def) ] else [ ]) defs; inherit highestPrio; };
  filterOverrides = defs: (filterOverrides' defs).values;

  # Stable sort by mkOrder priority (builtins.sort is stable), the order unwrapped.
  sortProperties = defs:
    let
      strip = def: if def.value._type or "" == "order" then def // { value = def.value.content; inherit (def.value) priority; } else def;
    in
    sort (a: b: (a.priority or defaultOrderPriority) < (b.priority or defaultOrderPriority)) (map strip defs);

  # An option's definitions forwarded to another option (mkAliasOptionModule and friends).
  mkAliasDefinitions = mkAliasAndWrapDefinitions lib.id;
  mkAliasAndWrapDefinitions = wrap: option: mkIf option.isDefined (wrap (mkMerge option.definitions));
  # The same, keeping the definitions' priority.
  mkAliasAndWrapDefsWithPriority = wrap: option:
    let
      prio = option.highestPrio or defaultOverridePriority;
      defsWithPrio = map (mkOverride prio) option.definitions;
    in
    mkIf option.isDefined (wrap (mkMerge defsWithPrio));
  mkAliasIfDef = lib.warn "Usage of 'mkAliasIfDef' has been deprecated. Use 'mkIf option.isDefined' instead."
    (option: mkIf option.isDefined);
  # A value derived from an option, at the option's priority.
  mkDerivedConfig = opt: f: mkOverride (opt.highestPrio or defaultOverridePriority) (f opt.value);
}
