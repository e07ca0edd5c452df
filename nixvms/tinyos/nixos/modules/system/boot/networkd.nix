# Mirrors the .link part of nixos/modules/system/boot/networkd.nix:
# systemd.network.links.<name>, which NixOS writes to /etc/systemd/network
# and systemd-udevd applies to each network device as it appears, networkd
# or not. tinyos has no udev: its network setup (tasks/network-interfaces.nix)
# applies them at boot, to the devices present after the udev renames and
# again to each device it creates (bonds, taps, vlans, ...), before any is
# configured. As udevd does, the link files are taken in lexical order and
# the first whose [Match] matches a device is the only one applied; a
# [Match] with no key udev knows matches every device. Name= is no [Match]
# key of a .link file (it is one of .network files): udevd ignores it, and
# so does tinyos.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  links = lib.filterAttrs (_: l: l.enable) config.systemd.network.links;
  names = builtins.sort builtins.lessThan (builtins.attrNames links);

  matchKeys = [ "MACAddress" "OriginalName" "Driver" ];
  linkKeys = [ "Name" "MACAddress" "MTUBytes" "Description" ];
  # a unit option's value as its text in the unit file
  text = v: if builtins.isList v then toString (map text v) else if builtins.isBool v then lib.boolToString v else toString v;
  words = v: lib.filter (w: w != "") (lib.splitString " " (text v));

  # MTUBytes: bytes, or with K, M, G (1024-based, as systemd parses sizes)
  mtuOf = v: let
    m = builtins.match "([0-9]+)([KMG]?)" (text v);
    unit = { "" = 1; K = 1024; M = 1048576; G = 1073741824; };
  in if m == null then null else lib.toInt (builtins.elemAt m 0) * unit.${builtins.elemAt m 1};

  matches = l: let
    mc = lib.filterAttrs (k: _: builtins.elem k matchKeys) l.matchConfig;
    test = k: v:
      if k == "MACAddress" then "in_list \"$mac\" ${lib.escapeShellArgs (map lib.toLower (words v))}"
      else if k == "OriginalName" then "glob_any \"$d\" ${lib.escapeShellArgs (words v)}"
      else "glob_any \"$drv\" ${lib.escapeShellArgs (words v)}";
  in if mc == { } then "true" else builtins.concatStringsSep " && " (lib.mapAttrsToList test mc);

  apply = n: let
    lc = links.${n}.linkConfig;
    set = k: cmd: lib.optionalString (lc ? ${k}) "${cmd}\n";
  in ''
    ${set "MACAddress" "ip link set dev \"$d\" address ${lib.escapeShellArg (text (lc.MACAddress or ""))}"}
    ${set "MTUBytes" "ip link set dev \"$d\" mtu ${toString (mtuOf (lc.MTUBytes or "0"))}"}
    ${set "Name" "ip link set dev \"$d\" name ${lib.escapeShellArg (text (lc.Name or ""))} && d=${lib.escapeShellArg (text (lc.Name or ""))}"}
    echo "network: link ${n} applied to $d"
  '';

  script = ''
    links_done=" "
    in_list() { v=$1; shift; for w in "$@"; do [ "$v" = "$w" ] && return 0; done; return 1; }
    glob_any() { v=$1; shift; for p in "$@"; do case "$v" in $p) return 0 ;; esac; done; return 1; }
    # apply_links DEVICE...: the first matching link of each device not seen yet
    apply_links() {
      for d in "$@"; do
        case "$links_done" in *" $d "*) continue ;; esac
        [ -d "/sys/class/net/$d" ] || continue
        links_done="$links_done$d "
        mac=$(cat "/sys/class/net/$d/address")
        drv=$(${pkgs.ethtool}/bin/ethtool -i "$d" 2>/dev/null | sed -n 's/^driver: //p')
        ${lib.concatImapStrings (i: n: ''
          ${if i == 1 then "if" else "elif"} ${matches links.${n}}; then
            ${apply n}
        '') names}
        fi
        # (a renamed device is seen under its new name too)
        links_done="$links_done$d "
      done
    }
  '';

  unitOption = types.oneOf [ types.bool types.int types.str types.path (types.listOf (types.oneOf [ types.int types.str ])) ];
in
{
  options.systemd.network.links = mkOption {
    type = types.attrsOf (types.submodule {
      options = {
        enable = mkOption { type = types.bool; default = true; description = "Whether to enable this .link unit. It's handled by udev no matter if systemd-networkd is enabled or not"; };
        matchConfig = mkOption {
          type = types.attrsOf unitOption;
          default = { };
          example = { Name = "eth0"; };
          description = "Each attribute in this set specifies an option in the [Match] section of the unit (tinyos: MACAddress, OriginalName, Driver).";
        };
        linkConfig = mkOption {
          type = types.attrsOf unitOption;
          default = { };
          example = { MACAddress = "00:ff:ee:aa:cc:dd"; };
          description = "Each attribute in this set specifies an option in the [Link] section of the unit (tinyos: Name, MACAddress, MTUBytes, Description).";
        };
        extraConfig = mkOption { type = types.lines; default = ""; description = "Extra configuration append to unit"; };
      };
    });
    default = { };
    description = "Definition of systemd network links (.link files, applied to network devices as they appear).";
  };

  # the script's functions, for tasks/network-interfaces.nix to call
  options.networking.tinyosLinks = mkOption {
    type = types.lines;
    internal = true;
    visible = false;
    default = lib.optionalString (names != [ ]) script;
    description = "Shell functions applying systemd.network.links (apply_links DEVICE...), empty when there are none.";
  };

  config = {
    # what udev would read, as NixOS writes it
    environment.etc = lib.mapAttrs' (n: l: lib.nameValuePair "systemd/network/${n}.link" {
      text = "[Match]\n" + lib.concatStrings (lib.mapAttrsToList (k: v: "${k}=${text v}\n") l.matchConfig)
        + "\n[Link]\n" + lib.concatStrings (lib.mapAttrsToList (k: v: "${k}=${text v}\n") l.linkConfig)
        + l.extraConfig;
    }) links;

    assertions = lib.concatMap (n: let l = links.${n}; p = "systemd.network.links.${n}"; in
      map (k: { assertion = builtins.elem k (matchKeys ++ [ "Name" ]);
                message = "${p}.matchConfig.${k}: tinyos cannot match on ${k} (it has no udev): use MACAddress, OriginalName or Driver."; })
        (builtins.attrNames l.matchConfig)
      ++ map (k: { assertion = builtins.elem k linkKeys;
                   message = "${p}.linkConfig.${k}: tinyos cannot set ${k} (it has no udev): it sets Name, MACAddress and MTUBytes."; })
        (builtins.attrNames l.linkConfig)
      ++ [
        { assertion = l.extraConfig == "";
          message = "${p}.extraConfig: tinyos cannot apply raw .link text (it has no udev): use matchConfig and linkConfig."; }
        { assertion = !(l.linkConfig ? MTUBytes) || mtuOf l.linkConfig.MTUBytes != null;
          message = "${p}.linkConfig.MTUBytes: not a size (bytes, or with K, M or G)."; }
        { assertion = !(l.matchConfig ? Driver) || !(lib.hasPrefix "!" (text l.matchConfig.Driver));
          message = "${p}.matchConfig.Driver: tinyos cannot invert a match (\"!\"): list the drivers to match."; }
      ]) names;
  };
}
