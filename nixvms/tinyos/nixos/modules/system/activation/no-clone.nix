# A specialisation's own configuration has no specialisations of its own
# (NixOS's no-clone.nix): nesting would never end.
{ lib, ... }:
{
  specialisation = lib.mkOverride 0 { };
  isSpecialisation = lib.mkOverride 0 true;
}
