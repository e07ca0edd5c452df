# Two machines on one VLAN: the client's service pings the server by name
# and prints the outcome on its console (nixvms up --detach, then
# nixvms logs client).
{
  server = { ... }: {
    networking.firewall.enable = false;
  };

  client = { pkgs, ... }: {
    systemd.services.ping-server = {
      description = "Ping the server by name until it answers";
      wantedBy = [ "multi-user.target" ];
      path = [ pkgs.busybox ];
      script = ''
        for attempt in $(seq 1 60); do
          if ping -c 1 -W 1 server >/dev/null 2>&1; then
            echo "ping-server: client reached server (attempt $attempt)"
            exit 0
          fi
          sleep 1
        done
        echo "ping-server: client could not reach server"
        exit 1
      '';
    };
  };
}
