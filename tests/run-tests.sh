#!/bin/sh
# tests/run-tests.sh BUILD_DIR [unit|integration|containerd|fuzz|vm|containerd-vm]
#
# Runs the unit test binaries BUILD_DIR/tests/test_* and the integration
# suite (pytest, tests/integration) against BUILD_DIR/hull, under the
# sanitizers' runtime options, then the suites that need a pure cgroup2
# host with KVM (tests/integration-vm) inside one test host VM
# (tests/vm/README.md); the containerd and podman suites (tests/containerd,
# tests/podman) run on this host and, in part, in a second VM; it ends with one line:
#     N passed, N failed
# Exit status is non-zero if anything failed.  Nothing is skipped silently:
# a unit binary that dies without its summary line counts as a failure, and
# pytest's skips are listed with their reasons.
#
# Environment: PYTEST_ARGS (extra pytest arguments, e.g. "-k hooks -x"),
# VM_PYTEST_ARGS (the same for the vm stage), VM_TIMEOUT (seconds, default
# 1800: the whole vm stage, boot included; about 5 min on a quiet machine),
# VM_SMP (the vm stage's vCPUs, default 1), HULL_TEST_WATCHDOG (seconds a
# vm-stage test may run before its processes' stacks are printed and its hull
# processes killed, default 420), CONTAINERD_PYTEST_ARGS,
# CONTAINERD_VM_TIMEOUT (default 900).
set -u

usage() { echo "usage: $0 BUILD_DIR [unit|integration|containerd|fuzz|vm|containerd-vm]" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
BUILD=$1
WHAT=${2:-all}
case $WHAT in all|unit|integration|containerd|fuzz|vm|containerd-vm) ;; *) usage ;; esac
[ -d "$BUILD" ] || { echo "$0: no build directory $BUILD" >&2; exit 2; }
BUILD=$(cd "$BUILD" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)

# Sanitizer runtime options for everything below (the unit binaries, hull,
# and whatever hull re-executes).  Caller's settings are kept in front.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1"
UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS UBSAN_OPTIONS

PASSED=0
FAILED=0
TMP=$(mktemp -d /tmp/hull-run-tests.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

run_unit() {
    found=0
    for t in "$BUILD"/tests/test_*; do
        if [ ! -f "$t" ] || [ ! -x "$t" ]; then continue; fi
        found=1
        name=$(basename "$t")
        echo "== unit: $name"
        "$t" >"$TMP/unit.out" 2>&1
        rc=$?
        cat "$TMP/unit.out"
        # The harness's last line: "suite: N passed, N failed".
        line=$(grep -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed$' "$TMP/unit.out" | tail -n 1)
        if [ -z "$line" ]; then
            echo "!! $name: exited with status $rc without a summary line: counted as 1 failure"
            FAILED=$((FAILED + 1))
            continue
        fi
        p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/')
        f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/')
        PASSED=$((PASSED + p))
        FAILED=$((FAILED + f))
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            # All checks passed but the process failed: a sanitizer report
            # (leak at exit) or a crash after the summary.
            echo "!! $name: exited with status $rc after reporting no failures: counted as 1 failure"
            FAILED=$((FAILED + 1))
        fi
    done
    if [ $found -eq 0 ]; then
        if ls "$SRC"/tests/unit/test_*.c >/dev/null 2>&1; then
            echo "!! unit: sources tests/unit/test_*.c exist but no binaries in $BUILD/tests (run make asan): counted as 1 failure"
            FAILED=$((FAILED + 1))
        else
            echo "== unit: there are no unit tests yet (tests/unit/test_*.c): nothing run"
        fi
    fi
}

run_integration() {
    echo "== integration: HULL=$BUILD/hull"
    if [ ! -x "$BUILD/hull" ]; then
        echo "!! integration: $BUILD/hull is missing: counted as 1 failure"
        FAILED=$((FAILED + 1))
        return
    fi
    xml="$TMP/junit.xml"
    # shellcheck disable=SC2086
    (cd "$SRC" && HULL="$BUILD/hull" /usr/bin/python3 -m pytest -q -rfEs \
        -p no:cacheprovider --junitxml="$xml" ${PYTEST_ARGS:-} tests/integration)
    count_junit integration "$xml" $?
}

# count_junit STAGE XML PYTEST_STATUS: adds pytest's results to the totals.
count_junit() {
    stage=$1 xml=$2 rc=$3
    if [ ! -s "$xml" ]; then
        echo "!! $stage: pytest exited with status $rc and no results: counted as 1 failure"
        FAILED=$((FAILED + 1))
        return
    fi
    counts=$(/usr/bin/python3 - "$xml" <<'EOF'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = f = s = 0
for su in suites:
    t += int(su.get("tests", 0))
    f += int(su.get("failures", 0)) + int(su.get("errors", 0))
    s += int(su.get("skipped", 0))
print(t - f - s, f, s)
EOF
)
    # shellcheck disable=SC2086 # three numbers, split on purpose
    set -- $counts
    PASSED=$((PASSED + $1))
    FAILED=$((FAILED + $2))
    if [ "$3" -ne 0 ]; then
        echo "!! $stage: $3 skipped (reasons listed above)"
    fi
    if [ "$rc" -ne 0 ] && [ "$2" -eq 0 ]; then
        echo "!! $stage: pytest exited with status $rc with no failed test: counted as 1 failure"
        FAILED=$((FAILED + 1))
    fi
}

# tests/integration-vm, in one test host VM booted for the whole directory.
# The VM sees the host's tree read-only (the build and the sources) and
# writes pytest's junit xml into $TMP/vm, shared writable at the same path.
# A VM that does not boot, or no result in time, counts as a failure.
run_vm() {
    echo "== vm: tests/integration-vm in the test host VM, HULL=$BUILD/hull"
    if [ ! -x "$BUILD/hull" ]; then
        echo "!! vm: $BUILD/hull is missing: counted as 1 failure"
        FAILED=$((FAILED + 1))
        return
    fi
    share="$TMP/vm"
    mkdir -p "$share"
    xml="$share/junit.xml"
    # shellcheck disable=SC2086
    # One vCPU (VM_SMP): with two, the test host VM froze in about one run
    # of the stage in three (its KVM, nested under TCG, spinning in
    # __apic_accept_irq on both CPUs: docs/vmm.md, "Tests").
    (cd "$SRC" && tests/vm/testvm.sh run --timeout "${VM_TIMEOUT:-1800}" --smp "${VM_SMP:-1}" \
        --share "$share" --keep "$BUILD" --env "HULL=$BUILD/hull" \
        --env "HULL_TEST_WATCHDOG=${HULL_TEST_WATCHDOG:-420}" \
        --env "ASAN_OPTIONS=$ASAN_OPTIONS" --env "UBSAN_OPTIONS=$UBSAN_OPTIONS" \
        -- \
        /usr/bin/python3 -m pytest -q -rfEs -p no:cacheprovider --junitxml="$xml" \
        ${VM_PYTEST_ARGS:-} tests/integration-vm)
    rc=$?
    case $rc in
        124|125) echo "!! vm: the test host VM failed (testvm.sh status $rc, see above)" ;;
    esac
    count_junit vm "$xml" $rc
}

# containerd 1.6 (its runc shim through ctr, and the CRI socket) and podman
# 4.3 driving hull: tests/containerd and tests/podman.  Each session starts
# its own daemon or storage under /tmp and removes it, even after a failure.
run_containerd() {
    echo "== containerd: tests/containerd and tests/podman, HULL=$BUILD/hull"
    if [ ! -x "$BUILD/hull" ]; then
        echo "!! containerd: $BUILD/hull is missing: counted as 1 failure"
        FAILED=$((FAILED + 1))
        return
    fi
    for suite in containerd podman; do
        xml="$TMP/junit-$suite.xml"
        # SIGINT on timeout: pytest still runs the fixtures' teardown.
        # shellcheck disable=SC2086
        (cd "$SRC" && HULL="$BUILD/hull" timeout -s INT -k 60 900 /usr/bin/python3 -m pytest -q \
            -rfEsx -p no:cacheprovider --junitxml="$xml" ${CONTAINERD_PYTEST_ARGS:-} "tests/$suite")
        count_junit "$suite" "$xml" $?
    done
}

# In one test host VM (pure cgroup2, all controllers): what needs it
# (ctr metrics and the memory limit, podman's pids limit), the CRI pod
# (the VM's root has CAP_SYS_RESOURCE), podman's AppArmor profile (the VM
# has AppArmor), and a few of the others.  Not all of them: under QEMU's
# emulation each test takes 10-20 s.
CONTAINERD_VM_TESTS="tests/containerd/test_ctr_cgroup.py tests/containerd/test_cri.py
 tests/containerd/test_ctr.py::test_run_rm_output_and_exit_code
 tests/containerd/test_ctr.py::test_detached_task_ls_ps_exec
 tests/containerd/test_ctr.py::test_shim_invocations"
PODMAN_VM_TESTS="tests/podman/test_podman.py::test_run_rm_echo
 tests/podman/test_podman.py::test_detached_exec_stop_rm
 tests/podman/test_podman.py::test_pids_limit_unlimited
 tests/podman/test_podman.py::test_apparmor_default_profile"
run_containerd_vm() {
    echo "== containerd-vm: containerd and podman tests in the test host VM, HULL=$BUILD/hull"
    if [ ! -x "$BUILD/hull" ]; then
        echo "!! containerd-vm: $BUILD/hull is missing: counted as 1 failure"
        FAILED=$((FAILED + 1))
        return
    fi
    share="$TMP/containerd-vm"
    mkdir -p "$share"
    # One boot, two pytest runs: each leaves its junit xml and status in $share.
    # shellcheck disable=SC2016
    script='py="/usr/bin/python3 -m pytest -q -rfEsx -p no:cacheprovider"
        $py --junitxml="$1/junit-containerd.xml" $2; echo $? >"$1/rc-containerd"
        $py --junitxml="$1/junit-podman.xml" $3; echo $? >"$1/rc-podman"'
    (cd "$SRC" && tests/vm/testvm.sh run --timeout "${CONTAINERD_VM_TIMEOUT:-900}" \
        --share "$share" --keep "$BUILD" --env "HULL=$BUILD/hull" \
        --env "ASAN_OPTIONS=$ASAN_OPTIONS" --env "UBSAN_OPTIONS=$UBSAN_OPTIONS" -- \
        sh -c "$script" sh "$share" "$CONTAINERD_VM_TESTS" "$PODMAN_VM_TESTS")
    rc=$?
    case $rc in
        124|125) echo "!! containerd-vm: the test host VM failed (testvm.sh status $rc, see above)" ;;
    esac
    for suite in containerd podman; do
        count_junit "$suite-vm" "$share/junit-$suite.xml" "$(cat "$share/rc-$suite" 2>/dev/null || echo "$rc")"
    done
}

# A short run of every fuzzer (build-fuzz/, made by `make fuzz-bins`) on its
# seed corpus: each fuzzer counts as one test.
run_fuzz() {
    out=$("$SRC/tests/run-fuzzers.sh" "${FUZZ_SECONDS:-20}" 2>&1)
    echo "$out"
    line=$(echo "$out" | grep -E '^fuzz: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    if [ -z "$line" ]; then
        echo "!! fuzz: no summary line: counted as 1 failure"
        FAILED=$((FAILED + 1))
        return
    fi
    PASSED=$((PASSED + $(echo "$line" | sed -E 's/fuzz: ([0-9]+) passed.*/\1/')))
    FAILED=$((FAILED + $(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')))
}

case $WHAT in
    all) run_unit; run_integration; run_containerd; run_fuzz; run_vm; run_containerd_vm ;;
    fuzz) run_fuzz ;;
    unit) run_unit ;;
    integration) run_integration ;;
    containerd) run_containerd ;;
    containerd-vm) run_containerd_vm ;;
    vm) run_vm ;;
esac

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
