# make-test-python.nix style, as older nixpkgs tests: what a run leaves on a
# machine's disk, seen by the next run (-K keeps it; by default it is gone).
import ./make-test-python.nix ({ pkgs, ... }: {
  name = "machine-state";
  nodes.machine = { ... }: { };
  testScript = ''
    found = machine.succeed("cat /var/lib/kept 2>/dev/null || echo nothing").strip()
    print(f"found: {found}")
    machine.succeed("echo kept-file > /var/lib/kept; sync")
  '';
})
