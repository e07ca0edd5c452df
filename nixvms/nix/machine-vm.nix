# One machine's VM as a derivation to instantiate, with what nixvms records
# of the machine (machine.nix) in a trace line of the evaluation's log.
# Instantiating (rather than evaluating drvPath) lets nix-instantiate
# register the .drv as a GC root before it exits, so that no garbage
# collection between this evaluation and the machine's build can delete it.
{ networkFile, nixpkgs, name, planJSON }@args:
let
  machine = import ./machine.nix args;
  record = builtins.removeAttrs machine [ "vm" "nodes" ];
in
builtins.trace "nixvms-machine ${builtins.toJSON record}" machine.vm
