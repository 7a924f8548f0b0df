#!/usr/bin/python3
"""tests/bench/vm-boot.py [options] HULL_BINARY [ROUNDS=20]

hull's VMM (`hull vm-run`) against QEMU's microvm machine, booting the same
guest kernel and initramfs (hull's agent as /init) with 1 vCPU and 128 MiB,
to the agent's HELLO ("agent ready") and to the EXIT of /bin/true ("command
ended"), and the VMM process's own memory.  Interleaved round by round, the
order alternating; one untimed warm-up boot each first.  Meant for the test
host VM (docs/vmm.md, "Benchmark: hull's VMM vs QEMU microvm"):

    tests/vm/testvm.sh run --timeout 1500 -- tests/bench/vm-boot.py build/hull 20

Each round boots each VMM twice: a timed boot (nothing else runs on the
host's side but this script waiting in select) and a memory boot, where
/proc/PID/status is sampled every 5 ms; the timings of memory boots are
not used.

Times are from the moment this script spawns the VMM process:
  - QEMU: this script is the host end of the channel (FIFOs behind four
    virtserialports named as hull's), so it stamps HELLO and EXIT itself
    (and sends the RUN, as hull does), then stops QEMU with SIGTERM.
  - hull: `vm-run --timings` prints its times from vm_create, and its total
    just before it exits; the script stamps the arrival of that line, so
    spawn -> vm_create = (arrival - spawn) - total, and that offset is added
    to hull's own figures (an upper bound: it includes the pipe's latency).
  - "VMM exited": from spawn until the process was reaped (hull stops the VM
    on EXIT by itself; QEMU gets SIGTERM when the script reads EXIT).

Memory: guest RAM is a memfd mapped MAP_SHARED in both VMMs (QEMU is given
`-object memory-backend-memfd`), so it is counted in RssShmem and nowhere
else.  The VMM's own memory is RssAnon + RssFile (= VmRSS - RssShmem), the
peak over the samples of a boot.  RssFile counts the pages of the binary and
its shared libraries that the process touched.

--hugepages: guest RAM from the 2 MiB hugetlb pool in both VMMs (`hull
vm-run --hugepages`, QEMU's memfd backend with hugetlb=on); the script
raises vm.nr_hugepages to what one guest needs for the run and puts it back
after.  hugetlb pages are in neither RssAnon nor RssFile.

Exits non-zero, saying why, when any boot fails.  A boot that hangs (no
result within --timeout) fails the run too, unless --retries N allows it to
be redone; every redone boot is reported, per VMM.  --kmsg notes each boot in
the kernel's log, to place a hang of the whole test VM in its console.  Not
part of the test suite.
"""

import argparse
import mmap
import os
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time

# vm-shim/agent-proto.h
HELLO, STARTED, EXIT, ERROR, RUN = 1, 2, 3, 4, 16
MSG_NAMES = {HELLO: "HELLO", STARTED: "STARTED", EXIT: "EXIT", ERROR: "ERROR", RUN: "RUN"}
PORTS = ("hull.ctl", "hull.stdin", "hull.stdout", "hull.stderr")

# runtime/cmd_vm_run.c: the environment hull's RUN carries by default
RUN_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"]
COMMAND = ["/bin/true"]

# vm-shim/boot.c's default command line plus the "quiet" vm-run adds; QEMU
# appends its own virtio_mmio.device= (microvm's auto-kernel-cmdline), as
# hull does for its devices.
GUEST_CMDLINE = ("console=ttyS0 reboot=k panic=-1 pci=off acpi=off i8042.noaux i8042.nomux "
                 "i8042.dumbkbd tsc=reliable noreplace-smp")
GUEST_EXTRA = "quiet"

MEM_MIB = 128
HUGETLB_QEMU = ",hugetlb=on,hugetlbsize=2M"
NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages"
FREE_HUGEPAGES = "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
MAP_HUGETLB = 0x40000
SAMPLE_S = 0.005

# The QEMU machine (docs/vmm.md, "Benchmark: hull's VMM vs QEMU microvm"):
# acpi=off because the guest kernel has no ACPI (with ACPI on, microvm moves
# the virtio-mmio interrupts where only ACPI describes them, and the agent
# never sees its ports); no option ROMs (qboot loads the kernel through its
# PVH note itself); the irqchip in KVM, as hull has it (QEMU's default splits
# it); and no PIT, PIC or RTC models, which hull does have (KVM's PIT and PIC,
# a CMOS clock): of the variants tried this one was the fastest, so QEMU is
# not handicapped.  --qemu-machine/--qemu-accel try others.
QEMU_MACHINE = "microvm,acpi=off,x-option-roms=off,pit=off,pic=off,rtc=off,isa-serial=on"
QEMU_ACCEL = "kvm,kernel-irqchip=on"


class BenchError(Exception):
    pass


class BootHung(BenchError):
    """No result within --timeout: retried when --retries allows."""


class Watchdog:
    """A boot that hangs somewhere the loops do not look (a blocking call)
    still ends, as a failure: SIGALRM some time after the boot's own limit."""

    def __init__(self, what, seconds):
        self.what, self.seconds = what, seconds

    def _fire(self, signo, frame):
        raise BenchError("%s: hung for %d s (watchdog)" % (self.what, self.seconds))

    def __enter__(self):
        signal.signal(signal.SIGALRM, self._fire)
        signal.alarm(self.seconds)

    def __exit__(self, *exc):
        signal.alarm(0)


def now():
    return time.monotonic_ns()


def ms(ns):
    return ns / 1e6


def has_pvh_note(path):
    """Whether the ELF file has a XEN_ELFNOTE_PHYS32_ENTRY note (type 18, name "Xen")."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return False
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        off, end = p_offset, p_offset + p_filesz
        while off + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", data, off)
            name = data[off + 12:off + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and ntype == 18:
                return True
            off += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
    return False


with open("/proc/self/comm") as _f:
    OWN_COMM = _f.read().strip()


def read_status(pid):
    """RssAnon, RssFile, RssShmem, VmHWM in kB, or None when the process is
    gone or not yet the VMM.  Popen can return while the child still runs
    this script's image (seen: a sample of 5.3 MiB anonymous + 5.4 MiB file
    named after this script): such samples are not the VMM's."""
    try:
        with open("/proc/%d/status" % pid) as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "Name" and value.strip() == OWN_COMM:
            return None
        if key in ("RssAnon", "RssFile", "RssShmem", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields if len(fields) == 4 else None  # a zombie has no mm


class MemPeak:
    """The sample with the highest RssAnon + RssFile."""

    def __init__(self):
        self.best = None
        self.samples = 0

    def sample(self, pid):
        s = read_status(pid)
        if s is None:
            return
        self.samples += 1
        if self.best is None or s["RssAnon"] + s["RssFile"] > self.best["RssAnon"] + self.best["RssFile"]:
            self.best = dict(s, shmem_max=max(s["RssShmem"], self.best["shmem_max"] if self.best else 0))
        else:
            self.best["shmem_max"] = max(self.best["shmem_max"], s["RssShmem"])

    def result(self, what):
        if self.best is None:
            raise BenchError("%s: no memory sample taken (the process ended within %d ms?)" %
                             (what, SAMPLE_S * 1000))
        b = self.best
        return {"own": (b["RssAnon"] + b["RssFile"]) / 1024, "anon": b["RssAnon"] / 1024,
                "file": b["RssFile"] / 1024, "guest": b["shmem_max"] / 1024, "samples": self.samples}


def kill_and_reap(proc):
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return "(no %s)" % path
    return "\n".join("    " + line for line in lines[-n:]) or "    (empty)"


# ---- hull ----------------------------------------------------------------------------

def boot_hull(args, work, tag, measure_mem):
    console = os.path.join(work, "hull-%s.console" % tag)
    # --console-log keeps the guest's console for a failed boot; vm-run then
    # drops its own "quiet", given back with --cmdline: the same command line.
    cmd = [args.hull, "vm-run", "--timings", "--cpus", "1", "--memory", str(MEM_MIB)] + \
          (["--hugepages"] if args.hugepages else []) + [
           "--kernel", args.kernel, "--initrd", args.initrd, "--console-log", console,
           "--cmdline", GUEST_EXTRA, "--"] + COMMAND
    mem = MemPeak() if measure_mem else None
    err = b""
    line_at = None
    t0 = now()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = t0 + args.timeout * 1_000_000_000
        fd = proc.stderr.fileno()
        os.set_blocking(fd, False)
        eof = False
        while not eof:
            if mem:
                mem.sample(proc.pid)
            left = (deadline - now()) / 1e9
            if left <= 0:
                raise BootHung("hull (%s): no exit within %d s; stderr: %s\n  console:\n%s" %
                                 (tag, args.timeout, err.decode(errors="replace").strip(), tail(console)))
            ready, _, _ = select.select([fd], [], [], min(left, SAMPLE_S) if mem else left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    eof = True
                err += chunk
                if line_at is None and b"hull vm-run: agent ready" in err:
                    line_at = now()
        status = proc.wait(timeout=max(1, (deadline - now()) / 1e9))
        t_exit = now()
    except subprocess.TimeoutExpired:
        raise BenchError("hull (%s): closed stderr but did not exit" % tag)
    finally:
        kill_and_reap(proc)
    text = err.decode(errors="replace")
    if status != 0:
        raise BenchError("hull (%s): `%s` exited with %d:\n%s\n  console:\n%s" %
                         (tag, " ".join(cmd), status, text.strip(), tail(console)))
    fields = None
    for line in text.splitlines():
        p = line.split()
        # hull vm-run: agent ready X ms, command ended Y ms, total Z ms (VM built in W ms)
        if line.startswith("hull vm-run: agent ready") and len(p) == 18:
            fields = (float(p[4]), float(p[8]), float(p[11]), float(p[16]))
    if fields is None or line_at is None:
        raise BenchError("hull (%s): no timings line on stderr:\n%s" % (tag, text.strip()))
    ready, ended, total, built = fields
    if ready <= 0 or ended <= 0:
        raise BenchError("hull (%s): the agent did not report (ready %.1f ms, ended %.1f ms)" % (tag, ready, ended))
    offset = ms(line_at - t0) - total  # spawn -> vm_create, as seen from here
    r = {"ready": ready + offset, "ended": ended + offset, "exited": ms(t_exit - t0),
         "own_ready": ready, "own_ended": ended, "pre": offset, "built": built}
    if mem:
        r["mem"] = mem.result("hull (%s)" % tag)
    return r


# ---- QEMU ----------------------------------------------------------------------------

def run_msg(cwd, argv, env):
    strings = b"".join(s.encode() + b"\0" for s in [cwd] + argv + env)
    payload = struct.pack("<II", len(argv), len(env)) + strings
    return struct.pack("<II", RUN, len(payload)) + payload


def qemu_cmd(args, work, tag):
    cmd = [args.qemu, "-accel", args.qemu_accel, "-cpu", "host", "-smp", "1", "-m", "%dM" % MEM_MIB,
           "-object", "memory-backend-memfd,id=mem,size=%dM%s" % (MEM_MIB, HUGETLB_QEMU if args.hugepages else ""),
           "-machine", args.qemu_machine + ",memory-backend=mem",
           "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
           "-kernel", args.kernel, "-initrd", args.initrd, "-append", (GUEST_CMDLINE + " " + GUEST_EXTRA).strip(),
           "-serial", "file:" + os.path.join(work, "qemu-%s.console" % tag),
           # virtio 1.x on virtio-mmio, as hull's transport (QEMU's default is legacy)
           "-global", "virtio-mmio.force-legacy=false",
           "-device", "virtio-serial-device"]
    for i, name in enumerate(PORTS):
        cmd += ["-chardev", "pipe,id=p%d,path=%s" % (i, os.path.join(work, "port%d" % i)),
                "-device", "virtserialport,chardev=p%d,name=%s" % (i, name)]
    return cmd + args.qemu_extra


def boot_qemu(args, work, tag, measure_mem):
    # Each port's host end: PATH.in (host -> guest) and PATH.out (guest ->
    # host).  QEMU opens both O_RDWR, so does this script: a FIFO then never
    # sees EOF and opening never blocks.  (A port whose host side is not
    # connected blocks the guest's writes; a pipe chardev is connected.)
    fds = {}
    for i in range(len(PORTS)):
        for d in ("in", "out"):
            p = os.path.join(work, "port%d.%s" % (i, d))
            if os.path.exists(p):
                os.unlink(p)
            os.mkfifo(p)
            fds[(i, d)] = os.open(p, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    log = os.path.join(work, "qemu-%s.log" % tag)
    console = os.path.join(work, "qemu-%s.console" % tag)
    cmd = qemu_cmd(args, work, tag)
    mem = MemPeak() if measure_mem else None
    r = {}
    t0 = now()
    with open(log, "wb") as logf:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
    try:
        def fail(why, error=BenchError):
            raise error("QEMU (%s): %s\n  command: %s\n  QEMU's output:\n%s\n  console:\n%s" %
                        (tag, why, " ".join(cmd), tail(log), tail(console)))

        deadline = t0 + args.timeout * 1_000_000_000
        ctl_out, ctl_in = fds[(0, "out")], fds[(0, "in")]
        drain = [fds[(2, "out")], fds[(3, "out")]]
        buf = b""
        while "exit_status" not in r:
            if mem:
                mem.sample(proc.pid)
            if proc.poll() is not None:
                fail("exited with %d before the command ended" % proc.returncode)
            left = (deadline - now()) / 1e9
            if left <= 0:
                fail("no EXIT within %d s (got: %s)" % (args.timeout, ", ".join(sorted(r)) or "nothing"), BootHung)
            ready, _, _ = select.select([ctl_out] + drain, [], [], min(left, SAMPLE_S if mem else 0.5))
            for fd in ready:
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if fd == ctl_out:
                    buf += chunk
            while len(buf) >= 8:
                mtype, mlen = struct.unpack_from("<II", buf)
                if mtype not in MSG_NAMES or mlen > (1 << 20):
                    fail("not an agent message: type %d, length %d" % (mtype, mlen))
                if len(buf) < 8 + mlen:
                    break
                payload, buf = buf[8:8 + mlen], buf[8 + mlen:]
                t = now()
                if mtype == HELLO and "ready" not in r:
                    r["ready"] = ms(t - t0)
                    msg = run_msg("/", COMMAND, RUN_ENV)
                    if os.write(ctl_in, msg) != len(msg):
                        fail("short write of RUN")
                elif mtype == STARTED:
                    r["started"] = ms(t - t0)
                elif mtype == EXIT and "ready" in r:
                    r["ended"] = ms(t - t0)
                    r["exit_status"] = struct.unpack("<I", payload)[0] if mlen == 4 else -1
                elif mtype == ERROR:
                    fail("the agent reported: %s" % payload.decode(errors="replace"))
                else:
                    fail("unexpected %s" % MSG_NAMES[mtype])
        # hull stops the VM when it reads EXIT; so does this script.
        if mem:
            mem.sample(proc.pid)
        proc.send_signal(signal.SIGTERM)
        while True:
            try:
                proc.wait(timeout=SAMPLE_S if mem else 10)
                break
            except subprocess.TimeoutExpired:
                if now() > deadline:
                    fail("did not exit within %d s after SIGTERM" % args.timeout)
                if mem:
                    mem.sample(proc.pid)
        r["exited"] = ms(now() - t0)
        if r["exit_status"] != 0:
            fail("/bin/true ended with wait status %d" % r["exit_status"])
    finally:
        kill_and_reap(proc)
        for fd in fds.values():
            os.close(fd)
    if mem:
        r["mem"] = mem.result("QEMU (%s)" % tag)
    return r


# ---- report --------------------------------------------------------------------------

def kmsg(args, text):
    """With --kmsg, one line in the kernel's log: a test VM that hangs keeps
    its console, which then says which boot was running."""
    if not args.kmsg:
        return
    try:
        with open("/dev/kmsg", "w") as f:
            f.write("vm-boot: %s\n" % text)
    except OSError:
        pass


def free_hugepages():
    with open(FREE_HUGEPAGES) as f:
        return int(f.read())


def reserve_hugepages(need, die):
    """Makes the pool hold at least `need` free 2 MiB pages; returns the
    old vm.nr_hugepages, to be written back."""
    with open(NR_HUGEPAGES) as f:
        before = f.read().strip()
    free = free_hugepages()
    if free < need:
        with open(NR_HUGEPAGES, "w") as f:
            f.write(str(int(before) + need - free))
        if free_hugepages() < need:
            die("could not reserve %d huge pages (vm.nr_hugepages)" % need)
    return before


def scrub_hugepages():
    """Writes every free page of the 2 MiB pool once (not timed).  In the
    test host VM a guest whose memory was the previous guest's boots
    0.6-1.2 s slower (all of it in the guest's memmap init), which VMM gets
    which pages being chance; after a pass like this one every boot starts
    as the first (docs/vmm.md, "Benchmark").  An artifact of the host VM's
    software emulation, so the scrub is the benchmark's, not hull's."""
    size = free_hugepages() << 21
    if size == 0:
        return
    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_HUGETLB)
    try:
        chunk = b"\xa5" * (1 << 21)
        for off in range(0, size, 1 << 21):
            m[off:off + (1 << 21)] = chunk
    finally:
        m.close()


def uptime():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def report(args, res, load_before, load_after, qemu_version):
    def col(n, key, sub=None):
        if sub:
            return [x["mem"][sub] for x in res[n] if "mem" in x]
        return [x[key] for x in res[n] if key in x]

    print()
    print("hull's VMM vs QEMU microvm: boot to the agent's HELLO and /bin/true's EXIT, "
          "1 vCPU, %d MiB, %d rounds each, interleaved" % (MEM_MIB, args.rounds))
    print("kernel %s, initramfs %s" % (args.kernel, args.initrd))
    print("guest RAM: %s" % ("memfd of 2 MiB hugetlb pages (--hugepages)" if args.hugepages else
                             "memfd (shmem, 4 KiB pages unless shmem_enabled allows huge ones)"))
    print("hull %s; %s; machine %s, accel %s" % (args.hull, qemu_version, args.qemu_machine, args.qemu_accel))
    print("host: %s, %d CPUs, load average %s before, %s after" %
          (os.uname().release, os.cpu_count(), load_before, load_after))
    print()
    print("| from spawn | hull median | hull mean | QEMU median | QEMU mean | hull/QEMU median | hull/QEMU mean "
          "| QEMU - hull median |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = [("agent ready (ms)", "ready", None), ("command ended (ms)", "ended", None),
            ("VMM exited (ms)", "exited", None),
            ("VMM RSS without guest memory (MiB)", None, "own"),
            ("... of which anonymous (MiB)", None, "anon"), ("... of which file-backed (MiB)", None, "file"),
            ("guest memory touched, RssShmem (MiB)", None, "guest")]
    if args.hugepages:  # hugetlb pages are not in RssShmem
        rows.pop()
    for label, key, sub in rows:
        h, q = col("hull", key, sub), col("qemu", key, sub)
        hm, ha, qm, qa = statistics.median(h), statistics.mean(h), statistics.median(q), statistics.mean(q)
        fmt = "%.1f" if key else "%.2f"
        print("| %s | %s | %s | %s | %s | %.3f | %.3f | %s |" %
              (label, fmt % hm, fmt % ha, fmt % qm, fmt % qa, hm / qm, ha / qa, fmt % (qm - hm)))
    print()
    pre, own_r, own_e = col("hull", "pre"), col("hull", "own_ready"), col("hull", "own_ended")
    print("hull's own figures (from vm_create): agent ready %.1f ms, command ended %.1f ms (medians); "
          "spawn -> vm_create %.1f ms, vm_create itself %.1f ms (medians)" %
          (statistics.median(own_r), statistics.median(own_e), statistics.median(pre),
           statistics.median(col("hull", "built"))))
    print("stdev from spawn: agent ready hull %.1f ms, QEMU %.1f ms; min-max hull %.1f-%.1f, QEMU %.1f-%.1f" %
          (statistics.pstdev(col("hull", "ready")), statistics.pstdev(col("qemu", "ready")),
           min(col("hull", "ready")), max(col("hull", "ready")),
           min(col("qemu", "ready")), max(col("qemu", "ready"))))
    for n, name in (("hull", "hull"), ("qemu", "QEMU")):
        mems = [x["mem"] for x in res[n]]
        top = max(mems, key=lambda m: m["own"])
        print("%s RSS without guest memory: min %.2f MiB, max %.2f MiB (that boot: anon %.2f, file %.2f)" %
              (name, min(m["own"] for m in mems), top["own"], top["anon"], top["file"]))
    print("memory samples per boot (every %d ms): hull %d-%d, QEMU %d-%d" %
          (SAMPLE_S * 1000, min(col("hull", None, "samples")), max(col("hull", None, "samples")),
           min(col("qemu", None, "samples")), max(col("qemu", None, "samples"))))
    print("ratios below 1 mean hull is faster / smaller")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("hull", help="the hull binary (e.g. build/hull)")
    ap.add_argument("rounds", nargs="?", type=int, default=20, help="rounds (default 20)")
    ap.add_argument("--kernel", help="guest vmlinux with a PVH note (default: HULL's dir/guest/vmlinux-pvh)")
    ap.add_argument("--initrd", help="initramfs with hull's agent (default: HULL's dir/guest/initramfs.cpio)")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--qemu-machine", default=QEMU_MACHINE, help="-machine (default %(default)s)")
    ap.add_argument("--qemu-accel", default=QEMU_ACCEL, help="-accel (default %(default)s)")
    ap.add_argument("--qemu-extra", action="append", default=[], help="one more QEMU argument (repeatable)")
    ap.add_argument("--timeout", type=int, default=60, help="seconds per boot (default 60)")
    ap.add_argument("--retries", type=int, default=0,
                    help="boots that hang (no result within --timeout) may be redone this many times in all; "
                         "each is reported (default 0: a hang fails the run)")
    ap.add_argument("--hugepages", action="store_true",
                    help="guest RAM from the 2 MiB hugetlb pool in both VMMs (sets vm.nr_hugepages for the run)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, consoles)")
    ap.add_argument("--kmsg", action="store_true",
                    help="note every boot's start and end in /dev/kmsg (to find a hang in the console log)")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("ROUNDS must be at least 1")

    def die(msg):
        print("vm-boot: %s" % msg, file=sys.stderr)
        sys.exit(2)

    args.hull = os.path.abspath(args.hull)
    guest = os.path.join(os.path.dirname(args.hull), "guest")
    args.kernel = os.path.abspath(args.kernel or os.path.join(guest, "vmlinux-pvh"))
    args.initrd = os.path.abspath(args.initrd or os.path.join(guest, "initramfs.cpio"))
    if not os.access(args.hull, os.X_OK):
        die("%s is not executable" % args.hull)
    for what, path in (("kernel", args.kernel), ("initramfs", args.initrd)):
        if not os.path.isfile(path):
            die("no %s at %s: `make bench-vm-kernel guest` builds them" % (what, path))
    if not has_pvh_note(args.kernel):
        die("%s has no PVH ELF note: QEMU boots an uncompressed vmlinux only through it (hull's default guest "
            "kernel is built without CONFIG_PVH); `make bench-vm-kernel` builds the same kernel with "
            "CONFIG_PVH=y as %s/vmlinux-pvh" % (args.kernel, guest))
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        die("no usable /dev/kvm: run this in the test host VM (tests/vm/README.md)")
    try:
        qemu_version = subprocess.run([args.qemu, "--version"], capture_output=True, text=True,
                                      check=True).stdout.splitlines()[0]
    except (OSError, subprocess.CalledProcessError) as e:
        die("%s --version: %s" % (args.qemu, e))

    hugepages_before = None
    if args.hugepages:
        hugepages_before = reserve_hugepages(MEM_MIB // 2, die)
    work = tempfile.mkdtemp(prefix="hull-vm-bench.")
    res = {"hull": [], "qemu": []}
    def traced(fn, n):
        def run(args, work, tag, measure_mem):
            kmsg(args, "%s %s start" % (n, tag))
            r = fn(args, work, tag, measure_mem)
            kmsg(args, "%s %s done: ready %.0f ms" % (n, tag, r["ready"]))
            return r
        return run

    boot = {"hull": traced(boot_hull, "hull"), "qemu": traced(boot_qemu, "qemu")}
    hung = {"hull": 0, "qemu": 0}

    def boot_once(n, tag, measure_mem):
        """One boot under the watchdog; a hang is redone while --retries allows."""
        while True:
            if args.hugepages:
                scrub_hugepages()
            try:
                with Watchdog("%s (%s)" % (n, tag), args.timeout + 60):
                    return boot[n](args, work, tag, measure_mem)
            except BootHung as e:
                if sum(hung.values()) >= args.retries:
                    raise
                hung[n] += 1
                print("vm-boot: boot hung, redone (%d of --retries %d): %s" % (sum(hung.values()), args.retries, e),
                      file=sys.stderr, flush=True)
    load_before = uptime()
    try:
        for n in ("hull", "qemu"):  # warm-up: page cache, first-run costs
            boot_once(n, "warm", False)
        for r in range(args.rounds):
            order = ("hull", "qemu") if r % 2 == 0 else ("qemu", "hull")
            for n in order:
                res[n].append(boot_once(n, "t%d" % r, False))
            for n in order:
                res[n][-1]["mem"] = boot_once(n, "m%d" % r, True)["mem"]
            h, q = res["hull"][-1], res["qemu"][-1]
            print("round %d/%d: agent ready hull %.1f ms, QEMU %.1f ms; command ended hull %.1f, QEMU %.1f; "
                  "RSS hull %.2f MiB, QEMU %.2f MiB" % (r + 1, args.rounds, h["ready"], q["ready"], h["ended"],
                                                       q["ended"], h["mem"]["own"], q["mem"]["own"]),
                  file=sys.stderr, flush=True)
    except BenchError as e:
        print("vm-boot: FAILED: %s" % e, file=sys.stderr)
        print("vm-boot: logs kept in %s" % work, file=sys.stderr)
        sys.exit(1)
    finally:
        if hugepages_before is not None:
            with open(NR_HUGEPAGES, "w") as f:
                f.write(hugepages_before)
    load_after = uptime()
    report(args, res, load_before, load_after, qemu_version)
    print("boots that hung and were redone: hull %d, QEMU %d" % (hung["hull"], hung["qemu"]))
    if args.keep:
        print("work directory: %s" % work)
    else:
        subprocess.run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    main()
