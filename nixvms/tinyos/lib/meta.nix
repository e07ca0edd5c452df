# Mirrors (a subset of) nixpkgs lib/meta.nix: lib.getExe and lib.getExe',
# which NixOS modules and tests use to name a package's program, and the
# helpers they stand on (getName, getBin).
{ lib }:
let
  check = pred: msg: pred || builtins.throw msg;
in
rec {
  # "hello-2.12" -> "hello": the name without its version (parseDrvName), of a
  # package or of a name string
  getName = x: (builtins.parseDrvName (if builtins.isString x then x else x.pname or x.name)).name;

  # the output with programs: bin when a package has one, else out, else itself
  getBin = pkg: pkg.bin or pkg.out or pkg;

  # lib.getExe' pkg "prog": the path of bin/prog in pkg
  getExe' = x: y:
    assert check (lib.isDerivation x)
      "lib.getExe': the first argument is a ${builtins.typeOf x}, not a derivation";
    assert check (builtins.isString y)
      "lib.getExe': the second argument is a ${builtins.typeOf y}, not a string";
    assert check (builtins.match ".*/.*" y == null)
      "lib.getExe': the second argument \"${y}\" contains a /; it must be a program name in bin/";
    "${getBin x}/bin/${y}";

  # lib.getExe pkg: bin/<meta.mainProgram>, or (with a warning, as nixpkgs
  # gives one) bin/<name without version>
  getExe = x:
    getExe' x (x.meta.mainProgram or (builtins.trace
      "evaluation warning: getExe: ${getName x} has no meta.mainProgram; assuming its program is named ${getName x}"
      (getName x)));
}
