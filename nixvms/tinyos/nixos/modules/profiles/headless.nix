# nixos/modules/profiles/headless.nix: no graphics or sound; tinyos has a
# text console only, so importing it changes nothing.
{ ... }: { }
