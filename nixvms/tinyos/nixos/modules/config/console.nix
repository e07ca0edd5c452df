# Mirrors console.keyMap of nixos/modules/config/console.nix. tinyos loads
# no keymap: the kernel's built-in one, US, is what NixOS's default "us"
# loads. Another keymap is refused (tinyos has no loadkeys and no keymaps).
{ config, lib, ... }:
{
  options.console.keyMap = lib.mkOption {
    type = lib.types.either lib.types.str lib.types.path;
    default = "us";
    example = "fr";
    description = "The keyboard mapping table for the virtual consoles.";
  };
  config.assertions = [ {
    assertion = config.console.keyMap == "us";
    message = "console.keyMap: tinyos cannot load the keymap ${toString config.console.keyMap}: it has no loadkeys and keeps the kernel's US map (\"us\").";
  } ];
}
