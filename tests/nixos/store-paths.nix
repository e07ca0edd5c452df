# A NixOS test whose string testScript runs store paths no node's system
# has: NixOS's VMs see the host's store, so they must be in the guest's.
{ pkgs, ... }:
let
  greeting = pkgs.writeShellScript "greeting" "echo hello from a path only the script names";
in
{
  name = "script-store-paths";
  nodes.machine = { };
  testScript = ''
    machine.wait_for_unit("multi-user.target")
    print("greeting:", machine.succeed("${greeting}").strip())
    machine.succeed("${pkgs.lynx}/bin/lynx -version >&2")
  '';
}
