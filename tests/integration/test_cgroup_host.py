"""cgroup-backed commands that work on any cgroup2 hierarchy, even the
controller-less unified one of a hybrid host: pause/resume (cgroup.freeze),
the device program (eBPF), update/limits refused when the controller is
missing, events --stats."""

import json
import os
import time

import pytest

from helpers import runtime_is_runc

HAS_MEMORY = "memory" in open(
    "/sys/fs/cgroup/cgroup.controllers" if os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    else "/sys/fs/cgroup/unified/cgroup.controllers").read().split()


def _counter(rt, bundle, cid, workdir):
    """A container that appends to a host file as fast as it can."""
    out = os.path.join(workdir, "ticks")
    open(out, "w").close()
    bundle.add_mount("/ticks", "bind", out, ["bind", "rw"])
    bundle.sh("while :; do echo x >> /ticks; sleep 0.01; done")
    rt.ok("run", "--detach", "--bundle", bundle.path, cid)
    rt.wait_status(cid, "running")
    return out


def _size_after(path, seconds):
    time.sleep(seconds)
    return os.path.getsize(path)


def test_pause_stops_progress_and_resume_restarts_it(rt, bundle, cid, workdir):
    ticks = _counter(rt, bundle, cid, workdir)
    _size_after(ticks, 0.2)
    rt.ok("pause", cid)
    assert rt.state(cid)["status"] == "paused"
    frozen = _size_after(ticks, 0.1)
    assert _size_after(ticks, 0.5) == frozen, "a paused container kept running"
    rt.ok("resume", cid)
    assert rt.state(cid)["status"] == "running"
    assert _size_after(ticks, 0.5) > frozen, "the container did not resume"


def test_pause_twice_and_resume_running_fail(rt, bundle, cid, workdir):
    _counter(rt, bundle, cid, workdir)
    assert rt("resume", cid).rc != 0
    rt.ok("pause", cid)
    assert rt("pause", cid).rc != 0
    rt.ok("resume", cid)


def test_delete_force_of_paused_container(rt, bundle, cid, workdir):
    _counter(rt, bundle, cid, workdir)
    rt.ok("pause", cid)
    rt.ok("delete", "--force", cid)
    assert rt.state(cid) is None


def _mknod_bundle(bundle, rules):
    def f(c):
        caps = c["process"].setdefault("capabilities", {})
        for k in ("bounding", "effective", "permitted"):
            caps.setdefault(k, []).append("CAP_MKNOD")
        c["linux"].setdefault("resources", {})["devices"] = rules
    bundle.edit(f)
    # /dev/fuse (c 10:229) is not on the default allow list and is harmless
    # to open.
    bundle.sh("mknod /tmp/fuse c 10 229 && { (exec 3<>/tmp/fuse) 2>/dev/null; echo open=$?; }")


def test_device_rules_deny_opening(rt, bundle, cid):
    _mknod_bundle(bundle, [{"allow": False, "access": "rwm"}])
    bundle.edit(lambda c: c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                                              "options": ["nosuid", "mode=1777"]}))
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert "open=1" in r.out, r.describe()


def test_device_rules_allow_opening(rt, bundle, cid):
    _mknod_bundle(bundle, [{"allow": False, "access": "rwm"},
                           {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"}])
    bundle.edit(lambda c: c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                                              "options": ["nosuid", "mode=1777"]}))
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert "open=0" in r.out, r.describe()


@pytest.mark.skipif(HAS_MEMORY, reason="needs a cgroup2 hierarchy without the memory controller (hybrid host)")
@pytest.mark.hull_only
def test_limit_without_controller_refused_naming_it(rt, bundle, cid):
    bundle.edit(lambda c: c["linux"].setdefault("resources", {}).__setitem__("memory", {"limit": 64 << 20}))
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.rc != 0
    assert "linux.resources.memory" in r.err and "`memory` controller" in r.err, r.err
    assert not os.path.exists(os.path.join(rt.root, cid))


@pytest.mark.skipif(HAS_MEMORY, reason="needs a cgroup2 hierarchy without the memory controller (hybrid host)")
@pytest.mark.hull_only
def test_limit_without_controller_warns_when_configured(rt, bundle, cid, workdir):
    conf = os.path.join(workdir, "hull.conf")
    with open(conf, "w") as f:
        f.write("# test\nunenforceable_limits = warn\n")
    bundle.edit(lambda c: c["linux"].setdefault("resources", {}).__setitem__("memory", {"limit": 64 << 20}))
    bundle.args("true")
    r = rt("run", "--bundle", bundle.path, cid, env={**os.environ, "HULL_CONFIG": conf})
    assert r.rc == 0, r.describe()
    assert "memory" in r.err


@pytest.mark.hull_only
def test_bad_hull_conf_is_refused(rt, bundle, cid, workdir):
    conf = os.path.join(workdir, "hull.conf")
    with open(conf, "w") as f:
        f.write("\nunenforceable_limits = maybe\n")
    r = rt("run", "--bundle", bundle.path, cid, env={**os.environ, "HULL_CONFIG": conf})
    assert r.rc != 0 and "hull.conf:2" in r.err, r.err


def test_events_stats_is_json(rt, bundle, cid, workdir):
    _counter(rt, bundle, cid, workdir)
    r = rt.ok("events", "--stats", cid)
    ev = json.loads(r.out)
    assert ev["type"] == "stats" and ev["id"] == cid
    assert "data" in ev


@pytest.mark.hull_only
def test_update_bad_value_refused(rt, bundle, cid, workdir):
    _counter(rt, bundle, cid, workdir)
    r = rt("update", "--cpu-share", "1", cid)
    assert r.rc != 0 and "shares" in r.err, r.err
    r = rt("update", "--memory", "12q", cid)
    assert r.rc != 0 and "--memory" in r.err, r.err


@pytest.mark.hull_only
@pytest.mark.parametrize("interval", ["5x", "0s", "s", "1m-3s"])
def test_events_bad_interval_refused(rt, bundle, cid, workdir, interval):
    _counter(rt, bundle, cid, workdir)
    r = rt("events", "--interval", interval, cid)
    assert r.rc != 0 and "--interval" in r.err and r.out == "", r.describe()


@pytest.mark.hull_only
def test_events_interval_with_minutes_and_ms_accepted(rt, bundle, cid, workdir):
    _counter(rt, bundle, cid, workdir)
    # A valid interval starts the stream: the first stats event comes at once.
    p = rt.popen("events", "--interval", "1m500ms", cid)
    import time
    for _ in range(200):
        with open(p.out_path) as f:
            if f.readline().startswith("{"):
                break
        time.sleep(0.05)
    p.kill()
    p.wait()
    with open(p.out_path) as f:
        assert json.loads(f.readline())["type"] == "stats"
