"""What containerd does with the container's cgroup: pause/resume (the shim
runs `hull pause`/`hull resume`, then reads the status back with `hull
state`) and metrics (the shim reads the cgroup2 files itself, from the group
that /proc/PID/cgroup names for hull's init).

pause/resume needs only cgroup2's cgroup.freeze, present on this hybrid
host too; metrics needs a pure cgroup2 host (on a hybrid host containerd
1.6 reads the v1 hierarchies, where hull puts nothing): the test host VM."""

import json
import os
import subprocess
import time

import pytest

import ctrd

COUNTER = "i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done"


def _needs_command(hull, name):
    out = subprocess.run([hull, "--help"], capture_output=True, text=True, timeout=30).stdout
    if not any(line.split()[:1] == [name] for line in out.splitlines()):
        pytest.xfail("hull has no `%s` command yet (`hull --help`)" % name)


def _counter(containerd, cid):
    # The rootfs is the snapshot the shim mounted in the host's namespace.
    path = os.path.join(containerd.state, "io.containerd.runtime.v2.task", ctrd.NAMESPACE, cid,
                        "rootfs", "tmp", "n")
    with open(path) as f:
        return int(f.read().strip() or 0)


def _cgroup_file(cid, name):
    for top in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        p = os.path.join(top, ctrd.NAMESPACE, cid, name)
        if os.path.exists(os.path.join(top, "cgroup.controllers")) and os.path.exists(p):
            with open(p) as f:
                return f.read()
    return None


def _stop(containerd, cid):
    containerd.ctr("tasks", "kill", "-s", "KILL", cid)
    containerd.wait_status(cid, "STOPPED")
    assert containerd.ctr("tasks", "rm", cid).rc == 0
    assert containerd.ctr("containers", "rm", cid).rc == 0


def test_pause_resume(containerd, cid, hull):
    r = containerd.run(cid, "sh", "-c", COUNTER, flags=["-d"])
    assert r.rc == 0, r
    containerd.wait_status(cid, "RUNNING")
    try:
        _needs_command(hull, "pause")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _counter_or_zero(containerd, cid) < 2:
            time.sleep(0.05)

        r = containerd.ctr("tasks", "pause", cid)
        assert r.rc == 0, r
        # The shim asks `hull state` for the status.
        containerd.wait_status(cid, "PAUSED")
        assert "frozen 1" in (_cgroup_file(cid, "cgroup.events") or ""), "cgroup not frozen"
        n = _counter(containerd, cid)
        time.sleep(0.5)
        assert _counter(containerd, cid) == n, "the container ran while paused"

        r = containerd.ctr("tasks", "resume", cid)
        assert r.rc == 0, r
        containerd.wait_status(cid, "RUNNING")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _counter(containerd, cid) == n:
            time.sleep(0.05)
        assert _counter(containerd, cid) > n, "the container did not run again after resume"

        # A paused container can be killed and removed (runc thaws it).
        assert containerd.ctr("tasks", "pause", cid).rc == 0
        containerd.wait_status(cid, "PAUSED")
    finally:
        _stop(containerd, cid)


def _counter_or_zero(containerd, cid):
    try:
        return _counter(containerd, cid)
    except (OSError, ValueError):
        return 0


@pytest.mark.cgroup2
def test_metrics_and_memory_limit(containerd, cid):
    limit = 64 << 20
    r = containerd.run(cid, "sh", "-c", "sleep 1000 & sleep 1000 & wait", flags=["-d", "--memory-limit", str(limit)])
    assert r.rc == 0, r
    try:
        containerd.wait_status(cid, "RUNNING")
        assert _cgroup_file(cid, "memory.max") == "%d\n" % limit
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = containerd.ctr("tasks", "metrics", "--format", "json", cid)
            assert r.rc == 0, r
            m = json.loads(r.out)
            if m.get("pids", {}).get("current", 0) >= 3:
                break
            time.sleep(0.1)
        assert m["pids"]["current"] >= 3, m
        assert m["memory"]["usage"] > 0, m
        assert m["memory"]["usage_limit"] == limit, m
        assert m["cpu"]["usage_usec"] > 0, m
        # The table form names the same group.
        r = containerd.ctr("tasks", "metrics", cid)
        assert r.rc == 0 and "memory.usage_limit" in r.out and str(limit) in r.out, r
    finally:
        _stop(containerd, cid)
