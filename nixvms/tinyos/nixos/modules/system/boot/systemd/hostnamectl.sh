#!@busybox@/bin/sh
# hostnamectl for tinyos: what systemd's prints of the machine's names
# (networking.hostName is /etc/hostname, read-only as on NixOS, where the
# hostname is set by the configuration).
export PATH=@busybox@/bin
static=$(cat /etc/hostname 2>/dev/null)
verb=status
for a in "$@"; do
  case $a in
    --static|--transient|--pretty) verb=$a ;;
    --no-pager|--no-ask-password) ;;
    -*) echo "hostnamectl: unrecognized option '$a'" >&2; exit 1 ;;
    *) verb=$a; break ;;
  esac
done
case $verb in
  status)
    printf ' Static hostname: %s\n' "${static:-n/a}"
    [ "$(hostname)" != "$static" ] && printf 'Transient hostname: %s\n' "$(hostname)"
    printf '  Virtualization: qemu\n'
    printf 'Operating System: tinyos %s\n' "$(cat /run/current-system/nixos-version 2>/dev/null)"
    printf '          Kernel: %s %s\n' "$(uname -s)" "$(uname -r)"
    printf '    Architecture: %s\n' "$(uname -m | sed 's/_/-/')"
    ;;
  hostname|--static) echo "${static:-$(hostname)}" ;;
  --transient) hostname ;;
  --pretty) echo ;;
  set-hostname|hostname\ *)
    echo "Could not set hostname: tinyos's hostname is networking.hostName (/etc/hostname is the configuration's)" >&2
    exit 1 ;;
  *) echo "Unknown command verb '$verb'." >&2; exit 1 ;;
esac
