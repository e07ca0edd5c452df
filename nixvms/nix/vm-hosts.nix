# Where a machine runs: deployment.vmHost names a host of the network's hosts
# table, `meta.vmHosts` (beside `defaults`, as colmena's `meta` configures the
# network rather than a machine):
#
#   meta.vmHosts.big = { ssh = "root@big.example"; port = 22; stateDir = "/var/tmp/vms"; };
#   meta.vmHosts.far = { ssh = "far"; cable = { delay = "20ms"; loss = "1%"; }; };
#
# `cable`: how the cables to the host behave, each way (a wirefilter in each
# VLAN's cable: nixvms/supervisor/cables.py), with virtualisation.vlanLinks's
# settings and spellings.
#   db = { deployment.vmHost = "big"; ... };
#
# null (the default): this host. The host's entry travels in the machine's
# facts (facts.MachineFacts.vm_host, placement.VmHost's shape), so the
# supervisor knows how to reach it without reading the network file.
{
  module = { lib, ... }: {
    options.deployment.vmHost = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      description = "The VM host (a name in the network's meta.vmHosts) this machine runs on; null: where nixvms runs.";
    };
  };

  facts = config: table:
    let
      name = config.deployment.vmHost;
      known = builtins.concatStringsSep ", " (builtins.attrNames table);
      entry =
        if table ? ${name} then table.${name}
        else throw "deployment.vmHost = \"${name}\": the network's meta.vmHosts has no host of that name (it has: ${if known == "" then "none" else known})";
    in
    if name == null then null else {
      inherit name;
      ssh = entry.ssh or (throw "meta.vmHosts.${name} has no ssh (its [user@]address for ssh)");
      port = entry.port or 22;
      identity = toString (entry.identity or "");
      state_dir = toString (entry.stateDir or "");
      ssh_options = entry.sshOptions or [ ];
      cable =
        let c = entry.cable or { }; in
        map (n: "${n}=${toString c.${n}}")
          (builtins.filter (n: c.${n} != null) (builtins.attrNames c));
    };
}
