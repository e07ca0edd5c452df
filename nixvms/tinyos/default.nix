# tinyos's package set, called as nixpkgs is: `import <tinyos> { system = ...; }`.
# `localSystem` is accepted for the same reason nixpkgs accepts it; `config`,
# `overlays` and the rest are accepted and ignored.
{ localSystem ? { system = builtins.currentSystem; }
, system ? localSystem.system
, ...
}:
import ./pkgs/top-level.nix { inherit system; }
