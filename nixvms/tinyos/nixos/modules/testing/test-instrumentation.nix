# Mirrors nixos/modules/testing/test-instrumentation.nix: what a machine
# needs so that a test driver can drive it without ssh or a network. The
# contract is NixOS's:
# - backdoor.service: a root shell, bash (`bash --norc /dev/hvc0`, as
#   NixOS's), reading commands from the virtio console /dev/hvc0 (QEMU:
#   -device virtio-serial -device virtconsole,chardev=shell), raw and
#   without echo, that writes "Spawning backdoor root shell..." on it when
#   ready; the commands' stderr goes to the serial console. A command's
#   names are found on PATH (/etc/profile's), so `nc` is the system's
#   netcat as on NixOS (system-path.nix), never busybox's applet, which
#   busybox sh would run whatever PATH says;
# - the serial console is the primary console, and what services log (the
#   journal) is forwarded to it;
# - root has an empty password, the kernel panics (and the VM stops, with
#   -no-reboot) instead of hanging, and nothing reaches for the Internet.
#
# Differences, and why:
# - The getty on the serial console stays (NixOS disables
#   serial-getty@ttyS0 here): `nixvms up` and run-vms take the login prompt
#   as the sign that a machine booted, and send_console() can log in. The
#   backdoor writes its stderr through /dev/console rather than /dev/ttyS0
#   (the same device), so a getty's hangup of ttyS0 cannot break it.
# - The journal reaches the console on every tinyos machine, not only here
#   (see system/boot/systemd.nix).
# - virtio_console is loaded at boot (Debian's kernels have it as a module);
#   NixOS checks the same thing with system.requiredKernelConfig.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.testing;
  serial = pkgs.tinyosPlatform.serialDevice;
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
        # a script file argument: bash reads commands without being interactive
        PS1="" exec ${pkgs.bash}/bin/bash --norc /dev/hvc0
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
  };
}
