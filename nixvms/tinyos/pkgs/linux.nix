# The kernel: Debian's image package for this platform (for x86_64 the cloud
# flavour: virtio drivers, quick boot), laid out as nixpkgs' kernels are:
# $out/bzImage, $out/lib/modules/<modDirVersion> (with modules.dep, which
# Debian leaves to depmod at install time), passthru version/modDirVersion.
{ runCommand, requireDeb, platform, debian }:
let
  deb = requireDeb platform.kernelPackage;
  # linux-image-6.1.0-56-cloud-amd64 -> 6.1.0-56-cloud-amd64 (`uname -r`)
  modDirVersion = builtins.substring 12 (-1) deb.package;
in
runCommand "linux-${modDirVersion}-${deb.version}" {
  passthru = { inherit (deb) version; inherit modDirVersion; debPackage = deb.package; };
} ''
  dpkg-deb -x ${deb} deb
  mkdir -p $out/lib
  cp deb/boot/vmlinuz-${modDirVersion} $out/${platform.kernelTarget}
  cp deb/boot/config-${modDirVersion} $out/config
  cp deb/boot/System.map-${modDirVersion} $out/System.map
  if [ -d deb/usr/lib/modules ]; then mods=deb/usr/lib/modules; else mods=deb/lib/modules; fi
  mv $mods $out/lib/modules
  depmod -b $out ${modDirVersion}
''
