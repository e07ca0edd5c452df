# A NixOS test whose testScript is a function of `nodes` (as
# nixos/lib/testing/testScript.nix allows): the store paths it names are in
# the guest's store as a string script's are, and it reads the node's
# configuration, its system (whose paths the scan cannot add) included.
{ pkgs, ... }:
let
  greeting = pkgs.writeShellScript "greeting-fn" "echo hello from a path only the function names";
in
{
  name = "function-script-store-paths";
  nodes.machine = {
    networking.hostName = "fnhost";
    environment.etc."fn-file".text = "from the node's configuration";
  };
  testScript = { nodes, ... }: ''
    machine.wait_for_unit("multi-user.target")
    print("greeting:", machine.succeed("${greeting}").strip())
    print("hostname:", "${nodes.machine.networking.hostName}")
    print("etc source:", machine.succeed("cat ${nodes.machine.environment.etc."fn-file".source}").strip())
    print("system:", "${nodes.machine.config.system.build.toplevel}")
  '';
}
