# nixpkgs' makeInitrd (pkgs/build-support/kernel/make-initrd.nix): an
# lzop'd newc cpio holding the closure of each `contents` object under /nix/store
# and a symlink to it at `symlink`. $out/initrd, as NixOS's
# system.build.initialRamdisk has.
{ runCommand }:
{ name ? "initrd", contents }:
let
  objects = map (c: c.object) contents;
in
runCommand name {
  exportReferencesGraph =
    builtins.concatLists (builtins.genList (i: [ "closure-${toString i}" (builtins.elemAt objects i) ])
      (builtins.length objects));
  symlinks = map (c: c.symlink) contents;
  objects = map toString objects;
  storeDir = builtins.storeDir;
} ''
  mkdir -p root$storeDir
  # closure files: per path "path, deriver, n, n references"; every
  # reference is also a record, so the set of paths is every non-.drv line.
  cat closure-* | grep "^$storeDir/" | grep -v '\.drv$' | sort -u | while read -r p; do
    cp -R "$p" "root$p"  # -a would try to keep the nixbld owner
  done
  set -- $objects
  for s in $symlinks; do
    mkdir -p "root$(dirname "$s")"
    ln -s "$1" "root$s"
    shift
  done
  mkdir -p $out
  # owned by root, not the build user; times, inode numbers fixed: the same
  # contents give the same bytes
  find root -exec touch -h -d @1 {} +
  # lzop, not gzip -9 (nixpkgs' default compressor): under TCG the kernel
  # unpacks it in about 0.7 s less CPU (bench/README.md, issue 28), for a
  # third more bytes (QEMU and the guest each hold the compressed image);
  # busybox's lzop reading a pipe writes no name or time, so the bytes stay
  # reproducible.
  (cd root && find . | sort | cpio -o -H newc -R 0:0 --ignore-devno --renumber-inodes --quiet | lzop -c) > $out/initrd
''
