# A test of examples/two-machines (the client's service pings the server by
# name):  nixvms test examples/two-machines/network.nix examples/tests/two-machines.py
start_all()

with subtest("both machines booted"):
    server.wait_for_unit("multi-user.target")
    client.wait_for_unit("multi-user.target")

with subtest("the client's service reached the server by name"):
    client.wait_until_succeeds("journalctl -u ping-server | grep 'client reached server'",
                               timeout=120)
    client.wait_for_console_text("client reached server")

with subtest("the server answers the client's ping; unplugged, it does not"):
    client.succeed("ping -c 1 -W 2 server")
    server.block()
    client.fail("ping -c 1 -W 2 server")
    server.unblock()
    client.wait_until_succeeds("ping -c 1 -W 2 server", timeout=30)
