# The network module: what NixOS's test framework (nixos/lib/testing/network.nix)
# adds to every node. Machine number i on VLAN v gets the addresses of
# address-plan.nix on NIC eth<k> (its k-th VLAN); eth0 stays user-mode networking.
# The numbering and what /etc/hosts lists of each machine (its number, first
# VLAN, hostName and domain) come from nixvms's plan, settled in Python from
# the machines' evaluations, so that a machine's evaluation does not
# evaluate the other machines.
{ name, number, hosts, sshPublicKey }:
{ config, lib, options, ... }:
let
  plan = import ./address-plan.nix;
  # The address plan's VLANs are 1..255 (192.168.v.i, MAC byte vv), each one
  # NIC: a VLAN out of range or listed twice is an error naming it, not an
  # index error here or two NICs with one MAC.
  allNics = import ./nics.nix { inherit config lib number; };
  nics =
    let
      given = map (nic: nic.vlan) allNics;
      bad = builtins.filter (v: v < 1 || v > 255) given;
      count = v: builtins.length (builtins.filter (w: w == v) given);
      twice = builtins.filter (v: count v > 1) given;
    in
    if bad != [ ] then
      throw "virtualisation.vlans: VLAN ${toString (builtins.head bad)} is out of range; a VLAN is a number from 1 to 255"
    else if twice != [ ] then
      throw "virtualisation.vlans lists VLAN ${toString (builtins.head twice)} more than once; each VLAN is one NIC"
    else allNics;
  withAddresses = builtins.filter (nic: nic.ipv4 != "") nics;
  # nixos/lib/testing/network.nix: "ip hostName.domain hostName" per machine,
  # IPv4 then IPv6, for machines with a VLAN.
  hostLines = h:
    let
      names = (if h.domain != null then "${h.hostName}.${h.domain} " else "") + "${h.hostName}\n";
    in
    lib.optionalString (h.vlan != null)
      ("${plan.ipv4 h.vlan h.number} ${names}" + "${plan.ipv6 h.vlan h.number} ${names}");
  # qemu-vm.nix declares these (internal) in NixOS; set them where declared.
  hasPrimaryAddresses = options ? networking && options.networking ? primaryIPAddress;
in
{
  # nixops's deployment.targetHost: the address ssh uses to reach the machine.
  # NixOS does not declare it, so the network module does.
  options.deployment.targetHost = lib.mkOption {
    type = lib.types.nullOr lib.types.str;
    default = null;
    description = "The host name or address at which this machine is deployed (nixops's deployment.targetHost).";
  };

  # colmena's deployment.tags: `nixvms build --on @tag` builds the machines that have it.
  options.deployment.tags = lib.mkOption {
    type = lib.types.listOf lib.types.str;
    default = [ ];
    description = "Tags of this machine; `--on @tag` selects the machines that have a tag.";
  };

  config = lib.mkMerge [ (lib.optionalAttrs hasPrimaryAddresses {
    networking.primaryIPAddress =
      lib.optionalString (withAddresses != [ ]) (builtins.head withAddresses).ipv4;
    networking.primaryIPv6Address =
      lib.optionalString (withAddresses != [ ]) (builtins.head withAddresses).ipv6;
  }) (lib.optionalAttrs (options ? boot && options.boot ? initrd
      && options.boot.initrd ? services && options.boot.initrd.services ? udev) {
    # nixos/lib/testing/network.nix: each NIC is named by a udev rule on its MAC.
    boot.initrd.services.udev.rules = lib.concatMapStrings
      (nic: ''SUBSYSTEM=="net",ACTION=="add",ATTR{address}=="${nic.mac}",NAME="${nic.interface}"'' + "\n")
      nics;
  }) {
    # nixos/modules/tasks/network-interfaces.nix
    networking.hostName = lib.mkDefault name;

    # qemu-vm.nix binds a forward's host port on every address when
    # host.address is "" (its default): say so, the traffic should stay here.
    warnings = map
      (f: "virtualisation.forwardPorts: host port ${toString f.host.port} is bound on every "
        + "address of the host (host.address = \"\"); set host.address = \"127.0.0.1\" to keep it on this machine")
      (builtins.filter (f: (f.from or "host") == "host" && (f.host.address or "") == "")
        (config.virtualisation.forwardPorts or [ ]));

    # nixos/modules/tasks/network-interfaces.nix: one static address per VLAN NIC.
    networking.interfaces = builtins.listToAttrs (map
      (nic: {
        name = nic.interface;
        value.ipv4.addresses = [{ address = nic.ipv4; prefixLength = 24; }];
        value.ipv6.addresses = [{ address = nic.ipv6; prefixLength = 64; }];
      })
      withAddresses);

    # nixos/lib/testing/network.nix: every machine's first addresses and names.
    networking.extraHosts = lib.concatMapStrings hostLines hosts;

    # nixos/modules/services/networking/ssh/sshd.nix declares authorizedKeys
    # (users.users.<name>.openssh.authorizedKeys.keys): the project's key
    # lets `ssh -F <state-dir>/ssh_config <machine>` in as root.
    users.users.root.openssh.authorizedKeys.keys =
      lib.mkIf (config.services.openssh.enable or false) [ sshPublicKey ];

    # nixos/modules/virtualisation/qemu-vm.nix; the flags are those of
    # nixos/lib/qemu-common.nix's qemuNICFlags. These are shell fragments:
    # $QEMU_VDE_SOCKET_<v> is expanded when the VM script runs.
    virtualisation.qemu.options = lib.concatMap
      (nic: [
        "-device virtio-net-pci,netdev=vlan${toString nic.k},mac=${nic.mac}"
        ''-netdev vde,id=vlan${toString nic.k},sock="$QEMU_VDE_SOCKET_${toString nic.vlan}"''
      ])
      nics;
  }];
}
