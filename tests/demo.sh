#!/bin/sh
# Builds a busybox bundle in a temporary directory and runs it with hull:
# the smallest end-to-end use of the runtime.  Usage: tests/demo.sh [HULL]
set -eu
HULL=$(realpath "${1:-build/hull}")
dir=$(mktemp -d /tmp/hull-demo.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/rootfs/bin"
cp /bin/busybox "$dir/rootfs/bin/busybox"
for applet in $(/bin/busybox --list | grep -vx busybox); do
  ln -sf busybox "$dir/rootfs/bin/$applet"
done
cd "$dir"
"$HULL" spec
# A non-interactive demo: no terminal, a command that shows it is contained.
sed -i -e 's/"terminal": true/"terminal": false/' \
       -e 's/^\(\s*\)"sh"$/\1"sh", "-c", "echo hello from a hull container: hostname=$(hostname) pid=$$ uid=$(id -u); ls \/"/' config.json
"$HULL" --root "$dir/state" run "demo-$$"
