# A test of examples/network.nix, the network of the nixos-build-vms manual:
#   nixvms test examples/network.nix examples/tests/manual.py
# Each machine is an object named after it (test1, test2); commands run as
# root through the test instrumentation's backdoor, not over ssh.
start_all()

with subtest("test1 is a 32-bit machine, test2 a 64-bit one"):
    assert test1.succeed("uname -m").strip() == "i686"
    assert test2.succeed("uname -m").strip() == "x86_64"

with subtest("test2's web server answers on test2"):
    test2.wait_for_unit("httpd")
    test2.wait_for_open_port(80)
    headers = test2.succeed("lynx -dump -head http://test2/")
    assert "200 OK" in headers, headers

with subtest("test2's firewall keeps its web server from test1"):
    # NixOS's firewall is on, and services.httpd opens no port: it drops
    # test1's connection, which times out (-w 3; without it nc waits for the
    # kernel's SYN retries, about two minutes)
    test1.fail("nc -z -w 3 test2 80")

with subtest("test1 logs into test2 over ssh, by name"):
    test1.wait_for_unit("multi-user.target")
    test2.wait_for_unit("sshd")
    # a key of test1's own, authorised for root on test2: OpenSSH's tools on
    # NixOS, dropbear's where the ssh server is dropbear (tinyos)
    test1.succeed("mkdir -p -m 0700 /root/.ssh")
    if test1.execute("command -v ssh-keygen")[0] == 0:
        test1.succeed("ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_test")
        public = test1.succeed("cat /root/.ssh/id_test.pub")
        ssh = "ssh -o StrictHostKeyChecking=no -i /root/.ssh/id_test"
    else:
        public = test1.succeed("dropbearkey -t ed25519 -f /root/.ssh/id_test | grep ^ssh-")
        ssh = "dbclient -y -i /root/.ssh/id_test"
    test2.succeed("mkdir -p -m 0700 /root/.ssh",
                  f"echo '{public.strip()}' >> /root/.ssh/authorized_keys")
    assert test1.succeed(f"{ssh} root@test2 hostname").strip() == "test2"
