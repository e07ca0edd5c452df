# nixpkgs' trivial builders (pkgs/build-support/trivial-builders), with the
# same names and calling conventions. Builds run busybox sh instead of bash;
# the scripts they write run with runtimeShell (bash, as in nixpkgs) and are
# checked with shellDryRun (bash -n, as nixpkgs' stdenv.shellDryRun).
{ system, busybox, builder, runtimeShell, shellDryRun }:
let
  binPath = pkgs: builtins.concatStringsSep ":" (map (p: "${p}/bin") pkgs);

  # The one place derivations are made: builder is the bootstrap busybox,
  # the script runs under `sh -e` with busybox's applets (plus the inputs'
  # bin directories) on PATH, in a fresh build directory, $out set by Nix.
  mkDerivation =
    { name ? "${args.pname}-${args.version}"
    , buildCommand
    , nativeBuildInputs ? [ ]
    , buildInputs ? [ ]
    , passthru ? { }
    , ...
    }@args:
    derivation (removeAttrs args [ "nativeBuildInputs" "buildInputs" "passthru" "pname" ] // {
      inherit name system builder;
      args = [ "sh" "-ec" buildCommand ];
      PATH = binPath (nativeBuildInputs ++ buildInputs ++ [ busybox ]);
    }) // passthru;

  runCommand = name: env: buildCommand:
    mkDerivation (env // { inherit name buildCommand; });

  writeTextFile =
    { name, text, executable ? false, destination ? "", checkPhase ? "" }:
    runCommand name { inherit text; passAsFile = [ "text" ]; } ''
      target="$out${destination}"
      mkdir -p "$(dirname "$target")"
      cp "$textPath" "$target"
      ${if executable then ''chmod +x "$target"'' else ""}
      ${checkPhase}
    '';

  # buildEnv's job (pkgs/build-support/buildenv): a tree of symlinks to the
  # union of paths, restricted to pathsToLink; first path wins a collision.
  buildEnv =
    { name, paths, pathsToLink ? [ "/" ], postBuild ? "", passthru ? { }, ... }:
    runCommand name { inherit passthru; paths = map toString paths; inherit pathsToLink; } ''
      mkdir -p $out
      for p in $paths; do
        for sub in $pathsToLink; do
          src="$p$sub"; [ "$sub" = / ] && src="$p"
          [ -d "$src" ] || continue
          (cd "$src" && find . -mindepth 1) | while read -r f; do
            dst="$out$sub/$f"
            if [ -d "$src/$f" ] && [ ! -L "$src/$f" ]; then
              mkdir -p "$dst"
            elif [ ! -e "$dst" ] && [ ! -L "$dst" ]; then
              mkdir -p "$(dirname "$dst")"
              ln -s "$src/$f" "$dst"
            fi
          done
        done
      done
      ${postBuild}
    '';
in
rec {
  inherit mkDerivation runCommand writeTextFile buildEnv;
  runCommandLocal = runCommand;
  writeText = name: text: writeTextFile { inherit name text; };
  writeTextDir = path: text: writeTextFile {
    name = baseNameOf path; inherit text; destination = "/${path}";
  };
  writeScript = name: text: writeTextFile { inherit name text; executable = true; };
  writeScriptBin = name: text: writeTextFile {
    inherit name text; executable = true; destination = "/bin/${name}";
  };
  # bash, as in nixpkgs (runtimeShell), with its syntax checked at build time
  writeShellScript = name: text: writeTextFile {
    inherit name; executable = true;
    text = "#!${runtimeShell}\n${text}";
    checkPhase = ''${shellDryRun} "$target"'';
  };
  writeShellScriptBin = name: text: writeTextFile {
    inherit name; executable = true; destination = "/bin/${name}";
    text = "#!${runtimeShell}\n${text}";
    checkPhase = ''${shellDryRun} "$target"'';
  };
  # nixpkgs' writeShellApplication: bin/<name> with errexit, nounset and
  # pipefail set and runtimeInputs' bin directories first on PATH. nixpkgs
  # checks the script with shellcheck; tinyos has none and checks its
  # syntax with `bash -n` instead. checkPhase replaces that check, as in nixpkgs.
  writeShellApplication =
    { name, text, runtimeInputs ? [ ], runtimeEnv ? null, meta ? { }, passthru ? { }
    , checkPhase ? null, excludeShellChecks ? [ ], extraShellCheckFlags ? [ ]
    , bashOptions ? [ "errexit" "nounset" "pipefail" ], inheritPath ? true, derivationArgs ? { } }:
    writeTextFile {
      inherit name;
      executable = true;
      destination = "/bin/${name}";
      text = "#!${runtimeShell}\n"
        + builtins.concatStringsSep "" (map (o: "set -o ${o}\n") bashOptions)
        + (if runtimeEnv == null then "" else builtins.concatStringsSep ""
            (map (k: "export ${k}='${builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString runtimeEnv.${k})}'\n")
              (builtins.attrNames runtimeEnv)))
        + (if runtimeInputs == [ ] then "" else
            "export PATH=\"${binPath runtimeInputs}${if inheritPath then ":$PATH" else ""}\"\n")
        + "\n" + text;
      checkPhase = if checkPhase != null then checkPhase else ''
        ${shellDryRun} "$target"
      '';
    } // { inherit meta passthru; };
  symlinkJoin = { name, paths, postBuild ? "", passthru ? { }, ... }:
    buildEnv { inherit name paths postBuild passthru; };
}
