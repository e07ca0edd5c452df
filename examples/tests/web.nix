# A NixOS test as nixpkgs writes them (the runTest module form):
#   nixvms test examples/tests/web.nix
{ pkgs, lib, ... }: {
  name = "web";
  defaults = { networking.firewall.allowedTCPPorts = [ 80 ]; };  # every node
  nodes.server = {
    services.httpd.enable = true;
    services.httpd.virtualHosts.localhost.documentRoot = pkgs.writeTextDir "index.html" "It works";
  };
  nodes.client_1 = { };  # a node name with _, as NixOS allows
  testScript = { nodes, ... }: ''
    start_all()
    server.wait_for_unit("httpd")
    server.wait_for_open_port(80)
    with subtest("the client reaches the server"):
        out = client_1.succeed("curl -s http://${nodes.server.networking.primaryIPAddress}/")
        t.assertIn("It works", out)
    log.info("done")
  '';
}
