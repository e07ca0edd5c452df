#!@busybox@/bin/sh
# timedatectl for tinyos: the time zone is time.timeZone (/etc/localtime
# -> /etc/zoneinfo/<zone>, config/timezone.nix); changing it at run time is
# refused, as NixOS refuses it when time.timeZone is set.
export PATH=@busybox@/bin
zone=$(readlink /etc/localtime 2>/dev/null); zone=${zone#/etc/zoneinfo/}
export TZDIR=/etc/zoneinfo
if [ -n "$zone" ]; then export TZ=$zone; label=$zone; else export TZ=UTC; label="n/a"; fi
verb= prop= value=
while [ $# -gt 0 ]; do
  case $1 in
    -p|--property) prop=$2; shift ;;
    --property=*) prop=${1#--property=} ;;
    --value) value=1 ;;
    --no-pager|--no-ask-password) ;;
    -*) echo "timedatectl: unrecognized option '$1'" >&2; exit 1 ;;
    *) [ -n "$verb" ] || verb=$1 ;;
  esac
  shift
done
[ -n "$verb" ] || verb=status
show() { # property value
  [ -n "$prop" ] && [ "$prop" != "$1" ] && return
  if [ -n "$value" ]; then echo "$2"; else echo "$1=$2"; fi
}
case $verb in
  status)
    printf '               Local time: %s\n' "$(date '+%a %Y-%m-%d %H:%M:%S %Z')"
    printf '           Universal time: %s\n' "$(TZ=UTC date '+%a %Y-%m-%d %H:%M:%S %Z')"
    printf '                 RTC time: %s\n' "$(TZ=UTC date '+%a %Y-%m-%d %H:%M:%S')"
    printf '                Time zone: %s (%s, %s)\n' "$label" "$(date +%Z)" "$(date +%z)"
    printf 'System clock synchronized: no\n'
    printf '              NTP service: n/a\n'
    printf '          RTC in local TZ: no\n'
    ;;
  show)
    show Timezone "$zone"
    show LocalRTC no
    show CanNTP no
    show NTP no
    show NTPSynchronized no
    ;;
  list-timezones) (cd /etc/zoneinfo 2>/dev/null && find . -type f | sed 's|^\./||' | grep -v '^posix\|^right\|\.tab$\|^[a-z]' | sort) ;;
  set-timezone|set-time|set-local-rtc|set-ntp)
    echo "Failed to $verb: tinyos's time zone and clock are the configuration's (time.timeZone); it cannot change them at run time" >&2
    exit 1 ;;
  *) echo "Unknown command verb '$verb'." >&2; exit 1 ;;
esac
