# Mirrors nixos/lib/eval-config.nix: evaluate a NixOS-style configuration
# with tinyos's module list. `pkgs` is tinyos's package set for
# config.nixpkgs.system, as NixOS's misc/nixpkgs.nix provides it.
{ system ? builtins.currentSystem
, modules
, specialArgs ? { }
, baseModules ? import ../modules/module-list.nix
, extraModules ? [ ]
, prefix ? [ ]
, lib ? import ../../lib
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
        else import ../../default.nix { system = config.nixpkgs.system; };
    };
  };
  modulesPath = ../modules;
  eval = lib.evalModules {
    inherit prefix;
    specialArgs = { inherit modulesPath baseModules extraModules modules; } // specialArgs;
    modules = baseModules ++ extraModules ++ [ pkgsModule ] ++ modules;
  };
in
eval // {
  inherit (eval) config options;
  inherit (eval._module.args) pkgs;
}
