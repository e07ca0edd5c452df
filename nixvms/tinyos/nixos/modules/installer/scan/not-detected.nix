# nixos/modules/installer/scan/not-detected.nix (imported by generated
# hardware-configuration.nix files) enables redistributable firmware;
# tinyos's VMs need none, so importing it changes nothing.
{ ... }: { }
