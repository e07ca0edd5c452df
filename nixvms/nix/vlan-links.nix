# virtualisation.vlanLinks: how a machine's link to each of its VLANs behaves
# (delay, jitter, loss, duplication, bandwidth, MTU), set at start by a vde2
# wirefilter on the link (nixvms/supervisor/links.py) and changeable while
# the network runs (`nixvms link`, the test driver's machine.link(vlan).set).
# Per machine, beside virtualisation.vlans, because it is the machine's own
# cable; the same for every machine of a VLAN goes in `defaults`. Declaring a
# VLAN here (even `{ }`) gives every machine's link to it a wirefilter.
# Neither NixOS nor tinyos has this option: nixvms declares it, as it does
# deployment.targetHost. Values are netem's spellings; the supervisor reads
# them (wirefilter.py) and a bad one is an error naming this option.
{
  module = { lib, ... }:
    let
      inherit (lib) types mkOption;
      text = description: mkOption {
        type = types.nullOr types.str;
        default = null;
        inherit description;
      };
    in
    {
      options.virtualisation.vlanLinks = mkOption {
        type = types.attrsOf (types.submodule {
          options = {
            delay = text "Added delay, machine to VLAN, e.g. \"100ms\".";
            jitter = text "Random variation of the delay (uniform), e.g. \"10ms\".";
            loss = text "Frames lost, machine to VLAN, e.g. \"5%\".";
            lossBurst = mkOption {
              type = types.nullOr types.int;
              default = null;
              description = "Mean length of a burst of lost frames (Gilbert model).";
            };
            duplicate = text "Frames sent twice, e.g. \"1%\".";
            bandwidth = text "The link's rate, e.g. \"10mbit\".";
            mtu = mkOption {
              type = types.nullOr types.int;
              default = null;
              description = "Frames longer than this many bytes are dropped.";
            };
          };
        });
        default = { };
        example = { "1" = { delay = "100ms"; jitter = "10ms"; loss = "1%"; }; };
        description = "Per VLAN (its number as the name): how this machine's link to it behaves.";
      };
    };

  # The declared links in facts.LinkSettings's shape ("" where not set).
  facts = config:
    let
      links = config.virtualisation.vlanLinks;
      str = v: if v == null then "" else toString v;
      vlanOf = name:
        if builtins.match "[0-9]+" name != null then builtins.fromJSON name
        else throw "virtualisation.vlanLinks.\"${name}\": a VLAN is named by its number";
    in
    map
      (name:
        let l = links.${name}; in {
          vlan = vlanOf name;
          delay = str l.delay;
          jitter = str l.jitter;
          loss = str l.loss;
          loss_burst = str l.lossBurst;
          duplicate = str l.duplicate;
          bandwidth = str l.bandwidth;
          mtu = str l.mtu;
        })
      (builtins.attrNames links);
}
