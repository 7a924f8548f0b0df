#!/bin/bash
# tests/bench/lifecycle.sh HULL_BINARY [PEER_BINARY=/usr/sbin/runc] [ROUNDS=200]
#
# create + start + (poll `state` until stopped) + delete of /bin/true in a
# busybox bundle (process.terminal false), the same sequence for hull and a
# peer runtime, interleaved round by round (the order alternates so neither
# always runs on a warm cache).  Each runtime gets its own --root; both use
# the very same config.json.
#
# Reports the mean and median time of the sequence per runtime, the ratio
# hull/peer, and the peak RSS (max over rounds of /usr/bin/time's %M) of each
# runtime command.  RSS is measured in separate, untimed sequences so that
# /usr/bin/time's fork+exec does not add to the timings.
#
# Prints a markdown table for the README.  Never part of the test suite.
set -euo pipefail

usage() { echo "usage: $0 HULL_BINARY [PEER_BINARY=/usr/sbin/runc] [ROUNDS=200]" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 3 ]; then usage; fi
HULL=$(readlink -f "$1")
PEER=$(readlink -f "${2:-/usr/sbin/runc}")
ROUNDS=${3:-200}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || usage
for b in "$HULL" "$PEER"; do
    [ -x "$b" ] || { echo "$0: $b is not executable" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "$0: /usr/bin/time missing (apt-get install -y time)" >&2; exit 2; }
BUSYBOX=/bin/busybox
[ -x $BUSYBOX ] || { echo "$0: $BUSYBOX missing (apt-get install -y busybox-static)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/hull-bench.XXXXXX)
chmod 755 "$WORK"
LIVE=()  # "binary root id" of containers that may need cleaning up
cleanup() {
    for entry in "${LIVE[@]+"${LIVE[@]}"}"; do
        read -r bin root id <<<"$entry"
        "$bin" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---- the bundle ---------------------------------------------------------------
BUNDLE=$WORK/bundle
mkdir -p "$BUNDLE/rootfs"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc}
cp $BUSYBOX "$BUNDLE/rootfs/bin/busybox"
for applet in $($BUSYBOX --list-full); do
    [ -e "$BUNDLE/rootfs/$applet" ] || ln -s /bin/busybox "$BUNDLE/rootfs/$applet"
done
# The peer's `spec` (runc's is the reference), edited identically for both.
(cd "$BUNDLE" && "$PEER" spec)
/usr/bin/python3 - "$BUNDLE/config.json" <<'EOF'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
# runc 1.1's spec lists ambient capabilities that are not inheritable, which
# the kernel cannot grant (runc silently skips them); drop them so that a
# stricter runtime runs the very same config.
c["process"].get("capabilities", {}).pop("ambient", None)
json.dump(c, open(p, "w"), indent=1)
EOF

# By position, not by path: the peer may be the same binary (runc vs runc
# validates the benchmark itself).
declare -A BIN=([hull]=$HULL [peer]=$PEER)

# One lifecycle.  $1 binary, $2 root, $3 id, $4 prefix command (may be empty)
# for create/start/delete, $5 file to append "cmd rss" lines to.
lifecycle() {
    local bin=$1 root=$2 id=$3 wrap=$4 rssfile=$5 st
    LIVE+=("$bin $root $id")
    run_cmd "$wrap" "$rssfile" create "$bin" --root "$root" create --bundle "$BUNDLE" "$id"
    run_cmd "$wrap" "$rssfile" start "$bin" --root "$root" start "$id"
    while :; do
        st=$("$bin" --root "$root" state "$id" 2>/dev/null) || fail "$bin state $id failed"
        [[ $st =~ \"status\":\ *\"stopped\" ]] && break
    done
    run_cmd "$wrap" "$rssfile" delete "$bin" --root "$root" delete "$id"
    unset 'LIVE[-1]'
}

run_cmd() {
    local wrap=$1 rssfile=$2 what=$3
    shift 3
    if [ -n "$wrap" ]; then
        /usr/bin/time -f %M -o "$WORK/rss" "$@" </dev/null >/dev/null 2>"$WORK/err" \
            || fail "$* failed: $(cat "$WORK/err")"
        echo "$what $(cat "$WORK/rss")" >>"$rssfile"
    else
        "$@" </dev/null >/dev/null 2>"$WORK/err" || fail "$* failed: $(cat "$WORK/err")"
    fi
}

fail() { echo "$0: $*" >&2; exit 1; }

# Microseconds from bash's own clock: a $(...) here would fork a subshell
# per reading and add the same ~1 ms to both runtimes, hiding the ratio.

# ---- rounds --------------------------------------------------------------------------
# Warm-up: page cache, the runtimes' own first-run setup.
for n in hull peer; do
    lifecycle "${BIN[$n]}" "$WORK/root-$n" "warm-$n" "" /dev/null
done

: >"$WORK/times"
for ((r = 0; r < ROUNDS; r++)); do
    if ((r % 2 == 0)); then order=(hull peer); else order=(peer hull); fi
    for n in "${order[@]}"; do
        bin=${BIN[$n]}
        t0=${EPOCHREALTIME/./}
        lifecycle "$bin" "$WORK/root-$n" "b$r-$n" "" /dev/null
        t1=${EPOCHREALTIME/./}
        echo "$n $(((10#$t1 - 10#$t0) * 1000))" >>"$WORK/times"
        lifecycle "$bin" "$WORK/root-$n" "m$r-$n" time "$WORK/rss-$n"
    done
    if (((r + 1) % 50 == 0)); then echo "  $((r + 1))/$ROUNDS rounds" >&2; fi
done

# ---- report --------------------------------------------------------------------------
/usr/bin/python3 - "$WORK" "$HULL" "$PEER" "$ROUNDS" <<'EOF'
import os, statistics, sys
work, hull, peer, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
times = {"hull": [], "peer": []}
for line in open(os.path.join(work, "times")):
    n, ns = line.split()
    times[n].append(int(ns) / 1e6)
rss = {}
for n in ("hull", "peer"):
    rss[n] = {}
    for line in open(os.path.join(work, "rss-" + n)):
        cmd, kb = line.split()
        rss[n][cmd] = max(rss[n].get(cmd, 0), int(kb))

def row(label, n):
    t = times[n]
    return "| %s | %.2f | %.2f | %.2f | %s | %s | %s |" % (
        label, statistics.mean(t), statistics.median(t), statistics.pstdev(t),
        *("%.1f" % (rss[n][c] / 1024) for c in ("create", "start", "delete")))

print()
print("create + start + wait + delete of /bin/true, busybox bundle, %d rounds each, interleaved" % rounds)
print()
print("| runtime | mean (ms) | median (ms) | stdev (ms) | peak RSS create (MiB) | start (MiB) | delete (MiB) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
print(row("hull (`%s`)" % hull, "hull"))
print(row("peer (`%s`)" % peer, "peer"))
print()
mean_ratio = statistics.mean(times["hull"]) / statistics.mean(times["peer"])
median_ratio = statistics.median(times["hull"]) / statistics.median(times["peer"])
print("hull/peer time ratio: %.3f (mean), %.3f (median); below 1 means hull is faster" %
      (mean_ratio, median_ratio))
EOF
