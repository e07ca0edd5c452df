# tinyos's lib, as `import <nixpkgs/lib>`: see make-lib.nix.
import ./make-lib.nix { }
