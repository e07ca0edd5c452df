# Stands in for the package set: _module.args.pkgs with a few fake derivations.
{ lib, ... }:
let
  fake = name: { type = "derivation"; inherit name; outPath = "/nix/store/00000000000000000000000000000000-${name}"; };
in
{
  _module.args.pkgs = lib.genAttrs [ "busybox" "openssh" "nginx" "linux" "qemu" "bash" "coreutils" "iproute2" "util-linux" "agetty" ] fake;
}
