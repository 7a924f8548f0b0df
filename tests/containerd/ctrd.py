"""A private containerd for the tests, and the helpers to drive it with ctr.

Everything lives under one temporary directory: containerd's root, state,
gRPC and ttrpc sockets, its config.toml, hull's --root, the log of hull
invocations.  The daemon is started by the tests and always stopped by
them (stop() is safe to call after any failure, and kills by pid only what
this daemon started: its shims, their containers)."""

import hashlib
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
import fcntl
import struct
import termios

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import oci_image  # noqa: E402

NAMESPACE = "hull-test"
IMAGE = oci_image.DEFAULT_NAME
# The CRI plugin's sandbox ("pause") image: the same busybox, sleeping.
PAUSE_IMAGE = "localhost/hull-test/pause:latest"
PAUSE_CMD = ("sleep", "2147483647")
TIMEOUT = 60


def pure_cgroup2():
    """True on a host whose /sys/fs/cgroup is cgroup2 with the memory
    controller (the test host VM); False on this hybrid machine."""
    try:
        with open("/sys/fs/cgroup/cgroup.controllers") as f:
            return "memory" in f.read().split()
    except OSError:
        return False


CAP_SYS_RESOURCE = 24


def has_cap(bit):
    """Whether this process has the capability in its effective set."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> bit & 1)
    return False


def hull_binary():
    path = os.environ.get("HULL") or os.path.join(HERE, "..", "..", "build-asan", "hull")
    return os.path.abspath(path)


def ensure_installed(binary, package):
    """Debian's package if the binary is missing (the tests' own install step)."""
    if not shutil.which(binary):
        apt_install(package)


def apt_install(package):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
                   env=env, check=True, stdout=subprocess.DEVNULL, timeout=600)


def write_wrapper(path, binary, calls_log, env=None):
    """`hull-logged`: appends its pid and argv (tab-separated) to calls_log,
    then execs the real binary, so the tests see exactly what the shim ran."""
    with open(path, "w") as f:
        f.write("#!/bin/sh\n")
        for k, v in (env or {}).items():
            f.write("export %s='%s'\n" % (k, v))
        f.write(
                "{ printf '%%s' \"$$\"; for a in \"$@\"; do printf '\\t%%s' \"$a\"; done; "
                "printf '\\n'; } >> '%s'\n"
                "exec '%s' \"$@\"\n" % (calls_log, binary))
    os.chmod(path, 0o755)


def read_calls(calls_log, cid=None):
    """[(pid, [argv...])], only those naming container cid if given."""
    out = []
    try:
        with open(calls_log) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        pid, *argv = line.split("\t")
        if cid is None or cid in argv:
            out.append((int(pid), argv))
    return out


class Result:
    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err

    def __repr__(self):
        return "$ %s\n-> exit %s\n--- stdout\n%s--- stderr\n%s" % (
            " ".join(self.argv), self.rc, self.out, self.err)


class Containerd:
    def __init__(self, base, hull):
        self.base = base
        self.hull = hull
        self.root = os.path.join(base, "root")
        self.state = os.path.join(base, "state")
        self.sock = os.path.join(base, "containerd.sock")
        self.config = os.path.join(base, "config.toml")
        self.hull_root = os.path.join(base, "hull-root")
        self.calls = os.path.join(base, "hull-calls.log")
        self.wrapper = os.path.join(base, "hull-logged")
        self.cri_wrapper = os.path.join(base, "hull-cri")
        self.hull_conf = os.path.join(base, "hull.conf")
        self.log = os.path.join(base, "containerd.log")
        self.proc = None
        self.hybrid = not pure_cgroup2()

    # ---- the daemon --------------------------------------------------------

    def write_config(self):
        d = self.base
        text = """\
# A private containerd for hull's tests (containerd 1.6, config version 2).
version = 2
root = "{d}/root"
state = "{d}/state"

[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[debug]
  level = "debug"

[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  sandbox_image = "{pause}"
  # Without CAP_SYS_RESOURCE (this sandboxed machine) no runtime can set the
  # sandbox's oomScoreAdj of -998: keep it at containerd's own, as rootless.
  restrict_oom_score_adj = {restrict}
  enable_cdi = false
[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "{d}/cni/bin"
  conf_dir = "{d}/cni/net.d"
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"
# Replacing the runtimes table drops containerd's built-in "runc" entry:
# declare it again, as the CRI plugin refuses a default that is missing.
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull.options]
  BinaryName = "{cri_wrapper}"
  Root = "{hull_root}"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull-vm]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull-vm.options]
  BinaryName = "{hull_vm}"
  Root = "{d}/hull-vm-root"
""".format(d=d, pause=PAUSE_IMAGE, restrict="false" if has_cap(CAP_SYS_RESOURCE) else "true", cri_wrapper=self.cri_wrapper, hull_root=self.hull_root,
           hull_vm=os.path.join(os.path.dirname(self.hull), "hull-vm"))
        with open(self.config, "w") as f:
            f.write(text)

    def start(self):
        os.makedirs(self.base, exist_ok=True)
        for sub in ("cni/bin", "cni/net.d", "opt"):
            os.makedirs(os.path.join(self.base, sub), exist_ok=True)
        write_wrapper(self.wrapper, self.hull, self.calls)
        # The CRI plugin always asks for CPU shares (2 for a pod's sandbox),
        # which a hybrid host cannot enforce: there, the CRI runtime runs hull
        # with `unenforceable_limits = warn` (docs/containerd.md).
        with open(self.hull_conf, "w") as f:
            f.write("unenforceable_limits = %s\n" % ("warn" if self.hybrid else "error"))
        write_wrapper(self.cri_wrapper, self.hull, self.calls, env={"HULL_CONFIG": self.hull_conf})
        self.write_config()
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(["containerd", "--config", self.config], stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        logf.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("containerd exited with status %s:\n%s" % (self.proc.returncode, self.log_tail()))
            if os.path.exists(self.sock) and self.ctr("version", timeout=10).rc == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("containerd did not answer on %s within 30 s:\n%s" % (self.sock, self.log_tail()))

    def log_tail(self, n=40):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def shim_pids(self, ns=None, cid=None):
        """containerd-shim-runc-v2 processes started by this daemon (their
        argv carries `-address SOCK`), optionally of one namespace or id."""
        pids = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if not (argv and b"containerd-shim" in argv[0] and self.sock.encode() in argv):
                continue
            if ns and ns.encode() not in argv or cid and cid.encode() not in argv:
                continue
            pids.append(int(p))
        return pids

    def stop(self):
        """Removes every task and container of the test namespaces, stops the
        daemon, then kills whatever it left (shims, containers) by pid."""
        problems = []
        if self.proc and self.proc.poll() is None:
            for ns in (NAMESPACE, "k8s.io"):
                for cid in self.ctr("containers", "ls", "-q", ns=ns, timeout=20).out.split():
                    self.ctr("tasks", "kill", "-s", "KILL", cid, ns=ns, timeout=20)
                    self.ctr("tasks", "rm", "-f", cid, ns=ns, timeout=20)
                    self.ctr("containers", "rm", cid, ns=ns, timeout=20)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                problems.append("containerd ignored SIGTERM for 15 s")
                self.proc.kill()
                self.proc.wait(10)
        for pid in self.shim_pids():
            problems.append("shim %d still running after containerd stopped" % pid)
            _kill(pid)
        # Containers left in hull's state (a shim killed before its delete).
        for root in (self.hull_root, os.path.join(self.base, "hull-vm-root")):
            for ns in (os.listdir(root) if os.path.isdir(root) else []):
                for c in _hull_list(self.hull, os.path.join(root, ns)):
                    problems.append("hull container %s left under %s/%s" % (c, root, ns))
                    subprocess.run([self.hull, "--root", os.path.join(root, ns), "delete", "--force", c],
                                   capture_output=True, timeout=30)
        # The parents hull made for cgroupsPath /NAMESPACE/ID (empty by now).
        for ns in (NAMESPACE, "k8s.io"):
            for top in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
                try:
                    os.rmdir(os.path.join(top, ns))
                except OSError:
                    pass
        for m in _mounts_under(self.base):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)
        return problems

    # ---- ctr ---------------------------------------------------------------

    def ctr_argv(self, *args, ns=NAMESPACE):
        return ["ctr", "--address", self.sock, "--namespace", ns] + list(args)

    def ctr(self, *args, ns=NAMESPACE, input=None, timeout=TIMEOUT):
        argv = self.ctr_argv(*args, ns=ns)
        try:
            p = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout,
                               stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            return Result(argv, "timeout", _s(e.stdout), _s(e.stderr))
        return Result(argv, p.returncode, p.stdout, p.stderr)

    def runtime_flags(self, binary=None):
        """ctr run's flags that select hull: the runc shim with hull as its
        runc binary and a private root (the shim appends the namespace)."""
        flags = ["--runtime", "io.containerd.runc.v2", "--runc-binary", binary or self.wrapper,
                 "--runc-root", self.hull_root]
        if self.hybrid:
            # ctr run always sets linux.resources.cpu.shares (default 1024);
            # hull refuses a limit whose controller cgroup2 lacks here.  0
            # leaves it unset (test_default_cpu_shares covers the default).
            flags += ["--cpu-shares", "0"]
        return flags

    def run(self, cid, *cmd, flags=(), input=None, timeout=TIMEOUT):
        return self.ctr("run", *self.runtime_flags(), *flags, IMAGE, cid, *cmd, input=input, timeout=timeout)

    def task_status(self, cid):
        for line in self.ctr("tasks", "ls").out.splitlines()[1:]:
            f = line.split()
            if f and f[0] == cid:
                return {"pid": int(f[1]), "status": f[2]}
        return None

    def wait_status(self, cid, status, timeout=20):
        deadline = time.monotonic() + timeout
        st = None
        while time.monotonic() < deadline:
            st = self.task_status(cid)
            if st and st["status"] == status:
                return st
            time.sleep(0.1)
        raise AssertionError("task %s did not become %s within %d s (last: %s)" % (cid, status, timeout, st))

    def hull_ns_root(self, ns=NAMESPACE):
        return os.path.join(self.hull_root, ns)

    def hull_containers(self, ns=NAMESPACE):
        return _hull_list(self.hull, self.hull_ns_root(ns))


# ---- terminals -------------------------------------------------------------------

def run_in_pty(argv, rows=30, cols=100, timeout=TIMEOUT, input=None, env=None):
    """Runs argv with a pty (of the given size) as its stdin, stdout and
    stderr, as a person at a terminal would; returns (rc, output bytes)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def child_setup():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, preexec_fn=child_setup, env=env)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        if input is not None:
            os.write(master, input)
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every slave fd is closed
                    break
                if not data:
                    break
                out += data
            elif p.poll() is not None:
                break
        rc = p.wait(max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        rc = "timeout"
    finally:
        os.close(master)
    return rc, out


# ---- host state ------------------------------------------------------------------

def _s(b):
    if b is None:
        return ""
    return b.decode(errors="replace") if isinstance(b, bytes) else b


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _hull_list(hull, root):
    """Container ids in a hull --root: its subdirectories (read directly,
    not through `hull list`, so a bug there cannot hide a leftover)."""
    if not os.path.isdir(root):
        return []
    return sorted(e for e in os.listdir(root) if not e.startswith("."))


def _mounts_under(prefix):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == prefix or mp.startswith(prefix.rstrip("/") + "/"):
                out.append(mp)
    return sorted(out, key=len, reverse=True)


def processes_in_cgroup(rel):
    """Pids in the cgroup2 group `rel` (relative to the cgroup2 mount), or []."""
    for top in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        path = os.path.join(top, rel.lstrip("/"), "cgroup.procs")
        if os.path.exists(os.path.join(top, "cgroup.controllers")) and os.path.exists(path):
            with open(path) as f:
                return [int(x) for x in f.read().split()]
    return []


def cgroup_exists(rel):
    for top in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if os.path.exists(os.path.join(top, "cgroup.controllers")) and \
                os.path.isdir(os.path.join(top, rel.lstrip("/"))):
            return True
    return False


def shim_socket(sock, ns, cid):
    """Where containerd 1.6's runc shim puts its ttrpc socket (hashed from
    containerd's address, the namespace and the id)."""
    h = hashlib.sha256(os.path.join(sock, ns, cid).encode()).hexdigest()
    return "/run/containerd/s/" + h
