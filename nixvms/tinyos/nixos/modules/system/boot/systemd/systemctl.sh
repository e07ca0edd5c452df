#!@busybox@/bin/sh
# systemctl for tinyos: the verbs test scripts and people use, with
# systemd's output shapes and exit codes (is-active/is-failed: 0 or 3/1;
# status: 0 active, 3 not running, 4 no such unit; start/stop of an unknown
# unit: 5; a failed start: 1). See lib.sh for where state lives.
. @lib@

# Starting and stopping units is the manager's work, not the caller's: it
# runs in a session of its own, so that it survives whatever stops the
# caller (`systemctl restart backdoor`, run by the backdoor's shell, stops
# that shell's whole process group).
if [ -z "$TINYOS_JOB" ]; then
  for a in "$@"; do
    case $a in
      start|stop|restart|try-restart|reload-or-restart|try-reload-or-restart|condrestart)
        TINYOS_JOB=1 setsid @out@/bin/systemctl "$@" &
        wait $!
        exit $?
        ;;
      -*) ;;
      *) break ;;
    esac
  done
fi
unset TINYOS_JOB

usage_error() { echo "systemctl: $*" >&2; exit 1; }

verb= units= props= value= quiet= noblock= failed_only=
while [ $# -gt 0 ]; do
  case $1 in
    -p|--property) [ $# -ge 2 ] || usage_error "option '$1' requires an argument"; props="$props,$2"; shift ;;
    -p*) props="$props,${1#-p}" ;;
    --property=*) props="$props,${1#--property=}" ;;
    --value) value=1 ;;
    -q|--quiet) quiet=1 ;;
    --no-block) noblock=1 ;;
    --failed|--state=failed) failed_only=1 ;;
    --user) echo "systemctl --user: tinyos has no user service manager" >&2; exit 1 ;;
    --system|--no-pager|--no-legend|--full|-l|--plain|--no-ask-password|-a|--all|--lines=*|-n*|--type=*|--state=*) ;;
    -t|--type|-n|--lines) shift ;;
    --) shift; break ;;
    -*) usage_error "unrecognized option '$1'" ;;
    *) if [ -z "$verb" ]; then verb=$1; else units="$units $(unit_name "$1")"; fi ;;
  esac
  shift
done
for a in "$@"; do if [ -z "$verb" ]; then verb=$a; else units="$units $(unit_name "$a")"; fi; done
[ -n "$verb" ] || verb=list-units

need_units() { [ -n "$units" ] || { echo "Too few arguments." >&2; exit 1; }; }

fmt_ts() { # epoch -> systemd's timestamp
  [ -n "$1" ] && [ "$1" != 0 ] && date -d "@$1" '+%a %Y-%m-%d %H:%M:%S %Z'
}
ago() { # epoch -> "3s ago" / "2min 5s ago" / "1h 2min ago"
  local d=$(( $(date +%s) - $1 ))
  if [ $d -lt 60 ]; then echo "${d}s ago"
  elif [ $d -lt 3600 ]; then echo "$((d / 60))min $((d % 60))s ago"
  else echo "$((d / 3600))h $((d % 3600 / 60))min ago"
  fi
}

# prop unit name: one property's value
prop() {
  local u=$1
  if ! unit_exists "$u"; then
    case $2 in
      Id|Names) echo "$u" ;;
      Description) echo "$u" ;;
      LoadState) echo not-found ;;
      ActiveState) echo inactive ;;
      SubState) echo dead ;;
      Result) echo success ;;
      MainPID|ExecMainStatus|NRestarts) echo 0 ;;
      UnitFileState) echo "" ;;
      *) echo "" ;;
    esac
    return
  fi
  case $2 in
    Id|Names) echo "$u" ;;
    Description) (. "$UNITS/$u"; echo "$Description") ;;
    LoadState) echo loaded ;;
    ActiveState) st_get "$u" ActiveState inactive ;;
    SubState) st_get "$u" SubState dead ;;
    Result) st_get "$u" Result success ;;
    MainPID) st_get "$u" MainPID 0 ;;
    ExecMainStatus) st_get "$u" ExecMainStatus 0 ;;
    NRestarts) st_get "$u" NRestarts 0 ;;
    Type) (. "$UNITS/$u"; [ "$Type" = target ] || echo "$Type") ;;
    Restart) (. "$UNITS/$u"; [ "$Type" = target ] || echo "$Restart") ;;
    UnitFileState) (. "$UNITS/$u"; if [ -n "$WantedBy" ]; then echo enabled; else echo static; fi) ;;
    FragmentPath) echo "/etc/systemd/system/$u" ;;
    Documentation) (. "$UNITS/$u"; echo "$Documentation") ;;
    # (no for a unit never started, as systemd; yes for one started without conditions)
    ConditionResult) if [ -f "$RUN/$u/ConditionResult" ]; then cat "$RUN/$u/ConditionResult"
      elif [ -f "$RUN/$u/Result" ]; then echo yes; else echo no; fi ;;
    ActiveEnterTimestamp|InactiveEnterTimestamp|StateChangeTimestamp) fmt_ts "$(st_get "$u" "$2" "")" ;;
    *) return 1 ;;
  esac
}
ALL_PROPS="Id Names Description LoadState ActiveState SubState Result Type Restart MainPID ExecMainStatus NRestarts UnitFileState FragmentPath ActiveEnterTimestamp InactiveEnterTimestamp StateChangeTimestamp"

do_show() {
  local u p first=1 list
  list=$(echo "$props" | tr ',' ' ')
  [ -n "$list" ] || list=$ALL_PROPS
  for u in $units; do
    [ $first = 1 ] || echo
    first=0
    for p in $list; do
      v=$(prop "$u" "$p") || continue
      if [ -n "$value" ]; then echo "$v"; else echo "$p=$v"; fi
    done
  done
}

do_status() {
  local u rc=0 state sub since pid result sym
  for u in $units; do
    if ! unit_exists "$u"; then echo "Unit $u could not be found." >&2; rc=4; continue; fi
    state=$(prop "$u" ActiveState); sub=$(prop "$u" SubState)
    case $state in active|reloading|activating) sym="●" ;; failed) sym="×" ;; *) sym="○" ;; esac
    echo "$sym $u - $(prop "$u" Description)"
    echo "     Loaded: loaded (/etc/systemd/system/$u; $(prop "$u" UnitFileState); preset: enabled)"
    since=$(st_get "$u" StateChangeTimestamp "")
    detail="($sub)"
    [ "$state" = failed ] && detail="(Result: $(prop "$u" Result))"
    if [ -n "$since" ]; then
      echo "     Active: $state $detail since $(fmt_ts "$since"); $(ago "$since")"
    else
      echo "     Active: $state $detail"
    fi
    pid=$(prop "$u" MainPID)
    [ "$pid" != 0 ] && echo "   Main PID: $pid"
    echo
    @journalctl@ -u "$u" -n 10 --no-pager | grep -v '^-- No entries --$'
    case $state in active|reloading|activating) ;; *) [ $rc = 0 ] && rc=3 ;; esac
  done
  return $rc
}

do_is() { # is-active / is-failed
  local u s any=0
  for u in $units; do
    s=$(prop "$u" ActiveState)
    [ -n "$quiet" ] || echo "$s"
    case $verb in
      is-active) case $s in active|reloading) any=1 ;; esac ;;
      is-failed) [ "$s" = failed ] && any=1 ;;
    esac
  done
  [ $any = 1 ] && return 0
  [ "$verb" = is-active ] && return 3
  return 1
}

do_is_enabled() {
  local u s rc=1
  for u in $units; do
    if ! unit_exists "$u"; then echo "Failed to get unit file state for $u: No such file or directory" >&2; continue; fi
    s=$(prop "$u" UnitFileState)
    [ -n "$quiet" ] || echo "$s"
    rc=0
  done
  return $rc
}

do_jobs() {
  local n=0 u j
  for f in "$RUN"/*/job; do
    [ -f "$f" ] || continue
    j=$(cat "$f")
    [ "$j" = none ] && continue
    u=${f%/job}; u=${u##*/}
    [ $n = 0 ] && printf '%-4s %-40s %-6s %s\n' JOB UNIT TYPE STATE
    n=$((n + 1))
    printf '%-4s %-40s %-6s %s\n' "$n" "$u" "$j" waiting
  done
  if [ $n = 0 ]; then echo "No jobs running."; else echo; echo "$n jobs listed."; fi
}

do_list_units() {
  local n=0 u s
  printf '  %-40s %-6s %-8s %-8s %s\n' UNIT LOAD ACTIVE SUB DESCRIPTION
  for f in "$UNITS"/*; do
    u=${f##*/}
    [ -n "$units" ] && ! echo " $units " | grep -q " $u " && continue
    s=$(prop "$u" ActiveState)
    [ -n "$failed_only" ] && [ "$s" != failed ] && continue
    printf '  %-40s %-6s %-8s %-8s %s\n' "$u" loaded "$s" "$(prop "$u" SubState)" "$(prop "$u" Description)"
    n=$((n + 1))
  done
  echo
  echo "$n loaded units listed."
}

each() { # function: run it for every unit, the first failure's status wins
  local u rc=0 r
  for u in $units; do
    if [ -n "$noblock" ]; then "$1" "$u" > /dev/null 2>&1 & continue; fi
    "$1" "$u"; r=$?
    [ $rc = 0 ] && rc=$r
  done
  return $rc
}
restart_one() { unit_stop "$1" && unit_start "$1"; }
try_restart_one() {
  unit_exists "$1" || { echo "Failed to try-restart $1: Unit $1 not found." >&2; return 5; }
  case $(st_get "$1" ActiveState inactive) in active|activating|reloading) restart_one "$1" ;; esac
}
reload_one() {
  unit_exists "$1" || { echo "Failed to reload $1: Unit $1 not found." >&2; return 5; }
  echo "Failed to reload $1: Job type reload is not applicable for unit $1." >&2
  return 1
}

case $verb in
  start) need_units; each unit_start ;;
  stop) need_units; each unit_stop ;;
  restart|reload-or-restart) need_units; each restart_one ;;
  try-restart|try-reload-or-restart|condrestart) need_units; each try_restart_one ;;
  reload) need_units; each reload_one ;;
  is-active|is-failed) need_units; do_is ;;
  is-enabled) need_units; do_is_enabled ;;
  status) need_units; do_status ;;
  show) need_units; do_show ;;
  list-jobs) do_jobs ;;
  list-units) do_list_units ;;
  --failed) failed_only=1; do_list_units ;;
  daemon-reload|reset-failed) ;;
  poweroff|halt) exec poweroff ;;
  reboot) exec reboot ;;
  *) echo "Unknown command verb '$verb'." >&2; exit 1 ;;
esac
