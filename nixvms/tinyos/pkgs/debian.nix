# Debian .debs as Nix inputs. debs.json (written by scripts/setup-tinyos)
# says which files; each becomes a fixed-output derivation the way nixpkgs'
# requireFile does it: the file is added to the store by setup with
# `nix-store --add-fixed`, and the derivation's builder only fails with
# "run scripts/setup" when it is not there.
{ system, platform }:
let
  manifestFile = ./debs.json;
  setupHint = "run scripts/setup (as root) to fetch the Debian packages tinyos is built from";
  manifest =
    if builtins.pathExists manifestFile
    then builtins.fromJSON (builtins.readFile manifestFile)
    else throw "tinyos: nixvms/tinyos/pkgs/debs.json is missing: ${setupHint}";
  m = manifest.systems.${system} or (throw
    "tinyos: debs.json has no packages for ${system}: ${setupHint}");

  failing = what: [ "-c" "echo 'tinyos: ${what} is not in the Nix store: ${setupHint}' >&2; exit 1" ];

  # Debian version without its epoch ("1:1.35.0-4" -> "1.35.0-4"): store
  # names cannot contain ':'.
  upstreamVersion = v: let p = builtins.match "[0-9]+:(.*)" v; in
    if p == null then v else builtins.head p;

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
      name = "${debName}-${deb.version}";
      builder = "${bootstrapBusybox}/bin/busybox";
      args = [ "sh" "-ec" "mkdir $out; dpkg-deb -x ${deb} $out" ];
    } // { inherit (deb) version; };
in
{
  inherit manifest requireDeb unpackDeb bootstrapBusybox busybox upstreamVersion;
}
