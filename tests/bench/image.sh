#!/bin/bash
# tests/bench/image.sh [HULL] [ROUNDS]
#
# Import + unpack of a multi-layer Debian image, hull against `umoci unpack`,
# side by side (interleaved, `sync` before each timed command, a fresh store
# or target each round), then an identity check: hull's overlay rootfs and
# umoci's rootfs compared file by file (type, content, mode, owner, xattrs,
# symlink targets, hardlinks, mtimes) with tests/integration/test_image_compare.py.
#
# The image is made once and cached outside the source tree in
# $HULL_BENCH_CACHE (default /var/cache/hull-bench): debootstrap's minbase
# bookworm plus python3 and perl (about 330 MB, 11,000 files), split by
# umoci into 4 gzip layers (base, usr/lib, usr/share, and a last layer that
# deletes usr/share/doc and adds files), in an OCI layout.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
HULL=${1:-$SRC/build/hull}
ROUNDS=${2:-3}
CACHE=${HULL_BENCH_CACHE:-/var/cache/hull-bench}
HULL=$(readlink -f "$HULL")
[ "$(id -u)" = 0 ] || { echo "$0: needs root" >&2; exit 2; }
for p in umoci debootstrap; do
  command -v $p >/dev/null || apt-get install -y -qq $p >/dev/null
done
mkdir -p "$CACHE"

if [ ! -d "$CACHE/rootfs" ]; then
  echo "== debootstrap (once) into $CACHE/rootfs"
  rm -rf "$CACHE/rootfs.tmp"
  debootstrap --variant=minbase --include=python3,perl,libglib2.0-0,openssl,ca-certificates \
    bookworm "$CACHE/rootfs.tmp" http://deb.debian.org/debian >"$CACHE/debootstrap.log"
  mv "$CACHE/rootfs.tmp" "$CACHE/rootfs"
fi

if [ ! -f "$CACHE/oci/index.json" ]; then
  echo "== splitting the rootfs into layers with umoci (once)"
  rm -rf "$CACHE/oci" "$CACHE/work"
  umoci init --layout "$CACHE/oci"
  umoci new --image "$CACHE/oci:debian"
  umoci unpack --image "$CACHE/oci:debian" "$CACHE/work" >/dev/null
  R=$CACHE/work/rootfs
  (cd "$CACHE/rootfs" && tar --exclude=./usr/lib --exclude=./usr/share -cf - .) | tar -C "$R" -xpf -
  umoci repack --refresh-bundle --image "$CACHE/oci:debian" "$CACHE/work"
  mkdir -p "$R/usr/lib" && (cd "$CACHE/rootfs/usr/lib" && tar -cf - .) | tar -C "$R/usr/lib" -xpf -
  umoci repack --refresh-bundle --image "$CACHE/oci:debian" "$CACHE/work"
  mkdir -p "$R/usr/share" && (cd "$CACHE/rootfs/usr/share" && tar -cf - .) | tar -C "$R/usr/share" -xpf -
  umoci repack --refresh-bundle --image "$CACHE/oci:debian" "$CACHE/work"
  rm -rf "$R/usr/share/doc" "$R/etc/motd"
  echo changed >"$R/etc/hostname"
  ln "$R/usr/bin/perl" "$R/usr/local/bin/perl-link"
  cp "$R/usr/bin/env" "$R/usr/local/bin/suid-env" && chmod 4755 "$R/usr/local/bin/suid-env"
  umoci repack --refresh-bundle --image "$CACHE/oci:debian" "$CACHE/work"
  umoci config --image "$CACHE/oci:debian" --config.cmd /bin/bash
  umoci gc --layout "$CACHE/oci"
  rm -rf "$CACHE/work"
fi

blobs=$(du -sb "$CACHE/oci/blobs" | cut -f1)
layers=$(python3 -c "import json,sys;m=json.load(open(sys.argv[1]));print(m['manifests'][0]['digest'][7:])" "$CACHE/oci/index.json")
layers=$(python3 -c "import json,sys;print(len(json.load(open(sys.argv[1]))['layers']))" "$CACHE/oci/blobs/sha256/$layers")
echo "== image: $layers layers, $((blobs / 1048576)) MiB of blobs; $ROUNDS rounds, interleaved"

WORK=$(mktemp -d /var/tmp/hull-bench-image.XXXXXX)
cleanup() {
  for d in "$WORK"/tmpfs "$WORK"/disk; do
    # stores of earlier rounds may hold nothing mounted; remove them as files
    HULL_IMAGE_ROOT=$d/store "$HULL" image unbundle "$d/bundle" >/dev/null 2>&1 || true
  done
  umount "$WORK/tmpfs" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/tmpfs" "$WORK/disk"
mount -t tmpfs -o size=6g tmpfs "$WORK/tmpfs"

now() { date +%s.%N; }
mean() { printf "%s\n" "$@" | awk '{s+=$1} END {printf "%.3f", s/NR}'; }

# bench DIR LABEL SYNC: ROUNDS interleaved rounds with the store and umoci's
# target in DIR; with SYNC=1 each timed command ends with `sync` (time until
# the data is on disk: hull's import is durable by design, umoci's is not).
bench() {
  local dir=$1 label=$2 dosync=$3 hull_times=() umoci_times=() i t0 t1 t2 t3 h u
  # A fresh pair of directories per round, removed only at the end: ext4
  # slows down creating inodes right after thousands were deleted
  # (recently_deleted()), which would tax whichever tool runs next.
  for i in $(seq 1 "$ROUNDS"); do
    [ "$i" = "$ROUNDS" ] || { mkdir -p "$dir/old$i"; }
    sync
    t0=$(now)
    HULL_IMAGE_ROOT=$dir/store "$HULL" image import -q "$CACHE/oci" >/dev/null
    [ "$dosync" = 1 ] && sync
    t1=$(now)
    sync
    t2=$(now)
    umoci unpack --image "$CACHE/oci:debian" "$dir/umoci" >/dev/null
    [ "$dosync" = 1 ] && sync
    t3=$(now)
    h=$(echo "$t1 - $t0" | bc); u=$(echo "$t3 - $t2" | bc)
    hull_times+=("$h"); umoci_times+=("$u")
    printf "  %s round %d: hull %.3f s, umoci %.3f s\n" "$label" "$i" "$h" "$u"
    # keep this round's trees (out of the way) until the end
    if [ "$i" != "$ROUNDS" ]; then mv "$dir/store" "$dir/umoci" "$dir/old$i/"; fi
  done
  local hm um
  hm=$(mean "${hull_times[@]}"); um=$(mean "${umoci_times[@]}")
  echo "== $label mean: hull $hm s, umoci $um s, hull/umoci = $(echo "scale=3; $hm / $um" | bc)"
}

bench "$WORK/tmpfs" "tmpfs" 0
bench "$WORK/disk" "disk (+sync)" 1

echo "== identity check: hull's overlay rootfs vs umoci's rootfs"
rc=0
for d in "$WORK/tmpfs" "$WORK/disk"; do
  HULL_IMAGE_ROOT=$d/store "$HULL" image bundle debian "$d/bundle"
  python3 "$SRC/tests/integration/test_image_compare.py" "$d/bundle/rootfs" "$d/umoci/rootfs" || rc=1
done
exit $rc
