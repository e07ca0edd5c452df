# Mirrors systemd.timers (nixos/modules/system/boot/systemd.nix, unit
# options from lib/systemd-unit-options.nix) and systemd.services.<name>.startAt,
# which NixOS turns into a timer of the same name. tinyos runs each active
# timer (wanted by timers.target, multi-user.target or default.target) as a
# background loop started at boot: once multi-user.target is active it
# waits for the next elapse and runs `systemctl start <unit>`.
#
# timerConfig keys honoured: OnBootSec, OnStartupSec, OnActiveSec (from
# boot), OnUnitActiveSec, OnUnitInactiveSec (repeat after the last start),
# OnCalendar (minutely, hourly, daily, weekly, "*:0/N" every N minutes,
# "*:*:0/N" every N seconds, "HH:MM[:SS]" and "*-*-* HH:MM[:SS]" daily at),
# Unit. Time spans as systemd writes them: "90", "5s", "2min", "1h 30min",
# "1d", "100ms" (rounded up to seconds). AccuracySec and
# RandomizedDelaySec are bounds tinyos keeps (it fires on time, with no
# delay); Persistent = false is what it does; other keys, and
# Persistent = true (no stamp of the last run is kept), are refused.
# A timer is a loop, not a unit systemctl knows: its own description,
# ordering and dependencies (after, before, wants, requires, unitConfig
# other than X-* keys) have nothing to act on and are refused.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  primitive = types.oneOf [ types.bool types.int types.str ];
  unitOption = types.either primitive (types.listOf primitive);
  unitList = desc: mkOption { type = types.listOf types.str; default = [ ]; description = desc; };

  timerOpts = { name, ... }: {
    options = {
      enable = mkOption { type = types.bool; default = true; description = "Whether the timer is active (when something wants it)."; };
      description = mkOption { type = types.str; default = ""; description = "Description of this unit used in messages (refused: a tinyos timer is no unit)."; };
      wantedBy = unitList "Units that want this timer (timers.target: active from boot).";
      requiredBy = unitList "Units that require this timer.";
      after = unitList "Units this timer is started after (refused: a tinyos timer is no unit).";
      before = unitList "Units this timer is started before (refused: a tinyos timer is no unit).";
      wants = unitList "Units started with this timer (refused: a tinyos timer is no unit).";
      requires = unitList "Units required by this timer (refused: a tinyos timer is no unit).";
      timerConfig = mkOption {
        type = types.attrsOf unitOption;
        default = { };
        example = { OnCalendar = "Sun 14:00:00"; Unit = "foo.service"; };
        description = "Each attribute in this set specifies an option in the [Timer] section of the unit.";
      };
      unitConfig = mkOption { type = types.attrsOf unitOption; default = { }; description = "Options of the [Unit] section (X-* keys only: a tinyos timer is no unit)."; };
    };
  };

  startAtTimers = lib.mapAttrs (name: s: {
    wantedBy = [ "timers.target" ];
    timerConfig.OnCalendar = s.startAt;
  }) (lib.filterAttrs (_: s: s.startAt != [ ] && s.enable) config.systemd.services);

  asList = v: if builtins.isList v then v else [ v ];
  # "05" -> 5 (fromJSON refuses leading zeros)
  toInt = s: builtins.fromJSON (builtins.head (builtins.match "0*([0-9]+)" s));

  # "1h 30min" -> 5400; a number is seconds
  units = {
    "" = 1; s = 1; sec = 1; second = 1; seconds = 1;
    m = 60; min = 60; minute = 60; minutes = 60;
    h = 3600; hr = 3600; hour = 3600; hours = 3600;
    d = 86400; day = 86400; days = 86400; w = 604800; week = 604800; weeks = 604800;
  };
  span = where: v:
    let
      s = toString v;
      parts = builtins.filter (p: p != "") (lib.splitString " " s);
      one = p:
        let m = builtins.match "([0-9]+)([a-z]*)" p; in
        if m == null then throw "${where}: cannot read time span \"${s}\""
        else if builtins.elemAt m 1 == "ms" || builtins.elemAt m 1 == "msec" then (if toInt (builtins.head m) > 0 then 1 else 0)
        else if units ? ${builtins.elemAt m 1} then toInt (builtins.head m) * units.${builtins.elemAt m 1}
        else throw "${where}: cannot read time span \"${s}\" (unit ${builtins.elemAt m 1})";
    in builtins.foldl' (a: p: a + one p) 0 parts;

  # OnCalendar -> { period; phase; } seconds (elapses when (local time - phase) % period == 0)
  calendar = where: spec:
    let
      hms = builtins.match "([*]-[*]-[*] )?([0-9]{1,2}):([0-9]{2})(:([0-9]{2}))?" spec;
      everyMin = builtins.match "[*]:0?0/([0-9]+)" spec;
      everySec = builtins.match "[*]:[*]:0?0/([0-9]+)" spec;
      simple = {
        minutely = { period = 60; phase = 0; };
        hourly = { period = 3600; phase = 0; };
        daily = { period = 86400; phase = 0; };
        # 1970-01-01 was a Thursday: Monday 00:00 is 4 days later
        weekly = { period = 604800; phase = 4 * 86400; };
      };
    in
    if simple ? ${spec} then simple.${spec}
    else if everySec != null then { period = toInt (builtins.head everySec); phase = 0; }
    else if everyMin != null then { period = 60 * toInt (builtins.head everyMin); phase = 0; }
    else if hms != null then {
      period = 86400;
      phase = toInt (builtins.elemAt hms 1) * 3600 + toInt (builtins.elemAt hms 2) * 60
        + (if builtins.elemAt hms 4 == null then 0 else toInt (builtins.elemAt hms 4));
    }
    else throw "${where}: OnCalendar \"${spec}\" is not supported by tinyos (it has minutely, hourly, daily, weekly, *:0/N, *:*:0/N and HH:MM[:SS])";

  timerScript = name: t:
    let
      tc = t.timerConfig;
      where = "systemd.timers.${name}.timerConfig";
      unit = toString (tc.Unit or "${name}.service");
      firsts = map (span where) (builtins.concatMap (k: asList (tc.${k} or [ ])) [ "OnBootSec" "OnStartupSec" "OnActiveSec" ]);
      repeats = map (span where) (builtins.concatMap (k: asList (tc.${k} or [ ])) [ "OnUnitActiveSec" "OnUnitInactiveSec" ]);
      cals = map (calendar where) (map toString (asList (tc.OnCalendar or [ ])));
      first = if firsts == [ ] then (if repeats != [ ] then builtins.head repeats else -1) else builtins.foldl' lib.min (builtins.head firsts) firsts;
      repeat = if repeats == [ ] then 0 else builtins.foldl' lib.min (builtins.head repeats) repeats;
    in
    pkgs.writeScript "timer-${name}" ''
      #!${pkgs.busybox}/bin/sh
      # ${name}.timer -> ${unit}
      export PATH=/run/current-system/sw/bin:${pkgs.busybox}/bin
      while ! systemctl is-active --quiet multi-user.target 2>/dev/null; do sleep 1; done
      uptime() { cut -d. -f1 /proc/uptime; }
      # local time in seconds since the epoch (the zone's offset added)
      localnow() { off=$(date +%z); s=''${off%??}; m=''${off#???}; h=''${s#?}; sign=''${s%??}
        echo $(( $(date +%s) $sign (1''${h} - 100) * 3600 $sign (1''${m} - 100) * 60 )); }
      fire() { echo "${name}.timer: Triggering ${unit}"; systemctl start ${unit}; }
      last=
      first=${toString first} repeat=${toString repeat}
      while :; do
        # seconds until the next elapse, of the boot/unit-relative ones and the calendar ones
        next=
        if [ -z "$last" ] && [ "$first" -ge 0 ]; then d=$(( first - $(uptime) )); next=$(( d < 0 ? 0 : d )); fi
        if [ -n "$last" ] && [ "$repeat" -gt 0 ]; then d=$(( last + repeat - $(uptime) )); d=$(( d < 0 ? 0 : d )); [ -z "$next" ] || [ $d -lt $next ] && next=$d; fi
        ${lib.concatMapStrings (c: ''
          t=$(localnow); d=$(( ${toString c.period} - (t - ${toString c.phase}) % ${toString c.period} ))
          [ -z "$next" ] || [ $d -lt $next ] && next=$d
        '') cals}
        [ -n "$next" ] || exit 0
        sleep "$next"
        fire
        last=$(uptime)
        # calendar elapses: step past the second that just elapsed
        ${lib.optionalString (cals != [ ]) "sleep 1"}
      done
    '';

  # what a timer unit has and tinyos's timer loops do not
  timerRefusals = name: t: let p = "systemd.timers.${name}"; why = "tinyos cannot: its timers are loops started at boot, not units systemctl orders or describes."; in
    lib.optional (t.description != "") "${p}.description: ${why}"
    ++ builtins.concatMap (o: lib.optional (t.${o} != [ ]) "${p}.${o}: ${why}") [ "after" "before" "wants" "requires" ]
    ++ map (k: "${p}.unitConfig.${k}: ${why}") (builtins.filter (k: !lib.hasPrefix "X-" k) (builtins.attrNames t.unitConfig));
  timerKeys = [ "OnBootSec" "OnStartupSec" "OnActiveSec" "OnUnitActiveSec" "OnUnitInactiveSec" "OnCalendar" "Unit"
    "AccuracySec" "RandomizedDelaySec" "Persistent" ];
  timerConfigRefusals = name: t: let p = "systemd.timers.${name}.timerConfig"; in
    map (k: "${p}.${k}: tinyos cannot honour this [Timer] key: its timer loop honours only ${toString timerKeys}.")
      (builtins.filter (k: !builtins.elem k timerKeys) (builtins.attrNames t.timerConfig))
    ++ lib.optional (builtins.elem (t.timerConfig.Persistent or false) [ true "true" "yes" "on" "1" 1 ])
      "${p}.Persistent: tinyos cannot: it keeps no stamp of a timer's last run, so it cannot catch up on missed ones.";

  active = lib.filterAttrs (_: t: t.enable && builtins.any (u: builtins.elem u [ "timers.target" "multi-user.target" "default.target" ]) (t.wantedBy ++ t.requiredBy))
    config.systemd.timers;
in
{
  options.systemd.timers = mkOption {
    type = types.attrsOf (types.submodule timerOpts);
    default = { };
    description = "Definition of systemd timer units (run by tinyos as background loops started at boot).";
  };

  # systemd.services.<name>.startAt (declared here, merged into systemd.nix's service submodule)
  options.systemd.services = mkOption {
    type = types.attrsOf (types.submodule {
      options.startAt = mkOption {
        type = types.either types.str (types.listOf types.str);
        default = [ ];
        apply = v: if builtins.isList v then v else [ v ];
        example = "Sun 14:00:00";
        description = "Automatically start this unit at the given date/time (a timer of the same name).";
      };
    });
  };

  config = {
    assertions = builtins.concatLists (lib.mapAttrsToList (n: t: map (message: { assertion = false; inherit message; })
      (timerRefusals n t ++ timerConfigRefusals n t)) config.systemd.timers);
    systemd.timers = startAtTimers;
    boot.postBootCommands = lib.concatStrings (lib.mapAttrsToList (name: t: ''
      setsid ${timerScript name t} &
    '') active);
    system.build.timerScripts = lib.mapAttrs timerScript active;
  };
}
