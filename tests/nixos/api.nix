# A NixOS test in the runTest module form, as nixpkgs writes them: one
# booted network for many of the driver's API checks (tests/test_nixos_tests.py).
{ pkgs, lib, ... }:
{
  name = "driver-api";
  enableOCR = true;
  meta.maintainers = [ ];
  defaults = { environment.etc."from-defaults".text = "every node has me"; };
  nodes.server_a = { ... }: {
    virtualisation.vlans = [ 1 ];
    environment.etc."role".text = "server";
  };
  nodes.client = { };
  testScript = { nodes, ... }: ''
    import datetime

    start_all()

    with subtest("defaults reach every node"):
        t.assertIn("every node has me", client.succeed("cat /etc/from-defaults"))
        t.assertIn("every node has me", server_a.succeed("cat /etc/from-defaults"))

    with subtest("testScript sees nodes"):
        t.assertEqual("${nodes.server_a.networking.primaryIPAddress}", "192.168.1.2")
        log.info("the server's address: ${nodes.server_a.networking.primaryIPAddress}")
        with log.nested("a nested step"):
            server_a.succeed("ip addr show | grep -q 192.168.1.2")

    with subtest("a timedelta timeout"):
        server_a.wait_until_succeeds("test -e /etc/role", timeout=datetime.timedelta(seconds=30))

    with subtest("wait_for_open_unix_socket"):
        server_a.succeed("busybox syslogd -n -O /dev/null >/dev/null 2>&1 </dev/null &")
        server_a.wait_for_open_unix_socket("/dev/log", is_datagram=True, timeout=60)
        server_a.succeed("cat /proc/net/unix >&2")

    with subtest("send_chars and wait_until_tty_matches"):
        server_a.wait_until_tty_matches("1", "login: ")
        server_a.send_chars("hello-tty")
        server_a.wait_until_tty_matches("1", "hello-tty")

    with subtest("screenshot"):
        server_a.screenshot("server-screen")

    with subtest("wait_for_text"):
        server_a.wait_for_text("login")

    with subtest("reboot then a command"):
        client.succeed("echo before > /var/lib/mark")
        client.reboot()
        client.succeed("true")
  '';
}
