# Mirrors nixos/modules/tasks/network-interfaces.nix (options) and the
# scripted backend of network-interfaces-scripted.nix (what runs at boot):
# loopback up, static addresses from networking.interfaces, DHCP (busybox
# udhcpc) on the other interfaces when networking.useDHCP, e.g. eth0 on
# QEMU's user-mode network.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.networking;

  addrOpts = v: { ... }: {
    options = {
      address = mkOption { type = types.str; description = "IPv${toString v} address of the interface."; };
      prefixLength = mkOption {
        type = types.addCheck types.int (n: n >= 0 && n <= (if v == 4 then 32 else 128));
        description = "Subnet mask of the interface, as a number of bits.";
      };
    };
  };

  # networking.interfaces.<i>.ipv4.routes / ipv6.routes entries
  routeOpts = v: { ... }: {
    options = {
      address = mkOption { type = types.str; description = "IPv${toString v} address of the network."; };
      prefixLength = mkOption {
        type = types.addCheck types.int (n: n >= 0 && n <= (if v == 4 then 32 else 128));
        description = "Subnet mask of the network, as a number of bits.";
      };
      type = mkOption {
        type = types.nullOr (types.enum [ "unicast" "local" "broadcast" "multicast" ]);
        default = null;
        example = "local";
        description = "Type of the route (null: the kernel's default, unicast).";
      };
      via = mkOption { type = types.nullOr types.str; default = null; description = "IPv${toString v} address of the next hop."; };
      options = mkOption {
        type = types.attrsOf types.str;
        default = { };
        example = { mtu = "1492"; window = "524288"; };
        description = "Other route options (ip-route(8)'s names).";
      };
    };
  };

  # networking.defaultGateway / defaultGateway6 (a string is the address)
  gatewayOpts = { ... }: {
    options = {
      address = mkOption { type = types.str; description = "The default gateway address."; };
      interface = mkOption { type = types.nullOr types.str; default = null; example = "enp0s3"; description = "The default gateway interface."; };
      metric = mkOption { type = types.nullOr types.int; default = null; example = 42; description = "The default gateway metric/preference."; };
      source = mkOption { type = types.nullOr types.str; default = null; description = "The source address used with the default gateway."; };
    };
  };
  gatewayType = types.nullOr (types.coercedTo types.str (address: { inherit address; }) (types.submodule gatewayOpts));

  interfaceOpts = { name, ... }: {
    options = {
      ipv4.routes = mkOption {
        type = types.listOf (types.submodule (routeOpts 4));
        default = [ ];
        example = [ { address = "10.0.0.0"; prefixLength = 16; } { address = "192.168.2.0"; prefixLength = 24; via = "192.168.1.1"; } ];
        description = "List of extra IPv4 static routes that will be assigned to the interface.";
      };
      ipv6.routes = mkOption {
        type = types.listOf (types.submodule (routeOpts 6));
        default = [ ];
        example = [ { address = "fdfd:b3f0::"; prefixLength = 48; } ];
        description = "List of extra IPv6 static routes that will be assigned to the interface.";
      };
      name = mkOption { type = types.str; default = name; description = "Name of the interface."; };
      ipv4.addresses = mkOption {
        type = types.listOf (types.submodule (addrOpts 4));
        default = [ ];
        example = [ { address = "10.0.0.1"; prefixLength = 16; } ];
        description = "List of IPv4 addresses that will be statically assigned to the interface.";
      };
      ipv6.addresses = mkOption {
        type = types.listOf (types.submodule (addrOpts 6));
        default = [ ];
        description = "List of IPv6 addresses that will be statically assigned to the interface.";
      };
      useDHCP = mkOption {
        type = types.nullOr types.bool;
        default = null;
        description = "Whether this interface is configured with DHCP (null: when networking.useDHCP and it has no static address).";
      };
      macAddress = mkOption { type = types.nullOr types.str; default = null; description = "MAC address of the interface."; };
      mtu = mkOption { type = types.nullOr types.int; default = null; description = "MTU size for packets leaving the interface."; };
      virtual = mkOption { type = types.bool; default = false; description = "Whether this interface is virtual and should be created by tuntap, only available for the scripted backend."; };
      virtualOwner = mkOption { type = types.nullOr types.str; default = "root"; description = "In case of a virtual device, the user who owns it."; };
      virtualType = mkOption {
        type = types.nullOr (types.enum [ "tun" "tap" ]);
        default = if lib.hasPrefix "tun" name then "tun" else "tap";
        defaultText = lib.literalExpression ''if hasPrefix "tun" name then "tun" else "tap"'';
        description = "The type of interface to create. The default is TUN for an interface name starting with \"tun\", otherwise TAP.";
      };
      tempAddress = mkOption {
        type = types.enum (builtins.attrNames tempaddr);
        default = cfg.tempAddresses;
        defaultText = lib.literalExpression "config.networking.tempAddresses";
        description = "When IPv6 is enabled with SLAAC, whether this interface generates temporary (privacy extension) addresses: \"default\" makes them and prefers them, \"enabled\" makes them, \"disabled\" does not.";
      };
    };
  };

  # use_tempaddr (ip-sysctl.txt) for each tempAddress value, as NixOS's
  # network-interfaces.nix sets it
  tempaddr = { disabled = "0"; enabled = "1"; default = "2"; };
  setTempaddr = name: value: lib.optionalString cfg.enableIPv6
    "echo ${tempaddr.${value}} > /proc/sys/net/ipv6/conf/${name}/use_tempaddr 2>/dev/null || true\n";

  # bridges first (their members join them), then every interface named
  # anywhere: a bridge or member with no networking.interfaces entry still
  # gets set up
  bridgeNames = builtins.attrNames cfg.bridges;
  vlanNames = builtins.attrNames cfg.vlans;
  macvlanNames = builtins.attrNames cfg.macvlans;
  sitNames = builtins.attrNames cfg.sits;
  bondNames = builtins.attrNames cfg.bonds;
  virtuals = builtins.filter (i: i.virtual) (builtins.attrValues cfg.interfaces);
  members = lib.concatMap (b: cfg.bridges.${b}.interfaces) bridgeNames;
  # a bond's slaves: no address, no DHCP of their own, as NixOS's slaves
  slaves = lib.concatMap (b: cfg.bonds.${b}.interfaces) bondNames;
  ifaces = builtins.attrValues (lib.genAttrs (vlanNames ++ macvlanNames ++ sitNames ++ bondNames) (n: cfg.interfaces.${n} or (emptyIface n))
    // lib.genAttrs members (n: cfg.interfaces.${n} or (emptyIface n))
    // lib.genAttrs bridgeNames (n: cfg.interfaces.${n} or (emptyIface n)) // cfg.interfaces);
  emptyIface = name: { inherit name; ipv4 = { addresses = [ ]; routes = [ ]; }; ipv6 = { addresses = [ ]; routes = [ ]; };
    useDHCP = null; macAddress = null; mtu = null; tempAddress = cfg.tempAddresses; };
  static = i: i.ipv4.addresses != [ ] || i.ipv6.addresses != [ ];
  # interfaces udhcpc must not touch / must touch
  # (bridge members never: their bridge is the interface, as NixOS's dhcpcd
  # leaves members alone)
  noDhcp = members ++ slaves ++ map (i: i.name) (builtins.filter (i: i.useDHCP == false || (i.useDHCP == null && static i)) ifaces);
  forceDhcp = map (i: i.name) (builtins.filter (i: i.useDHCP == true) ifaces);

  # busybox's udhcpc hands the lease to a script (its default.script's job):
  # tinyos's own, no user text in it, so busybox sh, which starts in a
  # fraction of bash's time under TCG.
  udhcpcScript = pkgs.writeScript "udhcpc-script" ''
    #!${pkgs.busybox}/bin/sh
    case "$1" in
      deconfig) ip -4 addr flush dev "$interface"; ip link set dev "$interface" up ;;
      bound|renew)
        ip -4 addr flush dev "$interface"
        ip addr add "$ip/''${mask:-24}" dev "$interface"
        if [ -n "$router" ]; then
          ip route del default dev "$interface" 2>/dev/null || true
          for r in $router; do ip route add default via "$r" dev "$interface" && break; done
        fi
        ${lib.optionalString (cfg.nameservers == [ ]) ''
          if [ -n "$dns" ]; then
            : > /etc/resolv.conf
            search="$domain ${toString cfg.search}"
            [ -n "''${search# }" ] && echo "search ''${search# }" >> /etc/resolv.conf
            for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
          fi
        ''}
        ${lib.optionalString (cfg.hostName == "") ''
          # an empty networking.hostName: the name comes from DHCP, as in NixOS
          [ -n "$hostname" ] && hostname "$hostname"
        ''}
        echo "udhcpc: $interface: $ip/''${mask:-24}''${router:+ via $router}" ;;
    esac
  '';

  # udev rules that name a NIC by its MAC address (what NixOS's test network
  # writes for virtualisation.interfaces): SUBSYSTEM=="net" ... ATTR{address}=="<mac>" ... NAME="<name>"
  renames = builtins.concatMap (line:
    let m = builtins.match ''.*SUBSYSTEM=="net".*ATTR[{]address[}]=="([0-9a-fA-F:]+)".*NAME="([^"]+)".*'' line; in
    if m == null then [ ] else [ { mac = lib.toLower (builtins.elemAt m 0); name = builtins.elemAt m 1; } ])
    (lib.splitString "\n" (config.boot.initrd.services.udev.rules + "\n" + config.services.udev.extraRules));
  renameInterface = r: ''
    found= n=0
    while [ -z "$found" ] && [ $n -lt 50 ]; do
      # (read, not $(cat): a fork and an exec per interface under TCG)
      for dev in /sys/class/net/*/; do dev=''${dev%/}; addr=; read -r addr < $dev/address; [ "$addr" = ${r.mac} ] && found=''${dev##*/}; done
      [ -n "$found" ] || { n=$((n + 1)); sleep 0.1; }
    done
    if [ -n "$found" ] && [ "$found" != ${r.name} ]; then
      ip link set dev "$found" name ${r.name} && echo "network: $found (${r.mac}) renamed ${r.name}"
    fi
  '';

  # as network-interfaces-scripted.nix adds a route: proto static, and a
  # failure said but not fatal. iproute2 (NixOS's ip) puts a local or
  # broadcast route in the table local unless told; busybox's ip, which
  # this script runs, must be told
  route = v: i: r:
    let
      cidr = "${r.address}/${toString r.prefixLength}";
      opts = lib.concatStrings (lib.mapAttrsToList (k: x: "${k} ${x} ") r.options);
      table = lib.optionalString (builtins.elem r.type [ "local" "broadcast" ] && !(r.options ? table)) "table local ";
    in ''
      ip -${toString v} route add ${lib.optionalString (r.type != null) r.type} ${cidr} ${opts}${table}${lib.optionalString (r.via != null) "via ${r.via} "}dev ${i.name} proto static \
        && echo "network: route ${cidr} dev ${i.name}" || echo "network: failed to add route ${cidr} dev ${i.name}"
    '';

  # an 802.1Q VLAN device on its interface (network-interfaces-scripted.nix's
  # <name>-netdev: ip link add link IFACE name NAME type vlan id ID)
  createVlan = v: let c = cfg.vlans.${v}; in ''
    if wait_iface ${c.interface}; then
      ip link set dev ${c.interface} up
      ip link add link ${c.interface} name ${v} type vlan id ${toString c.id} \
        && echo "network: vlan ${v}: id ${toString c.id} on ${c.interface}" \
        || echo "network: failed to add vlan ${v}"
    fi
  '';

  # a macvlan device on its interface (<name>-netdev: ip link add link IFACE
  # name NAME type macvlan; the kernel's default mode, vepa, as mode = null)
  createMacvlan = v: let c = cfg.macvlans.${v}; in ''
    if wait_iface ${c.interface}; then
      ip link set dev ${c.interface} up
      ip link add link ${c.interface} name ${v} type macvlan \
        && echo "network: macvlan ${v} on ${c.interface}" || echo "network: failed to add macvlan ${v}"
    fi
  '';

  # a 6in4 tunnel (<name>-netdev: ip link add name NAME type sit remote R
  # local L ttl T dev D; busybox's ip makes it with ip tunnel add)
  createSit = n: let c = cfg.sits.${n}; opt = k: v: lib.optionalString (v != null) " ${k} ${toString v}"; in ''
    ${lib.optionalString (c.dev != null) "wait_iface ${c.dev} &&"} \
      ip tunnel add ${n} mode sit${opt "remote" c.remote}${opt "local" c.local}${opt "ttl" c.ttl}${opt "dev" c.dev} \
      && echo "network: sit ${n}${opt "remote" c.remote}" || echo "network: failed to add sit ${n}"
  '';

  # a tap device, persistent until deleted (<name>-netdev: ip tuntap add dev
  # NAME mode tap user OWNER); busybox has no ip tuntap but its tunctl makes
  # the same device (IFF_TAP, no packet information), with no owner: only
  # root (CAP_NET_ADMIN) attaches to it, as to NixOS's with owner root
  createVirtual = i: ''
    tunctl -t ${i.name} >/dev/null && echo "network: tap ${i.name}" || echo "network: failed to add tap ${i.name}"
  '';

  # a bonding device and its slaves (<name>-netdev: ip link add name NAME
  # type bond OPTION VALUE...; the options, the bonding driver's own names,
  # are set through its sysfs files, busybox's ip having none of them; mode
  # first, as the others depend on it and it can only change while no slave
  # is enslaved)
  createBond = n: let
    c = cfg.bonds.${n};
    opts = lib.mapAttrs (_: toString) (lib.filterAttrs (k: v: lib.elem k bondDeprecated && v != null) c) // c.driverOptions;
    setOpt = k: ''
      echo ${lib.escapeShellArg opts.${k}} > /sys/class/net/${n}/bonding/${k} \
        || echo "network: bond ${n}: the bonding driver refused ${k} ${opts.${k}}"
    '';
    ordered = lib.optional (opts ? mode) "mode" ++ builtins.filter (k: k != "mode") (builtins.attrNames opts);
  in ''
    # NixOS's destroyBond first (a bond of that name from before goes)
    ip link del dev ${n} 2>/dev/null || true
    ip link add name ${n} type bond && wait_iface ${n} && {
      ${lib.concatMapStrings setOpt ordered}
      ip link set dev ${n} up
      ${lib.concatMapStrings (s: ''
        if wait_iface ${s}; then ip link set dev ${s} down && ip link set dev ${s} master ${n}; fi
      '') c.interfaces}
      echo "network: bond ${n}: $(cat /sys/class/net/${n}/bonding/mode): $(cat /sys/class/net/${n}/bonding/slaves)"
    } || echo "network: failed to add bond ${n}"
  '';
  bondDeprecated = [ "lacp_rate" "miimon" "mode" "xmit_hash_policy" ];

  createBridge = b: ''
    ip link add name ${b} type bridge 2>/dev/null || true
    ${lib.concatMapStrings (m: ''
      if wait_iface ${m}; then ip link set dev ${m} master ${b} && ip link set dev ${m} up; fi
    '') cfg.bridges.${b}.interfaces}
    echo "network: bridge ${b}: ${toString cfg.bridges.${b}.interfaces}"
  '';

  # as network-interfaces-scripted.nix: with an interface, first a host
  # route to the gateway on it (so a gateway outside the interface's
  # subnets is reachable), then the default route. With a source, the
  # default route is retried for a few seconds: an IPv6 source is refused
  # while its duplicate address detection runs (tinyos sets the gateway
  # right after the addresses; NixOS's ordering leaves it more time)
  gatewayCommand = v: gw: let
    metric = lib.optionalString (gw.metric != null) "metric ${toString gw.metric} ";
    setDefault = "ip -${toString v} route replace default ${metric}via ${gw.address} ${lib.optionalString (gw.interface != null) "dev ${gw.interface} "}${lib.optionalString (gw.source != null) "src ${gw.source} "}proto static";
  in lib.optionalString (gw != null && gw.address != "") ''
    ${lib.optionalString (gw.interface != null) ''
      ip -${toString v} route replace ${gw.address} dev ${gw.interface} ${metric}proto static \
        || echo "network: failed to add the route to the IPv${toString v} default gateway ${gw.address}"
    ''}
    ${if gw.source == null then setDefault else "n=0; until ${setDefault} 2>/dev/null; do n=$((n + 1)); [ $n -lt 50 ] || break; sleep 0.1; done; [ $n -lt 50 ]"} \
      || echo "network: failed to set the IPv${toString v} default gateway ${gw.address}"
  '';

  # systemd.network.links (system/boot/networkd.nix) for the devices not
  # seen yet: those present after the udev renames, then those made here
  applyLinks = lib.optionalString (cfg.tinyosLinks != "") "apply_links $(ls /sys/class/net)\n";

  setupInterface = i: ''
    if wait_iface ${i.name}; then
      ${lib.optionalString (i.macAddress != null) "ip link set dev ${i.name} address ${i.macAddress}"}
      ${lib.optionalString (i.mtu != null) "ip link set dev ${i.name} mtu ${toString i.mtu}"}
      ${setTempaddr i.name i.tempAddress}
      ip link set dev ${i.name} up
      ${lib.concatMapStrings (a: "ip addr add ${a.address}/${toString a.prefixLength} dev ${i.name}\n") i.ipv4.addresses}
      ${lib.optionalString cfg.enableIPv6
        (lib.concatMapStrings (a: "ip -6 addr add ${a.address}/${toString a.prefixLength} dev ${i.name}\n") i.ipv6.addresses)}
      ${lib.concatMapStrings (route 4 i) i.ipv4.routes}
      ${lib.optionalString cfg.enableIPv6 (lib.concatMapStrings (route 6 i) i.ipv6.routes)}
      echo "network: ${i.name}: ${builtins.concatStringsSep " " (map (a: "${a.address}/${toString a.prefixLength}") (i.ipv4.addresses ++ i.ipv6.addresses))}"
    fi
  '';
in
{
  # udev rules: tinyos has no udev; the rules that name network interfaces
  # by MAC address are carried out at boot (see renames), the rest are ignored.
  options.boot.initrd.services.udev.rules = mkOption {
    type = types.lines;
    default = "";
    description = "udev rules for the initrd (tinyos honours those naming a NIC by MAC address).";
  };
  options.services.udev.extraRules = mkOption {
    type = types.lines;
    default = "";
    description = "Additional udev rules (tinyos honours those naming a NIC by MAC address).";
  };

  options.networking = {
    hostName = mkOption {
      type = types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$";
      default = "nixos";
      description = "The name of the machine (a hostname label, or empty).";
    };
    domain = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "home.arpa";
      description = "The domain; with hostName it forms the FQDN listed in /etc/hosts.";
    };
    useDHCP = mkOption {
      type = types.bool;
      default = true;
      description = "Whether to use DHCP on interfaces that have no static configuration.";
    };
    enableIPv6 = mkOption { type = types.bool; default = true; description = "Whether to configure IPv6 addresses."; };
    nameservers = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "130.161.158.4" ];
      description = "The list of nameservers written to /etc/resolv.conf (empty: DHCP's).";
    };
    search = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "example.com" "home.arpa" ];
      description = "The list of search paths used when resolving domain names (the search line of /etc/resolv.conf).";
    };
    defaultGateway = mkOption {
      type = gatewayType;
      default = null;
      example = { address = "131.211.84.1"; interface = "enp3s0"; };
      description = "The default gateway (IPv4).";
    };
    defaultGateway6 = mkOption {
      type = gatewayType;
      default = null;
      example = { address = "2001:4d0:1e04:895::1"; interface = "enp3s0"; };
      description = "The default IPv6 gateway.";
    };
    tempAddresses = mkOption {
      type = types.enum (builtins.attrNames tempaddr);
      default = if cfg.enableIPv6 then "default" else "disabled";
      defaultText = lib.literalExpression ''if networking.enableIPv6 then "default" else "disabled"'';
      description = "Whether to enable IPv6 Privacy Extensions (temporary addresses) for interfaces not configured explicitly in networking.interfaces.<name>.tempAddress.";
    };
    vlans = mkOption {
      type = types.attrsOf (types.submodule {
        options.id = mkOption { type = types.int; example = 1; description = "The vlan identifier."; };
        options.interface = mkOption { type = types.str; example = "enp4s0"; description = "The interface the vlan will transmit packets through."; };
      });
      default = { };
      example = { vlan0 = { id = 3; interface = "enp3s0"; }; };
      description = "This option allows you to define vlan devices that tag packets on top of a physical interface. The value of this option is an attribute set. Each attribute specifies a vlan, with the name specifying the name of the vlan interface.";
    };
    macvlans = mkOption {
      type = types.attrsOf (types.submodule {
        options.interface = mkOption { type = types.str; example = "enp4s0"; description = "The interface the macvlan will transmit packets through."; };
        options.mode = mkOption {
          type = types.nullOr (types.enum [ "private" "vepa" "bridge" "passthru" "source" ]);
          default = null;
          example = "vepa";
          description = "The mode of the macvlan device (null: the kernel's, vepa).";
        };
      });
      default = { };
      example = { wan = { interface = "enp2s0"; mode = "vepa"; }; };
      description = "This option allows you to define macvlan interfaces which should be automatically created.";
    };
    sits = mkOption {
      type = types.attrsOf (types.submodule {
        options = {
          remote = mkOption { type = types.nullOr types.str; default = null; example = "10.0.0.1"; description = "The address of the remote endpoint to forward traffic over."; };
          local = mkOption { type = types.nullOr types.str; default = null; example = "10.0.0.22"; description = "The address of the local endpoint which the remote side should send packets to."; };
          ttl = mkOption { type = types.nullOr types.int; default = null; example = 255; description = "The time-to-live of the connection to the remote tunnel endpoint."; };
          dev = mkOption { type = types.nullOr types.str; default = null; example = "enp4s0f0"; description = "The underlying network device on which the tunnel resides."; };
          encapsulation = mkOption {
            type = types.nullOr types.attrs;
            default = null;
            description = "Configures encapsulation in UDP packets (tinyos: only null, plain 6in4).";
          };
        };
      });
      default = { };
      example = { hurricane = { remote = "10.0.0.1"; local = "10.0.0.22"; ttl = 255; }; };
      description = "This option allows you to define 6-to-4 interfaces which should be automatically created.";
    };
    bonds = mkOption {
      type = types.attrsOf (types.submodule {
        options = {
          interfaces = mkOption { type = types.listOf types.str; example = [ "enp4s0f0" "enp4s0f1" "wlan0" ]; description = "The interfaces to bond together."; };
          driverOptions = mkOption {
            type = types.attrsOf types.str;
            default = { };
            example = lib.literalExpression ''{ miimon = "100"; mode = "active-backup"; }'';
            description = "Options for the bonding driver (the kernel's bonding.txt names; tinyos writes each to /sys/class/net/<bond>/bonding/<name>).";
          };
          lacp_rate = mkOption { type = types.nullOr types.str; default = null; example = "fast"; description = "DEPRECATED, use `driverOptions`. Option specifying the rate in which we'll ask our link partner to transmit LACPDU packets in 802.3ad mode."; };
          miimon = mkOption { type = types.nullOr types.int; default = null; example = 100; description = "DEPRECATED, use `driverOptions`. Miimon is the number of millisecond in between each round of polling by the device driver for failed links."; };
          mode = mkOption { type = types.nullOr types.str; default = null; example = "active-backup"; description = "DEPRECATED, use `driverOptions`. The mode which the bond will be running."; };
          xmit_hash_policy = mkOption { type = types.nullOr types.str; default = null; example = "layer2+3"; description = "DEPRECATED, use `driverOptions`. Selects the transmit hash policy to use for slave selection."; };
        };
      });
      default = { };
      example = lib.literalExpression ''{ bond0 = { interfaces = [ "eth0" "wlan0" ]; driverOptions = { miimon = "100"; mode = "active-backup"; }; }; }'';
      description = "This option allows you to define bond devices that aggregate multiple, underlying networking interfaces together. The value of this option is an attribute set. Each attribute specifies a bond, with the attribute name specifying the name of the bond's network interface";
    };
    bridges = mkOption {
      type = types.attrsOf (types.submodule {
        options.interfaces = mkOption { type = types.listOf types.str; example = [ "eth0" "eth1" ]; description = "The physical network interfaces connected by the bridge."; };
        options.rstp = mkOption { type = types.bool; default = false; description = "Whether the bridge interface should enable rstp."; };
      });
      default = { };
      example = { br0.interfaces = [ "eth0" "eth1" ]; };
      description = "Ethernet bridge devices, each connecting the listed interfaces (the attribute name is the bridge's).";
    };
    fqdn = mkOption {
      type = types.str;
      readOnly = true;
      default = if cfg.hostName != "" && cfg.domain != null then "${cfg.hostName}.${cfg.domain}"
        else throw "The FQDN is required but cannot be determined. Please make sure that both networking.hostName and networking.domain are set properly.";
      defaultText = lib.literalExpression ''"''${networking.hostName}.''${networking.domain}"'';
      description = "The fully qualified domain name (FQDN) of this host: hostName.domain (read-only).";
    };
    useNetworkd = mkOption {
      type = types.bool;
      default = false;
      description = "Whether to configure networking with systemd-networkd (tinyos: only false; it has the scripted setup).";
    };
    interfaces = mkOption {
      type = types.attrsOf (types.submodule interfaceOpts);
      default = { };
      example = { eth0.ipv4.addresses = [ { address = "131.211.84.78"; prefixLength = 25; } ]; };
      description = "The configuration for each network interface.";
    };
  };

  config = {
    # NixOS's network-interfaces.nix puts iproute2 in the system: `ip` on
    # PATH is iproute2's (the setup scripts here keep busybox's)
    environment.systemPackages = [ pkgs.iproute2 ];
    assertions = [
      { assertion = !cfg.useNetworkd;
        message = "networking.useNetworkd: tinyos cannot: it has no systemd-networkd; its network setup is NixOS's scripted one (useNetworkd = false)."; }
    ] ++ map (n: { assertion = cfg.sits.${n}.encapsulation == null;
        message = "networking.sits.${n}.encapsulation: tinyos cannot encapsulate in UDP (fou/gue): busybox ip has no fou; leave it null."; }) sitNames
    ++ map (v: { assertion = cfg.macvlans.${v}.mode == null;
        message = "networking.macvlans.${v}.mode: tinyos cannot set a mode (busybox ip has no macvlan mode): leave it null, the kernel's vepa."; }) macvlanNames
    ++ map (i: { assertion = i.virtualType == "tap";
        message = "networking.interfaces.${i.name}.virtualType: tinyos cannot make a tun device (busybox's tunctl makes only tap ones): set virtualType = \"tap\"."; }) virtuals
    ++ map (i: { assertion = i.virtualOwner == null || i.virtualOwner == "root";
        message = "networking.interfaces.${i.name}.virtualOwner: tinyos cannot give a tap device to another user than root (busybox's tunctl sets no owner)."; }) virtuals
    ++ map (b: { assertion = !cfg.bridges.${b}.rstp;
        message = "networking.bridges.${b}.rstp: tinyos cannot: it has no mstpd (rstp = false)."; }) bridgeNames
    # NixOS's own assertion
    ++ map (i: { assertion = i.tempAddress != "disabled" -> cfg.enableIPv6;
        message = "Temporary addresses are only needed when IPv6 is enabled."; }) (builtins.attrValues cfg.interfaces);
    # as NixOS's network-interfaces.nix: IPv6 off in the kernel without
    # enableIPv6 (every interface, lo's ::1 too), and the temporary-address
    # setting of interfaces made later (vlans, bridges, taps)
    boot.kernel.sysctl = {
      "net.ipv6.conf.all.disable_ipv6" = lib.mkDefault (!cfg.enableIPv6);
      "net.ipv6.conf.default.disable_ipv6" = lib.mkDefault (!cfg.enableIPv6);
      "net.ipv6.conf.default.use_tempaddr" = tempaddr.${cfg.tempAddresses};
    };
    boot.kernelModules = lib.optional (cfg.bridges != { }) "bridge" ++ lib.optional (cfg.vlans != { }) "8021q"
      ++ lib.optional (cfg.macvlans != { }) "macvlan"
      ++ lib.optional (cfg.sits != { }) "sit"
      ++ lib.optional (cfg.bonds != { }) "bonding" ++ lib.optional (virtuals != [ ]) "tun";
    # as NixOS's scripted backend warns
    warnings = lib.concatMap (n: map (k: "${n}.${k} is deprecated, use ${n}.driverOptions")
      (builtins.attrNames (lib.filterAttrs (k: v: lib.elem k bondDeprecated && v != null) cfg.bonds.${n}))) bondNames;
    environment.etc.hostname = lib.mkIf (cfg.hostName != "") { text = cfg.hostName + "\n"; };
    environment.etc."resolv.conf" = lib.mkIf (cfg.nameservers != [ ]) {
      mode = "0644";
      text = lib.optionalString (cfg.search != [ ]) "search ${toString cfg.search}\n"
        + lib.concatMapStrings (n: "nameserver ${n}\n") cfg.nameservers;
    };

    system.activationScripts.hostname = lib.optionalString (cfg.hostName != "") "hostname ${cfg.hostName}\n";

    system.activationScripts.networking = {
      # after the firewall's rules (services/networking/firewall.nix), as
      # NixOS orders firewall.service before network-pre.target
      deps = [ "modules" "hostname" "firewall" ];
      text = ''
        ${cfg.tinyosLinks}
        wait_iface() {
          n=0
          while [ ! -e "/sys/class/net/$1" ]; do
            n=$((n + 1))
            if [ $n -gt 50 ]; then echo "network: interface $1 did not appear"; return 1; fi
            sleep 0.1
          done
        }
        ip link set lo up
        # networking.tempAddresses for every interface (NixOS: a udev rule),
        # and for those made later (vlans, bridges): the default
        # (*/: the interfaces, not the bonding driver's bonding_masters file)
        ${lib.optionalString cfg.enableIPv6 ''
          ${setTempaddr "default" cfg.tempAddresses}
          for dev in /sys/class/net/*/; do
            dev=''${dev%/}
            [ "''${dev##*/}" = lo ] || ${setTempaddr "\"\${dev##*/}\"" cfg.tempAddresses}
          done
        ''}
        ${lib.concatMapStrings renameInterface renames}
        ${applyLinks}
        ${lib.concatMapStrings createVlan vlanNames}
        ${lib.concatMapStrings createMacvlan macvlanNames}
        ${lib.concatMapStrings createSit sitNames}
        ${lib.concatMapStrings createVirtual virtuals}
        ${lib.optionalString (bondNames != [ ] && !(cfg.bonds ? bond0)) ''
          # the bonding driver makes a bond0 when it loads; NixOS loads it
          # with max_bonds=0 (no such bond), tinyos removes it
          echo -bond0 > /sys/class/net/bonding_masters 2>/dev/null || true
        ''}
        ${lib.concatMapStrings createBond bondNames}
        ${lib.concatMapStrings createBridge bridgeNames}
        ${applyLinks}
        ${lib.concatMapStrings setupInterface ifaces}
        for dev in /sys/class/net/*/; do
          dev=''${dev%/}
          n=''${dev##*/}
          case " lo ${builtins.concatStringsSep " " noDhcp} " in *" $n "*) continue ;; esac
          ${if cfg.useDHCP then "" else ''case " ${builtins.concatStringsSep " " forceDhcp} " in *" $n "*) ;; *) continue ;; esac''}
          ip link set dev "$n" up
          # returns with a lease (then renews in the background), or goes to
          # the background after 3 unanswered tries
          udhcpc -b -i "$n" -s ${udhcpcScript} -t 3 -T 1 ${lib.optionalString (cfg.hostName != "") "-x hostname:${cfg.hostName}"}
        done
        ${gatewayCommand 4 cfg.defaultGateway}
        ${lib.optionalString cfg.enableIPv6 (gatewayCommand 6 cfg.defaultGateway6)}
      '';
    };
  };
}
