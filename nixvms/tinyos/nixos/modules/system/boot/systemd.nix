# Mirrors the systemd.services options of nixos/modules/system/boot/systemd.nix
# (unit options from lib/systemd-unit-options.nix) and what systemd does with
# them at boot, without systemd: the services wanted by multi-user.target
# (and what they require/want) are started once, in the order after/before
# give, by busybox sh (the units' own scripts are bash, as NixOS's);
# `systemctl` and `journalctl` (systemd/*.sh, on every machine's PATH) query
# and change them at run time with systemd's output shapes and exit codes. Each unit's output goes to the journal
# (`journalctl -u`) and to the console, each line prefixed with the unit
# name. Supported serviceConfig keys are listed in `supported`, sandboxing
# ones (accepted, not enforced, with a warning) in `unsandboxed`; others are
# refused.
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
      script = mkOption { type = types.lines; default = ""; description = "Shell commands executed as the service's main process (bash, -e)."; };
      scriptArgs = mkOption { type = types.str; default = ""; description = "Arguments passed to the main process script."; };
      preStart = mkOption { type = types.lines; default = ""; description = "Shell commands executed before the service's main process is started."; };
      postStart = mkOption { type = types.lines; default = ""; description = "Shell commands executed after the service's main process is started."; };
      serviceConfig = mkOption {
        type = types.attrsOf unitOption;
        default = { };
        example = { RestartSec = 5; Type = "oneshot"; };
        description = "Each attribute in this set specifies an option in the [Service] section of the unit.";
      };
      unitConfig = mkOption {
        type = types.attrsOf unitOption;
        default = { };
        example = { ConditionPathExists = "/etc/foo.conf"; };
        description = "Each attribute in this set specifies an option in the [Unit] section of the unit (tinyos honours Description, Documentation, After, Before, Wants, Requires, the path Condition* keys, StartLimitIntervalSec = 0 and X-* keys; others are refused).";
      };
      restartIfChanged = mkOption { type = types.bool; default = true; description = "Whether the service should be restarted during a NixOS configuration switch if its definition has changed."; };
      restartTriggers = mkOption { type = types.listOf types.unspecified; default = [ ]; description = "An arbitrary list of items such as derivations. If any item in the list changes between reconfigurations, the service will be restarted."; };
    };
  };

  # [Unit] keys (unitConfig) and what tinyos's service manager does with them.
  # NixOS writes description/after/before/wants/requires into the same
  # section (Description=, After=, ...): given here they join those lists.
  # Condition* of the path family are checked when the unit starts, as
  # systemd does (lib.sh: an unmet one skips the unit, which stays
  # inactive, and the start succeeds). tinyos has no start rate limit, so of
  # StartLimit* only "no limit" (StartLimitIntervalSec = 0) is true of it.
  # X-* keys systemd ignores; NixOS's switch-to-configuration reads some:
  # X-RestartIfChanged and X-Restart-Triggers are restartIfChanged and
  # restartTriggers; those tinyos's switch has no equivalent for are refused.
  conditionTests = {
    ConditionPathExists = p: "[ -e ${p} ]";
    ConditionPathIsDirectory = p: "[ -d ${p} ]";
    ConditionPathIsSymbolicLink = p: "[ -L ${p} ]";
    ConditionFileNotEmpty = p: "[ -f ${p} ] && [ -s ${p} ]";
    ConditionFileIsExecutable = p: "[ -f ${p} ] && [ -x ${p} ]";
    ConditionDirectoryNotEmpty = p: "[ -d ${p} ] && [ -n \"$(ls -A ${p})\" ]";
  };
  unitLists = { After = "after"; Before = "before"; Wants = "wants"; Requires = "requires"; };
  unitKeys = [ "Description" "Documentation" "StartLimitIntervalSec" "StartLimitBurst" ]
    ++ builtins.attrNames unitLists ++ builtins.attrNames conditionTests;
  switchKeys = [ "X-StopIfChanged" "X-StopOnRemoval" "X-ReloadIfChanged" "X-Reload-Triggers" "X-OnlyManualStart" ];
  noLimit = v: builtins.elem (toString v) [ "0" "0s" "infinity" ];
  unitKeyRefusals = name: s:
    let
      uc = s.unitConfig;
      p = k: "systemd.services.${name}.unitConfig.${k}";
    in builtins.concatMap (k:
      if builtins.elem k switchKeys then
        [ "${p k}: tinyos cannot honour it: its switch-to-configuration restarts a changed unit (restartIfChanged) and has no stop, reload or manual-start policy." ]
      else if lib.hasPrefix "X-" k then [ ]
      else if k == "StartLimitIntervalSec" && !(noLimit uc.${k}) then
        [ "${p k}: tinyos cannot set it to ${builtins.toJSON uc.${k}}: its service manager has no start rate limit (only 0, no limit, is true of it)." ]
      else if k == "StartLimitBurst" && !(noLimit (uc.StartLimitIntervalSec or "")) then
        [ "${p k}: tinyos cannot: its service manager has no start rate limit (set StartLimitIntervalSec = 0, which is true of it)." ]
      else if lib.hasPrefix "Condition" k && conditionTests ? ${k}
        && builtins.any (v: builtins.match "[|]?!?/.*" (toString v) == null) (asList uc.${k}) then
        [ "${p k}: tinyos cannot check ${builtins.toJSON uc.${k}}: it checks absolute paths (with \"!\" and \"|\" prefixes)." ]
      else if builtins.elem k unitKeys then [ ]
      else [ "${p k}: tinyos cannot honour this [Unit] key: its service manager honours only ${toString unitKeys} and X-* keys." ]
    ) (builtins.attrNames s.unitConfig);

  # A service as its [Unit] section makes it: unitConfig's lists joined to
  # the options', unitConfig.Description over description.
  words = v: builtins.filter (w: w != "") (lib.splitString " " (toString v));
  withUnitConfig = s: let uc = s.unitConfig; in s // lib.mapAttrs' (k: o:
      lib.nameValuePair o (s.${o} ++ lib.optionals (uc ? ${k}) (words uc.${k}))) unitLists
    // lib.optionalAttrs (uc ? Description) { description = toString uc.Description; }
    // lib.optionalAttrs (uc ? X-RestartIfChanged) { restartIfChanged = s.restartIfChanged && yesNo uc.X-RestartIfChanged == "yes"; }
    // lib.optionalAttrs (uc ? X-Restart-Triggers) { restartTriggers = s.restartTriggers ++ asList uc.X-Restart-Triggers; };
  # The unit's conditions as shell (lib.sh evaluates it when the unit
  # starts): cond_unmet names the first unmet one, as systemd's journal line
  # does; triggering ones ("|") need one of them met.
  conditionCheck = s: lib.concatStrings (lib.mapAttrsToList (k: vs: lib.concatMapStrings (v:
    let
      m = builtins.match "([|]?)(!?)(.*)" (toString v);
      trig = builtins.elemAt m 0 == "|";
      t = conditionTests.${k} (lib.escapeShellArg (builtins.elemAt m 2));
      test = if builtins.elemAt m 1 == "!" then "! { ${t}; }" else "{ ${t}; }";
      what = lib.escapeShellArg "${k}=${toString v}";
    in if trig then "trig_any=1; if ${test}; then trig_ok=1; else trig_failed=${what}; fi\n"
    else "if [ -z \"$cond_unmet\" ] && ! ${test}; then cond_unmet=${what}; fi\n") (asList vs))
    (lib.filterAttrs (k: _: conditionTests ? ${k}) s.unitConfig));

  # [Service] keys (serviceConfig) and what tinyos's service manager does
  # with them. `supported`: honoured as systemd.exec(5)/systemd.service(5)
  # define them (lib.sh's as_user applies the process settings as root
  # before it changes identity, as systemd does). `unsandboxed`: hardening
  # and sandboxing keys; tinyos runs every service unconfined, so a service
  # they would deny something still works here. They are accepted with a
  # warning that says so, not refused: nearly every NixOS service module
  # sets some of them, and refusing them would refuse most real service
  # definitions. Every other key is refused (issue 25), with NixOS's option
  # name.
  supported = [ "Type" "ExecStart" "ExecStartPre" "ExecStartPost" "ExecStop" "Restart" "RestartSec" "User"
                "WorkingDirectory" "StateDirectory" "RuntimeDirectory" "RemainAfterExit" "PIDFile"
                "KillSignal" "TimeoutStopSec" "DynamicUser"
                "Group" "SupplementaryGroups" "Environment" "EnvironmentFile" "UMask" "LimitNOFILE" "Nice"
                "StateDirectoryMode" "RuntimeDirectoryMode" "TimeoutStartSec" "SuccessExitStatus"
                "SyslogIdentifier" "StandardOutput" "StandardError" ];
  unsandboxed = [ "ProtectSystem" "ProtectHome" "ProtectKernelTunables" "ProtectKernelModules" "ProtectKernelLogs"
                  "ProtectControlGroups" "ProtectClock" "ProtectHostname" "ProtectProc" "ProcSubset"
                  "PrivateTmp" "PrivateDevices" "PrivateNetwork" "PrivateUsers" "PrivateMounts" "PrivateIPC"
                  "NoNewPrivileges" "RestrictAddressFamilies" "RestrictNamespaces" "RestrictRealtime"
                  "RestrictSUIDSGID" "RestrictFileSystems" "SystemCallFilter" "SystemCallArchitectures"
                  "SystemCallErrorNumber" "CapabilityBoundingSet" "AmbientCapabilities" "LockPersonality"
                  "MemoryDenyWriteExecute" "ReadWritePaths" "ReadOnlyPaths" "InaccessiblePaths" "ExecPaths"
                  "NoExecPaths" "ReadWriteDirectories" "ReadOnlyDirectories" "InaccessibleDirectories"
                  "DeviceAllow" "DevicePolicy" "IPAddressAllow" "IPAddressDeny" "KeyringMode" "RemoveIPC"
                  "SecureBits" "NetworkNamespacePath" "IPAccounting"
                  "CPUAccounting" "MemoryAccounting" "IOAccounting" "TasksAccounting" ];
  # what tinyos says of a key it refuses, where more than "cannot" is known
  refusedWhy = {
    ExecReload = "its systemctl has no reload (a reload job is not applicable)";
    ExecStopPost = "its service manager runs no command after a unit stops";
    ExecCondition = "its service manager has no ExecCondition step";
    KillMode = "it always signals the main process's process group";
    WatchdogSec = "its service manager has no watchdog";
    LoadCredential = "it has no service credentials";
    SetCredential = "it has no service credentials";
    BindPaths = "it runs services in the machine's own mount namespace";
    BindReadOnlyPaths = "it runs services in the machine's own mount namespace";
    RootDirectory = "it runs services in the machine's own root";
  };
  # SuccessExitStatus's signal names -> the status a shell sees (128 + n)
  signalNumbers = { HUP = 1; INT = 2; QUIT = 3; ABRT = 6; KILL = 9; USR1 = 10; SEGV = 11; USR2 = 12;
                    PIPE = 13; ALRM = 14; TERM = 15; };
  successStatus = v: let w = lib.removePrefix "SIG" v; in
    if builtins.match "[0-9]+" v != null then v
    else if signalNumbers ? ${w} then toString (128 + signalNumbers.${w}) else null;
  # Environment=: each line's words, systemd's quoting ("..." and '...');
  # a line with a backslash is refused (its C escapes are not parsed)
  envWords = line: map (m: lib.concatStrings (map (p: if builtins.isList p then lib.concatStrings (map toString (builtins.filter (x: x != null) p)) else "")
      (builtins.split "\"([^\"]*)\"|'([^']*)'|([^\"']+)" (builtins.head m))))
    (builtins.filter builtins.isList (builtins.split "((\"[^\"]*\"|'[^']*'|[^ \t\"']+)+)" line));
  envAssignments = sc: builtins.concatMap (l: envWords (toString l)) (asList (sc.Environment or [ ]));
  # 1024 / "1024:4096" -> "soft hard"
  nofile = v: let m = builtins.match "([0-9]+)(:([0-9]+))?" (toString v); in
    if m == null then null else "${builtins.head m} ${if builtins.elemAt m 2 == null then builtins.head m else builtins.elemAt m 2}";
  startedOnFork = s: builtins.elem (toString (s.serviceConfig.Type or "simple")) [ "simple" "exec" "idle" ]
    && !(s.serviceConfig ? ExecStartPre) && !(s.serviceConfig ? ExecStartPost) && s.preStart == "" && s.postStart == "";
  serviceKeyRefusals = name: s:
    let
      sc = s.serviceConfig;
      p = k: "systemd.services.${name}.serviceConfig.${k}";
      v = k: toString sc.${k};
    in builtins.concatMap (k:
      if builtins.elem k unsandboxed then [ ]
      else if !(builtins.elem k supported) then
        [ "${p k}: tinyos cannot honour this [Service] key${lib.optionalString (refusedWhy ? ${k}) ": ${refusedWhy.${k}}"} (it honours ${toString supported}; sandboxing keys are accepted but not enforced)." ]
      else if k == "Environment" && builtins.any (l: lib.hasInfix "\\" (toString l)
          || builtins.any (w: builtins.match "[A-Za-z_][A-Za-z0-9_]*=.*" w == null) (envWords (toString l))) (asList sc.${k}) then
        [ "${p k}: tinyos cannot read ${builtins.toJSON sc.${k}}: it reads NAME=value words, quoted with \"...\" or '...', without backslash escapes." ]
      else if k == "EnvironmentFile" && builtins.any (f: builtins.match "-?/[^ ]*" (toString f) == null) (asList sc.${k}) then
        [ "${p k}: tinyos cannot read ${builtins.toJSON sc.${k}}: it reads absolute paths without spaces (with the \"-\" prefix)." ]
      else if k == "UMask" && builtins.match "[0-7]{1,4}" (v k) == null then
        [ "${p k}: tinyos cannot set ${builtins.toJSON sc.${k}}: it takes an octal mask." ]
      else if builtins.elem k [ "StateDirectoryMode" "RuntimeDirectoryMode" ] && builtins.match "[0-7]{3,4}" (v k) == null then
        [ "${p k}: tinyos cannot set ${builtins.toJSON sc.${k}}: it takes an octal mode." ]
      else if k == "LimitNOFILE" && nofile sc.${k} == null then
        [ "${p k}: tinyos cannot set ${builtins.toJSON sc.${k}}: it takes a number or soft:hard numbers (not infinity, which Linux refuses for open files)." ]
      else if k == "Nice" && builtins.match "-?[0-9]+" (v k) == null then
        [ "${p k}: tinyos cannot set ${builtins.toJSON sc.${k}}: it takes a number from -20 to 19." ]
      else if k == "SuccessExitStatus" && builtins.any (w: successStatus w == null) (words sc.${k}) then
        [ "${p k}: tinyos cannot read ${builtins.toJSON sc.${k}}: it takes exit status numbers and the signal names ${toString (builtins.attrNames signalNumbers)}." ]
      else if k == "TimeoutStartSec" && !(noLimit sc.${k}) && !(startedOnFork s) then
        [ "${p k}: tinyos cannot set it to ${builtins.toJSON sc.${k}}: its service manager has no start timeout (only infinity is true of it, and any value for a Type=simple service without ExecStartPre/ExecStartPost, which is started when it is forked)." ]
      else if builtins.elem k [ "StandardOutput" "StandardError" ] && !(builtins.elem (v k) [ "journal+console" "inherit" ]) then
        [ "${p k}: tinyos cannot send it to ${builtins.toJSON sc.${k}}: a unit's output goes to the journal and the console (journal+console)." ]
      else if builtins.elem k [ "Group" "SyslogIdentifier" ] && builtins.match "[A-Za-z0-9_.-]+" (v k) == null then
        [ "${p k}: tinyos cannot use ${builtins.toJSON sc.${k}}: not a plain name." ]
      else if k == "SupplementaryGroups" && builtins.any (g: builtins.match "[A-Za-z0-9_.-]+" g == null) (words sc.${k}) then
        [ "${p k}: tinyos cannot use ${builtins.toJSON sc.${k}}: not plain group names." ]
      else [ ]
    ) (builtins.attrNames sc);

  # serviceConfig.DynamicUser (systemd.exec(5)): the service runs as a user
  # and group of its own, named by User= or after the unit, with an id in
  # 61184-65519. systemd allocates it when the unit starts; tinyos, whose
  # /etc/passwd is made at build time, allocates it there (users-groups.nix
  # writes it), in that range, by name. Not done: the sandboxing DynamicUser
  # implies (ProtectSystem=strict, PrivateTmp, /var/lib/private).
  isDynamic = s: builtins.elem (s.serviceConfig.DynamicUser or false) [ true "yes" "true" "on" "1" 1 ];
  dynamicNames = lib.unique (builtins.sort builtins.lessThan (lib.mapAttrsToList (n: s: toString (s.serviceConfig.User or n))
    (lib.filterAttrs (n: s: isDynamic s && !(config.users.users ? ${toString (s.serviceConfig.User or n)})) all)));
  dynamicUsers = builtins.listToAttrs (lib.imap0 (i: n: { name = n; value = 61184 + i; }) dynamicNames);
  userOf = name: s: toString (s.serviceConfig.User or (if isDynamic s then name else "root"));

  # systemctl, journalctl, systemd-tmpfiles, hostnamectl and the
  # service manager they share (systemd/*.sh):
  # one package for every machine; the units are read at run time from
  # /etc/systemd/system.
  # Group= and SupplementaryGroups=: util-linux's setpriv (Debian's; the
  # library it loads, libcap-ng, is among the system libraries su's wrapper
  # brings), which sets the groups exactly; busybox su sets the user's own.
  setpriv = "${pkgs.debianPackages.util-linux.debs.util-linux}/usr/bin/setpriv";
  package = pkgs.runCommand "tinyos-systemd" { } ''
    mkdir -p $out/bin $out/lib $out/libexec
    subst() { sed -e "s|@out@|$out|g" -e "s|@busybox@|${pkgs.busybox}|g" \
      -e "s|@lib@|$out/lib/tinyos-systemd.sh|g" -e "s|@units@|/etc/systemd/system|g" \
      -e "s|@runner@|$out/libexec/unit-runner|g" -e "s|@setpriv@|${setpriv}|g" -e "s|@journalctl@|$out/bin/journalctl|g" "$1" > "$2"; }
    subst ${./systemd/lib.sh} $out/lib/tinyos-systemd.sh
    subst ${./systemd/runner.sh} $out/libexec/unit-runner
    subst ${./systemd/systemctl.sh} $out/bin/systemctl
    subst ${./systemd/journalctl.sh} $out/bin/journalctl
    subst ${./systemd/tmpfiles.sh} $out/bin/systemd-tmpfiles
    subst ${./systemd/hostnamectl.sh} $out/bin/hostnamectl
    chmod 0555 $out/libexec/unit-runner $out/bin/*
  '';

  all = lib.mapAttrs (_: withUnitConfig) (lib.filterAttrs (_: s: s.enable) config.systemd.services);
  unitName = u: lib.removeSuffix ".service" u;
  isService = u: !(lib.hasSuffix ".target" u) && all ? ${unitName u};
  services = us: map unitName (builtins.filter isService us);
  bootTargets = [ "multi-user.target" "default.target" ];
  wantedAtBoot = s: builtins.any (t: builtins.elem t bootTargets) (s.wantedBy ++ s.requiredBy);
  roots = builtins.filter (n: wantedAtBoot all.${n}) (builtins.attrNames all);
  # units that name n in wantedBy (requiredBy): n pulls them in
  wantedBy = n: builtins.filter (m: builtins.any (u: unitName u == n) all.${m}.wantedBy) (builtins.attrNames all);
  requiredBy = n: builtins.filter (m: builtins.any (u: unitName u == n) all.${m}.requiredBy) (builtins.attrNames all);
  requiresOf = n: lib.unique (services all.${n}.requires ++ requiredBy n);
  wantsOf = n: lib.unique (services all.${n}.wants ++ wantedBy n);
  # what starting n pulls in: its requires/wants, and units wanted by it
  pulls = n: requiresOf n ++ wantsOf n;
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
  # substring, not match's capture: builtins.match drops the string's
  # context, so an ExecStart's store paths would not join the closure
  stripPrefix = c: let m = builtins.match "([-+!]*).*" c; n = builtins.stringLength (builtins.head m); in
    if m == null then c else builtins.substring n (builtins.stringLength c - n) c;
  yesNo = v: if builtins.elem v [ true "yes" "true" "on" "1" 1 ] then "yes" else "no";
  # "SIGHUP" / "HUP" -> HUP (busybox kill's spelling)
  signal = v: lib.removePrefix "SIG" (toString v);
  # 90 / "90" / "90s" / "2min" -> seconds
  seconds = v:
    let s = toString v; m = builtins.match "([0-9]+) *(s|sec|min|m)?" s; in
    if m == null then "90"
    else if builtins.elem (builtins.elemAt m 1) [ "min" "m" ] then toString (lib.toInt (builtins.head m) * 60)
    else builtins.head m;

  # A unit's scripts as NixOS writes them (makeJobScript in
  # nixos/lib/systemd-lib.nix): bash (pkgs.runtimeShell) with -e, the file
  # bin/<unit>-<kind> of a package unit-script-<unit>-<kind>, its syntax
  # checked at build time. systemd gives a unit its PATH and environment;
  # tinyos's service manager has no such thing, so each script sets them
  # first. NixOS's PATH: the bin directories of `path`, then their sbin
  # directories, with coreutils, findutils, grep, sed and systemd after the
  # service's own; busybox stands in for the first four.
  unitScript = name: s:
    let
      sc = s.serviceConfig;
      pathPkgs = s.path ++ [ pkgs.busybox package ];
      pathDirs = builtins.concatStringsSep ":"
        (map (p: "${p}/bin") pathPkgs ++ map (p: "${p}/sbin") pathPkgs);
      env = lib.concatStrings (lib.mapAttrsToList (k: v:
        lib.optionalString (v != null) "export ${k}=${lib.escapeShellArg (toString v)}\n") s.environment)
        # serviceConfig.Environment after `environment`, as NixOS writes
        # them into the unit; EnvironmentFile's over both (lib.sh reads the
        # files as root, as systemd does, and hands them over in
        # TINYOS_ENVIRONMENT_FILES)
        + lib.concatMapStrings (a: let m = builtins.match "([^=]*)=(.*)" a; in
          "export ${builtins.head m}=${lib.escapeShellArg (builtins.elemAt m 1)}\n") (envAssignments sc)
        + lib.optionalString (sc ? EnvironmentFile)
          "if [ -n \"\${TINYOS_ENVIRONMENT_FILES+x}\" ]; then eval \"$TINYOS_ENVIRONMENT_FILES\"; unset TINYOS_ENVIRONMENT_FILES; fi\n";
      header = ''
        export PATH=${pathDirs}
        ${env}${lib.optionalString (sc ? WorkingDirectory) "cd ${lib.escapeShellArg (toString sc.WorkingDirectory)}"}
      '';
      scriptName = kind: builtins.replaceStrings [ "\\" "@" ] [ "-" "_" ] "${name}-${kind}";
      jobScript = kind: text: "${pkgs.writeTextFile {
        name = "unit-script-${scriptName kind}";
        executable = true;
        destination = "/bin/${scriptName kind}";
        text = "#!${pkgs.runtimeShell}\n${header}\nset -e\n${text}\n";
        checkPhase = ''${pkgs.stdenv.shellDryRun} "$target"'';
      }}/bin/${scriptName kind}";
      execs = key: lib.concatMapStrings (c: stripPrefix (toString c) + "\n") (asList (sc.${key} or [ ]));
      script = kind: text: if text == "" then "" else jobScript kind text;
      main = if s.script != "" then "${jobScript "start" s.script} ${s.scriptArgs}"
        else script "exec-start" (execs "ExecStart");
    in {
      pre = script "pre-start" "${execs "ExecStartPre"}${s.preStart}";
      post = script "post-start" "${s.postStart}${execs "ExecStartPost"}";
      stop = script "stop" (execs "ExecStop");
      inherit main;
    };

  # /etc/systemd/system/<unit>: what lib.sh needs of a unit, as shell assignments.
  assign = k: v: "${k}=${lib.escapeShellArg v}\n";
  serviceFile = name:
    let
      s = all.${name};
      sc = s.serviceConfig;
      u = unitScript name s;
      withSuffix = map (n: "${n}.service");
    # (store names cannot hold '@': getty@tty1's file is getty_tty1.service)
    in pkgs.writeText "${builtins.replaceStrings [ "@" ] [ "_" ] name}.service" (lib.concatStrings [
      (assign "Description" (if s.description != "" then s.description else "${name}.service"))
      (assign "Documentation" (toString (s.unitConfig.Documentation or "")))
      (assign "ConditionCheck" (conditionCheck s))
      (assign "Type" (toString (sc.Type or "simple")))
      (assign "Restart" (toString (sc.Restart or "no")))
      (assign "RestartSec" (lib.removeSuffix "s" (toString (sc.RestartSec or "0.1"))))
      (assign "User" (userOf name s))
      (assign "Group" (toString (sc.Group or "")))
      (assign "SupplementaryGroups" (toString (words (sc.SupplementaryGroups or ""))))
      (assign "EnvironmentFile" (toString (asList (sc.EnvironmentFile or [ ]))))
      (assign "UMask" (toString (sc.UMask or "")))
      (assign "LimitNOFILE" (if sc ? LimitNOFILE then nofile sc.LimitNOFILE else ""))
      (assign "Nice" (toString (sc.Nice or "")))
      (assign "SyslogIdentifier" (toString (sc.SyslogIdentifier or "")))
      (assign "SuccessExitStatus" (toString (map successStatus (words (sc.SuccessExitStatus or "")))))
      (assign "StateDirectoryMode" (toString (sc.StateDirectoryMode or "0755")))
      (assign "RuntimeDirectoryMode" (toString (sc.RuntimeDirectoryMode or "0755")))
      (assign "ExecStartPre" u.pre)
      (assign "ExecStart" (if u.main == "" then "true" else u.main))
      (assign "ExecStartPost" u.post)
      (assign "ExecStop" u.stop)
      (assign "Requires" (toString (withSuffix (requiresOf name))))
      (assign "Wants" (toString (withSuffix (wantsOf name))))
      (assign "WantedBy" (toString (s.wantedBy ++ s.requiredBy)))
      (assign "RemainAfterExit" (yesNo (sc.RemainAfterExit or false)))
      (assign "StateDirectory" (toString (asList (sc.StateDirectory or [ ]))))
      (assign "RuntimeDirectory" (toString (asList (sc.RuntimeDirectory or [ ]))))
      (assign "PIDFile" (toString (sc.PIDFile or "")))
      (assign "KillSignal" (signal (sc.KillSignal or "TERM")))
      (assign "TimeoutStopSec" (seconds (sc.TimeoutStopSec or 90)))
      # for switch-to-configuration: whether a changed unit is restarted;
      # the triggers' hash makes the unit change when they do (X-Restart-Triggers)
      (assign "RestartIfChanged" (yesNo s.restartIfChanged))
      # the socket units whose socket this service opens (lib.sh: sockets_closed)
      (assign "Sockets" (toString (builtins.attrNames (lib.filterAttrs (_: k: unitName k.service == name) sockets))))
      (lib.optionalString (s.restartTriggers != [ ])
        (assign "RestartTriggers" (builtins.hashString "sha256" (toString s.restartTriggers))))
    ]);
  # The targets tinyos knows; multi-user.target wants what the boot starts.
  targets = {
    "sysinit.target" = { description = "System Initialization"; wants = [ ]; };
    "basic.target" = { description = "Basic System"; wants = [ ]; };
    "network.target" = { description = "Network"; wants = [ ]; };
    "network-online.target" = { description = "Network is Online"; wants = [ ]; };
    "multi-user.target" = { description = "Multi-User System"; wants = roots; };
    "default.target" = { description = "Multi-User System"; wants = roots; };
  };
  targetFile = name: t: pkgs.writeText name (lib.concatStrings [
    (assign "Description" t.description)
    (assign "Type" "target")
    (assign "Wants" (toString (map (n: "${n}.service") t.wants)))
    (assign "WantedBy" "")
  ]);
  # Socket units: NixOS's come with their packages (dbus.socket with dbus)
  # and systemd listens on them; tinyos's service manager cannot pass a
  # socket to a service, so a socket unit stands for the socket its service
  # opens (lib.sh's socket_start).
  sockets = config.systemd.tinyosSocketUnits;
  socketFile = name: k: pkgs.writeText name (lib.concatStrings [
    (assign "Description" k.description)
    (assign "Type" "socket")
    (assign "ListenStream" k.listenStream)
    (assign "Service" "${unitName k.service}.service")
    (assign "WantedBy" "sockets.target")
  ]);
  units = pkgs.runCommand "system-units" { } ''
    mkdir -p $out
    ${lib.concatStrings (lib.mapAttrsToList (n: k: "ln -s ${socketFile n k} $out/${n}\n") sockets)}
    ${lib.concatMapStrings (n: "ln -s ${serviceFile n} $out/${n}.service\n") (builtins.attrNames all)}
    ${lib.concatStrings (lib.mapAttrsToList (n: t: "ln -s ${targetFile n t} $out/${n}\n") targets)}
  '';

  # The boot's part (stage-2.nix runs it after activation): every unit to
  # start gets a start job (systemctl list-jobs shows them), then they are
  # started one by one in the order after/before give, as lib.sh's
  # unit_start does for `systemctl start`.
  startServices = pkgs.writeScript "start-services" ''
    #!${sh}
    # Starts systemd.services at boot, in this order: ${builtins.concatStringsSep " " order}
    . ${package}/lib/tinyos-systemd.sh
    # (not exported: what the boot starts must not run in boot mode)
    TINYOS_BOOT=1
    # the units the boot gives a start job, then every unit it starts
    queued="${toString (map (n: "${n}.service") order)} ${toString (builtins.attrNames sockets)} multi-user.target default.target"
    units="$queued sysinit.target basic.target network.target network-online.target"
    # Each unit's state directory with this process's staging directory in
    # it, so that st_set writes several properties with one `mv` (each fork
    # costs milliseconds of emulated CPU under TCG); all in one mkdir.
    # /run/systemd/system: where systemd keeps its run-time units, and the
    # mark by which systemd's own clients (sd_booted(3)) know the machine's
    # units are managed; Debian's timedatectl will not use the system bus
    # without it. tinyos's service manager manages them here.
    dirs=
    for u in $units; do dirs="$dirs $RUN/$u/.new.$$"; done
    mkdir -p "''${JOURNAL%/*}" /run/systemd/system $dirs
    # the start jobs, written in place: no unit runs yet that could read them
    for u in $queued; do
      echo start > "$RUN/$u/job"
    done
    for t in sysinit.target basic.target network.target network-online.target; do
      unit_start "$t"
    done
    for u in ${toString (map (n: "${n}.service") order)}; do
      unit_start "$u" || true
    done
    # sockets.target's units, once their services have started
    for u in ${toString (builtins.attrNames sockets)}; do
      unit_start "$u" || true
    done
    unit_start multi-user.target
    unit_start default.target
    rm -rf $dirs
  '';
in
{
  options.systemd.services = mkOption {
    type = types.attrsOf (types.submodule serviceOpts);
    default = { };
    description = "Definition of systemd service units (started at boot by tinyos's init).";
  };

  # systemd's user manager: tinyos has none. Declared so that a value is
  # refused with NixOS's option name rather than "does not exist".
  options.systemd.user.services = mkOption {
    type = types.attrsOf types.unspecified;
    default = { };
    description = "Definition of systemd per-user service units (tinyos has no user service manager: refused).";
  };

  options.systemd.tinyosSocketUnits = mkOption {
    type = types.attrsOf (types.submodule {
      options = {
        description = mkOption { type = types.str; description = "The socket unit's description."; };
        listenStream = mkOption { type = types.str; description = "The path of the unix socket the service listens on."; };
        service = mkOption { type = types.str; description = "The service (in systemd.services) that opens the socket."; };
      };
    });
    default = { };
    internal = true;
    description = "Socket units named <name>.socket that NixOS's packages bring (dbus.socket); active while their service listens on listenStream (tinyos has no socket activation).";
  };

  options.systemd.package = mkOption {
    type = types.package;
    default = package;
    readOnly = true;
    description = "tinyos's systemctl and journalctl (systemd's role in NixOS).";
  };

  config = {
    system.build.startServices = startServices;
    users.tinyosDynamicUsers = dynamicUsers;
    environment.systemPackages = [ package ];
    environment.etc."systemd/system".source = units;
    # the start order, for inspection and tests
    system.build.serviceOrder = order;
    assertions = lib.mapAttrsToList (n: k: {
      assertion = lib.hasSuffix ".socket" n && all ? ${unitName k.service};
      message = "systemd.tinyosSocketUnits.${n}: not a .socket name, or its service ${k.service} is not an enabled systemd.services unit";
    }) sockets ++ builtins.concatLists (lib.mapAttrsToList (n: s: map (message: { assertion = false; inherit message; })
      (unitKeyRefusals n s ++ serviceKeyRefusals n s)) config.systemd.services) ++ [{
      assertion = config.systemd.user.services == { };
      message = "systemd.user.services: tinyos cannot run user services (it has no systemd user manager); defined: ${toString (builtins.attrNames config.systemd.user.services)}";
    }];
    warnings = builtins.concatLists (lib.mapAttrsToList (name: s:
      map (k: "systemd.services.${name}.serviceConfig.${k} is not enforced by tinyos, which does not sandbox services: the service runs unconfined here, so one that works here may be denied on NixOS")
        (builtins.filter (k: builtins.elem k unsandboxed) (builtins.attrNames s.serviceConfig))) all);
  };
}
