#!/usr/bin/env python3
"""Where a guest's boot spends its time, seen from the host: a sampling
profile of `hull vm-run -- /bin/true` taken from KVM's exits.

Run in the test host VM (`make profile-vm`), as root:

    tests/bench/vm-profile.py HULL [--runs N] [--hugepages] [--cmdline ARGS] [--timeline]

With the kvm:kvm_exit tracepoint on, every exit of the guest records its
%rip.  The exits for host interrupts (the host's tick, every few ms) land
wherever the guest happened to be, so their %rips, looked up in the guest
kernel's symbols, are a profile of the guest in host time; the other exits
(MMIO, port I/O, CPUID, MSRs) mark what the guest was doing with its
devices.  The guest's own clocks cannot do this: they start late and are
coarse until kvm-clock takes over (docs/vmm.md, "Benchmark").

Not a test: it prints a report and asserts nothing.  Tracing makes each
exit a little slower, so the times are for comparing parts of one boot,
not for comparing with bench-vm's figures.
"""
import argparse
import bisect
import collections
import importlib.util
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TRACEFS = "/sys/kernel/tracing"
# The exit reasons of a host interrupt: SVM, VMX.
SAMPLE_REASONS = ("interrupt", "EXTERNAL_INTERRUPT")
EXIT_RE = re.compile(r"\s(\d+\.\d+): kvm_exit: (?:vcpu \d+ )?reason (\S+) rip (0x[0-9a-f]+)")


def load_vm_boot():
    """vm-boot.py's huge-page helpers (its name is not importable as is)."""
    spec = importlib.util.spec_from_file_location("vm_boot", os.path.join(HERE, "vm-boot.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def die(msg):
    print("vm-profile: " + msg, file=sys.stderr)
    sys.exit(1)


class Symbols:
    """The guest kernel's text symbols, from `nm -n`."""

    def __init__(self, vmlinux):
        out = subprocess.run(["nm", "-n", vmlinux], check=True, capture_output=True, text=True).stdout
        self.addrs, self.names = [], []
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "tTwW":
                self.addrs.append(int(parts[0], 16))
                self.names.append(parts[2])

    def name(self, rip):
        if rip < 1 << 63:  # user space (the agent, the command), or the kernel before its own page tables
            return "(%#x: user or early boot)" % rip
        i = bisect.bisect_right(self.addrs, rip) - 1
        return self.names[i] if i >= 0 else "%#x" % rip


def tracefs_write(name, value):
    with open(os.path.join(TRACEFS, name), "w") as f:
        f.write(value)


def traced_boot(args, vm_boot):
    """One boot with kvm_exit traced; returns (hull's --timings line, [(t_ms, reason, rip)])."""
    if args.hugepages:
        vm_boot.scrub_hugepages()
    tracefs_write("trace", "")
    tracefs_write("events/kvm/kvm_exit/enable", "1")
    cmd = [args.hull, "vm-run", "--timings"] + (["--hugepages"] if args.hugepages else [])
    cmd += (["--cmdline", args.cmdline] if args.cmdline else []) + ["--", "/bin/true"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        tracefs_write("events/kvm/kvm_exit/enable", "0")
    if r.returncode != 0:
        die("%s: exit status %d\n%s" % (" ".join(cmd), r.returncode, r.stderr))
    exits, t0 = [], None
    with open(os.path.join(TRACEFS, "trace")) as f:
        for line in f:
            m = EXIT_RE.search(line)
            if m:
                t = float(m.group(1))
                t0 = t if t0 is None else t0
                exits.append(((t - t0) * 1000, m.group(2), int(m.group(3), 16)))
    timings = [l for l in r.stderr.splitlines() if l.startswith("hull vm-run:")]
    return (timings[0] if timings else "", exits)


def print_timeline(exits, syms):
    """Every exit but the timer's own MSR writes, runs of the same (reason, symbol) folded."""
    last = None
    for t, reason, rip in exits:
        key = (reason, syms.name(rip))
        if reason == "msr" or key == last:
            continue
        last = key
        print("  %8.1f ms  %-12s %s" % (t, reason, key[1]))


def report(args, boots, syms):
    samples = collections.Counter()
    reasons = collections.Counter()
    for timings, exits in boots:
        for _, reason, rip in exits:
            reasons[reason] += 1
            if reason in SAMPLE_REASONS:
                samples[syms.name(rip)] += 1
    n = len(boots)
    total = sum(samples.values())
    print("hull vm-run -- /bin/true%s, %d boot(s), kvm:kvm_exit traced" %
          (" --hugepages" if args.hugepages else "", n))
    for timings, exits in boots:
        span = exits[-1][0] if exits else 0.0
        print("  %s; guest from first to last exit %.0f ms, %d exits" % (timings, span, len(exits)))
    print("\nexits per boot, by reason:")
    for reason, c in reasons.most_common():
        print("  %-20s %8.1f" % (reason, c / n))
    print("\nwhere the guest was when a host interrupt made it exit (%d samples):" % total)
    for name, c in samples.most_common(args.top):
        print("  %6.1f%%  %5d  %s" % (100.0 * c / total, c, name))
    if args.timeline:
        print("\ntimeline of the first boot (ms from its first exit):")
        print_timeline(boots[0][1], syms)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("hull", help="the hull binary (its guest/ directory gives the kernel)")
    ap.add_argument("--runs", type=int, default=3, help="traced boots (default 3)")
    ap.add_argument("--hugepages", action="store_true", help="guest RAM from the hugetlb pool, scrubbed first")
    ap.add_argument("--cmdline", help="extra guest command line (vm-run --cmdline)")
    ap.add_argument("--vmlinux", help="the guest kernel's symbols (default: HULL's dir/guest/vmlinux)")
    ap.add_argument("--top", type=int, default=40, help="symbols to list (default 40)")
    ap.add_argument("--timeline", action="store_true", help="also print the first boot's exits in order")
    args = ap.parse_args()
    if os.geteuid() != 0:
        die("needs root (tracefs, /dev/kvm)")
    args.hull = os.path.abspath(args.hull)
    vmlinux = args.vmlinux or os.path.join(os.path.dirname(args.hull), "guest", "vmlinux")
    if not os.path.exists(vmlinux):
        die("no guest kernel at %s (make guest, or --vmlinux)" % vmlinux)
    if not os.path.exists(os.path.join(TRACEFS, "events/kvm/kvm_exit")):
        subprocess.run(["mount", "-t", "tracefs", "tracefs", TRACEFS], check=False)
        if not os.path.exists(os.path.join(TRACEFS, "events/kvm/kvm_exit")):
            die("no kvm:kvm_exit tracepoint under %s (is kvm loaded?)" % TRACEFS)
    syms = Symbols(vmlinux)
    vm_boot = load_vm_boot()
    pool_before = vm_boot.reserve_hugepages(vm_boot.MEM_MIB // 2, die) if args.hugepages else None
    tracefs_write("buffer_size_kb", "16384")
    try:
        subprocess.run([args.hull, "vm-run", "--", "/bin/true"], check=True, capture_output=True)  # warm-up
        boots = [traced_boot(args, vm_boot) for _ in range(args.runs)]
    finally:
        if pool_before is not None:
            with open(vm_boot.NR_HUGEPAGES, "w") as f:
                f.write(pool_before)
    report(args, boots, syms)


if __name__ == "__main__":
    main()
