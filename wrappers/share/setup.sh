# shellcheck shell=dash  # busybox sh (ash): POSIX plus local
# Per-base setup of a runtime image: the `openhands` user (uid/gid 1000), /workspace, the
# server's state directories in it (setup.sh DIR...) and /tmp. Run by the bundle's static
# busybox, mounted from the deps image at /oh-setup, so no shell, libc or package manager
# of the base is used; the step depends only on the base and on this kit, so a change of
# the bundle never runs it again.
#
# If uid 1000 already belongs to another user (`ubuntu`, `pn`), `openhands` is added as a
# second name for uid 1000 sharing that user's primary group; if gid 1000 is taken,
# `openhands` joins that group. Files are owned by uid 1000 either way.
set -eu
BB=/oh-setup/busybox
for applet in awk cat chmod chown grep mkdir rm tail; do
  eval "$applet() { \"\$BB\" $applet \"\$@\"; }"
done
NAME=openhands
ID=1000
HOME_DIR=/workspace

# Append a line to a file, after a newline if the file does not end with one.
append() {
  if [ -s "$1" ] && [ -n "$(tail -c 1 "$1")" ]; then
    echo >>"$1"
  fi
  echo "$2" >>"$1"
}

has() { [ -e "$2" ] && grep -q "^$1:" "$2"; }

mkdir -p /etc
shell=/openhands/fallback/bin/bash
[ -e /bin/bash ] && shell=/bin/bash
has root /etc/passwd || append /etc/passwd "root:x:0:0:root:/root:$shell"
has root /etc/group || append /etc/group "root:x:0:"
owner=$(awk -F: -v id="$ID" '$3 == id { print $1; exit }' /etc/group)
if [ -z "$owner" ]; then
  has "$NAME" /etc/group || append /etc/group "$NAME:x:$ID:"
elif [ "$owner" != "$NAME" ]; then
  awk -F: -v OFS=: -v id="$ID" -v n="$NAME" \
    '$3 == id { $4 = ($4 == "" ? n : $4 "," n) } { print }' /etc/group >/etc/group.oh-new
  cat /etc/group.oh-new >/etc/group
  rm /etc/group.oh-new
fi
has "$NAME" /etc/passwd || append /etc/passwd "$NAME:x:$ID:$ID:OpenHands agent:$HOME_DIR:$shell"
if [ -e /etc/shadow ] && ! has "$NAME" /etc/shadow; then
  append /etc/shadow "$NAME:!:19000:0:99999:7:::"
fi
# The server's working directory and its state directories (the arguments, from the
# server kind in builder/servers.py), usable from its first start (Docker would create a
# missing working directory owned by root).
mkdir -p "$HOME_DIR" /tmp
dirs=$HOME_DIR
for s in "$@"; do dirs="$dirs $HOME_DIR/$s"; done
for d in $dirs; do
  mkdir -p "$d"
  chown "$ID:$ID" "$d"
  chmod 755 "$d"
done
# The agent's terminal runs /bin/bash and its commands /bin/sh: on a base without them,
# the bundle's bash (a base's own shell is never replaced).
mkdir -p /bin
for sh in bash sh; do
  [ -e "/bin/$sh" ] || [ -L "/bin/$sh" ] || "$BB" ln -s /openhands/fallback/bin/bash "/bin/$sh"
done
chown 0:0 /tmp
chmod 1777 /tmp
# One fixed mtime on everything this step may have written: a re-run (after a cache
# prune, say) then gives the same layer, byte for byte, as the record it replaces.
for p in /etc /etc/passwd /etc/group /etc/shadow /tmp /bin /bin/bash /bin/sh $dirs; do
  if [ -e "$p" ] || [ -L "$p" ]; then "$BB" touch -h -d @1700000000 "$p"; fi
done
