# Every option tinyos's NixOS modules declare, for nixvms/tinyos/PARITY.md
# (written by nixvms/tinyos/nixos/lib/parity.py): a list of
#   { name; default; file; }
# name as NixOS's manual writes it (users.users.<name>.shell), default as
# text (defaultText where the module gives one, else the value as JSON),
# file relative to tinyos's nixos/modules (the nixpkgs module it mirrors
# has the same path under nixpkgs' nixos/modules).
let
  lib = import ../../lib;
  eval = import ./eval-config.nix { modules = [ ../modules/virtualisation/qemu-vm.nix ]; };
  root = toString ../modules + "/";

  # the submodule type inside attrsOf/listOf/nullOr, and the name parts they add
  inner = type:
    let n = type.name or ""; e = type.nestedTypes.elemType or null; in
    if builtins.elem n [ "attrsOf" "lazyAttrsOf" ] && e != null then
      let r = inner e; in r // { parts = [ "<name>" ] ++ r.parts; }
    else if n == "listOf" && e != null then
      let r = inner e; in r // { parts = [ "*" ] ++ r.parts; }
    else if n == "nullOr" && e != null then inner e
    else if n == "submodule" || (type.getSubModules or null) != null then { sub = type; parts = [ ]; }
    else { sub = null; parts = [ ]; };

  render = opt:
    if opt ? defaultText then
      (if builtins.isAttrs opt.defaultText then opt.defaultText.text or "" else toString opt.defaultText)
    else if !(opt ? default) then "(none)"
    else
      let r = builtins.tryEval (
        let d = opt.default; in
        if lib.isDerivation d then "pkgs.${d.pname or (builtins.parseDrvName d.name).name}"
        else builtins.toJSON d);
      in if r.success then r.value else "(computed)";

  fileOf = opt:
    let f = toString (builtins.head (opt.declarations or [ "?" ])); in
    lib.removePrefix root f;

  walk = path: node:
    if lib.isOption node then
      let
        i = inner node.type;
        here = [ { name = lib.concatStringsSep "." path; default = render node; file = fileOf node; } ];
        # visible = "shallow" (specialisation.<name>.configuration, a whole
        # system): the option, not its sub-options, as NixOS's manual does
        # (nor those of an alias: they are its target's, listed there)
        subs = if i.sub == null || (node.visible or true) == "shallow"
          || lib.hasPrefix "Alias of" (node.description or "") then [ ] else
          let t = builtins.tryEval (i.sub.getSubOptions [ ]); in
          if t.success then walkSet (path ++ i.parts) (removeAttrs t.value [ "_module" ]) else [ ];
      in if node.internal or false || (node.visible or true) == false then [ ] else here ++ subs
    else if builtins.isAttrs node then walkSet path node
    else [ ];
  walkSet = path: set: builtins.concatLists (lib.mapAttrsToList (n: v: walk (path ++ [ n ]) v) set);
in
walk [ ] (removeAttrs eval.options [ "_module" ])
