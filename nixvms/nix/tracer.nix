# Imports a file outside the Nix store so that everything it reads is named
# in the evaluation's log. Nix's own log names imported files and sources
# copied to the store, but not builtins.readFile, readDir, pathExists or
# builtins.path; so files outside the store are imported with scopedImport,
# with those builtins wrapped in builtins.trace (the technique lorri uses),
# recursively for what they import. Files in the store (nixpkgs) are
# imported normally: they never change, and scopedImport would defeat
# Nix's import cache. deps.py reads the "nixvms-dep <kind> <path>" lines.
let
  storePrefix = builtins.storeDir + "/";
  inStore = p: builtins.substring 0 (builtins.stringLength storePrefix) (toString p) == storePrefix;
  note = kind: p: value:
    if inStore p then value
    else builtins.trace "nixvms-dep ${kind} ${toString p}" value;

  # Nix would wait forever reading a FIFO (and a device or socket is no
  # source either): name such a path instead. readDir says "unknown" for them.
  readable = p:
    let
      # A path in a missing directory: Nix's own error names it below.
      kind = if builtins.pathExists (dirOf p)
        then (builtins.readDir (dirOf p)).${baseNameOf (toString p)} or "regular"
        else "regular";
    in
    if kind == "unknown" then
      throw "${toString p} is not a regular file (a FIFO, socket or device), so Nix cannot read it"
    else p;

  tracedBuiltins = builtins // {
    import = tracedImport;
    scopedImport = scope: p: builtins.scopedImport (overrides // scope) (readable p);
    readFile = p: note "file" p (builtins.readFile (readable p));
    readDir = p: note "listing" p (builtins.readDir p);
    pathExists = p:
      let exists = builtins.pathExists p;
      in note (if exists then "exists" else "missing") p exists;
    path = args: note "tree" (args.path or args) (builtins.path args);
    filterSource = filter: p: note "tree" p (builtins.filterSource filter p);
  };
  overrides = { builtins = tracedBuiltins; import = tracedImport; };

  # nixpkgs' nixos/tests/make-test-python.nix (`import ./make-test-python.nix
  # ({ pkgs, ... }: { ... })`), wherever the test file is: the test itself,
  # marked for nixos-test.nix, called with any arguments or none.
  makeTest = f: { __nixvmsMakeTest = f; __functor = self: _args: self; };

  tracedImport = p:
    if baseNameOf (toString p) == "make-test-python.nix" then makeTest
    else if inStore p then builtins.import p
    else note "import" p (builtins.scopedImport overrides (readable p));

  # A NixOS module whose imports are traced too: a path is imported through
  # the tracer (keeping its file name and key, as the module system would
  # give them); a function's result and an attribute set get their
  # `imports` wrapped the same way. A module that is a path inside the
  # store is left to the module system.
  traceModule = m:
    if builtins.isPath m || (builtins.isString m && builtins.substring 0 1 m == "/" && !inStore m) then
      (if inStore m then m else {
        _file = toString m;
        key = toString m;
        imports = [ (traceModule (tracedImport m)) ];
      })
    else if builtins.isFunction m then {
      # Keep the argument set: the module system passes only what is asked for.
      __functor = _: args: traceImports (m args);
      __functionArgs = builtins.functionArgs m;
    }
    else if builtins.isAttrs m && !(m ? __functor) then traceImports m
    else m;
  traceImports = m:
    if builtins.isAttrs m && m ? imports && builtins.isList m.imports
    then m // { imports = map traceModule m.imports; }
    else m;
in
{
  import = tracedImport;
  module = traceModule;
}
