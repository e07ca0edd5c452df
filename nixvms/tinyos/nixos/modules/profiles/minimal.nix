# nixos/modules/profiles/minimal.nix trims documentation and fonts from a
# NixOS system; tinyos has neither, so importing it changes nothing.
{ ... }: { }
