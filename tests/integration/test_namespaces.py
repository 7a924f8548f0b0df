"""Namespaces joined by path, time and cgroup namespaces, sysctls,
domainname, oomScoreAdj, --no-pivot, and `run` in the foreground with a
terminal."""

import os

import pytest

from helpers import run_under_pty


def _ns_of(c, typ):
    return [n for n in c["linux"]["namespaces"] if n["type"] == typ]


def _join(bundle, typ, path):
    def f(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != typ]
        c["linux"]["namespaces"].append({"type": typ, "path": path})
        if typ == "uts":
            c.pop("hostname", None)
    bundle.edit(f)


def _start_sleeper(rt, bundle, cid, extra=None):
    def f(c):
        c["hostname"] = "first-box"
        c["process"]["args"] = ["sleep", "1000"]
        if extra:
            extra(c)
    bundle.edit(f)
    rt.ok("run", "--detach", "--bundle", bundle.path, cid)
    return rt.wait_status(cid, "running")["pid"]


def test_join_uts_namespace_by_path(rt, make_bundle, cid):
    first = make_bundle()
    pid = _start_sleeper(rt, first, cid)
    second = make_bundle()
    _join(second, "uts", "/proc/%d/ns/uts" % pid)
    second.args("hostname")
    r = rt.ok("run", "--bundle", second.path, cid + "-2")
    assert r.out.strip() == "first-box"


def test_join_network_namespace_by_path(rt, make_bundle, cid):
    first = make_bundle()
    pid = _start_sleeper(rt, first, cid)
    second = make_bundle()
    _join(second, "network", "/proc/%d/ns/net" % pid)
    second.sh("readlink /proc/self/ns/net")
    r = rt.ok("run", "--bundle", second.path, cid + "-2")
    assert r.out.strip() == os.readlink("/proc/%d/ns/net" % pid)
    assert r.out.strip() != os.readlink("/proc/self/ns/net")


def test_join_pid_namespace_by_path(rt, make_bundle, cid):
    first = make_bundle()
    pid = _start_sleeper(rt, first, cid)
    second = make_bundle()
    _join(second, "pid", "/proc/%d/ns/pid" % pid)
    # The joiner is not PID 1 there, and sees the first container's sleeper.
    second.sh("echo $$; ps -o comm | grep -c sleep")
    r = rt.ok("run", "--bundle", second.path, cid + "-2")
    mypid, sleepers = r.out.split()
    assert mypid != "1"
    assert int(sleepers) >= 1


def test_join_missing_namespace_path_refused(rt, bundle, cid):
    _join(bundle, "network", "/proc/999999999/ns/net")
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.rc != 0
    assert "/proc/999999999/ns/net" in r.err


# runc 1.1 has no time namespace and ignores domainname.
@pytest.mark.hull_only
def test_time_namespace_offsets(rt, bundle, cid):
    offset = 100000

    def f(c):
        c["linux"]["namespaces"].append({"type": "time"})
        c["linux"]["timeOffsets"] = {"boottime": {"secs": offset, "nanosecs": 0}}
        c["process"]["args"] = ["cat", "/proc/uptime"]
    bundle.edit(f)
    with open("/proc/uptime") as fh:
        host_before = float(fh.read().split()[0])
    r = rt.ok("run", "--bundle", bundle.path, cid)
    inside = float(r.out.split()[0])
    assert inside >= host_before + offset


# runc 1.1 has no time namespace and ignores domainname.
@pytest.mark.hull_only
def test_time_offsets_need_a_time_namespace(rt, bundle, cid):
    bundle.edit(lambda c: c["linux"].__setitem__("timeOffsets", {"boottime": {"secs": 5}}))
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.rc != 0


def test_cgroup_namespace_root(rt, bundle, cid):
    if not _ns_of(bundle.config, "cgroup"):
        bundle.edit(lambda c: c["linux"]["namespaces"].append({"type": "cgroup"}))
    bundle.args("cat", "/proc/self/cgroup")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert "0::/" in r.out.splitlines()


def test_sysctls_in_new_namespaces(rt, bundle, cid):
    def f(c):
        c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}
        c["process"]["args"] = ["cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmni"]
    bundle.edit(f)
    with open("/proc/sys/net/ipv4/ip_forward") as fh:
        host_fwd = fh.read()
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert r.out.split() == ["1", "1234"]
    with open("/proc/sys/net/ipv4/ip_forward") as fh:
        assert fh.read() == host_fwd


def test_sysctl_of_host_namespace_refused(rt, bundle, cid):
    def f(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
        c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    bundle.edit(f)
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.rc != 0
    assert not os.path.exists(os.path.join(rt.root, cid))


# runc 1.1 has no time namespace and ignores domainname.
@pytest.mark.hull_only
def test_domainname(rt, bundle, cid):
    bundle.edit(lambda c: c.__setitem__("domainname", "example.test")).args("cat", "/proc/sys/kernel/domainname")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert r.out.strip() == "example.test"


def test_oom_score_adj(rt, bundle, cid):
    bundle.edit(lambda c: c["process"].__setitem__("oomScoreAdj", 567)).args("cat", "/proc/self/oom_score_adj")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert r.out.strip() == "567"


def test_no_pivot(rt, bundle, cid):
    bundle.sh("ls /; cat /proc/self/mountinfo | wc -l")
    r = rt.ok("run", "--no-pivot", "--bundle", bundle.path, cid)
    assert "bin" in r.out.split()
    # Nothing of the host's root is visible: /work (the source tree) is not.
    assert "work" not in r.out.split()


def test_run_foreground_with_terminal(hull_binary, rt, bundle, cid):
    """`run` with process.terminal and no console socket: hull makes the pty
    and relays it, as runc does in the foreground."""
    bundle.edit(lambda c: c["process"].__setitem__("terminal", True)).sh(
        "tty; read line; echo got:$line; exit 4")
    rc, out = run_under_pty(rt.argv(["run", "--bundle", bundle.path, cid]), b"/dev/pts/", b"hello\r")
    assert b"/dev/pts/" in out, out
    assert b"got:hello" in out, out
    assert rc == 4, out
