# make-test-python.nix style: a polling condition that stops holding fails
# the test at the next command, not at the end.
import ./make-test-python.nix ({ pkgs, lib, ... }: {
  name = "polling";
  nodes.machine = { };
  testScript = ''
    machine.succeed("touch /tmp/alive")

    @polling_condition(seconds_interval=0)
    def alive():
        "the alive file exists"
        machine.succeed("test -e /tmp/alive")

    with alive:
        machine.succeed("rm /tmp/alive")
        machine.succeed("echo never-runs > /tmp/after")
    machine.succeed("sleep 600")
  '';
})
