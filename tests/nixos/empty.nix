# A NixOS test with no nodes: its script still runs (runTest module form).
{ lib, ... }: {
  name = "no-nodes";
  testScript = ''
    t.assertEqual(machines, [])
    t.assertEqual(driver.machines, [])
    log.info("a test with no machines")
    with log.nested("nothing to boot"):
        t.assertTrue(callable(start_all))
    start_all()
    print("no-nodes ran")
  '';
}
