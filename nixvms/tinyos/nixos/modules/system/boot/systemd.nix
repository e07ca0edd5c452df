# Mirrors the systemd.services options of nixos/modules/system/boot/systemd.nix
# (unit options from lib/systemd-unit-options.nix) and what systemd does with
# them at boot, without systemd: the services wanted by multi-user.target
# (and what they require/want) are started once, in the order after/before
# give, by busybox sh. Their output goes to the console, each line prefixed
# with the unit name. Supported serviceConfig keys are listed in `supported`;
# others are accepted and reported as warnings.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  sh = "${pkgs.busybox}/bin/sh";

  primitive = types.oneOf [ types.bool types.int types.str types.path types.package ];
  unitOption = types.either primitive (types.listOf primitive);
  unitList = desc: mkOption { type = types.listOf types.str; default = [ ]; description = desc; };

  serviceOpts = { name, ... }: {
    options = {
      enable = mkOption { type = types.bool; default = true; description = "Whether the unit is started (when something wants it)."; };
      description = mkOption { type = types.str; default = ""; description = "Description of this unit used in messages."; };
      wantedBy = unitList "Units (targets) that want this unit; multi-user.target starts it at boot.";
      requiredBy = unitList "Units (targets) that require this unit.";
      wants = unitList "Units started together with this one.";
      requires = unitList "Units started with this one; if one fails, this one is not started.";
      after = unitList "Units this one is started after.";
      before = unitList "Units this one is started before.";
      path = mkOption {
        type = types.listOf (types.either types.package types.str);
        default = [ ];
        description = "Packages whose bin and sbin directories are added to the service's PATH.";
      };
      environment = mkOption {
        type = types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ]));
        default = { };
        example = { PATH = "/foo/bar/bin"; LANG = "nl_NL.UTF-8"; };
        description = "Environment variables passed to the service's processes.";
      };
      script = mkOption { type = types.lines; default = ""; description = "Shell commands executed as the service's main process (busybox sh, -e)."; };
      scriptArgs = mkOption { type = types.str; default = ""; description = "Arguments passed to the main process script."; };
      preStart = mkOption { type = types.lines; default = ""; description = "Shell commands executed before the service's main process is started."; };
      postStart = mkOption { type = types.lines; default = ""; description = "Shell commands executed after the service's main process is started."; };
      serviceConfig = mkOption {
        type = types.attrsOf unitOption;
        default = { };
        example = { RestartSec = 5; Type = "oneshot"; };
        description = "Each attribute in this set specifies an option in the [Service] section of the unit.";
      };
      unitConfig = mkOption { type = types.attrsOf unitOption; default = { }; description = "Options of the [Unit] section (accepted)."; };
      restartIfChanged = mkOption { type = types.bool; default = true; description = "Accepted (tinyos has no live switch)."; };
      restartTriggers = mkOption { type = types.listOf types.unspecified; default = [ ]; description = "Accepted (tinyos has no live switch)."; };
    };
  };

  supported = [ "Type" "ExecStart" "ExecStartPre" "ExecStartPost" "Restart" "RestartSec" "User"
                "WorkingDirectory" "StateDirectory" "RuntimeDirectory" "RemainAfterExit" ];

  all = lib.filterAttrs (_: s: s.enable) config.systemd.services;
  unitName = u: lib.removeSuffix ".service" u;
  isService = u: !(lib.hasSuffix ".target" u) && all ? ${unitName u};
  services = us: map unitName (builtins.filter isService us);
  bootTargets = [ "multi-user.target" "default.target" ];
  wantedAtBoot = s: builtins.any (t: builtins.elem t bootTargets) (s.wantedBy ++ s.requiredBy);
  roots = builtins.filter (n: wantedAtBoot all.${n}) (builtins.attrNames all);
  # what starting n pulls in: its requires/wants, and units wanted by it
  pulls = n: services (all.${n}.requires ++ all.${n}.wants)
    ++ builtins.filter (m: builtins.any (u: unitName u == n) (all.${m}.wantedBy ++ all.${m}.requiredBy))
         (builtins.attrNames all);
  started = map (x: x.key) (builtins.genericClosure {
    startSet = map (key: { inherit key; }) roots;
    operator = x: map (key: { inherit key; }) (pulls x.key);
  });
  startsBefore = a: b: builtins.elem a (services all.${b}.after) || builtins.elem b (services all.${a}.before);
  sorted = lib.toposort startsBefore (builtins.sort builtins.lessThan started);
  order =
    if sorted ? result then sorted.result
    else throw "systemd.services: ordering cycle (after/before) among: ${builtins.concatStringsSep ", " (sorted.cycle or started)}";

  asList = v: if builtins.isList v then v else [ v ];
  stripPrefix = c: let m = builtins.match "[-+!]*(.*)" c; in if m == null then c else builtins.head m;

  unitScript = name: s:
    let
      sc = s.serviceConfig;
      pathDirs = builtins.concatStringsSep ":"
        (builtins.concatMap (p: [ "${p}/bin" "${p}/sbin" ]) (s.path ++ [ pkgs.busybox ]));
      env = lib.concatStrings (lib.mapAttrsToList (k: v:
        lib.optionalString (v != null) "export ${k}=${lib.escapeShellArg (toString v)}\n") s.environment);
      header = ''
        #!${sh}
        set -e
        export PATH=${pathDirs}
        ${env}${lib.optionalString (sc ? WorkingDirectory) "cd ${lib.escapeShellArg (toString sc.WorkingDirectory)}"}
      '';
      execs = key: lib.concatMapStrings (c: stripPrefix (toString c) + "\n") (asList (sc.${key} or [ ]));
      main = if s.script != "" then pkgs.writeScript "unit-script-${name}-start" ''
          ${header}
          ${s.script}
        '' else null;
    in {
      pre = pkgs.writeScript "unit-${name}-pre" "${header}\n${execs "ExecStartPre"}\n${s.preStart}\n";
      post = pkgs.writeScript "unit-${name}-post" "${header}\n${s.postStart}\n${execs "ExecStartPost"}\n";
      main = if main != null then "${main} ${s.scriptArgs}"
        else if sc ? ExecStart then "${pkgs.writeScript "unit-${name}-exec" "${header}\n${execs "ExecStart"}"}"
        else "true";
    };

  startUnit = name:
    let
      s = all.${name};
      sc = s.serviceConfig;
      u = unitScript name s;
      type = toString (sc.Type or "simple");
      restart = toString (sc.Restart or "no");
      user = toString (sc.User or "root");
      desc = if s.description != "" then s.description else "${name}.service";
      dirs = lib.concatMapStrings (d: "mkdir -p /var/lib/${d}\n") (asList (sc.StateDirectory or [ ]))
        + lib.concatMapStrings (d: "mkdir -p /run/${d}\n") (asList (sc.RuntimeDirectory or [ ]));
      requires = services s.requires;
    in ''
      # ${name}.service
      if ${if requires == [ ] then "true" else
            builtins.concatStringsSep " && " (map (r: "[ ! -e /run/tinyos/failed/${r} ]") requires)}; then
        ${dirs}
        unit_start ${lib.escapeShellArgs [ name desc type restart (toString (sc.RestartSec or "0.1")) user "${u.pre}" u.main "${u.post}" ]}
      else
        echo "[DEPEND] Dependency failed for ${desc}."
        touch /run/tinyos/failed/${name}
      fi
    '';

  # A long-running service: its main process, restarted as Restart= says,
  # output prefixed with the unit name.
  runner = pkgs.writeScript "unit-runner" ''
    #!${sh}
    name=$1 desc=$2 restart=$3 restartSec=$4 user=$5 main=$6
    {
      while :; do
        if [ "$user" = root ]; then sh -c "exec $main"; else su -s ${sh} -c "exec $main" "$user"; fi
        rc=$?
        case "$restart" in
          always) ;;
          on-failure|on-abnormal|on-abort) [ $rc = 0 ] && break ;;
          *) break ;;
        esac
        echo "$desc exited ($rc); restarting in $restartSec s"
        sleep "$restartSec"
      done
    } 2>&1 | awk -v p="$name: " '{ print p $0; fflush() }'
  '';

  startServices = pkgs.writeScript "start-services" ''
    #!${sh}
    # Starts systemd.services at boot, in this order: ${builtins.concatStringsSep " " order}
    mkdir -p /run/tinyos/failed

    prefix() { awk -v p="$1: " '{ print p $0; fflush() }'; }
    as_user() { # user command
      if [ "$1" = root ]; then sh -c "exec $2"; else su -s ${sh} -c "exec $2" "$1"; fi
    }
    run_logged() { # name user command: run, output prefixed, return its status
      { as_user "$2" "$3"; echo $? > /run/tinyos/$1.rc; } 2>&1 | prefix "$1"
      return "$(cat /run/tinyos/$1.rc)"
    }
    unit_failed() { echo "[FAILED] Failed to start $2."; touch /run/tinyos/failed/$1; }
    unit_start() { # name description type restart restartSec user pre main post
      name=$1 desc=$2 type=$3 restart=$4 restartSec=$5 user=$6 pre=$7 main=$8 post=$9
      run_logged "$name" "$user" "$pre" || { unit_failed "$name" "$desc"; return; }
      case "$type" in
        oneshot|forking)
          run_logged "$name" "$user" "$main" || { unit_failed "$name" "$desc"; return; }
          if [ "$type" = oneshot ]; then echo "[  OK  ] Finished $desc."; else echo "[  OK  ] Started $desc."; fi
          run_logged "$name" "$user" "$post" ;;
        *)
          # its own session: it outlives the boot script and the console's hangup
          setsid ${runner} "$name" "$desc" "$restart" "$restartSec" "$user" "$main" &
          echo "[  OK  ] Started $desc."
          run_logged "$name" "$user" "$post" ;;
      esac
    }

    ${lib.concatMapStrings startUnit order}
  '';
in
{
  options.systemd.services = mkOption {
    type = types.attrsOf (types.submodule serviceOpts);
    default = { };
    description = "Definition of systemd service units (started at boot by tinyos's init).";
  };

  config = {
    system.build.startServices = startServices;
    # the start order, for inspection and tests
    system.build.serviceOrder = order;
    warnings = builtins.concatLists (lib.mapAttrsToList (name: s:
      map (k: "systemd.services.${name}.serviceConfig.${k} is not supported by tinyos and is ignored")
        (builtins.filter (k: !builtins.elem k supported) (builtins.attrNames s.serviceConfig))) all);
  };
}
