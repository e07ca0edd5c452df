{
  test1 = {pkgs, config, ...}:
  {
    services.openssh.enable = true;
    nixpkgs.system = "i686-linux";
    deployment.targetHost = "test1.example.net";
  };
  test2 = {pkgs, config, ...}:
  {
    services.openssh.enable = true;
    services.httpd.enable = true;
    environment.systemPackages = [ pkgs.lynx ];
    nixpkgs.system = "x86_64-linux";
    deployment.targetHost = "test2.example.net";
  };
}
