# A machine's VLAN NICs, as nixos/lib/testing/network.nix makes them: the
# interfaces of virtualisation.allInterfaces (qemu-vm.nix: one eth<k> per
# entry of virtualisation.vlans, plus the named virtualisation.interfaces),
# in attribute-name order; NIC k gets the addresses of address-plan.nix when
# it assigns IPs. Where qemu-vm.nix has no allInterfaces (older NixOS), the
# NICs are virtualisation.vlans'. The network module and what nixvms records
# of the machine (machine.nix) both read this, so they cannot disagree.
{ config, lib, number }:
let
  plan = import ./address-plan.nix;
  virtualisation = config.virtualisation;
  interfaces =
    if virtualisation ? allInterfaces then lib.attrValues virtualisation.allInterfaces
    else lib.imap1 (k: vlan: { name = "eth${toString k}"; inherit vlan; assignIP = true; })
      virtualisation.vlans;
in
lib.imap1
  (k: interface:
    let assign = interface.assignIP or true; in {
      inherit k;
      inherit (interface) vlan;
      interface = interface.name;
      ipv4 = if assign then plan.ipv4 interface.vlan number else "";
      ipv6 = if assign then plan.ipv6 interface.vlan number else "";
      mac = plan.mac interface.vlan number;
    })
  interfaces
