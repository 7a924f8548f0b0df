"""cgroup v2 resource control, on a pure cgroup2 host with every controller
(the test host VM): each linux.resources field written and read back, and
the behaviour behind it — OOM kill reported by `events`, a pids limit that
makes fork fail, `update` of a running container, `kill --all` and
`delete --force` leaving no process and no cgroup, bad values refused
before anything is created."""

import json
import os
import subprocess
import time

import pytest

CG = "/sys/fs/cgroup"


def cg_path(cid):
    return "/hull-test/" + cid


def cg_read(cid, name):
    with open(os.path.join(CG + cg_path(cid), name)) as f:
        return f.read().strip()


def with_resources(bundle, cid, resources, script="sleep 1000"):
    def f(c):
        c["linux"]["cgroupsPath"] = cg_path(cid)
        c["linux"]["resources"] = dict(c["linux"].get("resources", {}), **resources)
    bundle.edit(f)
    bundle.sh(script)


def start(rt, bundle, cid):
    rt.ok("run", "--detach", "--bundle", bundle.path, cid)
    return rt.wait_status(cid, "running")


def test_memory_fields_written(rt, bundle, cid):
    with_resources(bundle, cid, {"memory": {"limit": 64 << 20, "reservation": 32 << 20, "swap": 96 << 20}})
    start(rt, bundle, cid)
    assert cg_read(cid, "memory.max") == str(64 << 20)
    assert cg_read(cid, "memory.low") == str(32 << 20)
    if os.path.exists(os.path.join(CG + cg_path(cid), "memory.swap.max")):
        # OCI's swap is memory+swap: cgroup v2 gets the difference.
        assert cg_read(cid, "memory.swap.max") == str(32 << 20)


def test_cpu_fields_written(rt, bundle, cid):
    with_resources(bundle, cid, {"cpu": {"shares": 2048, "quota": 50000, "period": 100000, "cpus": "0",
                                         "mems": "0"}})
    start(rt, bundle, cid)
    # runc's formula: 1 + ((shares - 2) * 9999) / 262142
    assert cg_read(cid, "cpu.weight") == str(1 + ((2048 - 2) * 9999) // 262142)
    assert cg_read(cid, "cpu.max") == "50000 100000"
    assert cg_read(cid, "cpuset.cpus") == "0"
    assert cg_read(cid, "cpuset.mems") == "0"


def test_pids_io_unified_fields_written(rt, bundle, cid):
    with_resources(bundle, cid, {"pids": {"limit": 42}, "blockIO": {"weight": 500},
                                 "unified": {"memory.high": "50000000"}})
    start(rt, bundle, cid)
    assert cg_read(cid, "pids.max") == "42"
    assert cg_read(cid, "memory.high") == "49999872" or cg_read(cid, "memory.high") == "50000000"
    for name in ("io.bfq.weight", "io.weight"):
        p = os.path.join(CG + cg_path(cid), name)
        if os.path.exists(p):
            with open(p) as f:
                assert f.read().split()[-1] in ("500", str(1 + (500 - 10) * 9999 // 990))
            break


def test_oom_kill_is_reported_by_events(rt, bundle, cid, workdir):
    with_resources(bundle, cid, {"memory": {"limit": 32 << 20, "swap": 32 << 20}},
                   "sleep 1; awk 'BEGIN { s = \"x\"; while (1) s = s s }'; sleep 1000")
    start(rt, bundle, cid)
    out = os.path.join(workdir, "events.out")
    with open(out, "w") as f:
        ev = subprocess.Popen(rt.argv(["events", "--interval", "1s", cid]), stdout=f, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        seen = False
        while time.monotonic() < deadline and not seen:
            time.sleep(0.2)
            with open(out) as f:
                seen = any(json.loads(line).get("type") == "oom" for line in f if line.startswith("{"))
    finally:
        ev.kill()
        ev.wait()
    assert seen, open(out).read()
    assert "oom_kill 0" not in cg_read(cid, "memory.events")
    stats = json.loads(rt.ok("events", "--stats", cid).out)
    assert stats["type"] == "stats"
    assert stats["data"]["memory"]["usage"]["limit"] == 32 << 20


def test_pids_limit_makes_fork_fail(rt, bundle, cid):
    # busybox sh gives up (status 2) on the first fork that fails: the forks
    # happen in an inner shell so the outer one can report.  Outer sh, inner
    # sh and 3 sleeps fill the limit of 5.
    with_resources(bundle, cid, {"pids": {"limit": 5}},
                   "sh -c 'i=0; while [ $i -lt 10 ]; do sleep 3 & i=$((i+1)); done; wait' 2>/tmp/err; "
                   "echo inner=$?; sleep 4; cat /tmp/err")
    bundle.edit(lambda c: c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}))
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert "inner=2" in r.out, r.describe()
    assert "fork" in r.out, r.describe()


def test_without_pids_limit_forks_succeed(rt, bundle, cid):
    """The same script without the limit: shows the test above can fail."""
    with_resources(bundle, cid, {},
                   "sh -c 'i=0; while [ $i -lt 10 ]; do sleep 1 & i=$((i+1)); done; wait'; echo inner=$?")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert "inner=0" in r.out, r.describe()


def test_update_changes_running_limits(rt, bundle, cid):
    with_resources(bundle, cid, {"memory": {"limit": 64 << 20}, "pids": {"limit": 10}})
    start(rt, bundle, cid)
    rt.ok("update", "--memory", "100m", "--pids-limit", "20", cid)
    assert cg_read(cid, "memory.max") == str(100 << 20)
    assert cg_read(cid, "pids.max") == "20"
    p = rt.popen("update", "--resources", "-", cid, stdin=subprocess.PIPE)
    p.stdin.write(json.dumps({"cpu": {"quota": 20000, "period": 100000}}).encode())
    p.stdin.close()
    assert rt.collect(p).rc == 0
    assert cg_read(cid, "cpu.max") == "20000 100000"
    # What was not updated stays.
    assert cg_read(cid, "pids.max") == "20"


def test_kill_all_and_delete_force_leave_nothing(rt, bundle, cid):
    def f(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]
    with_resources(bundle, cid, {}, "sleep 1000 & sleep 1001 & sleep 1002")
    bundle.edit(f)
    start(rt, bundle, cid)
    pids = json.loads(rt.ok("ps", "--format", "json", cid).out)
    assert len(pids) >= 3
    rt.ok("kill", "--all", cid, "KILL")
    for _ in range(200):
        if cg_read(cid, "cgroup.procs") == "":
            break
        time.sleep(0.05)
    assert cg_read(cid, "cgroup.procs") == ""
    for pid in pids:
        assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z"
    rt.ok("delete", "--force", cid)
    assert not os.path.exists(CG + cg_path(cid))


def test_delete_force_running_removes_cgroup(rt, bundle, cid):
    with_resources(bundle, cid, {"pids": {"limit": 50}})
    start(rt, bundle, cid)
    assert os.path.isdir(CG + cg_path(cid))
    rt.ok("delete", "--force", cid)
    assert not os.path.exists(CG + cg_path(cid))


@pytest.mark.parametrize("resources,field", [
    ({"cpu": {"shares": 1}}, "shares"),
    ({"cpu": {"quota": -5}}, "quota"),
    ({"cpu": {"cpus": "0-abc"}}, "cpus"),
    ({"memory": {"limit": 64 << 20, "swap": 32 << 20}}, "swap"),
    ({"memory": {"disableOOMKiller": True}}, "disableOOMKiller"),
    ({"blockIO": {"weight": 5}}, "weight"),
    ({"unified": {"../memory.max": "1"}}, "unified"),
])
def test_bad_values_refused_before_anything_exists(rt, bundle, cid, resources, field):
    with_resources(bundle, cid, resources)
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.rc != 0
    assert field in r.err, r.err
    assert not os.path.exists(os.path.join(rt.root, cid))
    assert not os.path.exists(CG + cg_path(cid))


def _cgroup2_mount_options():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == CG:
                return fields[-1].split(",")
    raise AssertionError("no %s in /proc/self/mountinfo" % CG)


def test_cgroup_mount_without_a_cgroup_namespace(rt, bundle, cid):
    """A container in the host's cgroup namespace sees the whole hierarchy in
    its cgroup mount, and the host's cgroup2 keeps its options: a new cgroup2
    mount in the initial namespace resets nsdelegate to its own options,
    which the clone hull attaches does not."""
    assert "nsdelegate" in _cgroup2_mount_options(), "the test host VM mounts cgroup2 with nsdelegate"

    def f(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "cgroup"]
        c["linux"]["cgroupsPath"] = cg_path(cid)
    bundle.edit(f)
    bundle.sh("grep ' /sys/fs/cgroup ' /proc/self/mountinfo; ls /sys/fs/cgroup%s" % cg_path(cid))
    r = rt.ok("run", "--bundle", bundle.path, cid, timeout=120)
    info = r.out.splitlines()[0].split()
    assert info[3] == "/" and info[info.index("-") + 1] == "cgroup2", r.out
    assert "cgroup.procs" in r.out.split(), r.out
    assert "nsdelegate" in _cgroup2_mount_options()
