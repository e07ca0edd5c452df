#!@busybox@/bin/sh
# switch-to-configuration for tinyos (NixOS's bin/switch-to-configuration
# of a system): makes the running machine the system @out@ without a
# reboot. Units of the running system that this one does not have, or has
# changed, are stopped with their old definitions; /etc is replaced; the
# activation scripts that are new or changed run; the changed units are
# started again and new units wanted by multi-user.target are started.
# Messages and exit codes are NixOS's (4: some unit failed).
export PATH=@busybox@/bin
new=@out@

case $1 in
  switch|test) ;;
  boot|dry-activate)
    echo "switch-to-configuration: tinyos cannot '$1': it has no boot loader and no dry run (use 'test' or 'switch')" >&2
    exit 1 ;;
  *)
    cat >&2 <<USAGE
Usage: $0 [switch|boot|test|dry-activate]

switch:       make the configuration the boot default and activate now
boot:         make the configuration the boot default
test:         activate the configuration, but don't make it the boot default
dry-activate: show what would be done if this configuration were activated
USAGE
    exit 1 ;;
esac
[ "$(id -u)" = 0 ] || { echo "switch-to-configuration: this program is not meant to be run by non-root users" >&2; exit 1; }

# In a session of its own, as systemctl's jobs: restarting the unit whose
# shell runs this (a backdoor, an ssh session) must not end the switch.
if [ -z "$TINYOS_SWITCHING" ]; then
  TINYOS_SWITCHING=1 setsid "$0" "$@" &
  wait $!
  exit $?
fi
trap '' PIPE HUP

. @systemdlib@
old=$(readlink -f /run/current-system)
oldunits=$(readlink -f "$old/etc/systemd/system")
newunits=$(readlink -f "$new/etc/systemd/system")

is_active() { case $(st_get "$1" ActiveState inactive) in active|activating|reloading) return 0 ;; esac; return 1; }
wanted_in() { # units-dir unit: wanted by multi-user.target (at boot)
  [ -f "$1/$2" ] && (. "$1/$2"; case " $WantedBy " in *" multi-user.target "*|*" default.target "*) exit 0 ;; esac; exit 1)
}
commas() { echo "$*" | tr ' ' '\n' | grep -v '^$' | sort | tr '\n' ' ' | sed 's/ *$//; s/ /, /g'; }

stop= restart= keep= start=
for f in "$oldunits"/*.service; do
  [ -e "$f" ] || continue
  u=${f##*/}
  is_active "$u" || continue
  if [ ! -e "$newunits/$u" ]; then
    stop="$stop $u"
  elif [ "$(readlink -f "$f")" != "$(readlink -f "$newunits/$u")" ]; then
    if (. "$newunits/$u"; [ "$RestartIfChanged" = no ]); then keep="$keep $u"; else restart="$restart $u"; fi
  fi
done
for f in "$newunits"/*.service; do
  u=${f##*/}
  is_active "$u" && continue
  wanted_in "$oldunits" "$u" && continue
  wanted_in "$newunits" "$u" && start="$start $u"
done

[ -n "$stop$restart" ] && echo "stopping the following units: $(commas $stop $restart)" >&2
[ -n "$keep" ] && echo "NOT restarting the following changed units: $(commas $keep)" >&2
for u in $stop $restart; do unit_stop "$u"; done

echo "activating the configuration..." >&2
echo "setting up /etc..." >&2
"$new/bin/setup-etc" "$(readlink -f "$old/etc-tree")"
ln -sfn "$new" /run/current-system
# the new and changed activation scripts, by the new system's activate
# (bash; it names a snippet that failed)
changed=
for n in $(cat "$new/activation-order"); do
  [ "$(readlink -f "$old/activation/$n" 2>/dev/null)" = "$(readlink -f "$new/activation/$n")" ] && continue
  changed="$changed $n"
done
[ -z "$changed" ] || "$new/activate" $changed || true
# as NixOS's switch: the tmpfiles rules of the new system
@systemd@/bin/systemd-tmpfiles --create --remove || true
# busybox init reads /etc/inittab again (the gettys of services.getty)
kill -HUP 1

failed=
[ -n "$restart" ] && echo "starting the following units: $(commas $restart)" >&2
for u in $restart; do unit_start "$u" 2>/dev/null || failed="$failed $u"; done
[ -n "$start" ] && echo "the following new units were started: $(commas $start)" >&2
for u in $start; do unit_start "$u" 2>/dev/null || failed="$failed $u"; done
if [ "$1" = switch ]; then
  echo "switch-to-configuration: tinyos has no boot loader: a reboot starts the system the machine was started with" >&2
fi
if [ -n "$failed" ]; then
  echo "warning: the following units failed: $(commas $failed)" >&2
  exit 4
fi
echo "Done. The new configuration is $new" >&2
exit 0
