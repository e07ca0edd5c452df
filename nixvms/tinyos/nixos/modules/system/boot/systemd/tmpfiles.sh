#!@busybox@/bin/sh
# systemd-tmpfiles for tinyos: applies /etc/tmpfiles.d/*.conf (written by
# systemd.tmpfiles.rules and .settings, tmpfiles.nix, which refuses at
# evaluation what this does not do) in file-name order, line by line, as
# tmpfiles.d(5) says for the types d D f F w L z Z e r R p C x X:
#   --create  create and adjust (d D f F w L z Z e p C)
#   --remove  remove (r R; the contents of D)
#   --boot    also the lines marked with "!" (boot-only)
# Mode, user and group "-" mean 0755 for directories, 0644 otherwise, root.
# Unsupported: age-based cleaning (--clean), specifiers (%h ...).
export PATH=@busybox@/bin
create= remove= boot=
for a in "$@"; do
  case $a in
    --create) create=1 ;;
    --remove) remove=1 ;;
    --boot) boot=1 ;;
    --exclude-prefix=*|--prefix=*) ;;
    --clean) echo "systemd-tmpfiles: tinyos does not clean by age (--clean)" >&2; exit 1 ;;
    -*) echo "systemd-tmpfiles: unrecognized option '$a'" >&2; exit 1 ;;
    *) echo "systemd-tmpfiles: tinyos reads /etc/tmpfiles.d only (got '$a')" >&2; exit 1 ;;
  esac
done
[ -n "$create$remove" ] || { echo "systemd-tmpfiles: you need to specify at least one of --clean, --create, or --remove." >&2; exit 1; }

rc=0
fail() { echo "systemd-tmpfiles: $*" >&2; rc=1; }
# ownership and mode of an existing path; "-" leaves root's and the default
adjust() { # path mode user group default-mode [recursive]
  local m=$2 u=$3 g=$4 r=
  [ "$m" = - ] && m=$5
  [ "$u" = - ] && u=root
  [ "$g" = - ] && g=$(id -gn "$u" 2>/dev/null || echo root)
  [ -n "$6" ] && r=-R
  chown -h $r "$u:$g" "$1" || fail "$1: cannot chown to $u:$g"
  [ -L "$1" ] || chmod $r "$m" "$1" || fail "$1: cannot chmod $m"
}
unescape() { printf '%b' "$1"; }

apply() { # type path mode user group age argument
  local t=$1 p=$2 base
  base=${t%%[!a-zA-Z]*}
  case $t in *!*) [ -n "$boot" ] || return 0 ;; esac
  case $base in
    d|D|e|v|q|Q)
      if [ "$base" = D ] && [ -n "$remove" ] && [ -d "$p" ]; then
        find "$p" -mindepth 1 -maxdepth 1 -exec rm -rf {} \;
      fi
      [ -n "$create" ] || return 0
      if [ "$base" = e ]; then [ -d "$p" ] || return 0
      else mkdir -p "$p" || { fail "$p: cannot create directory"; return; }
      fi
      adjust "$p" "$3" "$4" "$5" 0755 ;;
    f|F)
      [ -n "$create" ] || return 0
      if [ "$base" = F ] || [ ! -e "$p" ] || case $t in *+*) true ;; *) false ;; esac; then
        if [ -n "$7" ]; then unescape "$7" > "$p"; else : > "$p"; fi || { fail "$p: cannot write"; return; }
      fi
      adjust "$p" "$3" "$4" "$5" 0644 ;;
    w)
      [ -n "$create" ] && [ -e "$p" ] || return 0
      case $t in *+*) unescape "$7" >> "$p" ;; *) unescape "$7" > "$p" ;; esac ;;
    L)
      [ -n "$create" ] || return 0
      case $t in *+*) rm -rf "$p" ;; esac
      [ -e "$p" ] || [ -L "$p" ] || { mkdir -p "${p%/*}"; ln -s "$7" "$p"; } ;;
    p)
      [ -n "$create" ] || return 0
      case $t in *+*) rm -f "$p" ;; esac
      [ -e "$p" ] || mkfifo "$p" || { fail "$p: cannot make fifo"; return; }
      adjust "$p" "$3" "$4" "$5" 0644 ;;
    C)
      [ -n "$create" ] || return 0
      [ -e "$p" ] || cp -a "${7:-/usr/share/factory$p}" "$p" || fail "$p: cannot copy ${7}" ;;
    z|Z)
      [ -n "$create" ] && { [ -e "$p" ] || [ -L "$p" ]; } || return 0
      if [ -d "$p" ]; then d=0755; else d=0644; fi
      adjust "$p" "$3" "$4" "$5" "$d" "$( [ "$base" = Z ] && echo r)" ;;
    r|R)
      [ -n "$remove" ] || return 0
      if [ "$base" = R ]; then rm -rf "$p"; else rm -f "$p" 2>/dev/null || rmdir "$p" 2>/dev/null || true; fi ;;
    x|X) ;;
    *) fail "unsupported line type '$t' for $p" ;;
  esac
}

for conf in /etc/tmpfiles.d/*.conf; do
  [ -e "$conf" ] || continue
  while read -r type path mode user group age arg; do
    case $type in ''|'#'*) continue ;; esac
    [ "$arg" = - ] && arg=
    apply "$type" "$path" "${mode:--}" "${user:--}" "${group:--}" "${age:--}" "$arg"
  done < "$conf"
done
exit $rc
