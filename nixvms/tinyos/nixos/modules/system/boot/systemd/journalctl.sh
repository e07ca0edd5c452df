#!@busybox@/bin/sh
# journalctl for tinyos: reads the journal that lib.sh's logger writes
# (all of it is this boot's: it lives in /run). -u UNIT (repeatable),
# -b [ID], -n N, -f, -o short|cat, -g PATTERN, -k; --no-pager and the like
# are accepted. Output as journalctl's short format:
#   Dec 02 09:30:01 host unit[pid]: message
. @lib@

units= lines= follow= output=short grep= kernel=
while [ $# -gt 0 ]; do
  case $1 in
    -u|--unit) [ $# -ge 2 ] || { echo "journalctl: option '$1' requires an argument" >&2; exit 1; }; units="$units $(unit_name "$2")"; shift ;;
    -u*) units="$units $(unit_name "${1#-u}")" ;;
    --unit=*) units="$units $(unit_name "${1#--unit=}")" ;;
    -b|--boot) case $2 in -[0-9]*|[0-9]*|all) shift ;; esac ;;
    -b*|--boot=*) ;;
    -n|--lines) lines=$2; shift ;;
    -n*) lines=${1#-n} ;;
    --lines=*) lines=${1#--lines=} ;;
    -f|--follow) follow=1 ;;
    -o|--output) output=$2; shift ;;
    -o*) output=${1#-o} ;;
    --output=*) output=${1#--output=} ;;
    -g|--grep) grep=$2; shift ;;
    --grep=*) grep=${1#--grep=} ;;
    -k|--dmesg) kernel=1 ;;
    -e|--pager-end) [ -n "$lines" ] || lines=1000 ;;
    -x|--catalog|-q|--quiet|--no-pager|--no-hostname|--system|-a|--all|--no-tail|--full) ;;
    -xe|-xeu) units="$units $(unit_name "$2")"; shift ;;
    -*) echo "journalctl: unrecognized option '$1'" >&2; exit 1 ;;
    *) echo "journalctl: matches (FIELD=VALUE) are not supported by tinyos: '$1'" >&2; exit 1 ;;
  esac
  shift
done
case $output in short|cat|short-iso|short-precise|with-unit|verbose) ;; *) echo "journalctl: unsupported output mode '$output' (tinyos: short, cat)" >&2; exit 1 ;; esac

if [ -n "$kernel" ]; then dmesg; exit 0; fi
[ -n "$follow" ] && [ -z "$lines" ] && lines=10
host=$(hostname)
format() {
  awk -F '\t' -v units="$units" -v host="$host" -v out="$output" -v pat="$grep" '
    BEGIN { n = split(units, us, " "); for (i = 1; i <= n; i++) want[us[i]] = 1 }
    {
      if (n > 0 && !($2 in want)) next
      msg = $0; sub(/^[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t/, "", msg)
      if (pat != "" && msg !~ pat) next
      if (out == "cat") print msg
      else print strftime("%b %d %H:%M:%S", $1) " " host " " $3 "[" $4 "]: " msg
      fflush()
    }'
}
touch "$JOURNAL" 2>/dev/null || { mkdir -p "${JOURNAL%/*}"; touch "$JOURNAL"; }
if [ -n "$follow" ]; then
  tail -n +1 -f "$JOURNAL" | format | tail -n "$lines" -f
  exit 0
fi
out=$(format < "$JOURNAL")
if [ -z "$out" ]; then echo "-- No entries --"; exit 0; fi
if [ -n "$lines" ]; then printf '%s\n' "$out" | tail -n "$lines"; else printf '%s\n' "$out"; fi
