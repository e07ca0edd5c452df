# Debian .debs as Nix inputs. debs.json (written by `nixvms setup`)
# says which files; each becomes a fixed-output derivation the way nixpkgs'
# requireFile does it: the file is added to the store by setup with
# `nix-store --add-fixed`, and the derivation's builder only fails with
# "run scripts/setup" when it is not there.
{ system, platform }:
let
  # debs.nix carries debs.json's content and is imported, so that Nix's
  # evaluation log (which nixvms reads for dependencies) names it. It is
  # machine-specific, so it lives in the user's data directory, not here:
  # nixvms passes it as <nixvms-tinyos-debs>.
  given = builtins.any (entry: entry.prefix == "nixvms-tinyos-debs") builtins.nixPath;
  setupHint = "run `nixvms setup` (as root) to fetch the Debian packages tinyos is built from";
  manifest =
    if given then import <nixvms-tinyos-debs>
    else throw "tinyos: no manifest of Debian files (<nixvms-tinyos-debs> is not in the search path): ${setupHint}";
  m = manifest.systems.${system} or (throw
    "tinyos: debs.json has no packages for ${system}: ${setupHint}");

  failing = what: [ "-c" "echo 'tinyos: ${what} is not in the Nix store: ${setupHint}' >&2; exit 1" ];

  # Debian version without its epoch ("1:1.35.0-4" -> "1.35.0-4"): store
  # names cannot contain ':'.
  upstreamVersion = v: let p = builtins.match "[0-9]+:(.*)" v; in
    if p == null then v else builtins.head p;
  # ... and store names take [A-Za-z0-9+._?=-] only: "3.0.22-1~deb12u2" -> "3.0.22-1_deb12u2"
  storeVersion = v: builtins.replaceStrings [ "~" ] [ "_" ] (upstreamVersion v);

  # The bootstrap builder: bin/busybox alone in a store path
  # (recursive hash), added by setup. Its own builder is
  # /bin/sh only because nothing else exists yet; it never runs when setup
  # has been run.
  bootstrapBusybox = derivation {
    inherit system;
    inherit (m.bootstrap) name;
    builder = "/bin/sh";
    args = failing "the bootstrap busybox";
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
    outputHash = m.bootstrap.narHash;
  };

  # requireDeb "busybox-static": the .deb file recorded for that package name.
  requireDeb = debName:
    let d = m.debs.${debName} or (throw
      "tinyos: Debian package ${debName} (${system}) is not in debs.json: ${setupHint}");
    in derivation {
      inherit system;
      inherit (d) name;
      builder = "${bootstrapBusybox}/bin/busybox";
      args = [ "sh" ] ++ failing d.name;
      outputHashMode = "flat";
      outputHashAlgo = "sha256";
      outputHash = d.sha256;
    } // {
      inherit (d) package;
      version = upstreamVersion d.version;
      debianVersion = d.version;
    };

  busybox =
    let deb = requireDeb "busybox-static"; in
    derivation {
      inherit system;
      name = "busybox-${deb.version}";
      builder = "${bootstrapBusybox}/bin/busybox";
      # No PATH yet: Debian's busybox-static runs its applets without one.
      args = [ "sh" "-ec" ''
        dpkg-deb -x ${deb} deb
        mkdir -p $out/bin
        cp deb/bin/busybox $out/bin/busybox
        for a in $($out/bin/busybox --list); do
          [ "$a" = busybox ] || ln -s busybox "$out/bin/$a"
        done
      '' ];
    } // { inherit (deb) version; };

  # unpackDeb "dropbear-bin": a package's files (data.tar) as a store path.
  # One derivation per Debian package; issue 5 adds shared-library closures.
  unpackDeb = debName:
    let deb = requireDeb debName; in
    derivation {
      inherit system;
      name = "${debName}-${storeVersion deb.debianVersion}";
      builder = "${bootstrapBusybox}/bin/busybox";
      args = [ "sh" "-ec" "mkdir $out; dpkg-deb -x ${deb} $out" ];
    } // { inherit (deb) version; };

  # The dynamic loader's package: binaries find it at platform.loader.guestPath
  # (their PT_INTERP, Debian's path), which the guest links to this (stage-2.nix).
  libc = unpackDeb "libc6";

  # debPackage "lynx" { deb = "lynx"; env = ...; }: a package made of a
  # Debian package's programs and its shared-library closure (the Depends
  # closure setup recorded in debs.json). $out/bin/<prog> is a wrapper that
  # sets LD_LIBRARY_PATH to the closure's library directories (those that
  # exist) and execs the Debian binary, so the store path of every library
  # package is a reference of the package: copying its closure (the initrd)
  # copies the libraries.
  debPackage = pname: spec:
    let
      closure = m.closures.${spec.deb} or (throw
        "tinyos: debs.json has no Depends closure for ${spec.deb} (${system}): ${setupHint}");
      debs = builtins.listToAttrs (map (n: { name = n; value = unpackDeb n; }) closure);
      main = debs.${spec.deb};
      env = if spec ? env then spec.env debs else { };
      # the wrapper of program $f (the loop's body; spec.programs too)
      # (its text is that of the loop in the script, after its indentation
      # is stripped: the derivations of packages without programs are unchanged)
      wrap = ''[ -f "$f" ] && [ -x "$f" ] || continue
    w=$out/bin/$(basename "$f")
    {
      echo "#!${busybox}/bin/sh"
      echo "export LD_LIBRARY_PATH=$libpath"
      ${builtins.concatStringsSep "
" (map (k: "echo ${lib_escape "export ${k}=${env.${k}}"}") (builtins.attrNames env))}
      echo "exec $f \"\$@\""
    } > "$w"
    chmod 0555 "$w"'';
      # spec.programs: paths inside the package, or (a function of the
      # unpacked closure) store paths of programs in other packages of it
      programPaths = if builtins.isFunction spec.programs then spec.programs debs
        else map (p: "${main}/${p}") spec.programs;
      libDirs = builtins.concatLists (map (d: map (sub: "${d}/${sub}")
        [ "lib/${platform.multiarch}" "usr/lib/${platform.multiarch}" ]) (builtins.attrValues debs))
        ++ (if spec ? libDirs then spec.libDirs debs else [ ]);
    in
    derivation {
      inherit system;
      name = "${pname}-${storeVersion main.version}";
      builder = "${bootstrapBusybox}/bin/busybox";
      PATH = "${busybox}/bin";
      args = [ "sh" "-ec" ''
        mkdir -p $out/bin $out/nix-support
        libpath=
        for d in ${builtins.concatStringsSep " " libDirs}; do
          [ -d "$d" ] && libpath="$libpath''${libpath:+:}$d"
        done
        echo "$libpath" > $out/nix-support/ld-library-path
        for dir in usr/bin usr/sbin bin sbin; do
          [ -d ${main}/$dir ] || continue
          for f in ${main}/$dir/*; do
            ${wrap}
          done
        done
        ${lib_optionalString (spec ? programs) "for f in ${builtins.concatStringsSep " " programPaths}; do
    ${wrap}
done
"}${lib_optionalString (spec ? aliases) (builtins.concatStringsSep "" (map (a: "ln -s ${spec.aliases.${a}} $out/bin/${a}\n") (builtins.attrNames spec.aliases)))}[ -d ${main}/usr/share ] && ln -s ${main}/usr/share $out/share || true
      '' ];
    } // { version = main.version; inherit debs; debianPackage = spec.deb; meta = spec.meta or { }; };
  lib_optionalString = c: s: if c then s else "";
  lib_escape = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] s + "'";

  packages = builtins.mapAttrs debPackage (import ./debian-packages.nix);
in
{
  inherit manifest requireDeb unpackDeb bootstrapBusybox busybox upstreamVersion storeVersion libc debPackage packages;
}
