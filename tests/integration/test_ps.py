"""`ps`: the container's processes, from its cgroup."""

import json
import os

import pytest


def _start(rt, bundle, cid):
    bundle.sh("sleep 1000 & sleep 1001 & wait")
    rt.ok("run", "--detach", "--bundle", bundle.path, cid)
    init = rt.wait_status(cid, "running")["pid"]
    # Wait until both sleeps exist.
    for _ in range(500):
        r = rt.ok("ps", "--format", "json", cid)
        if len(json.loads(r.out)) >= 3:
            break
    return init


def test_ps_json_lists_the_containers_pids(rt, bundle, cid):
    init = _start(rt, bundle, cid)
    pids = json.loads(rt.ok("ps", "--format", "json", cid).out)
    assert init in pids
    assert len(pids) == 3
    for pid in pids:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read().split(b"\0")
        assert cmd[0] in (b"sh", b"sleep"), cmd
    assert os.getpid() not in pids


def test_ps_table_filters_host_ps(rt, bundle, cid):
    init = _start(rt, bundle, cid)
    out = rt.ok("ps", cid).out.splitlines()
    assert out[0].split()[:2] == ["UID", "PID"]
    rows = [line.split() for line in out[1:]]
    assert sorted(int(r[1]) for r in rows) == sorted(json.loads(rt.ok("ps", "--format", "json", cid).out))
    assert any(int(r[1]) == init for r in rows)


def _check_pid_comm(out):
    out = out.splitlines()
    assert out[0].split() == ["PID", "COMMAND"]
    assert sorted(line.split()[1] for line in out[1:]) == ["sh", "sleep", "sleep"]


def test_ps_passes_arguments_to_ps(rt, bundle, cid):
    _start(rt, bundle, cid)
    _check_pid_comm(rt.ok("ps", cid, "-o", "pid,comm").out)


# runc hands a literal "--" on to ps, which refuses it.
@pytest.mark.hull_only
def test_ps_arguments_after_double_dash(rt, bundle, cid):
    _start(rt, bundle, cid)
    _check_pid_comm(rt.ok("ps", cid, "--", "-o", "pid,comm").out)


def test_ps_of_unknown_container_fails(rt, cid):
    r = rt("ps", cid)
    assert r.rc != 0 and r.out == ""


@pytest.mark.hull_only
def test_ps_of_unknown_container_names_it(rt, cid):
    assert cid in rt("ps", cid).err
