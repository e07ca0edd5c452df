#!@busybox@/bin/sh
# The runner of one long-running unit (Type=simple): runs its main process
# in a session of its own, logs its output, restarts it as Restart= says,
# and records how it ended. Started by unit_start (lib.sh) with setsid.
. @lib@
u=$1
. "$UNITS/$u"
st_read n "$u" NRestarts 0
{
  while :; do
    as_user "$User" "$ExecStart" "$RUN/$u/MainPID" session < /dev/null
    rc=$?
    [ -e "$RUN/$u/stopping" ] && exit 0
    st_set "$u" MainPID 0
    st_set "$u" ExecMainStatus "$rc"
    # (SuccessExitStatus= counts as success, as a clean exit)
    ok=no
    exit_ok "$rc" && ok=yes
    case $Restart in
      always) again=yes ;;
      on-success) [ $ok = yes ] && again=yes || again=no ;;
      on-failure) [ $ok = no ] && again=yes || again=no ;;
      on-abnormal|on-abort) [ "$rc" -gt 128 ] && again=yes || again=no ;;
      *) again=no ;;
    esac
    if [ $ok = yes ]; then
      syslog "$u" "$u: Deactivated successfully."
    else
      syslog "$u" "$u: Main process exited, code=$(code_text "$rc"), status=$(status_text "$rc")"
      syslog "$u" "$u: Failed with result 'exit-code'."
    fi
    if [ $again = no ]; then
      if [ $ok = yes ]; then set_state "$u" inactive dead; sockets_closed inactive $Sockets
      else st_set "$u" Result exit-code; set_state "$u" failed failed; sockets_closed failed $Sockets
      fi
      st_set "$u" RunnerPID 0
      exit 0
    fi
    n=$((n + 1))
    st_set "$u" NRestarts "$n"
    set_state "$u" activating auto-restart
    sleep "$RestartSec"
    [ -e "$RUN/$u/stopping" ] && exit 0
    syslog "$u" "$u: Scheduled restart job, restart counter is at $n."
    echo "$Description exited ($rc); restarting" > /dev/console 2>/dev/null || true
    set_state "$u" active running
  done
} 2>&1 | logger "$u" "$RUN/$u/MainPID"
