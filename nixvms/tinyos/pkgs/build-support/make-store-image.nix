# The read-only store disks of a VM (NixOS's virtualisation.useNixStoreImage,
# whose image nixpkgs makes with make-disk-image.nix's erofs variant).
#
# makeStoreImage: $out/nix-store.img, an uncompressed erofs filesystem whose
# root holds the closure of each path of `contents`, as the guest's
# /nix/store shows it. Paths of `separatePaths` are left out and are empty
# directories in it: the mount points of their own images (below).
# makeStorePathImage: $out/nix-store.img holding one store path's contents,
# which the guest mounts on that path.
#
# Why the kernel is separate (NixOS has one image): every machine's closure
# holds its kernel package (105 of 190 MB: Debian's whole module tree), and
# each new system makes a new image. One image per kernel, shared by every
# machine, keeps a test suite from writing 20 GB of images to the store.
# Uncompressed: under TCG every decompression is emulated CPU, and the
# guest reads only the files it opens (the page cache keeps what it read).
# mkfs.erofs comes from the machine that builds (erofs-utils of
# pkgs.buildPackages): an i686 machine is built on x86_64 too.
{ runCommand, erofs-utils }:
let
  # the same contents give the same bytes: files owned by root, one time,
  # a fixed UUID (erofs has no inode numbers of its own to fix)
  mkfs = "${erofs-utils}/bin/mkfs.erofs --quiet --all-root -T1 -U 6e697876-6d73-4e69-b873-746f72653031";
in
{
  makeStoreImage = { name ? "nix-store-image", contents, separatePaths ? [ ] }:
    runCommand name {
      exportReferencesGraph =
        builtins.concatLists (builtins.genList (i: [ "closure-${toString i}" (builtins.elemAt contents i) ])
          (builtins.length contents));
      storeDir = builtins.storeDir;
      separate = map (p: baseNameOf (toString p)) separatePaths;
    } ''
      mkdir root
      # closure files: per path "path, deriver, n, n references"; every
      # reference is also a record, so the set of paths is every non-.drv line.
      cat closure-* | grep "^$storeDir/" | grep -v '\.drv$' | sort -u | while read -r p; do
        case " $separate " in
          *" ''${p##*/} "*) mkdir "root/''${p##*/}" ;;
          *) cp -R "$p" "root/''${p##*/}" ;;  # -a would try to keep the nixbld owner
        esac
      done
      mkdir -p $out
      ${mkfs} $out/nix-store.img root
    '';

  # (a path with references would need them in the image it is mounted in:
  # the kernel has none)
  makeStorePathImage = path:
    runCommand "nix-store-image-${path.name}" { } ''
      mkdir -p $out
      ${mkfs} $out/nix-store.img ${path}
    '';
}
