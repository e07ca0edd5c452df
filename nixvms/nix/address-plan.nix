# The address plan's formulas, the one place that defines them (as
# nixos/lib/testing/network.nix and nixos/lib/qemu-common.nix do in NixOS):
# machine number i on VLAN v has 192.168.v.i/24, 2001:db8:v::i/64 and MAC
# 52:54:00:12:vv:ii. nixvms's Python numbers the machines and reads the
# addresses back from each evaluation; it never computes them.
let
  hexDigits = [ "0" "1" "2" "3" "4" "5" "6" "7" "8" "9" "a" "b" "c" "d" "e" "f" ];
  hexByte = n: builtins.elemAt hexDigits (n / 16) + builtins.elemAt hexDigits (n - (n / 16) * 16);
in
{
  ipv4 = vlan: number: "192.168.${toString vlan}.${toString number}";
  ipv6 = vlan: number: "2001:db8:${toString vlan}::${toString number}";
  mac = vlan: number: "52:54:00:12:${hexByte vlan}:${hexByte number}";
}
