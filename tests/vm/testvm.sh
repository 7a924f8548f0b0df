#!/bin/bash
# The test host VM: a clean Linux host (pure cgroup v2 with every
# controller, a working /dev/kvm through nested SVM) made of Debian's
# packages only, booted in QEMU's software emulation.  See tests/vm/README.md.
#
#   tests/vm/testvm.sh prepare [--update]
#       fetch Debian's newest linux-image-6.1.0-N-amd64 (apt-get download,
#       dpkg -x, never installed) into the cache and build the initramfs;
#       cached: a second prepare returns at once.  --update looks for a
#       newer kernel than the cached one (and drops the older from the cache).
#   tests/vm/testvm.sh run [--timeout SECS] [--smp N] [--mem MiB]
#                          [--env NAME=VALUE]... [--share DIR]... [--keep PATH]...
#                          -- COMMAND [ARG...]
#       boot the VM once, run COMMAND in it as root in the same cwd (the
#       host's root is shared read-only with a tmpfs overlay on top), stream
#       its stdout and stderr to stdout, exit with its status.  Its
#       environment: PATH, HOME=/root, HULL_TESTVM=1 and each --env.
#       --share DIR: the host directory DIR, writable, at the same path in
#       the VM (for results).  --keep PATH: a host path under /tmp or /run
#       to keep visible in the VM (the cwd is kept by default); the VM's own
#       /tmp and /run are fresh tmpfs.
#   Exit status: COMMAND's, or 124 when it did not finish within the time
#   limit, 125 when the VM failed (did not boot, crashed, bad usage).
#
# Environment: HULL_TESTVM_CACHE (default /var/cache/hull-testvm),
# HULL_TESTVM_KERNEL (a kernel version such as 6.1.0-56-amd64 instead of
# the newest), HULL_TESTVM_QEMU (default qemu-system-x86_64),
# HULL_TESTVM_DEBUG=1 (the kernel's messages and the init's trace on the
# console; shown with the console's tail when the VM fails),
# HULL_TESTVM_CONSOLE=FILE (a copy of the VM's console log, kept).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${HULL_TESTVM_CACHE:-/var/cache/hull-testvm}
QEMU=${HULL_TESTVM_QEMU:-qemu-system-x86_64}
MODULES="virtio_mmio virtio_console 9pnet_virtio 9p overlay kvm-amd fuse virtiofs tun vhost_vsock"
BOOT_TIMEOUT=120
POWEROFF_GRACE=15
# Bumped when the layout of a kernel's cache directory changes.
STAMP=.ready-2

die() { echo "testvm: $*" >&2; exit 125; }
note() { echo "testvm: $*" >&2; }

# ---- prepare -------------------------------------------------------------------

newest_kernel() {
    apt-cache pkgnames linux-image-6.1.0- 2>/dev/null |
        sed -n 's/^linux-image-\(6\.1\.0-[0-9]*-amd64\)$/\1/p' | sort -V | tail -n 1
}

# The kernel version to use: $HULL_TESTVM_KERNEL, else the cached one, else
# (or with --update) the newest the archive has.
pick_kernel() {
    local update=$1 k
    if [ -n "${HULL_TESTVM_KERNEL:-}" ]; then echo "$HULL_TESTVM_KERNEL"; return; fi
    if [ "$update" = 0 ] && [ -L "$CACHE/current" ] && [ -f "$CACHE/current/$STAMP" ]; then
        readlink "$CACHE/current"
        return
    fi
    k=$(newest_kernel)
    if [ -z "$k" ]; then
        note "apt-cache knows no linux-image-6.1.0-*-amd64: running apt-get update"
        apt-get update -qq >&2 || true
        k=$(newest_kernel)
    fi
    if [ -z "$k" ] && [ -L "$CACHE/current" ]; then k=$(readlink "$CACHE/current"); fi
    [ -n "$k" ] || die "no linux-image-6.1.0-*-amd64 package in apt's lists (is Debian bookworm's archive configured?)"
    echo "$k"
}

# The uncompressed ELF kernel inside a bzImage (xz: Debian's).  QEMU boots
# it through its PVH entry point: the bzImage's own decompressor takes
# 4-5 s under TCG, this takes none.
extract_vmlinux() {
    local off
    off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$1" | head -n 1 | cut -d: -f1)
    [ -n "$off" ] || return 1
    tail -c "+$((off + 1))" "$1" | xz -dcq >"$2" 2>/dev/null
    [ "$(head -c 4 "$2" | od -An -c | tr -d ' ')" = 177ELF ]
}

# $CACHE/KVER/{vmlinux,root/}: the package unpacked once (modules included,
# with depmod run on them, for modprobe inside the VM).
fetch_kernel() {
    local kver=$1 dir=$CACHE/$1 tmp deb
    [ -f "$dir/$STAMP" ] && return 0
    note "fetching linux-image-$kver into $dir"
    tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX")
    chmod 755 "$tmp"
    # (apt's sandbox user cannot write into the cache: apt warns, and
    # downloads as root.)
    if ! (cd "$tmp" && apt-get download -q "linux-image-$kver") >"$tmp/apt.log" 2>&1; then
        cat "$tmp/apt.log" >&2
        rm -rf "$tmp"
        die "apt-get download linux-image-$kver failed"
    fi
    deb=$(find "$tmp" -maxdepth 1 -name "linux-image-${kver}_*.deb" | head -n 1)
    if [ -z "$deb" ] || ! dpkg -x "$deb" "$tmp/root" ||
            ! depmod -b "$tmp/root" "$kver" ||
            ! extract_vmlinux "$tmp/root/boot/vmlinuz-$kver" "$tmp/vmlinux"; then
        rm -rf "$tmp"
        die "cannot unpack linux-image-$kver (dpkg -x, depmod, vmlinux from vmlinuz)"
    fi
    rm -f "$deb" "$tmp/apt.log"
    touch "$tmp/$STAMP"
    rm -rf "$dir"
    mv "$tmp" "$dir"
}

# The modules to load, dependencies first, each once, as paths relative to
# the module tree.
module_list() {
    local kver=$1 root=$CACHE/$1/root m
    for m in $MODULES; do
        modprobe -d "$root" -S "$kver" --show-depends "$m" ||
            die "modprobe --show-depends $m failed for $kver"
    done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' |
        sed "s|^$root/lib/modules/$kver/||"
}

# initramfs-HASH.cpio, HASH over everything that goes into it.
build_initramfs() {
    local kver=$1 dir=$CACHE/$1 mods key img stage m
    mods=$(module_list "$kver")
    ldd /bin/busybox >/dev/null 2>&1 &&
        die "/bin/busybox is dynamically linked: install busybox-static"
    key=$( { echo "$kver"; echo "$mods"; cat "$HERE/init"; sha256sum /bin/busybox; } |
        sha256sum | cut -c1-16)
    img=$dir/initramfs-$key.cpio
    if [ -f "$img" ]; then touch "$img"; echo "$img"; return; fi
    note "building $img"
    stage=$(mktemp -d "$CACHE/.initramfs.XXXXXX")
    mkdir -p "$stage/bin" "$stage/dev" "$stage/lib/modules"
    cp /bin/busybox "$stage/bin/busybox"
    for m in $(/bin/busybox --list); do
        [ "$m" = busybox ] || ln -s busybox "$stage/bin/$m"
    done
    install -m 0755 "$HERE/init" "$stage/init"
    for m in $mods; do
        cp "$dir/root/lib/modules/$kver/$m" "$stage/lib/modules/"
        basename "$m" >>"$stage/lib/modules/order"
    done
    echo "$dir/root/lib/modules/$kver" >"$stage/lib/modules/tree"
    mknod "$stage/dev/console" c 5 1
    # Not compressed: QEMU loads 7 MB in no time, gunzip under TCG takes 0.3 s.
    (cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$img.tmp"
    rm -rf "$stage"
    mv "$img.tmp" "$img"
    # Images of other versions of the init (other checkouts may still use
    # them: only those unused for a day go).
    find "$dir" -maxdepth 1 -name 'initramfs-*.cpio' -mmin +1440 -delete
    echo "$img"
}

# Prints "KERNEL INITRAMFS".
prepare() {
    local update=0 kver img
    [ "${1:-}" = --update ] && update=1
    [ "$(id -u)" = 0 ] || die "must run as root (apt-get download, 9p with security_model=none)"
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9
    # Left by a prepare that was killed (we hold the lock: none is running).
    rm -rf "$CACHE"/.fetch.* "$CACHE"/.initramfs.*
    kver=$(pick_kernel "$update")
    fetch_kernel "$kver"
    img=$(build_initramfs "$kver")
    if [ "$update" = 1 ] && [ "$(readlink "$CACHE/current" 2>/dev/null)" != "$kver" ]; then
        find "$CACHE" -mindepth 1 -maxdepth 1 -type d -name '6.1.0-*' ! -name "$kver" \
            -exec rm -rf {} +
    fi
    ln -sfn "$kver" "$CACHE/current"
    exec 9>&-
    echo "$CACHE/$kver/vmlinux $img"
}

# ---- run -----------------------------------------------------------------------

# The guest's TSC is the host's (TCG reads the host's TSC), so tell the guest
# its rate: calibrating it against the emulated PIT fails when the host is
# busy, and the guest then hangs without a clocksource.
host_tsc_khz() {
    local mhz
    mhz=$(dmesg 2>/dev/null | sed -n -e 's/.*tsc: Refined TSC clocksource calibration: \([0-9.]*\) MHz.*/\1/p' \
        -e 's/.*tsc: Detected \([0-9.]*\) MHz.*/\1/p' | tail -n 1)
    [ -n "$mhz" ] || mhz=$(awk '/^cpu MHz/ { print $4; exit }' /proc/cpuinfo)
    [ -n "$mhz" ] || return 0
    awk -v m="$mhz" 'BEGIN { printf "%d\n", m * 1000 }'
}

# 'x' -> a single-quoted word for sh.
shq() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }

RUN_DIR=
QEMU_PID=
CAT_PID=
cleanup() {
    if [ -n "${HULL_TESTVM_CONSOLE:-}" ] && [ -f "$RUN_DIR/console.log" ]; then
        tr -d '\r' <"$RUN_DIR/console.log" >"$HULL_TESTVM_CONSOLE" || true
    fi
    if [ -n "$QEMU_PID" ]; then kill -KILL "$QEMU_PID" 2>/dev/null || true; fi
    if [ -n "$CAT_PID" ]; then kill -KILL "$CAT_PID" 2>/dev/null || true; fi
    if [ -n "$RUN_DIR" ]; then rm -rf "$RUN_DIR"; fi
}

console_tail() {
    echo "testvm: --- last lines of the VM's console ($1 lines)" >&2
    if [ -s "$RUN_DIR/console.log" ]; then
        tail -n "$1" "$RUN_DIR/console.log" | tr -d '\r' >&2
    else
        echo "(empty)" >&2
    fi
    if [ -s "$RUN_DIR/qemu.log" ]; then
        echo "testvm: --- QEMU's messages" >&2
        tail -n 20 "$RUN_DIR/qemu.log" >&2
    fi
    if [ -s "$RUN_DIR/ctl/vm-error" ]; then
        echo "testvm: --- the VM's init said: $(cat "$RUN_DIR/ctl/vm-error")" >&2
    fi
}

# Lets cat reach the end of the output FIFO, then waits for it.  Opening
# the FIFO read-write never blocks, and gives a cat still blocked in its own
# open (QEMU never opened the FIFO) a writer to see go away.
finish_output() {
    [ -n "$CAT_PID" ] || return 0
    { exec 8<>"$RUN_DIR/out.out"; exec 8>&-; } 2>/dev/null || true
    wait "$CAT_PID" 2>/dev/null || true
    CAT_PID=
}

stop_qemu() {
    kill -TERM "$QEMU_PID" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        kill -0 "$QEMU_PID" 2>/dev/null || break
        sleep 0.2
    done
    kill -KILL "$QEMU_PID" 2>/dev/null || true
    wait "$QEMU_PID" 2>/dev/null || true
    QEMU_PID=
    finish_output
}

run() {
    local timeout=1800 smp=2 mem=2048 envs=() shares=() keeps=() a
    while [ $# -gt 0 ]; do
        case $1 in
            --timeout) timeout=${2:?}; shift 2 ;;
            --smp) smp=${2:?}; shift 2 ;;
            --mem) mem=${2:?}; shift 2 ;;
            --env) envs+=("${2:?}"); shift 2 ;;
            --share) shares+=("${2:?}"); shift 2 ;;
            --keep) keeps+=("${2:?}"); shift 2 ;;
            --) shift; break ;;
            *) usage ;;
        esac
    done
    [ $# -gt 0 ] || usage
    case $timeout$smp$mem in *[!0-9]*) die "--timeout, --smp and --mem take whole numbers" ;; esac
    command -v "$QEMU" >/dev/null || die "$QEMU not found (apt-get install qemu-system-x86)"

    local kernel initrd
    read -r kernel initrd < <(prepare) || exit 125
    [ -f "$kernel" ] && [ -f "$initrd" ] || die "prepare failed"

    RUN_DIR=$(mktemp -d /tmp/hull-testvm.XXXXXX)
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    local ctl=$RUN_DIR/ctl
    mkdir -p "$ctl"
    : >"$ctl/shares"

    local cwd job
    cwd=$(pwd -P)
    printf '%s\n' "$cwd" >"$ctl/keep"
    for a in "${keeps[@]}"; do
        [ -d "$a" ] || die "--keep $a: not a directory"
        printf '%s\n' "$(cd "$a" && pwd -P)" >>"$ctl/keep"
    done

    local qargs=() i=0 d
    for a in "${shares[@]}"; do
        [ -d "$a" ] || die "--share $a: not a directory"
        d=$(cd "$a" && pwd -P)
        case $d in /|/proc*|/sys*|/dev*|*,*|*$'\n'*) die "--share $d: not shareable (a system directory, or a comma or newline in the path)" ;; esac
        printf '%s\n' "$d" >>"$ctl/shares"
        qargs+=(-fsdev "local,id=s$i,path=$d,security_model=none,multidevs=remap"
                -device "virtio-9p-device,fsdev=s$i,mount_tag=s$i")
        i=$((i + 1))
    done

    job="export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root HULL_TESTVM=1"$'\n'
    for a in "${envs[@]}"; do
        [[ $a =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env $a: expected NAME=VALUE"
        job+="export ${a%%=*}=$(shq "${a#*=}")"$'\n'
    done
    job+="cd $(shq "$cwd") || exit 125"$'\n'
    job+="exec"
    for a in "$@"; do job+=" $(shq "$a")"; done
    printf '%s\n' "$job" >"$ctl/job.sh"

    local khz append="console=ttyS0 panic=-1 rdinit=/init cgroup_no_v1=all mitigations=off"
    append+=" tsc=reliable no_timer_check random.trust_cpu=on"
    khz=${HULL_TESTVM_TSC_KHZ:-$(host_tsc_khz)}
    # lpj (loops per jiffy at HZ=250, Debian's) spares every vCPU its
    # delay-loop calibration, which is timer-based too.
    if [ -n "$khz" ]; then append+=" tsc_early_khz=$khz lpj=$((khz * 4))"; fi
    if [ -n "${HULL_TESTVM_DEBUG:-}" ]; then append+=" testvm.debug"; fi
    # The command's output: a virtio-serial port, to a FIFO that cat copies
    # to our stdout (QEMU opens it O_RDWR: a FIFO, unlike stdio, never hangs
    # up, and a port whose host side hung up blocks the guest's writes).
    # QEMU's own messages go to qemu.log, the kernel's console to console.log.
    # If our stdout goes away (`| head`), the rest is drained to /dev/null
    # through the same open FIFO: QEMU must always have a reader, or the
    # guest's writes block for ever.
    mkfifo "$RUN_DIR/out.in" "$RUN_DIR/out.out"
    (exec 3<"$RUN_DIR/out.out"; cat <&3 || exec cat <&3 >/dev/null) &
    CAT_PID=$!
    "$QEMU" -M microvm,x-option-roms=off -cpu max -smp "$smp" -m "$mem" \
        -nodefaults -no-user-config -display none -no-reboot \
        -kernel "$kernel" -initrd "$initrd" -append "$append" \
        -serial "file:$RUN_DIR/console.log" \
        -fsdev local,id=host,path=/,security_model=none,readonly=on,multidevs=remap \
        -device virtio-9p-device,fsdev=host,mount_tag=host \
        -fsdev "local,id=ctl,path=$ctl,security_model=none,multidevs=remap" \
        -device virtio-9p-device,fsdev=ctl,mount_tag=hullctl \
        "${qargs[@]}" \
        -device virtio-serial-device \
        -chardev "pipe,id=out,path=$RUN_DIR/out" -device virtserialport,chardev=out,name=hull.out \
        </dev/null >"$RUN_DIR/qemu.log" 2>&1 &
    QEMU_PID=$!
    # Should this script be killed without stopping QEMU, this stops it.
    # (Not prctl's PDEATHSIG: QEMU's 9p server changes its fsuid, which
    # clears it.)
    (
        trap - EXIT INT TERM
        # Our parent is this script until it dies (even as a zombie).
        while read -r _ _ _ ppid _ <"/proc/$BASHPID/stat" && [ "$ppid" = $$ ] &&
                kill -0 "$QEMU_PID" 2>/dev/null; do
            sleep 1
        done
        kill -KILL "$QEMU_PID" 2>/dev/null
    ) </dev/null >/dev/null 2>&1 &

    local start=$SECONDS said=0 ended=
    while kill -0 "$QEMU_PID" 2>/dev/null; do
        if [ $said = 0 ] && [ -s "$ctl/summary" ]; then
            cat "$ctl/summary" >&2
            said=1
        fi
        # The result is in (the guest wrote its output before the status):
        # a guest whose power-off hangs (seen once under heavy load: the
        # kernel halted in the ACPI power-off) must not hold us.
        if [ -z "$ended" ] && [ -s "$ctl/status" ]; then ended=$SECONDS; fi
        if [ -n "$ended" ] && [ $((SECONDS - ended)) -ge $POWEROFF_GRACE ]; then
            echo "testvm: the VM did not power off ${POWEROFF_GRACE} s after the command ended: QEMU stopped" >&2
            stop_qemu
            break
        fi
        if [ ! -s "$ctl/booted" ] && [ $((SECONDS - start)) -ge $BOOT_TIMEOUT ]; then
            stop_qemu
            echo "testvm: the VM did not boot within $BOOT_TIMEOUT s" >&2
            console_tail 40
            exit 125
        fi
        if [ $((SECONDS - start)) -ge "$timeout" ]; then
            stop_qemu
            echo "testvm: no result within the time limit ($timeout s): VM stopped" >&2
            console_tail 40
            exit 124
        fi
        sleep 0.1
    done
    if [ -n "$QEMU_PID" ]; then wait "$QEMU_PID" || true; fi
    QEMU_PID=
    finish_output
    if [ -s "$ctl/status" ]; then
        [ $said = 1 ] || [ ! -s "$ctl/summary" ] || cat "$ctl/summary" >&2
        return "$(cat "$ctl/status")"
    fi
    if [ ! -s "$ctl/booted" ]; then
        echo "testvm: the VM did not boot (QEMU exited before the init ran)" >&2
    else
        echo "testvm: the VM stopped without a result (the init reached $(cat "$ctl/booted"))" >&2
    fi
    console_tail 40
    exit 125
}

usage() {
    sed -n '/^#   tests\/vm/,/^#   Exit status/p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 125
}

case ${1:-} in
    prepare) shift; prepare "$@" >/dev/null; echo "testvm: ready: $(readlink "$CACHE/current")" ;;
    run) shift; run "$@" ;;
    *) usage ;;
esac
