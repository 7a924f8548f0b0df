"""Rootless containers: the runtime run by an unprivileged user (a uid
of its own, through setpriv) with a bundle from `spec --rootless` and its
state under $XDG_RUNTIME_DIR, as runc and crun support.  What works (run,
exit status, create/start/state/kill/delete, exec, a cgroup delegated to the
user) and what is refused, with a message that says why (limits without a
writable cgroup, a config without a user namespace, maps of other ids).

Everything the user does goes through setpriv --reuid/--regid
--clear-groups: no newuidmap, no capabilities, no cgroup of its own unless a
test delegates one.  The tests also pass against runc 1.1
(HULL=/usr/sbin/runc); hull_only marks hull's wording and what runc 1.1
does differently on this hybrid host."""

import json
import os
import shutil
import subprocess

import pytest

import helpers

UID = GID = 54321  # no user of this host has it (checked by the fixture)


@pytest.fixture(scope="module")
def user():
    for line in open("/etc/passwd"):
        assert line.split(":")[2] != str(UID), "uid %d is taken on this host" % UID
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to run as another user", pytrace=False)
    return UID, GID


def _chown_tree(top, uid, gid):
    for d, dirs, files in os.walk(top):
        os.lchown(d, uid, gid)
        for n in dirs + files:
            os.lchown(os.path.join(d, n), uid, gid)


class UserRuntime(helpers.Runtime):
    """The runtime as the unprivileged user, with XDG_RUNTIME_DIR set.
    root=None leaves --root out (the runtime's default root)."""

    def __init__(self, binary, root, workdir, uid, gid, xdg):
        super().__init__(binary, root, workdir)
        self.uid, self.gid, self.xdg = uid, gid, xdg

    def argv(self, args, global_args=()):
        root = ["--root", self.root] if self.root else []
        return [self.binary, *root, *global_args, *args]

    def popen(self, *args, wrap=None, **kw):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "XDG_RUNTIME_DIR": self.xdg}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        kw.setdefault("env", env)
        setpriv = ["setpriv", "--reuid=%d" % self.uid, "--regid=%d" % self.gid, "--clear-groups"]
        return super().popen(*args, wrap=list(wrap or []) + setpriv, **kw)


@pytest.fixture
def xdg(workdir, user):
    d = os.path.join(workdir, "xdg")
    os.makedirs(d, mode=0o700)
    os.chown(d, *user)
    return d


@pytest.fixture
def urt(hull_binary, workdir, user, xdg):
    r = UserRuntime(hull_binary, os.path.join(xdg, "state"), workdir, user[0], user[1], xdg)
    yield r
    r.cleanup()


class RootlessBundle(helpers.Bundle):
    """rootfs/ owned by the user, config.json from `spec --rootless` run by
    the user."""

    def __init__(self, path, template, urt):
        self.path = path
        self.rootfs = os.path.join(path, "rootfs")
        self.config_path = os.path.join(path, "config.json")
        os.makedirs(path)
        shutil.copytree(template, self.rootfs, symlinks=True)
        _chown_tree(path, urt.uid, urt.gid)
        r = urt("spec", "--rootless", "--bundle", path)
        if r.rc != 0:
            raise RuntimeError(r.describe())
        self.edit(self._defaults)


@pytest.fixture
def rbundle(base_dir, workdir, urt):
    return RootlessBundle(os.path.join(workdir, "rbundle"), os.path.join(base_dir, "rootfs-template"), urt)


def run(urt, bundle, *args, **kw):
    cid = helpers.new_id("rl")
    r = urt("run", *args, "--bundle", bundle.path, cid, **kw)
    urt.ids.remove(cid)
    return r


# ---- the config ---------------------------------------------------------------------------

def test_spec_rootless_maps_the_caller(rbundle, user):
    c = rbundle.config
    types = [n["type"] for n in c["linux"]["namespaces"]]
    assert "user" in types and "network" not in types, types
    one = lambda i: [{"containerID": 0, "hostID": i, "size": 1}]  # noqa: E731
    assert c["linux"]["uidMappings"] == one(user[0])
    assert c["linux"]["gidMappings"] == one(user[1])
    sys_mount = [m for m in c["mounts"] if m["destination"] == "/sys"][0]
    assert sys_mount["source"] == "/sys" and "rbind" in sys_mount["options"], sys_mount
    assert not any(o.startswith(("uid=", "gid=")) for m in c["mounts"] for o in m.get("options", []))
    assert "resources" not in c["linux"]


# ---- running -------------------------------------------------------------------------------

def test_run_output_and_exit_status(urt, rbundle, user):
    rbundle.sh("id -u; id -g; cat /proc/self/uid_map; stat -c %u /bin/busybox; exit 3")
    r = run(urt, rbundle)
    assert r.rc == 3, r.describe()
    lines = r.out.split("\n")
    assert lines[:2] == ["0", "0"], r.describe()
    assert lines[2].split() == ["0", str(user[0]), "1"], r.describe()
    # The user's own files are root's inside.
    assert lines[3] == "0", r.describe()


def test_process_is_the_user_on_the_host(urt, rbundle, user, cid):
    rbundle.args("sleep", "60")
    urt.ok("run", "-d", "--bundle", rbundle.path, cid)
    pid = urt.state(cid)["pid"]
    st = os.stat("/proc/%d" % pid)
    assert (st.st_uid, st.st_gid) == user
    urt.ok("delete", "--force", cid)


def test_default_protections_hold(urt, rbundle):
    # The same profile as a root container: capabilities (of the user
    # namespace only), no_new_privs, seccomp (where the spec has it).
    rbundle.sh("grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status")
    r = run(urt, rbundle)
    assert r.rc == 0, r.describe()
    st = dict(line.split(":\t") for line in r.out.splitlines())
    assert int(st["CapEff"], 16) == (1 << 29) | (1 << 5) | (1 << 10), st
    assert st["NoNewPrivs"].strip() == "1"
    assert st["Seccomp"].strip() == ("2" if "seccomp" in rbundle.config["linux"] else "0")


def test_state_goes_under_xdg_runtime_dir(urt, rbundle, xdg, cid, is_runc):
    urt.root = None  # the runtime's default
    rbundle.args("sleep", "60")
    urt.ok("create", "--bundle", rbundle.path, cid)
    default_root = os.path.join(xdg, "runc" if is_runc else "hull")
    assert os.path.isdir(default_root), os.listdir(xdg)
    assert any(cid in n for n in os.listdir(default_root)), os.listdir(default_root)
    assert cid in urt.ok("list", "-q").out.split()
    urt.ok("delete", cid)
    assert not any(cid in n for n in os.listdir(default_root))


def test_lifecycle_create_start_state_kill_delete(urt, rbundle, cid):
    rbundle.sh("trap 'exit 0' TERM; while :; do sleep 0.05; done")
    urt.ok("create", "--bundle", rbundle.path, cid)
    st = urt.state(cid)
    assert st["status"] == "created" and st["pid"] > 0, st
    urt.ok("start", cid)
    urt.wait_status(cid, "running")
    urt.ok("kill", cid, "TERM")
    urt.wait_status(cid, "stopped")
    urt.ok("delete", cid)
    assert urt.state(cid) is None
    assert not os.path.exists(os.path.join(urt.root, cid))


def test_exec(urt, rbundle, cid):
    rbundle.args("sleep", "60")
    urt.ok("run", "-d", "--bundle", rbundle.path, cid)
    r = urt("exec", cid, "sh", "-c", "id -u; cat /proc/1/cmdline | tr '\\0' ' '; echo; exit 5")
    assert r.rc == 5, r.describe()
    assert r.out.split("\n")[:2] == ["0", "sleep 60 "], r.describe()
    r = urt("exec", cid, "/nonexistent")
    assert r.rc != 0 and "/nonexistent" in r.err, r.describe()
    urt.ok("delete", "--force", cid)


def test_console_socket(urt, rbundle, cid, workdir):
    path = os.path.join(workdir, "console.sock")
    cs = helpers.ConsoleSocket(path)
    os.chmod(path, 0o777)  # the user connects to it
    try:
        rbundle.edit(lambda c: c["process"].__setitem__("terminal", True)).sh("tty; echo done")
        urt.ok("run", "-d", "--console-socket", path, "--bundle", rbundle.path, cid)
        cs.wait_master()
        out = cs.read_all(until=b"done")
        assert b"/dev/pts/0" in out and b"done" in out, out
    finally:
        cs.close()


def test_devices_are_the_hosts_bound_and_mknod_is_refused(urt, rbundle):
    # A user namespace cannot make device nodes: /dev/null is the host's,
    # bound (runc does the same), and works.
    rbundle.sh("stat -c %t:%T /dev/null; echo x > /dev/null && echo null-ok;"
               " mknod /dev/shm/n c 1 3 2>/dev/null && echo mknod-ok || echo mknod-refused")
    r = run(urt, rbundle)
    assert r.rc == 0, r.describe()
    assert r.out.split() == ["1:3", "null-ok", "mknod-refused"], r.describe()


def test_nothing_of_the_host_is_writable(urt, rbundle, workdir):
    # The user's power, no more: a root-owned host file bound in stays
    # unwritable for the container's "root".
    target = os.path.join(workdir, "root-owned")
    with open(target, "w") as f:
        f.write("host\n")
    os.chmod(target, 0o644)
    rbundle.add_mount("/mnt/f", "bind", target, ["bind"])
    rbundle.sh("echo changed > /mnt/f 2>/dev/null && echo wrote || echo refused")
    r = run(urt, rbundle)
    assert r.out.strip() == "refused", r.describe()
    assert open(target).read() == "host\n"


# ---- without a cgroup ------------------------------------------------------------------------

@pytest.mark.hull_only  # runc 1.1 uses the v1 hierarchies of this hybrid host, and other words
def test_without_a_cgroup_the_container_runs_and_cgroup_commands_say_why(urt, rbundle, cid):
    rbundle.args("sleep", "60")
    urt.ok("run", "-d", "--bundle", rbundle.path, cid)
    st = json.loads(urt.ok("state", cid).out)
    # Still in the cgroup of the runtime's caller: none was made.
    with open("/proc/%d/cgroup" % st["pid"]) as f, open("/proc/self/cgroup") as g:
        assert f.read().splitlines()[-1] == g.read().splitlines()[-1]
    for args in (["ps", cid], ["pause", cid], ["events", "--stats", cid], ["update", "--pids-limit", "10", cid]):
        r = urt(*args)
        assert r.rc != 0 and "has no cgroup" in r.err and "rootless" in r.err, r.describe()
    urt.ok("kill", "--all", cid, "KILL")
    urt.wait_status(cid, "stopped")
    urt.ok("delete", cid)


@pytest.mark.hull_only
def test_limits_without_a_writable_cgroup_are_refused(urt, rbundle, cid):
    rbundle.edit(lambda c: c["linux"].__setitem__("resources", {"unified": {"cgroup.max.descendants": "3"}}))
    rbundle.args("true")
    r = urt("run", "--bundle", rbundle.path, cid)
    assert r.rc != 0, r.describe()
    assert "rootless" in r.err and "linux.resources.unified" in r.err and "Permission denied" in r.err, r.err
    assert not os.path.isdir(urt.root) or os.listdir(urt.root) == []
    assert helpers.cgroup_dirs_matching(cid, "/sys/fs/cgroup/unified") == []


# ---- refused configs ---------------------------------------------------------------------------

def test_config_without_a_user_namespace_is_refused(urt, rbundle, cid, is_runc):
    def f(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "user"]
        del c["linux"]["uidMappings"], c["linux"]["gidMappings"]
    rbundle.edit(f).args("true")
    r = urt("run", "--bundle", rbundle.path, cid)
    assert r.rc != 0, r.describe()
    if not is_runc:
        assert "linux.namespaces" in r.err and "user namespace" in r.err and "--rootless" in r.err, r.err
    assert not os.path.isdir(urt.root) or os.listdir(urt.root) == []


def test_failed_create_leaves_nothing(urt, rbundle, cid, is_runc):
    rbundle.args("/nonexistent")
    r = urt("create", "--bundle", rbundle.path, cid)
    assert r.rc != 0 and "/nonexistent" in r.err, r.describe()
    assert not os.path.isdir(urt.root) or os.listdir(urt.root) == []
    assert helpers.processes_matching(cid) == []


def test_mapping_other_ids_is_refused(urt, rbundle, cid, is_runc):
    # Only the caller's own id, without newuidmap (not installed here).
    rbundle.edit(lambda c: c["linux"]["uidMappings"][0].__setitem__("size", 65536)).args("true")
    r = urt("run", "--bundle", rbundle.path, cid)
    assert r.rc != 0, r.describe()
    if not is_runc:
        assert "linux.uidMappings" in r.err and "newuidmap" in r.err, r.err
    assert not os.path.isdir(urt.root) or os.listdir(urt.root) == []


@pytest.mark.hull_only
def test_unmapped_mount_gid_is_refused_by_name(urt, rbundle, cid):
    # runc spec's devpts option; a one-id namespace has no gid 5.
    def f(c):
        [m for m in c["mounts"] if m["destination"] == "/dev/pts"][0]["options"].append("gid=5")
    rbundle.edit(f).args("true")
    r = urt("run", "--bundle", rbundle.path, cid)
    assert r.rc != 0 and "gid=5" in r.err and "not mapped" in r.err, r.describe()


def test_default_root_needs_xdg_runtime_dir(urt, rbundle, cid, is_runc):
    # Without XDG_RUNTIME_DIR the default root is the system one, which the
    # user may not write.
    urt.root = None
    env = {"PATH": "/usr/bin:/bin"}
    r = urt("create", "--bundle", rbundle.path, cid, env=env)
    assert r.rc != 0, r.describe()
    if not is_runc:
        assert "XDG_RUNTIME_DIR" in r.err, r.err


# ---- a cgroup delegated to the user ----------------------------------------------------------

@pytest.fixture
def delegated(user):
    """A cgroup2 directory owned by the user, as systemd delegates one
    (user@UID.service), with a child the runtime's caller is moved into: the
    container's cgroup is made next to it, under the delegated one."""
    base = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified") else "/sys/fs/cgroup"
    top = os.path.join(base, helpers.new_id("rl-deleg"))
    os.makedirs(os.path.join(top, "caller"))
    for d in (top, os.path.join(top, "caller")):
        os.chown(d, *user)
        for n in ("cgroup.procs", "cgroup.subtree_control", "cgroup.threads"):
            os.chown(os.path.join(d, n), *user)
    yield top
    for d, dirs, _ in sorted(os.walk(top), key=lambda x: -len(x[0])):
        for _ in range(50):
            try:
                os.rmdir(d)
                break
            except OSError:
                subprocess.run(["sleep", "0.1"])


@pytest.mark.hull_only  # runc 1.1 places containers in the v1 hierarchies of this hybrid host
def test_delegated_cgroup_is_used(urt, rbundle, cid, delegated):
    # The caller moves itself into the delegated subtree first, as a user
    # session's processes already are.
    wrap = ["/bin/sh", "-c", 'echo $$ > "$0/caller/cgroup.procs" && exec "$@"', delegated]
    rbundle.edit(lambda c: c["linux"].__setitem__("resources", {"unified": {"cgroup.max.descendants": "3"}}))
    rbundle.args("sleep", "60")
    r = urt("run", "-d", "--bundle", rbundle.path, cid, wrap=wrap)
    assert r.rc == 0, r.describe()
    cg = os.path.join(delegated, cid)
    pid = urt.state(cid)["pid"]
    with open(os.path.join(cg, "cgroup.procs")) as f:
        assert f.read().split() == [str(pid)]
    with open(os.path.join(cg, "cgroup.max.descendants")) as f:
        assert f.read().strip() == "3"
    assert urt.ok("ps", "--format", "json", cid).out.strip() == "[%d]" % pid
    urt.ok("pause", cid)
    urt.wait_status(cid, "paused")
    urt.ok("resume", cid)
    urt.ok("delete", "--force", cid)
    assert not os.path.exists(cg)

