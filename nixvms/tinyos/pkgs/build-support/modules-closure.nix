# nixpkgs' makeModulesClosure (pkgs/build-support/kernel/modules-closure.nix):
# the given modules and everything they depend on (modules.dep), copied out
# of the kernel with a fresh modules.dep, so the initrd holds only those.
# `allowMissing` as nixpkgs'; additionally `optionalModules` may be absent
# from this kernel (e.g. 9p, which Debian's cloud kernel does not build).
# $out/lib/modules/<v>/tinyos-load lists the modules to modprobe, in order.
{ runCommand }:
{ kernel, rootModules, optionalModules ? [ ], allowMissing ? false }:
runCommand "linux-${kernel.modDirVersion}-modules-closure" {
  inherit rootModules optionalModules;
  allowMissing = if allowMissing then "1" else "";
} ''
  v=${kernel.modDirVersion}
  src=${kernel}/lib/modules/$v
  dst=$out/lib/modules/$v
  mkdir -p $dst
  cp $src/modules.builtin $src/modules.order $dst/
  touch want $dst/tinyos-load
  # name -> file, with '-' and '_' equivalent as modprobe treats them
  find_ko() { grep -E "(^|/)$(echo "$1" | sed 's/[-_]/[-_]/g').ko:" $src/modules.dep | cut -d: -f1; }
  for m in $rootModules $optionalModules; do
    ko=$(find_ko "$m")
    if [ -z "$ko" ]; then
      if grep -qE "/$(echo "$m" | sed 's/[-_]/[-_]/g').ko$" $src/modules.builtin; then
        echo "module $m is built into the kernel"; continue
      fi
      case " $optionalModules " in *" $m "*) echo "module $m not in kernel $v: skipped"; continue;; esac
      if [ -n "$allowMissing" ]; then echo "module $m not found: skipped"; continue; fi
      echo "error: kernel module $m not found in kernel $v" >&2; exit 1
    fi
    echo "$m" >> $dst/tinyos-load
    echo "$ko" >> want
    grep "^$ko:" $src/modules.dep | cut -d: -f2 | tr ' ' '\n' | grep . >> want || true
  done
  sort -u want | while read -r ko; do
    mkdir -p "$dst/$(dirname "$ko")"
    cp "$src/$ko" "$dst/$ko"
  done
  depmod -b $out $v
''
