#!/bin/sh
# vm-shim/guest/initramfs.sh AGENT BUSYBOX: the entry list of hull's guest
# initramfs, for build/mkinitramfs (vm-shim/tools/mkinitramfs.c):
#   /init            the agent (vm-shim/agent/), PID 1
#   /bin/busybox     a static busybox, with a link per applet, so that
#                    `hull vm-run -- CMD` has commands to run
#   /dev/console     the kernel opens it for init before anything is mounted
# and the directories the agent mounts on.
set -eu
[ $# -eq 2 ] || { echo "usage: initramfs.sh AGENT BUSYBOX" >&2; exit 2; }
agent=$1 busybox=$2
# A dynamic binary would need its loader and libraries in the guest.
if ! readelf -l "$busybox" >/dev/null 2>&1 || readelf -l "$busybox" | grep -q 'interpreter'; then
    echo "initramfs.sh: $busybox is not a static binary (apt-get install busybox-static)" >&2; exit 1
fi

for d in /bin /sbin /usr /usr/bin /usr/sbin /dev /proc /sys /tmp /run /root /etc; do
    echo "dir $d 0755"
done
echo "nod /dev/console 0600 c 5 1"
echo "file /init 0755 $agent"
echo "file /bin/busybox 0755 $busybox"
"$busybox" --list-full | sort | while read -r applet; do
    [ "$applet" = bin/busybox ] && continue
    echo "slink /$applet /bin/busybox"
done
