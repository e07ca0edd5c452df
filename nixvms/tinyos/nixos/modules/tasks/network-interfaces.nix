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
    };
  };

  # bridges first (their members join them), then every interface named
  # anywhere: a bridge or member with no networking.interfaces entry still
  # gets set up
  bridgeNames = builtins.attrNames cfg.bridges;
  members = lib.concatMap (b: cfg.bridges.${b}.interfaces) bridgeNames;
  ifaces = builtins.attrValues (lib.genAttrs members (n: cfg.interfaces.${n} or (emptyIface n))
    // lib.genAttrs bridgeNames (n: cfg.interfaces.${n} or (emptyIface n)) // cfg.interfaces);
  emptyIface = name: { inherit name; ipv4 = { addresses = [ ]; routes = [ ]; }; ipv6 = { addresses = [ ]; routes = [ ]; };
    useDHCP = null; macAddress = null; mtu = null; };
  static = i: i.ipv4.addresses != [ ] || i.ipv6.addresses != [ ];
  # interfaces udhcpc must not touch / must touch
  # (bridge members never: their bridge is the interface, as NixOS's dhcpcd
  # leaves members alone)
  noDhcp = members ++ map (i: i.name) (builtins.filter (i: i.useDHCP == false || (i.useDHCP == null && static i)) ifaces);
  forceDhcp = map (i: i.name) (builtins.filter (i: i.useDHCP == true) ifaces);

  # busybox's udhcpc hands the lease to a script (its default.script's job).
  udhcpcScript = pkgs.writeShellScript "udhcpc-script" ''
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
            [ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
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
      for dev in /sys/class/net/*; do [ "$(cat $dev/address)" = ${r.mac} ] && found=''${dev##*/}; done
      [ -n "$found" ] || { n=$((n + 1)); sleep 0.1; }
    done
    if [ -n "$found" ] && [ "$found" != ${r.name} ]; then
      ip link set dev "$found" name ${r.name} && echo "network: $found (${r.mac}) renamed ${r.name}"
    fi
  '';

  # as network-interfaces-scripted.nix adds a route: proto static, and a
  # failure said but not fatal
  route = v: i: r:
    let
      cidr = "${r.address}/${toString r.prefixLength}";
      opts = lib.concatStrings (lib.mapAttrsToList (k: x: "${k} ${x} ") r.options);
    in ''
      ip -${toString v} route add ${lib.optionalString (r.type != null) r.type} ${cidr} ${opts}${lib.optionalString (r.via != null) "via ${r.via} "}dev ${i.name} proto static \
        && echo "network: route ${cidr} dev ${i.name}" || echo "network: failed to add route ${cidr} dev ${i.name}"
    '';

  createBridge = b: ''
    ip link add name ${b} type bridge 2>/dev/null || true
    ${lib.concatMapStrings (m: ''
      if wait_iface ${m}; then ip link set dev ${m} master ${b} && ip link set dev ${m} up; fi
    '') cfg.bridges.${b}.interfaces}
    echo "network: bridge ${b}: ${toString cfg.bridges.${b}.interfaces}"
  '';

  gatewayCommand = v: gw: lib.optionalString (gw != null && gw.address != "") ''
    ip -${toString v} route replace default ${lib.optionalString (gw.metric != null) "metric ${toString gw.metric} "}via ${gw.address} ${lib.optionalString (gw.interface != null) "dev ${gw.interface} "}${lib.optionalString (gw.source != null) "src ${gw.source} "}proto static \
      || echo "network: failed to set the IPv${toString v} default gateway ${gw.address}"
  '';

  setupInterface = i: ''
    if wait_iface ${i.name}; then
      ${lib.optionalString (i.macAddress != null) "ip link set dev ${i.name} address ${i.macAddress}"}
      ${lib.optionalString (i.mtu != null) "ip link set dev ${i.name} mtu ${toString i.mtu}"}
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
    assertions = [
      { assertion = !cfg.useNetworkd;
        message = "networking.useNetworkd: tinyos cannot: it has no systemd-networkd; its network setup is NixOS's scripted one (useNetworkd = false)."; }
    ] ++ map (b: { assertion = !cfg.bridges.${b}.rstp;
        message = "networking.bridges.${b}.rstp: tinyos cannot: it has no mstpd (rstp = false)."; }) bridgeNames;
    boot.kernelModules = lib.optional (cfg.bridges != { }) "bridge";
    environment.etc.hostname = lib.mkIf (cfg.hostName != "") { text = cfg.hostName + "\n"; };
    environment.etc."resolv.conf" = lib.mkIf (cfg.nameservers != [ ]) {
      mode = "0644";
      text = lib.concatMapStrings (n: "nameserver ${n}\n") cfg.nameservers;
    };

    system.activationScripts.hostname = lib.optionalString (cfg.hostName != "") "hostname ${cfg.hostName}\n";

    system.activationScripts.networking = {
      # after the firewall's rules (services/networking/firewall.nix), as
      # NixOS orders firewall.service before network-pre.target
      deps = [ "modules" "hostname" "firewall" ];
      text = ''
        wait_iface() {
          n=0
          while [ ! -e "/sys/class/net/$1" ]; do
            n=$((n + 1))
            if [ $n -gt 50 ]; then echo "network: interface $1 did not appear"; return 1; fi
            sleep 0.1
          done
        }
        ip link set lo up
        ${lib.concatMapStrings renameInterface renames}
        ${lib.concatMapStrings createBridge bridgeNames}
        ${lib.concatMapStrings setupInterface ifaces}
        for dev in /sys/class/net/*; do
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
