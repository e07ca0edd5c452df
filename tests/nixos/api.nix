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
    # NixOS's default; under TCG nixvms boots with norandmaps, which this undoes
    boot.kernel.sysctl."kernel.randomize_va_space" = 2;
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
            t.assertIn("192.168.1.2", server_a.succeed("ip addr show"))

    with subtest("address-space randomisation off under TCG unless a sysctl sets it"):
        tcg = "QEMU TCG CPU" in client.succeed("cat /proc/cpuinfo")
        t.assertEqual(client.succeed("cat /proc/sys/kernel/randomize_va_space").strip(),
                      "0" if tcg else "2")
        t.assertEqual(server_a.succeed("cat /proc/sys/kernel/randomize_va_space").strip(), "2")

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

    with subtest("the driver's names"):
        t.assertEqual([m.name for m in driver.machines], ["client", "server_a"])
        t.assertEqual(machines_qemu, driver.machines)
        t.assertEqual([v.nr for v in vlans], [1])
        t.assertEqual(vlan1.nr, 1)
        t.assertIs(create_machine("unused", name="client"), client)
        t.assertTrue(client.state_dir.is_dir())
        t.assertTrue(client.shared_dir.is_dir())
        t.assertEqual(client.out_dir, server_a.out_dir)
        with t.assertRaises(MachineError):
            client.wait_for_x()
        retry(lambda last: True, timeout=datetime.timedelta(seconds=5))

    with subtest("execute without waiting, then a QMP event"):
        t.assertEqual(server_a.execute("sleep 2; hwclock -w -u", check_output=False), (-2, ""))
        event = server_a.wait_for_qmp_event(lambda e: e["event"] == "RTC_CHANGE", timeout=60)
        t.assertEqual(event["event"], "RTC_CHANGE")

    with subtest("serial_stdout_on shows the console"):
        serial_stdout_on()
        client.succeed("echo serial-marker-77 > /dev/console")
        client.wait_for_console_text("serial-marker-77")
        client.sleep(1)
        serial_stdout_off()

    with subtest("copy_from_machine into the output directory"):
        client.succeed("echo copied-out > /tmp/out.txt")
        client.copy_from_machine("/tmp/out.txt", "copies")

    with subtest("reboot with allow_reboot keeps QEMU"):
        pid = server_a._record().process.pid
        server_a.start(allow_reboot=True)
        server_a.reboot()
        t.assertIn("server", server_a.succeed("cat /etc/role"))
        t.assertEqual(server_a._record().process.pid, pid)

    with subtest("reboot then a command"):
        client.succeed("echo before > /var/lib/mark")
        client.reboot()
        client.succeed("true")
  '';
}
