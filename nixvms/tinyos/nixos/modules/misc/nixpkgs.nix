# Mirrors nixos/modules/misc/nixpkgs.nix: which platform the machine's
# packages are for, with NixOS's precedence: nixpkgs.hostPlatform when it is
# defined (nixpkgs.buildPlatform defaults to it), else nixpkgs.localSystem,
# whose default is { system = nixpkgs.system; }. Platforms are given as a
# system string or an attribute set with `system`; tinyos "elaborates" them
# only as far as `{ system; }`. It builds no cross toolchain: its packages
# are Debian's binaries for the host platform, so buildPlatform is accepted
# and does not change them.
#
# An unsupported platform is one error naming the machine (networking.hostName),
# the platform, the option it came from and the platforms tinyos supports.
{ config, options, lib, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.nixpkgs;
  opt = options.nixpkgs;
  platforms = import ../../../pkgs/platforms.nix;

  # "x86_64-linux" or { system = "x86_64-linux"; ... } -> { system; ... }
  elaborate = p:
    if builtins.isString p then { system = p; }
    else if p ? system then p
    else if p ? config then p // { system = configToSystem p.config; }
    else throw "nixpkgs: a platform needs `system` (e.g. { system = \"x86_64-linux\"; })";
  # GNU triples tinyos's platforms have ("x86_64-unknown-linux-gnu" -> x86_64-linux)
  configToSystem = c:
    let m = builtins.match "([^-]+)-.*linux.*" c; in
    if m == null then c else "${if builtins.elem (builtins.head m) [ "i386" "i486" "i586" "i686" ] then "i686" else builtins.head m}-linux";

  platformType = types.either types.str types.attrs;

  # where the platform comes from, for messages
  from =
    if opt.hostPlatform.isDefined then "nixpkgs.hostPlatform"
    else if opt.localSystem.highestPrio < (lib.mkOptionDefault { }).priority then "nixpkgs.localSystem"
    else "nixpkgs.system";
  wanted = if opt.hostPlatform.isDefined then cfg.hostPlatform.system else cfg.localSystem.system;
  name = config.networking.hostName;
  supported = builtins.concatStringsSep ", " (builtins.attrNames platforms);
in
{
  options.nixpkgs = {
    system = mkOption {
      type = types.str;
      example = "i686-linux";
      description = "The system (architecture and kernel) the machine's packages are built for (older name of nixpkgs.localSystem.system).";
    };
    localSystem = mkOption {
      type = types.attrs;
      default = { inherit (cfg) system; };
      apply = elaborate;
      example = { system = "i686-linux"; };
      description = "The platform the machine is built on and, without crossSystem, for.";
    };
    crossSystem = mkOption {
      type = types.nullOr types.attrs;
      default = null;
      description = "The platform the machine is built for, when it differs from localSystem (tinyos: its system is the machine's).";
    };
    hostPlatform = mkOption {
      type = platformType;
      apply = elaborate;
      example = { system = "i686-linux"; };
      description = "The platform the machine runs on; when set it takes precedence over nixpkgs.system and nixpkgs.localSystem.";
    };
    buildPlatform = mkOption {
      type = platformType;
      default = cfg.hostPlatform;
      apply = elaborate;
      description = "The platform the machine is built on (tinyos: accepted; its packages are the host platform's binaries).";
    };
    config = mkOption {
      type = types.attrs;
      default = { };
      description = "Configuration of the package set (accepted; tinyos's packages have no options).";
    };
    overlays = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
      description = "Overlays applied to the package set (not supported by tinyos: must be empty).";
    };
    # The platform the package set is made for, after the precedence above:
    # tinyos's eval-config.nix imports pkgs for it.
    resolvedSystem = mkOption {
      type = types.str;
      internal = true;
      readOnly = true;
      default =
        let system = if cfg.crossSystem != null && !opt.hostPlatform.isDefined then (elaborate cfg.crossSystem).system else wanted; in
        if platforms ? ${system} then system
        else throw "tinyos: machine \"${name}\": unsupported platform \"${system}\" (from ${from}); tinyos supports ${supported}";
      description = "The system of the machine's package set.";
    };
  };

  config.assertions = [
    { assertion = cfg.overlays == [ ];
      message = "nixpkgs.overlays: tinyos's package set takes no overlays; use real nixpkgs (-I nixpkgs=...) for them"; }
  ];
}
