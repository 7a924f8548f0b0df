"""Helpers for hull's integration tests: a busybox bundle whose config.json
comes from the runtime's own `spec`, a wrapper that runs the runtime with a
private --root, and snapshots of host state (mounts, cgroups, processes) used
to prove that a refused `create` leaves nothing behind.

The runtime under test is $HULL; everything here must also work with
HULL=/usr/sbin/runc, which is how the tests themselves are validated."""

import json
import os
import pty
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import threading
import time

BUSYBOX = "/bin/busybox"
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TIMEOUT = 30


def runtime_binary():
    path = os.environ.get("HULL")
    if not path:
        guess = os.path.join(HERE, "..", "..", "build-asan", "hull")
        path = os.path.abspath(guess)
    return path


def runtime_is_runc(path=None):
    path = path or runtime_binary()
    if os.path.basename(os.path.realpath(path)).startswith("runc"):
        return True
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.startswith("runc version")


def new_id(prefix="it"):
    # Random so that concurrent runs on the same host never share an id
    # (a cgroup path or a state dir).
    return "%s-%s" % (prefix, secrets.token_hex(5))


# ---- rootfs and bundle ---------------------------------------------------------

def make_rootfs_template(dest):
    """A busybox rootfs: the static binary plus one symlink per applet."""
    os.makedirs(dest)
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp",
              "etc", "mnt", "root", "run", "var/tmp"):
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    os.chmod(os.path.join(dest, "tmp"), 0o1777)
    shutil.copy2(BUSYBOX, os.path.join(dest, "bin", "busybox"))
    listing = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True,
                             check=True).stdout.split()
    for rel in listing:
        link = os.path.join(dest, rel)
        if rel == "bin/busybox" or os.path.lexists(link):
            continue
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink("/bin/busybox", link)
    with open(os.path.join(dest, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/tmp:/bin/sh\n")
    with open(os.path.join(dest, "etc", "group"), "w") as f:
        f.write("root:x:0:\nuser:x:1000:\n")


class Bundle:
    """A bundle directory: rootfs/ plus config.json written by `$HULL spec`."""

    def __init__(self, path, template, binary):
        self.path = path
        self.rootfs = os.path.join(path, "rootfs")
        self.config_path = os.path.join(path, "config.json")
        os.makedirs(path, exist_ok=True)
        shutil.copytree(template, self.rootfs, symlinks=True)
        r = subprocess.run([binary, "spec", "--bundle", path], capture_output=True,
                           text=True, timeout=DEFAULT_TIMEOUT)
        if r.returncode != 0 or not os.path.exists(self.config_path):
            raise RuntimeError("%s spec --bundle %s failed (rc %d): %s"
                               % (binary, path, r.returncode, r.stderr.strip()))
        self.edit(self._defaults)

    @staticmethod
    def _defaults(c):
        c["process"]["terminal"] = False

    @property
    def config(self):
        with open(self.config_path) as f:
            return json.load(f)

    def write(self, config):
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=1)

    def edit(self, fn):
        """fn(config_dict) edits in place (or returns a replacement)."""
        c = self.config
        r = fn(c)
        self.write(c if r is None else r)
        return self

    def args(self, *argv):
        return self.edit(lambda c: c["process"].__setitem__("args", list(argv)))

    def sh(self, script):
        return self.args("sh", "-c", script)

    def add_mount(self, destination, type_, source, options=None):
        m = {"destination": destination, "type": type_, "source": source}
        if options is not None:
            m["options"] = list(options)
        return self.edit(lambda c: c.setdefault("mounts", []).append(m))

    def set_hook(self, kind, path, args=None, env=None, timeout=None):
        h = {"path": path}
        if args is not None:
            h["args"] = list(args)
        if env is not None:
            h["env"] = list(env)
        if timeout is not None:
            h["timeout"] = timeout
        return self.edit(lambda c: c.setdefault("hooks", {}).setdefault(kind, []).append(h))


# ---- running the runtime ---------------------------------------------------------

class Result(tuple):
    """(rc, out, err), also as attributes."""

    def __new__(cls, rc, out, err, argv):
        self = super().__new__(cls, (rc, out, err))
        self.argv = argv
        return self

    rc = property(lambda s: s[0])
    out = property(lambda s: s[1])
    err = property(lambda s: s[2])

    def describe(self):
        return "%s -> rc %s\n--- stdout\n%s--- stderr\n%s" % (
            " ".join(self.argv), self.rc, self.out, self.err)


class Runtime:
    """Runs [binary, '--root', root, *args].

    stdout and stderr go to files, not pipes: after `create` or `run -d` the
    container keeps them open, and a pipe would never reach EOF."""

    def __init__(self, binary, root, workdir):
        self.binary = binary
        self.root = root
        self.workdir = workdir
        self.ids = []
        self._n = 0

    def argv(self, args, global_args=()):
        return [self.binary, "--root", self.root, *global_args, *args]

    def _files(self):
        self._n += 1
        base = os.path.join(self.workdir, "io-%03d" % self._n)
        return base + ".out", base + ".err"

    def _note_id(self, args):
        # Remember ids handed to create/run so teardown can delete them.
        for i, a in enumerate(args):
            if a in ("create", "run"):
                rest = [x for x in args[i + 1:] if not x.startswith("-")]
                if rest:
                    self.ids.append(args[-1])
                break

    def popen(self, *args, global_args=(), stdin=subprocess.DEVNULL, wrap=None, **kw):
        args = [str(a) for a in args]
        self._note_id(args)
        outp, errp = self._files()
        argv = self.argv(args, global_args)
        if wrap:
            argv = list(wrap) + argv
        with open(outp, "wb") as o, open(errp, "wb") as e:
            kw.setdefault("cwd", self.workdir)
            p = subprocess.Popen(argv, stdin=stdin, stdout=o, stderr=e, **kw)
        p.out_path, p.err_path, p.argv_ = outp, errp, argv
        return p

    def collect(self, p, timeout=DEFAULT_TIMEOUT):
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise AssertionError("timed out after %ss: %s\n%s" % (
                timeout, " ".join(p.argv_), _read(p.err_path)))
        return Result(rc, _read(p.out_path), _read(p.err_path), p.argv_)

    def __call__(self, *args, timeout=DEFAULT_TIMEOUT, global_args=(), **kw):
        return self.collect(self.popen(*args, global_args=global_args, **kw), timeout)

    def ok(self, *args, **kw):
        r = self(*args, **kw)
        assert r.rc == 0, r.describe()
        return r

    def state(self, cid):
        r = self("state", cid)
        if r.rc != 0:
            return None
        return json.loads(r.out)

    def wait_status(self, cid, status, timeout=15):
        deadline = time.monotonic() + timeout
        st = None
        while time.monotonic() < deadline:
            st = self.state(cid)
            if st is not None and st["status"] == status:
                return st
            time.sleep(0.02)
        raise AssertionError("container %s never reached %r (last state %r)"
                             % (cid, status, st))

    def cleanup(self):
        for cid in dict.fromkeys(self.ids):
            try:
                self("delete", "--force", cid, timeout=15)
            except AssertionError:
                pass


def _read(path):
    with open(path, "rb") as f:
        return f.read().decode(errors="replace")


# ---- host-state snapshots ---------------------------------------------------------

def mountinfo():
    with open("/proc/self/mountinfo") as f:
        return [line.rstrip("\n") for line in f]


def mount_points_under(prefix):
    out = []
    for line in mountinfo():
        mp = line.split()[4].replace("\\040", " ")
        if mp == prefix or mp.startswith(prefix.rstrip("/") + "/"):
            out.append(mp)
    return out


def cgroup_dirs_matching(needle, top="/sys/fs/cgroup"):
    found = []
    for dirpath, dirnames, _ in os.walk(top):
        for d in dirnames:
            if needle in d:
                found.append(os.path.join(dirpath, d))
    return sorted(found)


def processes_matching(needle):
    """pids whose cmdline or environment mentions needle (not us)."""
    me = os.getpid()
    hits = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmd:
            hits.append((int(pid), cmd))
    return hits


def is_mountpoint_type(path):
    for line in mountinfo():
        f = line.split()
        if f[4] == path:
            return f[f.index("-") + 1]
    return None


def proc_mounts_entry(text, mountpoint):
    """The /proc/mounts line (from a container's output) for mountpoint."""
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 4 and f[1] == mountpoint:
            return {"source": f[0], "type": f[2], "options": f[3].split(",")}
    return None


# ---- console socket ---------------------------------------------------------------

class ConsoleSocket:
    """The receiving end of --console-socket, as containerd's shim does it:
    accept one connection, receive the pty master over SCM_RIGHTS, then read
    everything the container writes to its terminal."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.sock.settimeout(DEFAULT_TIMEOUT)
        self.master = None
        self.error = None
        self.output = b""
        self._got_fd = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(DEFAULT_TIMEOUT)
                msg, fds, _, _ = socket.recv_fds(conn, 4096, 4)
                if not fds:
                    raise RuntimeError("no fd received on the console socket (msg %r)" % msg)
                self.master = fds[0]
                for extra in fds[1:]:
                    os.close(extra)
        except Exception as e:  # reported by wait_master
            self.error = e
        finally:
            self._got_fd.set()

    def wait_master(self, timeout=DEFAULT_TIMEOUT):
        assert self._got_fd.wait(timeout), "console socket: nothing received"
        if self.error:
            raise self.error
        return self.master

    def read_all(self, timeout=DEFAULT_TIMEOUT, until=None):
        """Reads the master until EIO (all slave ends closed), timeout, or
        until the bytes `until` have been seen."""
        import select
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.master], [], [], 0.2)
            if not r:
                continue
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.output += chunk
            if until is not None and until in self.output:
                break
        return self.output

    def close(self):
        if self.master is not None:
            os.close(self.master)
            self.master = None
        self.sock.close()


# ---- subreaper wrapper -------------------------------------------------------------

REAPER = os.path.join(HERE, "reaper.py")


def ensure_unmounted_under(path):
    """Safety before rmtree: never delete through a leaked mount."""
    leaked = sorted(mount_points_under(path), key=len, reverse=True)
    for mp in leaked:
        subprocess.run(["umount", "-l", mp], capture_output=True)
    return leaked


def kill_pids(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def parse_id_list(text):
    return [int(x) for x in re.findall(r"\d+", text)]


# ---- a terminal in the foreground ---------------------------------------------------

def run_under_pty(argv, wait_for, reply, timeout=20):
    """Runs argv with a new pty as its stdio, as a person at a terminal would;
    once the output contains `wait_for`, types `reply`.  Returns (rc, output)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out, sent = b"", False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break  # EIO: every slave fd is closed
            if not chunk:
                break
            out += chunk
        if not sent and wait_for in out:
            os.write(master, reply)
            sent = True
        if p.poll() is not None and not r:
            break
    rc = p.wait(timeout=timeout)
    os.close(master)
    return rc, out
