# tinyos's service manager: what systemd does for the units of
# systemd.services, in busybox sh. Sourced by systemctl, journalctl, the
# unit runner and the boot (systemd.nix substitutes the @...@ paths).
#
# Unit definitions: @units@/<unit> (shell assignments written by
# systemd.nix, also at /etc/systemd/system). Run-time state, one directory
# per unit: /run/tinyos/units/<unit>/<Property> (ActiveState, SubState,
# Result, MainPID, ExecMainStatus, NRestarts, timestamps, job). The journal:
# /run/log/journal/tinyos.journal, one record per line:
#   <epoch seconds> TAB <unit> TAB <identifier> TAB <pid> TAB <message>
UNITS=@units@
RUN=/run/tinyos/units
JOURNAL=/run/log/journal/tinyos.journal
SH=@busybox@/bin/sh
RUNNER=@runner@
export PATH="${PATH:+$PATH:}@busybox@/bin"

# foo -> foo.service; names with a known suffix are kept.
unit_name() {
  case $1 in
    *.service|*.target|*.socket|*.timer|*.device|*.mount|*.path|*.slice|*.scope|*.swap) echo "$1" ;;
    *) echo "$1.service" ;;
  esac
}
unit_exists() { [ -f "$UNITS/$1" ]; }

# Under TCG every fork and exec costs milliseconds of emulated CPU (the
# boot runs these a few hundred times: bench/README.md, issue 28), so the
# functions the boot runs avoid them where a shell builtin does the same:
# read instead of $(cat), $EPOCHSECONDS (busybox ash and bash have it)
# instead of $(date +%s), no mkdir of a directory that exists.
st_get() { # unit property default
  if [ -f "$RUN/$1/$2" ]; then cat "$RUN/$1/$2"; else echo "$3"; fi
}
st_read() { # variable unit property default: st_get into a variable, without a fork
  if [ -f "$RUN/$2/$3" ]; then read -r "$1" < "$RUN/$2/$3" || :; else eval "$1=\$4"; fi
}
st_set() { # unit property value [property value]... (each written whole, then
  # renamed: readers never see half). Several properties take one `mv` (a
  # fork) where the unit has a staging directory of this process's
  # (.new.$$, which start-services makes for every unit at boot), else one each.
  local u=$1 stage=$RUN/$1/.new.$$
  shift
  if [ -d "$stage" ]; then
    while [ $# -ge 2 ]; do printf '%s\n' "$2" > "$stage/$1"; shift 2; done
    mv -f "$stage"/* "$RUN/$u/"
    return
  fi
  [ -d "$RUN/$u" ] || mkdir -p "$RUN/$u"
  while [ $# -ge 2 ]; do
    printf '%s\n' "$2" > "$RUN/$u/.$1.$$" && mv -f "$RUN/$u/.$1.$$" "$RUN/$u/$1"
    shift 2
  done
}
set_state() { # unit ActiveState SubState [property value]... (written with them)
  local u=$1 active=$2 sub=$3 now=${EPOCHSECONDS:-$(date +%s)} enter=
  shift 3
  case $active in
    active) enter=ActiveEnterTimestamp ;;
    inactive|failed) enter=InactiveEnterTimestamp ;;
  esac
  st_set "$u" ActiveState "$active" SubState "$sub" StateChangeTimestamp "$now" \
    ${enter:+"$enter" "$now"} "$@"
}

# The journal. jlog unit identifier pid message
jlog() {
  [ -d "${JOURNAL%/*}" ] || mkdir -p "${JOURNAL%/*}"
  printf '%s\t%s\t%s\t%s\t%s\n' "${EPOCHSECONDS:-$(date +%s)}" "$1" "$2" "$3" "$4" >> "$JOURNAL"
}
# What systemd itself says about a unit (identifier systemd, pid 1).
syslog() { jlog "$1" systemd 1 "$2"; }
# Status lines on the console, as systemd prints them at boot.
console() { echo "$*" > /dev/console 2>/dev/null || true; }

# Lines of a unit's processes -> the journal and the console (the test
# instrumentation's "journal forwarded to the console"; tinyos always does
# it), each line on the console prefixed with the unit's name.
logger() { # unit pidfile
  local ident=${SyslogIdentifier:-${1%.service}}
  awk -v u="$1" -v id="$ident" -v pf="$2" -v j="$JOURNAL" '{
    if ((getline p < pf) <= 0) p = 0
    close(pf)
    printf "%s\t%s\t%s\t%s\t%s\n", systime(), u, id, p, $0 >> j
    fflush(j)
    print id ": " $0 > "/dev/console"
    fflush("/dev/console")
  }'
}

# EnvironmentFile= (the unit's, in scope): the files' assignments as
# `export NAME='value'` lines, read as root as systemd reads them (lines
# NAME=value, "..." or '...' around the value, # and ; comments); a file
# prefixed with "-" may be missing. Fails, naming the file, if another is.
environment_files() {
  local f opt
  for f in $EnvironmentFile; do
    opt=
    case $f in -*) opt=1; f=${f#-} ;; esac
    if [ ! -r "$f" ]; then
      [ -n "$opt" ] && continue
      echo "Failed to load environment files: $f: No such file or directory" >&2
      return 1
    fi
    awk '
      /^[ \t]*([#;]|$)/ { next }
      {
        line = $0; sub(/^[ \t]+/, "", line)
        i = index(line, "="); if (i == 0) next
        k = substr(line, 1, i - 1); v = substr(line, i + 1)
        sub(/[ \t]+$/, "", k); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v)
        if (k !~ /^[A-Za-z_][A-Za-z0-9_]*$/) next
        if (v ~ /^".*"$/ || v ~ /^\047.*\047$/) v = substr(v, 2, length(v) - 2)
        gsub(/\047/, "\047\\\047\047", v)
        printf "export %s=\047%s\047\n", k, v
      }' "$f"
  done
}

# What systemd sets up for a unit's process before it changes identity
# (the unit's UMask=, LimitNOFILE= "soft hard", Nice=, in scope), as shell
# for the root sh that then becomes the process.
exec_setup() {
  [ -z "$UMask" ] || printf 'umask %s; ' "$UMask"
  if [ -n "$LimitNOFILE" ]; then
    set -- $LimitNOFILE
    printf 'ulimit -H -n %s 2>/dev/null; ulimit -S -n %s && ulimit -H -n %s || exit 1; ' "$2" "$1" "$2"
  fi
  [ -z "$Nice" ] || printf 'renice %s -p $$ >/dev/null || exit 1; ' "$Nice"
}

# Group=, SupplementaryGroups=: the groups of a unit's process as systemd
# gives them: the primary group is Group= (else the user's); the
# supplementary ones are, for a User= other than root, that group and the
# groups that list the user (getgrouplist), then SupplementaryGroups=.
unit_groups() { # user primary-group
  { [ "$1" = root ] || awk -F: -v u="$1" '{ n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) print $1 }' /etc/group
    [ "$1" = root ] || echo "$2"
    for g in $SupplementaryGroups; do echo "$g"; done
  } | awk '!seen[$0]++' | paste -sd, -
}

# Run a command line as a user; its pid goes to pidfile. In its own
# session (and process group) when $4 is "session", so that stopping the
# unit can signal the whole group. The unit's process settings (exec_setup,
# environment_files, Group=) are applied as systemd applies them.
as_user() { # user command pidfile [session]
  local pre= setup g groups
  [ "$4" = session ] && pre=setsid
  [ -z "$UMask$LimitNOFILE$Nice" ] || setup=$(exec_setup)
  if [ -n "$EnvironmentFile" ]; then
    TINYOS_ENVIRONMENT_FILES=$(environment_files) || return 1
    export TINYOS_ENVIRONMENT_FILES
  fi
  if [ -n "$Group$SupplementaryGroups" ]; then
    g=${Group:-$(id -gn "$1")}
    groups=$(unit_groups "$1" "$g")
    if [ "$1" != root ]; then
      # (what su sets, as systemd does for User=)
      HOME=$(awk -F: -v u="$1" '$1 == u { print $6 }' /etc/passwd) USER=$1 LOGNAME=$1
      export HOME USER LOGNAME
    fi
    if [ -n "$groups" ]; then groups=--groups=$groups; else groups=--clear-groups; fi
    $pre "$SH" -c 'echo $$ > "$0"; '"$setup"'exec @setpriv@ --reuid="$1" --regid="$2" "$3" -- "$4" -c "$5"' \
      "$3" "$1" "$g" "$groups" "$SH" "exec $2"
  elif [ "$1" = root ]; then
    $pre "$SH" -c 'echo $$ > "$0"; '"$setup"'exec '"$2" "$3"
  else
    $pre "$SH" -c 'echo $$ > "$0"; '"$setup"'exec su -s "$1" "$2" -c "$3"' "$3" "$SH" "$1" "exec $2"
  fi
}

# SuccessExitStatus= (in scope; signals as 128 + n): is this exit status
# of the main process a success?
exit_ok() { # status
  [ "$1" = 0 ] && return 0
  case " $SuccessExitStatus " in *" $1 "*) return 0 ;; esac
  return 1
}

# A control process (ExecStartPre, oneshot ExecStart, ExecStartPost,
# ExecStop): run it with its output logged; return its exit status.
run_control() { # unit user command
  [ -n "$3" ] || return 0
  { as_user "$2" "$3" "$RUN/$1/ControlPID" < /dev/null; echo $? > "$RUN/$1/.control-rc"; } 2>&1 | logger "$1" "$RUN/$1/ControlPID"
  rm -f "$RUN/$1/ControlPID"
  local rc
  read -r rc < "$RUN/$1/.control-rc"
  return "$rc"
}

status_text() { # exit status -> systemd's "status=1/FAILURE"
  case $1 in
    0) echo "0/SUCCESS" ;;
    1) echo "1/FAILURE" ;;
    2) echo "2/INVALIDARGUMENT" ;;
    *) if [ "$1" -gt 128 ] 2>/dev/null; then echo "$(( $1 - 128 ))/$(kill -l $(( $1 - 128 )) 2>/dev/null)"; else echo "$1"; fi ;;
  esac
}
code_text() { if [ "$1" -gt 128 ] 2>/dev/null; then echo killed; else echo exited; fi; }

# The unit failed to start: state, journal, console; systemctl's message.
start_failed() { # unit description kind(Control|Main) status
  local rc=$4
  syslog "$1" "$1: $3 process exited, code=$(code_text "$rc"), status=$(status_text "$rc")"
  syslog "$1" "$1: Failed with result 'exit-code'."
  syslog "$1" "Failed to start $2."
  set_state "$1" failed failed Result exit-code ExecMainStatus "$rc"
  console "[FAILED] Failed to start $2."
  if [ -z "$TINYOS_BOOT" ]; then
    echo "Job for $1 failed because the control process exited with error code." >&2
    echo "See \"systemctl status $1\" and \"journalctl -xeu $1\" for details." >&2
  fi
  return 1
}

# Start a unit and what it requires and wants, as `systemctl start` does.
# Returns 0 when the unit is active (or finished, for a oneshot), 1 when it
# or a unit it requires failed, 5 when there is no such unit.
unit_start() ( # unit
  u=$1
  unit_exists "$u" || { echo "Failed to start $u: Unit $u not found." >&2; return 5; }
  . "$UNITS/$u"
  st_read state "$u" ActiveState inactive
  case $state in active|activating|reloading) st_set "$u" job none; return 0 ;; esac
  if [ "$Type" = target ]; then
    # (at boot, what a target wants has been started before it)
    [ -n "$TINYOS_BOOT" ] || for w in $Wants; do unit_start "$w" 2>/dev/null || true; done
    set_state "$u" active active job none
    syslog "$u" "Reached target $Description."
    return 0
  fi
  if [ "$Type" = socket ]; then socket_start "$u"; return; fi
  # At boot, a unit the boot has already dealt with (no start job left) is
  # not started again: it is up, finished, or failed.
  for r in $Requires; do
    ok=yes
    if [ -n "$TINYOS_BOOT" ] && st_read job "$r" job none && [ "$job" = none ]; then
      st_read rstate "$r" ActiveState inactive
      [ "$rstate" = failed ] && ok=no
    else unit_start "$r" 2>/dev/null || ok=no
    fi
    if [ $ok = no ]; then
      syslog "$u" "Dependency failed for $Description."
      syslog "$u" "$u: Job $u/start failed with result 'dependency'."
      console "[DEPEND] Dependency failed for $Description."
      st_set "$u" job none
      [ -n "$TINYOS_BOOT" ] || echo "A dependency job for $u failed. See 'journalctl -xe' for details." >&2
      return 1
    fi
  done
  for w in $Wants; do
    [ -n "$TINYOS_BOOT" ] && st_read job "$w" job none && [ "$job" = none ] && continue
    unit_start "$w" 2>/dev/null || true
  done
  # unitConfig's Condition*= (systemd.nix writes them as shell): checked
  # once what the unit requires and wants has started, as systemd does; an
  # unmet one skips the unit (it stays inactive, the start succeeds)
  if [ -n "$ConditionCheck" ]; then
    cond_unmet= trig_any= trig_ok= trig_failed=
    eval "$ConditionCheck"
    [ -n "$cond_unmet" ] || [ -z "$trig_any" ] || [ -n "$trig_ok" ] || cond_unmet=$trig_failed
    if [ -n "$cond_unmet" ]; then
      st_set "$u" ConditionResult no
      syslog "$u" "$Description was skipped because of an unmet condition check ($cond_unmet)."
      st_set "$u" job none
      return 0
    fi
    st_set "$u" ConditionResult yes
  fi

  [ -d "$RUN/$u" ] || mkdir -p "$RUN/$u"
  [ ! -e "$RUN/$u/stopping" ] || rm -f "$RUN/$u/stopping"
  set_state "$u" activating start Result success
  syslog "$u" "Starting $Description..."
  # (owned by User= and Group=, with the mode of StateDirectoryMode= and
  # RuntimeDirectoryMode=, 0755 by default, set on every start as systemd does)
  for d in $StateDirectory; do
    mkdir -p "/var/lib/$d"; [ "$User$Group" = root ] || chown "$User${Group:+:$Group}" "/var/lib/$d"; chmod "$StateDirectoryMode" "/var/lib/$d"
  done
  for d in $RuntimeDirectory; do
    mkdir -p "/run/$d"; [ "$User$Group" = root ] || chown "$User${Group:+:$Group}" "/run/$d"; chmod "$RuntimeDirectoryMode" "/run/$d"
  done
  run_control "$u" "$User" "$ExecStartPre" || { start_failed "$u" "$Description" Control $?; st_set "$u" job none; return 1; }
  case $Type in
    oneshot)
      run_control "$u" "$User" "$ExecStart" || { rc=$?; exit_ok $rc || { start_failed "$u" "$Description" Main $rc; st_set "$u" job none; return 1; }; }
      st_set "$u" ExecMainStatus "${rc:-0}"
      run_control "$u" "$User" "$ExecStartPost" || { start_failed "$u" "$Description" Control $?; st_set "$u" job none; return 1; }
      if [ "$RemainAfterExit" = yes ]; then set_state "$u" active exited
      else
        syslog "$u" "$u: Deactivated successfully."
        set_state "$u" inactive dead
      fi
      syslog "$u" "Finished $Description."
      console "[  OK  ] Finished $Description."
      ;;
    forking)
      run_control "$u" "$User" "$ExecStart" || { start_failed "$u" "$Description" Control $?; st_set "$u" job none; return 1; }
      pid=0
      [ -n "$PIDFile" ] && [ -f "$PIDFile" ] && pid=$(cat "$PIDFile")
      st_set "$u" MainPID "$pid"
      set_state "$u" active running
      syslog "$u" "Started $Description."
      console "[  OK  ] Started $Description."
      run_control "$u" "$User" "$ExecStartPost" || true
      ;;
    *)
      # simple (and exec, notify, idle, dbus: started the same way): the
      # runner keeps the main process, restarts it as Restart= says and
      # records how it ended. Active from the moment it is forked, as in systemd.
      set_state "$u" active running
      setsid "$RUNNER" "$u" < /dev/null > /dev/null 2>&1 &
      syslog "$u" "Started $Description."
      console "[  OK  ] Started $Description."
      if [ -z "$ExecStartPost" ]; then st_set "$u" RunnerPID $! job none; return 0; fi
      st_set "$u" RunnerPID $!
      run_control "$u" "$User" "$ExecStartPost" || true
      ;;
  esac
  st_set "$u" job none
  return 0
)

# Socket units (systemd.tinyosSocketUnits in systemd.nix): tinyos has no
# socket activation, so the socket is opened by its service itself, which
# starting the socket unit starts; the unit is active ("listening") once a
# process listens on ListenStream, and leaves that state when its service
# ends (the runner, unit_stop). Called in unit_start's subshell, with the
# unit's assignments read.
listening() { # path: a listening unix socket is bound to it (/proc/net/unix: flags __SO_ACCEPTCON)
  awk -v p="$1" '$8 == p && $4 == "00010000" { f = 1 } END { exit !f }' /proc/net/unix
}
socket_start() { # unit
  set_state "$1" activating start
  if ! { [ -n "$TINYOS_BOOT" ] && st_read job "$Service" job none && [ "$job" = none ]; }; then
    unit_start "$Service" 2>/dev/null
  fi
  local i=0 sst
  until listening "$ListenStream"; do
    st_read sst "$Service" ActiveState inactive
    if [ "$sst" = failed ] || [ "$sst" = inactive ] || [ $i -ge 600 ]; then
      syslog "$1" "$1: $Service did not listen on $ListenStream."
      syslog "$1" "$1: Failed with result 'resources'."
      syslog "$1" "Failed to listen on $Description."
      st_set "$1" Result resources
      set_state "$1" failed failed
      st_set "$1" job none
      console "[FAILED] Failed to listen on $Description."
      [ -n "$TINYOS_BOOT" ] || echo "Job for $1 failed." >&2
      return 1
    fi
    sleep 0.1
    i=$((i + 1))
  done
  set_state "$1" active listening
  st_set "$1" job none
  syslog "$1" "Listening on $Description."
  console "[  OK  ] Listening on $Description."
}
# A service ended (or was stopped): its socket units no longer listen.
sockets_closed() { # result(inactive|failed) sockets...
  local r=$1 s
  shift
  for s in "$@"; do
    case $(st_get "$s" ActiveState inactive) in inactive|failed) continue ;; esac
    if [ "$r" = failed ]; then st_set "$s" Result resources; set_state "$s" failed failed
    else set_state "$s" inactive dead
    fi
    syslog "$s" "Closed $s."
  done
}

# Stop a unit as `systemctl stop` does: ExecStop, then KillSignal to the
# main process's group, SIGKILL after TimeoutStopSec.
unit_stop() ( # unit
  u=$1
  unit_exists "$u" || { echo "Failed to stop $u: Unit $u not loaded." >&2; return 5; }
  . "$UNITS/$u"
  state=$(st_get "$u" ActiveState inactive)
  case $state in inactive|failed) return 0 ;; esac
  if [ "$Type" = target ]; then set_state "$u" inactive dead; syslog "$u" "Stopped target $Description."; return 0; fi
  # (the socket is its service's: stopping the socket stops the service)
  if [ "$Type" = socket ]; then unit_stop "$Service"; sockets_closed inactive "$u"; return 0; fi
  touch "$RUN/$u/stopping"
  set_state "$u" deactivating stop
  syslog "$u" "Stopping $Description..."
  run_control "$u" "$User" "$ExecStop" || true
  pid=$(st_get "$u" MainPID 0)
  [ "$Type" = forking ] && [ -n "$PIDFile" ] && [ -f "$PIDFile" ] && pid=$(cat "$PIDFile")
  if [ "$pid" -gt 0 ] 2>/dev/null && kill -0 "$pid" 2>/dev/null; then
    set_state "$u" deactivating stop-sigterm
    kill -"$KillSignal" -"$pid" 2>/dev/null || kill -"$KillSignal" "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt $(( TimeoutStopSec * 10 )) ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$pid" 2>/dev/null; then
      syslog "$u" "$u: State 'stop-sigterm' timed out. Killing."
      kill -KILL -"$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    fi
  fi
  # the runner ends by itself once the main process is gone; then its logger
  # has written the last lines
  rpid=$(st_get "$u" RunnerPID 0)
  if [ "$rpid" -gt 0 ] 2>/dev/null; then
    i=0
    while kill -0 "$rpid" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
    kill -TERM -"$rpid" 2>/dev/null || true
  fi
  st_set "$u" MainPID 0
  st_set "$u" RunnerPID 0
  syslog "$u" "$u: Deactivated successfully."
  syslog "$u" "Stopped $Description."
  set_state "$u" inactive dead
  sockets_closed inactive $Sockets
  rm -f "$RUN/$u/stopping"
  return 0
)
