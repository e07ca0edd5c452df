# lib.cli (nixpkgs lib/cli.nix): attribute sets rendered as command-line arguments.
# toCommandLine takes a function from an option name to its format
# { option; sep; explicitBool; formatArg; }; a list value repeats the option, null
# (and false, unless explicitBool) leaves it out, true (unless explicitBool) is the
# bare option.
{ lib }:
rec {
  toCommandLine = optionFormat: attrs:
    let
      render = { option, sep, explicitBool, formatArg ? lib.generators.mkValueStringDefault { } }: v:
        if v == null || (!explicitBool && v == false) then [ ]
        else if !explicitBool && v == true then [ option ]
        else if sep != null then [ "${option}${sep}${formatArg v}" ]
        else [ option (formatArg v) ];
      forOption = k: render (optionFormat k);
      pair = k: v:
        if k == "" then throw "lib.cli.toCommandLine only accepts non-empty option names."
        else if builtins.isList v then builtins.concatMap (forOption k) v
        else forOption k v;
    in
    builtins.concatLists (lib.mapAttrsToList pair attrs);
  toCommandLineShell = optionFormat: attrs: lib.escapeShellArgs (toCommandLine optionFormat attrs);

  # GNU style: -k<value> for one-letter names, --name=<value> for longer ones.
  toCommandLineGNU = { isLong ? name: builtins.stringLength name > 1, explicitBool ? false
    , formatArg ? lib.generators.mkValueStringDefault { } }:
    toCommandLine (name: {
      option = if isLong name then "--${name}" else "-${name}";
      sep = if isLong name then "=" else "";
      inherit explicitBool formatArg;
    });
  toCommandLineShellGNU = options: attrs: lib.escapeShellArgs (toCommandLineGNU options attrs);

  # The older interface (deprecated in nixpkgs): -k value / --name value, or with
  # optionValueSeparator between them.
  toGNUCommandLine =
    { mkOptionName ? k: if builtins.stringLength k == 1 then "-${k}" else "--${k}"
    , mkBool ? k: v: lib.optional v (mkOptionName k)
    , mkList ? k: v: lib.concatMap (mkOption k) v
    , mkOption ? k: v:
        if v == null then [ ]
        else if optionValueSeparator == null then [ (mkOptionName k) (lib.generators.mkValueStringDefault { } v) ]
        else [ "${mkOptionName k}${optionValueSeparator}${lib.generators.mkValueStringDefault { } v}" ]
    , optionValueSeparator ? null
    }:
    options:
    builtins.concatLists (lib.mapAttrsToList (k: v:
      if builtins.isBool v then mkBool k v
      else if builtins.isList v then mkList k v
      else mkOption k v) options);
  toGNUCommandLineShell = options: attrs: lib.escapeShellArgs (toGNUCommandLine options attrs);
}
