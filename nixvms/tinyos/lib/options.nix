# Mirrors nixpkgs lib/options.nix: option declarations, the standard merge functions and
# the helpers that format option paths and definitions in error messages.
{ lib }:
let
  inherit (builtins) head tail length filter all isFunction isList isAttrs isBool isString isInt
    concatLists concatStringsSep foldl' attrNames map;
in
rec {
  # lib.mkOption: only the given attributes are kept (so "has a default" is `opt ? default`).
  mkOption =
    { default ? null, defaultText ? null, example ? null, description ? null
    , relatedPackages ? null, type ? null, apply ? null, internal ? null, visible ? null
    , readOnly ? null }@attrs:
    attrs // { _type = "option"; };

  isOption = lib.isType "option";

  # lib.mkEnableOption
  mkEnableOption = name: mkOption {
    default = false;
    example = true;
    description = "Whether to enable ${name}.";
    type = lib.types.bool;
  };

  # lib.mkPackageOption pkgs name { nullable, default, example, extraDescription, pkgsText }:
  # an option of type package (or null or package) whose default is the
  # attribute path `default` (a name or a list; default: name) of pkgs, or no
  # default when default = null; example is an attribute path of pkgs (a list)
  # or an expression (a string); pkgsText names pkgs in the texts.
  mkPackageOption = pkgs: name:
    { nullable ? false, default ? name, example ? null, extraDescription ? "", pkgsText ? "pkgs" }:
    let
      name' = if isList name then lib.last name else name;
      defaultPath = if isList default then default else [ default ];
      defaultText = lib.showAttrPath defaultPath;
      defaults =
        if default != null then {
          default = lib.attrByPath defaultPath (throw "${defaultText} cannot be found in ${pkgsText}") pkgs;
          defaultText = literalExpression "${pkgsText}.${defaultText}";
        }
        else lib.optionalAttrs nullable { default = null; };
    in
    mkOption (defaults // {
      description = "The ${name'} package to use." + lib.optionalString (extraDescription != "") (" " + extraDescription);
      type = if nullable then lib.types.nullOr lib.types.package else lib.types.package;
    } // lib.optionalAttrs (example != null) {
      example = literalExpression
        (if isList example then "${pkgsText}.${lib.showAttrPath example}" else example);
    });
  mkPackageOptionMD = mkPackageOption;

  # lib.mkSinkUndeclaredOptions
  mkSinkUndeclaredOptions = attrs: mkOption ({
    internal = true;
    visible = false;
    default = false;
    description = "Sink for option definitions.";
    type = lib.types.mkOptionType {
      name = "sink";
      check = _: true;
      merge = _: _: false;
    };
    apply = _: throw "Option value is not readable because the option is not declared.";
  } // attrs);

  # lib.optionAttrSetToDocList: every option (sub-options of submodules included) as
  # the flat record documentation generators read: name, loc, description, type (its
  # description), declarations, default/example (rendered), internal, visible, readOnly.
  optionAttrSetToDocList = optionAttrSetToDocList' [ ];
  optionAttrSetToDocList' = _: options:
    lib.concatMap (opt:
      let
        name = showOption opt.loc;
        visible = opt.visible or true;
        type = opt.type or { };
        docOption = {
          loc = opt.loc;
          inherit name;
          description = opt.description or null;
          declarations = filter (x: x != unknownModule) opt.declarations;
          internal = opt.internal or false;
          visible = if isBool visible then visible else visible == "shallow";
          readOnly = opt.readOnly or false;
          type = opt.type.description or "unspecified";
        }
        // lib.optionalAttrs (opt ? example) {
          example = builtins.addErrorContext "while evaluating the example of option `${name}`" (renderOptionValue opt.example);
        }
        # a default, or the type's empty value (not a submodule's: it is documented by its options)
        // lib.optionalAttrs (opt ? defaultText || opt ? default || (type.emptyValue or { }) ? value && type.getSubModules or null == null) {
          default = builtins.addErrorContext
            "while evaluating the ${if opt ? defaultText then "defaultText" else "default value"} of option `${name}`"
            (renderOptionValue (opt.defaultText or opt.default or opt.type.emptyValue.value));
        }
        // lib.optionalAttrs (opt ? relatedPackages && opt.relatedPackages != null) { inherit (opt) relatedPackages; };
        subOptions = let ss = opt.type.getSubOptions opt.loc; in if ss != { } then optionAttrSetToDocList' opt.loc ss else [ ];
        subOptionsVisible = if isBool visible then visible else visible == "transparent";
      in
      [ docOption ] ++ lib.optionals subOptionsVisible subOptions) (lib.collect isOption options);

  # A value as documentation shows it: literal texts as they are, others pretty-printed.
  renderOptionValue = v:
    if v ? _type && v ? text then v
    else literalExpression (lib.generators.toPretty { multiline = true; allowPrettyValues = true; } v);

  # lib.literalExpression / literalMD / mdDoc: documentation markers only.
  literalExpression = text:
    if !isString text then throw "literalExpression expects a string."
    else { _type = "literalExpression"; inherit text; };
  literalExample = literalExpression;
  literalMD = text: { _type = "literalMD"; inherit text; };
  mdDoc = x: x;

  # lib.mergeDefaultOption: the merge of types.unspecified.
  mergeDefaultOption = loc: defs:
    let list = getValues defs; in
    if length list == 1 then head list
    else if all isFunction list then x: mergeDefaultOption loc (map (f: f x) list)
    else if all isList list then concatLists list
    else if all isAttrs list then foldl' lib.mergeAttrs { } list
    else if all isBool list then foldl' lib.or false list
    else if all isString list then lib.concatStrings list
    else if all isInt list && all (x: x == head list) list then head list
    else throw "Cannot merge definitions of `${showOption loc}'. Definition values:${showDefs defs}";

  prioritySuggestion = ''
    Use `lib.mkForce value` or `lib.mkDefault value` to change the priority on any of these definitions.
  '';

  # lib.mergeUniqueOption / lib.mergeOneOption: exactly one definition allowed.
  mergeUniqueOption = { message, merge ? null }:
    let
      notUnique = loc: defs: throw ''
        The option `${showOption loc}' is defined multiple times while it's expected to be unique.
        ${message}
        Definition values:${showDefs defs}
        ${prioritySuggestion}'';
    in
    if merge == null then
      loc: defs: if length defs == 1 then (head defs).value else notUnique loc defs
    else
      loc: defs: if length defs == 1 then merge loc defs else notUnique loc defs;
  mergeOneOption = mergeUniqueOption { message = ""; };

  # lib.mergeEqualOption: several definitions are fine as long as they are all equal.
  mergeEqualOption = loc: defs:
    if defs == [ ] then abort "This case should never happen."
    else if length defs == 1 then (head defs).value
    else (foldl' (first: def:
      if def.value != first.value then
        throw "The option `${showOption loc}' has conflicting definition values:${showDefs [ first def ]}\n${prioritySuggestion}"
      else first) (head defs) (tail defs)).value;

  getValues = map (x: x.value);
  getFiles = map (x: x.file);

  # lib.showOption: [ "a" "b c" "<name>" ] -> a."b c".<name> (placeholders such as
  # `<name>` and `*` as they are, other names as Nix would write them)
  showOption = parts:
    let
      escapeOptionPart = part:
        if part == "*" || builtins.match "<(.*)>" part != null then part
        else lib.strings.escapeNixIdentifier part;
    in
    concatStringsSep "." (map escapeOptionPart parts);
  showFiles = files: concatStringsSep " and " (map (f: "`${f}'") files);

  # lib.options.showDefs: "\n- In `file': value" per definition (first 5 lines of the value).
  showDefs = defs: lib.concatMapStrings (def:
    let
      prettyEval = builtins.tryEval (lib.generators.toPretty { } def.value);
      lines = filter (v: !isList v) (builtins.split "\n" prettyEval.value);
      value = concatStringsSep "\n    " (lib.take 5 lines ++ lib.optional (length lines > 5) "...");
      result =
        if !prettyEval.success then ""
        else if length lines > 1 then ":\n    " + value
        else ": " + value;
    in
    "\n- In `${def.file}'${result}") defs;

  unknownModule = "<unknown-file>";

  # lib.scrubOptionValue: remove derivations' internals for documentation.
  scrubOptionValue = x:
    if lib.isDerivation x then { type = "derivation"; drvPath = x.name; outPath = x.name; name = x.name; }
    else if isList x then map scrubOptionValue x
    else if isAttrs x then builtins.mapAttrs (_: scrubOptionValue) (removeAttrs x [ "_args" ])
    else x;
}
