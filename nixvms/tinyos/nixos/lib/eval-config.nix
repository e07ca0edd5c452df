# Mirrors nixos/lib/eval-config.nix: evaluate a NixOS-style configuration
# with tinyos's module list. `pkgs` is tinyos's package set for the
# machine's platform (nixpkgs.hostPlatform, else localSystem, else
# nixpkgs.system: misc/nixpkgs.nix decides), as NixOS's misc/nixpkgs.nix
# provides it.
{ system ? builtins.currentSystem
, modules
, specialArgs ? { }
, baseModules ? import ../modules/module-list.nix
, extraModules ? [ ]
, prefix ? [ ]
, lib ? import ../../lib/make-lib.nix {
    # the line added to "The option `x' does not exist", submodules included
    unknownOptionHint =
      "(this is tinyos, nixvms's small stand-in for nixpkgs: it has the NixOS options listed in nixvms's README"
      + " (networking, firewall, users, systemd services and timers, fileSystems, openssh, httpd, nginx, virtualisation, ...);"
      + " to build with real nixpkgs, pass -I nixpkgs=/path/to/nixpkgs or set NIX_PATH)";
  }
, pkgs ? null
, ...
}:
let
  pkgsModule = { config, ... }: {
    _file = ./eval-config.nix;
    key = toString ./eval-config.nix;
    config = {
      nixpkgs.system = lib.mkDefault system;
      _module.args.pkgs =
        if pkgs != null then pkgs
        else import ../../default.nix { system = config.nixpkgs.resolvedSystem; };
    };
  };
  modulesPath = ../modules;
  # As NixOS's eval-config: the base modules evaluated alone
  # (noUserModules, which specialisations without inheritParentConfig
  # extend), and the machine is that extended with the user's modules.
  noUserModules = lib.evalModules {
    inherit prefix;
    specialArgs = { inherit modulesPath baseModules extraModules modules; } // specialArgs;
    modules = baseModules ++ extraModules ++ [ pkgsModule { _module.args.noUserModules = noUserModules; } ];
  };
  eval = noUserModules.extendModules { inherit modules; };
in
eval // {
  inherit (eval) config options;
  inherit (eval._module.args) pkgs;
}
