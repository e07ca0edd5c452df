#!@bash@
# $systemConfig/activate: system.activationScripts run by bash, as
# NixOS's activation-script.nix makes its script: the snippets in
# dependency order (activation-order), umask 0022, a failed command marks
# its snippet and the run failed (exit 1) without stopping the others. Its
# PATH is the activation's tools (NixOS: coreutils, grep, findutils,
# util-linux, ...; here busybox, first, as busybox sh ran its applets
# before PATH), then the system's.
# Snippet names as arguments run only those (switch-to-configuration: the
# new and changed ones; NixOS's switch runs them all).
systemConfig=@out@
export PATH=@busybox@/bin:$systemConfig/sw/bin:$systemConfig/sw/sbin
_status=0
trap "_status=1 _localstatus=\$?" ERR
umask 0022
if [ $# = 0 ]; then
  set -- $(< "$systemConfig/activation-order")
fi
for _snippet in "$@"; do
  _localstatus=0
  source "$systemConfig/activation/$_snippet"
  if (( _localstatus > 0 )); then
    printf "Activation script snippet '%s' failed (%s)\n" "$_snippet" "$_localstatus"
  fi
done
exit $_status
