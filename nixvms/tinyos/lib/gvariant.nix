# lib.gvariant (nixpkgs lib/gvariant.nix): GVariant values (as dconf settings use them)
# built from Nix values; `toString` of one is its GVariant text form
# (https://docs.gtk.org/glib/gvariant-text.html), with a type annotation where the text
# alone would not say the type.
{ lib }:
let
  inherit (lib) concatMapStringsSep concatStrings escape head;

  # a value of GVariant type t (a type string), shown as "@t value" unless overridden
  mkPrimitive = t: v: {
    _type = "gvariant";
    type = t;
    value = v;
    __toString = self: "@${self.type} ${toString self.value}";
  };
  withText = text: v: v // { __toString = text; };

  type = {
    arrayOf = t: "a${t}";
    maybeOf = t: "m${t}";
    tupleOf = ts: "(${concatStrings ts})";
    dictionaryEntryOf = nameType: valueType: "{${nameType}${valueType}}";
    string = "s";
    boolean = "b";
    uchar = "y";
    int16 = "n";
    uint16 = "q";
    int32 = "i";
    uint32 = "u";
    int64 = "x";
    uint64 = "t";
    double = "d";
    variant = "v";
  };
in
rec {
  inherit type;

  isGVariant = v: v._type or "" == "gvariant";

  # the integer constructors and their ranges (an integer's GVariant type is never guessed)
  intConstructors = [
    { name = "mkInt32"; type = type.int32; min = -2147483648; max = 2147483647; }
    { name = "mkUint32"; type = type.uint32; min = 0; max = 4294967295; }
    { name = "mkInt64"; type = type.int64; min = null; max = null; }
    { name = "mkUint64"; type = type.uint64; min = 0; max = null; }
    { name = "mkInt16"; type = type.int16; min = -32768; max = 32767; }
    { name = "mkUint16"; type = type.uint16; min = 0; max = 65535; }
    { name = "mkUchar"; type = type.uchar; min = 0; max = 255; }
  ];

  # A Nix value as a GVariant: booleans, floats (double), strings, lists (arrays) and
  # GVariant values; integers and attribute sets must be wrapped explicitly.
  mkValue = v:
    if builtins.isBool v then mkBoolean v
    else if builtins.isFloat v then mkDouble v
    else if builtins.isString v then mkString v
    else if builtins.isList v then mkArray v
    else if isGVariant v then v
    else if builtins.isInt v then
      let fits = builtins.filter ({ min, max, ... }: (min == null || min <= v) && (max == null || v <= max)) intConstructors; in
      throw ''
        The GVariant type for number “${toString v}” is unclear.
        Please wrap the value with one of the following, depending on the value type in GSettings schema:

        ${concatMapStringsSep "\n" ({ name, type, ... }: "- `lib.gvariant.${name}` for `${type}`") fits}
      ''
    else if builtins.isAttrs v then
      throw "Cannot construct GVariant value from an attribute set. If you want to construct a dictionary, you will need to create an array containing items constructed with `lib.gvariant.mkDictionaryEntry`."
    else throw "The GVariant type of “${builtins.typeOf v}” can't be inferred.";

  mkArray = elems:
    let
      vs = map mkValue (lib.throwIf (elems == [ ]) "Please create empty array with mkEmptyArray." elems);
      elemType = lib.throwIfNot (lib.all (v: v.type == (head vs).type) vs)
        "Elements in a list should have same type." (head vs).type;
    in
    withText (self: "@${self.type} [${concatMapStringsSep "," toString self.value}]") (mkPrimitive (type.arrayOf elemType) vs);

  mkEmptyArray = elemType: withText (self: "@${self.type} []") (mkPrimitive (type.arrayOf elemType) [ ]);

  mkVariant = elem: withText (self: "<${toString self.value}>") (mkPrimitive type.variant (mkValue elem));

  mkDictionaryEntry = name: value:
    let name' = mkValue name; value' = mkValue value; in
    withText (self: "@${self.type} {${name'},${value'}}")
      (mkPrimitive (type.dictionaryEntryOf name'.type value'.type) { inherit name value; });

  mkMaybe = elemType: elem:
    withText (self: if self.value == null then "@${self.type} nothing" else "just ${toString self.value}")
      (mkPrimitive (type.maybeOf elemType) elem);
  mkNothing = elemType: mkMaybe elemType null;
  mkJust = elem: let v = mkValue elem; in mkMaybe v.type v;

  mkTuple = elems:
    let vs = map mkValue elems; in
    withText (self: "@${self.type} (${concatMapStringsSep "," toString self.value})")
      (mkPrimitive (type.tupleOf (map (e: e.type) vs)) vs);

  mkBoolean = v: withText (self: if self.value then "true" else "false") (mkPrimitive type.boolean v);

  # single-quoted, with ' and \ escaped and newlines as \n
  mkString = v:
    let sanitize = s: builtins.replaceStrings [ "\n" ] [ "\\n" ] (escape [ "'" "\\" ] s); in
    withText (self: "'${sanitize self.value}'") (mkPrimitive type.string v);

  mkObjectpath = v: withText (self: "objectpath '${escape [ "'" ] self.value}'") (mkPrimitive type.string v);

  mkUchar = mkPrimitive type.uchar;
  mkInt16 = mkPrimitive type.int16;
  mkUint16 = mkPrimitive type.uint16;
  # int32 and double are GVariant's defaults for numbers: no annotation
  mkInt32 = v: withText (self: toString self.value) (mkPrimitive type.int32 v);
  mkUint32 = mkPrimitive type.uint32;
  mkInt64 = mkPrimitive type.int64;
  mkUint64 = mkPrimitive type.uint64;
  mkDouble = v: withText (self: toString self.value) (mkPrimitive type.double v);
}
