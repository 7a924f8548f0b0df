#!/bin/sh
# vm-shim/guest/build-kernel.sh: hull's guest kernel, built once per
# (source, config) and cached outside the source tree.
#
#   build-kernel.sh         build if needed; print the path of the vmlinux
#
# The source is Debian's linux-source-6.1 (/usr/src/linux-source-6.1.tar.xz);
# the config is `make tinyconfig` plus vm-shim/guest/hull-guest.config.  The
# cache key hashes the fragment, this script and the source package's
# version, so a change to any of them builds a new kernel.
#
# Environment: HULL_GUEST_CACHE (default /var/cache/hull-guest),
# HULL_GUEST_JOBS (make -j, default: the number of CPUs).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${HULL_GUEST_CACHE:-/var/cache/hull-guest}
TARBALL=/usr/src/linux-source-6.1.tar.xz
JOBS=${HULL_GUEST_JOBS:-$(nproc)}

die() { echo "build-kernel: $*" >&2; exit 1; }

[ -f "$TARBALL" ] || die "$TARBALL is missing: apt-get install linux-source-6.1 flex bison libelf-dev bc"
for tool in flex bison bc make gcc xz; do
    command -v "$tool" >/dev/null || die "$tool is missing: apt-get install linux-source-6.1 flex bison libelf-dev bc"
done

version=$(dpkg-query -W -f '${Version}' linux-source-6.1 2>/dev/null || stat -c %s-%Y "$TARBALL")
key=$( { echo "$version"; cat "$HERE/hull-guest.config" "$0"; } | sha256sum | cut -c1-16)
out=$CACHE/$key
if [ -f "$out/vmlinux" ]; then echo "$out/vmlinux"; exit 0; fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if [ -f "$out/vmlinux" ]; then echo "$out/vmlinux"; exit 0; fi

work=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "build-kernel: building $out/vmlinux from $TARBALL ($version)" >&2
tar -C "$work" -xJf "$TARBALL"
src=$work/linux-source-6.1
make -C "$src" -s tinyconfig >&2
"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "$HERE/hull-guest.config" >&2
make -C "$src" -s olddefconfig >&2
# Every line of the fragment must have survived olddefconfig: a dependency
# that is not met drops an option silently.
missing=$(grep -E '^(CONFIG_[A-Z0-9_]+=.*|# CONFIG_[A-Z0-9_]+ is not set)$' "$HERE/hull-guest.config" |
    while read -r line; do grep -qxF "$line" "$src/.config" || echo "$line"; done)
[ -z "$missing" ] || die "options of hull-guest.config not in the final .config: $missing"
make -C "$src" -s -j"$JOBS" vmlinux >&2
mkdir -p "$work/out"
cp "$src/vmlinux" "$src/.config" "$work/out/"
rm -rf "$out"
mv "$work/out" "$out"
echo "$out/vmlinux"
