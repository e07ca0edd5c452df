# Mirrors nixos/modules/testing/test-instrumentation.nix: what a machine
# needs so that a test driver can drive it without ssh or a network. The
# contract is NixOS's:
# - backdoor.service: a root shell reading commands from the virtio
#   console /dev/hvc0 (QEMU: -device virtio-serial -device
#   virtconsole,chardev=shell), raw and without echo, that writes
#   "Spawning backdoor root shell..." on it when ready; the commands' stderr
#   goes to the serial console;
# - the serial console is the primary console, and what services log (the
#   journal) is forwarded to it;
# - root has an empty password, the kernel panics (and the VM stops, with
#   -no-reboot) instead of hanging, and nothing reaches for the Internet.
#
# Differences, and why:
# - The shell is busybox sh (`sh /dev/hvc0`): tinyos has no bash. Test
#   commands should be POSIX sh; NixOS runs them with bash.
# - The getty on the serial console stays (NixOS disables
#   serial-getty@ttyS0 here): `nixvms up` and run-vms take the login prompt
#   as the sign that a machine booted, and send_console() can log in. The
#   backdoor writes its stderr through /dev/console rather than /dev/ttyS0
#   (the same device), so a getty's hangup of ttyS0 cannot break it.
# - The journal reaches the console on every tinyos machine, not only here
#   (see system/boot/systemd.nix).
# - `nc` gains -z (connect, report, close), which the drivers'
#   wait_for_open_port uses: busybox's nc has no -z. NixOS's test nodes get
#   a netcat that has it.
# - virtio_console is loaded at boot (Debian's kernels have it as a module);
#   NixOS checks the same thing with system.requiredKernelConfig.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.testing;
  serial = pkgs.tinyosPlatform.serialDevice;

  # nc -z [-v] [-w SECS] HOST PORT: exit 0 when a TCP connection to HOST:PORT
  # is established (busybox nc connected: its socket is ESTABLISHED in
  # /proc/net/tcp*, or it ended with 0), 1 when it is refused or times out.
  # nc -z -U PATH (-uU: a datagram socket): exit 0 when a UNIX-domain socket
  # listens at PATH, as /proc/net/unix lists it (the drivers'
  # wait_for_open_unix_socket). Anything else: busybox's nc.
  nc = pkgs.writeScriptBin "nc" ''
    #!${pkgs.busybox}/bin/sh
    export PATH=${pkgs.busybox}/bin
    zero= verbose= wait=5 unix=
    for a in "$@"; do case $a in -z|-zv|-vz) zero=1 ;; esac; done
    [ -n "$zero" ] || exec busybox nc "$@"
    while [ $# -gt 0 ]; do
      case $1 in
        -z) ;;
        -U) unix=stream ;;
        -uU|-Uu) unix=dgram ;;
        -v) verbose=1 ;;
        -zv|-vz) verbose=1 ;;
        -w) wait=$2; shift ;;
        -w*) wait=''${1#-w} ;;
        -*) echo "nc: -z with $1 is not supported by tinyos's nc" >&2; exit 2 ;;
        *) break ;;
      esac
      shift
    done
    if [ -n "$unix" ]; then
      [ $# = 1 ] || { echo "usage: nc -z -U PATH" >&2; exit 2; }
      # /proc/net/unix: Num RefCount Protocol Flags Type St Inode Path; a
      # listening stream socket has the flag __SO_ACCEPTCON (00010000), type 1
      if [ $unix = stream ]; then
        awk -v p="$1" '$8 == p && $4 == "00010000" && $5 == "0001" { f = 1 } END { exit !f }' /proc/net/unix
      else
        awk -v p="$1" '$8 == p && $5 == "0002" { f = 1 } END { exit !f }' /proc/net/unix
      fi
      exit
    fi
    [ $# = 2 ] || { echo "usage: nc -z [-v] [-w SECS] HOST PORT" >&2; exit 2; }
    host=$1 port=$2
    busybox nc -w "$wait" "$host" "$port" < /dev/null > /dev/null 2>&1 &
    pid=$!
    result=1 i=0
    while [ $i -lt $(( wait * 20 + 20 )) ]; do
      if ! kill -0 $pid 2>/dev/null; then
        wait $pid && result=0
        break
      fi
      # the socket nc holds, and its state (01: ESTABLISHED)
      for fd in /proc/$pid/fd/*; do
        ino=$(readlink "$fd" 2>/dev/null) || continue
        case $ino in socket:*) ino=''${ino#socket:[}; ino=''${ino%]} ;; *) continue ;; esac
        if awk -v ino="$ino" '$10 == ino && $4 == "01" { found = 1 } END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
          result=0
        fi
      done
      [ $result = 0 ] && break
      sleep 0.05
      i=$((i + 1))
    done
    kill $pid 2>/dev/null
    wait $pid 2>/dev/null
    if [ -n "$verbose" ]; then
      if [ $result = 0 ]; then echo "Connection to $host $port port [tcp] succeeded!" >&2
      else echo "nc: connect to $host port $port (tcp) failed" >&2; fi
    fi
    exit $result
  '';
in
{
  options.testing = {
    backdoor = mkOption {
      type = types.bool;
      default = true;
      description = "Whether to enable the backdoor service in stage 2 (a root shell for the test driver on /dev/hvc0).";
    };
    initrdBackdoor = mkOption {
      type = types.bool;
      default = false;
      description = "The backdoor service in a systemd initrd (not in tinyos: it boots in one stage).";
    };
  };

  config = {
    assertions = [{
      assertion = !cfg.initrdBackdoor;
      message = "testing.initrdBackdoor: tinyos boots in one stage and has no systemd initrd (NixOS requires boot.initrd.systemd.enable for it).";
    }];

    systemd.services.backdoor = lib.mkIf cfg.backdoor {
      wantedBy = [ "multi-user.target" ];
      # device units: tinyos has none; the script waits for the device itself
      requires = [ "dev-hvc0.device" "dev-${serial}.device" ];
      after = [ "dev-hvc0.device" "dev-${serial}.device" ];
      script = ''
        export USER=root
        export HOME=/root
        export DISPLAY=:0.0
        if [ -e /etc/profile ]; then
          . /etc/profile
        fi
        # no pager for commands run through the backdoor
        export PAGER=
        cd /tmp
        i=0
        while [ ! -c /dev/hvc0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        if [ ! -c /dev/hvc0 ]; then
          echo "no /dev/hvc0: this VM has no virtio console (QEMU: -device virtio-serial -device virtconsole,chardev=...)"
          exit 1
        fi
        exec < /dev/hvc0 > /dev/hvc0
        while ! exec 2> /dev/console; do sleep 0.1; done
        echo "connecting to host..." >&2
        stty -F /dev/hvc0 raw -echo # no nl -> cr/nl conversion, no echo of commands
        # the line the driver waits for; nothing may be written after it
        echo "Spawning backdoor root shell..."
        # a script file argument: sh reads commands without being interactive
        PS1="" exec sh /dev/hvc0
      '';
      serviceConfig.KillSignal = "SIGHUP";
    };

    boot.initrd.kernelModules = [ "virtio_console" ];

    # (the serial console is already the primary one: qemu-vm.nix lists it last)
    # a kernel panic stops the VM (QEMU runs with -no-reboot) instead of hanging the test
    boot.kernelParams = [ "panic=1" ];
    boot.consoleLogLevel = 7;

    # no Internet for tests
    networking.defaultGateway = lib.mkOverride 150 null;
    networking.nameservers = lib.mkOverride 150 [ ];

    # an easy root login on the console when running a test interactively
    users.users.root.hashedPassword = lib.mkOverride 150 "";

    environment.systemPackages = [ nc ];
  };
}
