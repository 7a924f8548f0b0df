"""Refused input: the error says what is wrong, and a refused `create` leaves
nothing behind — no state, no mounts, no processes, no cgroup."""

import json
import os

import pytest

import helpers


class HostSnapshot:
    """What a container could leak onto the host, keyed to one id."""

    def __init__(self, cid, workdir):
        self.cid = cid
        self.workdir = workdir
        self.mounts = set(helpers.mountinfo())
        self.cgroups = helpers.cgroup_dirs_matching(cid)
        self.unified = self._unified()
        self.procs = self._procs()

    @staticmethod
    def _unified():
        top = "/sys/fs/cgroup/unified"
        return {d for d, _, _ in os.walk(top)} if os.path.isdir(top) else set()

    def _procs(self):
        return {p for p, _ in helpers.processes_matching(self.cid)} | \
               {p for p, _ in helpers.processes_matching(self.workdir)}

    def new_mounts(self):
        new = set(helpers.mountinfo()) - self.mounts
        mine = []
        for line in new:
            mp = line.split()[4]
            # Other suites on this host (another session's integration
            # tests, the containerd, podman and image suites: all under
            # /tmp/hull-*) may be mounting their own fixtures meanwhile;
            # those are not ours to judge.
            if mp.startswith("/tmp/hull-") and not mp.startswith(
                    os.path.dirname(self.workdir)):
                continue
            mine.append(line)
        return mine

    def assert_nothing_left(self, rt):
        problems = []
        if os.path.isdir(rt.root):
            left = [os.path.join(d, n) for d, dirs, files in os.walk(rt.root)
                    for n in dirs + files]
            if any(self.cid in p for p in left):
                problems.append("state left under --root: %s" % left)
        st = rt.state(self.cid)
        if st is not None:
            problems.append("`state` still knows the container: %s" % st)
        mounts = self.new_mounts()
        if mounts:
            problems.append("new mounts on the host: %s" % mounts)
        cg = set(helpers.cgroup_dirs_matching(self.cid)) - set(self.cgroups)
        if cg:
            problems.append("cgroup dirs left: %s" % sorted(cg))
        unified = {d for d in self._unified() - self.unified if self.cid in d}
        if unified:
            problems.append("unified cgroup dirs left: %s" % sorted(unified))
        procs = self._procs() - self.procs
        if procs:
            problems.append("processes left: %s" % [
                p for p in helpers.processes_matching(self.cid)
                + helpers.processes_matching(self.workdir) if p[0] in procs])
        assert not problems, "\n".join(problems)


def create_under_reaper(rt, bundle, cid, *extra, keep=False):
    """create, run under a subreaper so that any orphan it leaves is caught."""
    report = os.path.join(rt.workdir, "reaper-%s.json" % cid)
    wrap = ["/usr/bin/python3", helpers.REAPER] + (["--keep"] if keep else []) + [report]
    r = rt("create", "--bundle", bundle.path, *extra, cid, wrap=wrap)
    with open(report) as f:
        rep = json.load(f)
    return r, rep["leftovers"]


def refused(rt, bundle, cid, workdir, *extra):
    snap = HostSnapshot(cid, workdir)
    r, leftovers = create_under_reaper(rt, bundle, cid, *extra)
    assert r.rc != 0, r.describe()
    assert r.err.strip(), "refused without a message:\n" + r.describe()
    assert leftovers == [], "processes left behind by create: %s" % leftovers
    snap.assert_nothing_left(rt)
    return r


# ---- each refused create leaves nothing -------------------------------------------------

def test_wrong_type_refused(rt, bundle, cid, workdir):
    bundle.edit(lambda c: c["process"].__setitem__("args", ["sh", 5]))
    refused(rt, bundle, cid, workdir)


@pytest.mark.hull_only
def test_wrong_type_message_names_the_path(rt, bundle, cid, workdir):
    bundle.edit(lambda c: c["process"].__setitem__("args", ["sh", 5]))
    r = refused(rt, bundle, cid, workdir)
    assert "process.args[1]" in r.err, r.err


@pytest.mark.hull_only
@pytest.mark.parametrize("edit,path", [
    (lambda c: c["process"].__setitem__("cwd", 7), "process.cwd"),
    (lambda c: c["process"]["user"].__setitem__("uid", "root"), "process.user.uid"),
    (lambda c: c["mounts"][2].__setitem__("options", "nosuid"), "mounts[2].options"),
    (lambda c: c["linux"]["namespaces"][1].__setitem__("type", "bogus"),
     "linux.namespaces[1].type"),
    (lambda c: c["process"].__setitem__("env", [{"A": "b"}]), "process.env[0]"),
], ids=["cwd", "uid", "mount-options", "namespace-type", "env"])
def test_bad_config_message_names_the_path(rt, bundle, cid, workdir, edit, path):
    bundle.edit(edit)
    r = refused(rt, bundle, cid, workdir)
    assert path in r.err, r.err


def test_invalid_json_refused(rt, bundle, cid, workdir):
    with open(bundle.config_path) as f:
        text = f.read()
    with open(bundle.config_path, "w") as f:
        f.write(text[: len(text) // 2])
    refused(rt, bundle, cid, workdir)


@pytest.mark.hull_only
def test_trailing_garbage_refused(rt, bundle, cid, workdir):
    # runc's decoder stops after the first object; a strict parser should not.
    with open(bundle.config_path, "a") as f:
        f.write("}{ not json")
    refused(rt, bundle, cid, workdir)


def test_missing_config_refused(rt, bundle, cid, workdir):
    os.unlink(bundle.config_path)
    refused(rt, bundle, cid, workdir)


def test_missing_rootfs_refused(rt, bundle, cid, workdir):
    bundle.edit(lambda c: c["root"].__setitem__("path", "no-such-rootfs"))
    refused(rt, bundle, cid, workdir)


def test_nonexistent_binary_refused(rt, bundle, cid, workdir):
    bundle.args("/nonexistent")
    r = refused(rt, bundle, cid, workdir)
    assert "nonexistent" in r.err


def test_binary_not_on_path_refused(rt, bundle, cid, workdir):
    bundle.args("no-such-command-anywhere")
    r = refused(rt, bundle, cid, workdir)
    assert "no-such-command-anywhere" in r.err


def test_bind_missing_source_refused(rt, bundle, cid, workdir):
    bundle.add_mount("/mnt/x", "bind", os.path.join(workdir, "does-not-exist"), ["rbind"])
    refused(rt, bundle, cid, workdir)


def test_unknown_fs_type_refused(rt, bundle, cid, workdir):
    # Fails in the child, after the default mounts were already made.
    bundle.add_mount("/mnt/x", "no-such-fstype", "none", [])
    refused(rt, bundle, cid, workdir)


def test_bad_tmpfs_option_refused(rt, bundle, cid, workdir):
    bundle.add_mount("/mnt/x", "tmpfs", "tmpfs", ["size=notanumber"])
    refused(rt, bundle, cid, workdir)


def test_failing_prestart_hook_leaves_nothing(rt, bundle, cid, workdir):
    # By now the init exists, in its namespaces and cgroup.
    script = os.path.join(workdir, "fail.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\nexit 1\n")
    os.chmod(script, 0o755)
    bundle.set_hook("prestart", script, [script])
    bundle.args("sleep", "1000")
    refused(rt, bundle, cid, workdir)


def test_failing_create_container_hook_leaves_nothing(rt, bundle, cid, workdir):
    script = os.path.join(workdir, "fail.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\nexit 1\n")
    os.chmod(script, 0o755)
    bundle.set_hook("createContainer", script, [script])
    bundle.args("sleep", "1000")
    refused(rt, bundle, cid, workdir)


def test_bad_cwd_refused(rt, bundle, cid, workdir):
    # cwd is a file: chdir fails in the child.
    bundle.edit(lambda c: c["process"].__setitem__("cwd", "/etc/passwd"))
    refused(rt, bundle, cid, workdir)


def test_relative_cwd_refused(rt, bundle, cid, workdir):
    bundle.edit(lambda c: c["process"].__setitem__("cwd", "relative/dir"))
    refused(rt, bundle, cid, workdir)


def test_missing_process_args_refused(rt, bundle, cid, workdir):
    bundle.edit(lambda c: c["process"].pop("args"))
    refused(rt, bundle, cid, workdir)


def test_bad_namespace_path_refused(rt, bundle, cid, workdir):
    def f(c):
        for n in c["linux"]["namespaces"]:
            if n["type"] == "network":
                n["path"] = "/proc/self/ns/does-not-exist"
    bundle.edit(f)
    refused(rt, bundle, cid, workdir)


def test_bad_device_refused(rt, bundle, cid, workdir):
    bundle.edit(lambda c: c["linux"].__setitem__("devices", [
        {"path": "/dev/bad", "type": "x", "major": 1, "minor": 3}]))
    refused(rt, bundle, cid, workdir)


def test_bad_rlimit_refused(rt, bundle, cid, workdir):
    bundle.edit(lambda c: c["process"].__setitem__("rlimits", [
        {"type": "RLIMIT_NOPE", "soft": 1, "hard": 1}]))
    refused(rt, bundle, cid, workdir)


# ---- the full lifecycle leaves nothing either ----------------------------------------

def test_lifecycle_leaves_nothing(rt, bundle, cid, workdir):
    bundle.args("true")
    snap = HostSnapshot(cid, workdir)
    r, leftovers = create_under_reaper(rt, bundle, cid, keep=True)
    assert r.rc == 0, r.describe()
    # The init is our descendant now (as with containerd's shim): expected.
    assert [l for l in leftovers if l["pid"] != rt.state(cid)["pid"]] == [], leftovers
    rt.ok("start", cid)
    rt.wait_status(cid, "stopped")
    rt.ok("delete", cid)
    snap.assert_nothing_left(rt)


def test_forced_delete_leaves_nothing(rt, bundle, cid, workdir):
    bundle.sh("sleep 1000 & sleep 1000")
    snap = HostSnapshot(cid, workdir)
    rt.ok("run", "-d", "--bundle", bundle.path, cid)
    rt.ok("delete", "--force", cid)
    snap.assert_nothing_left(rt)

