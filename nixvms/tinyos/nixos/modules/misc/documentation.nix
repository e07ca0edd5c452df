# The switches of nixos/modules/misc/documentation.nix. tinyos's packages
# are Debian's programs without their manuals, and it has no NixOS manual:
# there is no documentation to install, so each switch is false here (NixOS:
# true, but dev) and true is refused with the option's name. Test machines
# set them false, as nixpkgs' tests often do.
{ config, lib, ... }:
let
  switches = {
    enable = "Whether to install documentation of packages from environment.systemPackages into the generated system path.";
    man.enable = "Whether to install manual pages.";
    info.enable = "Whether to install info pages and the info command.";
    doc.enable = "Whether to install documentation distributed in packages' /share/doc.";
    dev.enable = "Whether to install documentation targeted at developers.";
    nixos.enable = "Whether to install NixOS's own documentation.";
  };
  paths = lib.collect builtins.isList (lib.mapAttrsRecursive (path: _: path) switches);
in
{
  options.documentation = lib.mapAttrsRecursive (_: description: lib.mkOption {
    type = lib.types.bool;
    default = false;
    inherit description;
  }) switches;
  config.assertions = map (path: {
    assertion = !(lib.getAttrFromPath path config.documentation);
    message = "documentation.${lib.concatStringsSep "." path}: tinyos cannot install documentation: its packages carry none (set it to false).";
  }) paths;
}
