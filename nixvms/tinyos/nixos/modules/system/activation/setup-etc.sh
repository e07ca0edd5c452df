#!@busybox@/bin/sh
# Installs this system's /etc (environment.etc, etc.nix's tree @etc@):
# copies of its entries (symlinks into the store, or files), then the
# mode, owner and group of the copied files, as NixOS's setup-etc.pl does.
# With the /etc tree of the system running until now as argument (a
# switch), entries that system had and this one has not are removed first,
# and only entries that differ are replaced.
export PATH=@busybox@/bin
new=@etc@
old=$1
if [ -z "$old" ]; then
  cp -a "$new/etc/." /etc/
else
  (cd "$old/etc" && find . ! -type d) | while read -r f; do
    [ -e "$new/etc/$f" ] || [ -L "$new/etc/$f" ] || rm -f "/etc/$f"
  done
  (cd "$new/etc" && find . -mindepth 1 -type d) | while read -r d; do
    [ -L "/etc/$d" ] && rm -f "/etc/$d"
    mkdir -p "/etc/$d"
  done
  (cd "$new/etc" && find . ! -type d) | while read -r f; do
    if [ -L "$new/etc/$f" ] && [ -L "$old/etc/$f" ] && [ "$(readlink "$new/etc/$f")" = "$(readlink "$old/etc/$f")" ] \
       && [ "$(readlink "/etc/$f")" = "$(readlink "$new/etc/$f")" ]; then
      continue
    fi
    rm -rf "/etc/$f"
    cp -a "$new/etc/$f" "/etc/$f"
  done
fi
while read -r mode user group target; do
  chown "${user#+}:${group#+}" "/etc/$target"
  chmod "$mode" "/etc/$target"
done < "$new/owners"
