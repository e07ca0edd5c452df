# The network module: what NixOS's test framework (nixos/lib/testing/network.nix)
# adds to every node. Machine number i on VLAN v gets 192.168.v.i/24 and MAC
# 52:54:00:12:vv:ii on NIC eth<k> (its k-th VLAN); eth0 stays user-mode networking.
# The numbering and the /etc/hosts entries come from nixvms's address plan
# (computed once in Python) so that a machine's evaluation does not evaluate
# the other machines.
{ name, number, hosts, sshPublicKey }:
{ config, lib, ... }:
let
  hexDigits = [ "0" "1" "2" "3" "4" "5" "6" "7" "8" "9" "a" "b" "c" "d" "e" "f" ];
  hexByte = n: builtins.elemAt hexDigits (n / 16) + builtins.elemAt hexDigits (n - (n / 16) * 16);
  # The address plan's VLANs are 1..255 (192.168.v.i, MAC byte vv), each one
  # NIC: a VLAN out of range or listed twice is an error naming it, not an
  # index error here or two NICs with one MAC.
  vlans =
    let
      given = config.virtualisation.vlans;
      bad = builtins.filter (v: v < 1 || v > 255) given;
      count = v: builtins.length (builtins.filter (w: w == v) given);
      twice = builtins.filter (v: count v > 1) given;
    in
    if bad != [ ] then
      throw "virtualisation.vlans: VLAN ${toString (builtins.head bad)} is out of range; a VLAN is a number from 1 to 255"
    else if twice != [ ] then
      throw "virtualisation.vlans lists VLAN ${toString (builtins.head twice)} more than once; each VLAN is one NIC"
    else given;
  # NIC k (from 1) on VLAN v, in the order of virtualisation.vlans.
  nics = lib.imap1 (k: vlan: { inherit k vlan; }) vlans;
  address = vlan: "192.168.${toString vlan}.${toString number}";
in
{
  # nixops's deployment.targetHost: the address ssh uses to reach the machine.
  # NixOS does not declare it, so the network module does.
  options.deployment.targetHost = lib.mkOption {
    type = lib.types.nullOr lib.types.str;
    default = null;
    description = "The host name or address at which this machine is deployed (nixops's deployment.targetHost).";
  };

  config = {
    # nixos/modules/tasks/network-interfaces.nix
    networking.hostName = lib.mkDefault name;

    # nixos/modules/tasks/network-interfaces.nix: one static address per VLAN NIC.
    networking.interfaces = builtins.listToAttrs (map
      (nic: {
        name = "eth${toString nic.k}";
        value.ipv4.addresses = [{ address = address nic.vlan; prefixLength = 24; }];
      })
      nics);

    # nixos/modules/config/networking.nix: every machine's first address and name.
    networking.extraHosts = lib.concatMapStrings (h: "${builtins.elemAt h 0} ${builtins.elemAt h 1}\n") hosts;

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
        "-device virtio-net-pci,netdev=vlan${toString nic.k},mac=52:54:00:12:${hexByte nic.vlan}:${hexByte number}"
        ''-netdev vde,id=vlan${toString nic.k},sock="$QEMU_VDE_SOCKET_${toString nic.vlan}"''
      ])
      nics;
  };
}
