# The packages tinyos makes from Debian binaries (nixpkgs' all-packages.nix
# entries for them), the same names for every system. Each entry:
#   deb  the Debian package whose programs the package provides; setup
#        fetches it and its Depends closure (the shared libraries) for every
#        architecture in platforms.nix and records the closure in debs.json;
#   env  (optional) debs -> attrs: environment variables the program
#        wrappers set, given the unpacked closure by Debian package name.
# busybox is not here: it is the static bootstrap (debian.nix).
{
  dropbear = { deb = "dropbear-bin"; };
  lynx = {
    deb = "lynx";
    env = debs: { LYNX_CFG = "${debs.lynx-common}/etc/lynx/lynx.cfg"; };
  };
}
