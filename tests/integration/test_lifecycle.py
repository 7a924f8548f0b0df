"""create/start/state/kill/delete/list through the CLI, and the CLI's flags."""

import json
import os
import re
import signal
import subprocess
import time

import pytest


def create(rt, bundle, cid, *extra):
    r = rt("create", "--bundle", bundle.path, *extra, cid)
    assert r.rc == 0, r.describe()
    return r


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except FileNotFoundError:
        return False


# ---- state transitions ---------------------------------------------------------------

def test_state_transitions(rt, bundle, cid):
    bundle.sh("read line; echo got $line")  # blocks on stdin until we close it
    r, w = os.pipe()
    try:
        p = rt.popen("create", "--bundle", bundle.path, cid, stdin=r)
        res = rt.collect(p)
        assert res.rc == 0, res.describe()
    finally:
        os.close(r)

    st = rt.state(cid)
    assert st is not None
    assert st["id"] == cid
    assert st["status"] == "created"
    assert isinstance(st["pid"], int) and st["pid"] > 0
    assert pid_alive(st["pid"])
    assert os.path.realpath(st["bundle"]) == os.path.realpath(bundle.path)
    assert st["ociVersion"]
    pid = st["pid"]

    rt.ok("start", cid)
    st = rt.state(cid)
    assert st["status"] == "running", st
    assert st["pid"] == pid

    os.write(w, b"hello\n")
    os.close(w)
    st = rt.wait_status(cid, "stopped")
    assert st["id"] == cid
    with open(p.out_path) as f:
        assert f.read() == "got hello\n"

    rt.ok("delete", cid)
    assert rt.state(cid) is None


def test_state_json_fields(rt, bundle, cid):
    bundle.edit(lambda c: c.__setitem__("annotations", {"org.example.k": "v"}))
    bundle.args("sleep", "1000")
    create(rt, bundle, cid)
    st = rt.state(cid)
    for key in ("ociVersion", "id", "pid", "status", "bundle"):
        assert key in st, st
    assert os.path.isabs(st["bundle"])
    # runc also reports rootfs, created (RFC 3339) and owner; containerd reads "created".
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", st.get("created", "")), st
    assert st.get("annotations", {}).get("org.example.k") == "v", st


def test_state_of_unknown_id_fails(rt, cid):
    r = rt("state", cid)
    assert r.rc != 0
    assert r.out.strip() == ""
    assert r.err.strip(), "no error message"


def test_start_twice_fails(rt, bundle, cid):
    bundle.args("sleep", "1000")
    create(rt, bundle, cid)
    rt.ok("start", cid)
    r = rt("start", cid)
    assert r.rc != 0, r.describe()
    assert rt.state(cid)["status"] == "running"


def test_start_unknown_fails(rt, cid):
    assert rt("start", cid).rc != 0


def test_created_process_has_not_run_yet(rt, bundle, cid, workdir):
    marker = os.path.join(bundle.rootfs, "ran")
    bundle.edit(lambda c: c["root"].__setitem__("readonly", False)).sh("touch /ran")
    create(rt, bundle, cid)
    time.sleep(0.2)
    assert not os.path.exists(marker), "process ran before start"
    rt.ok("start", cid)
    rt.wait_status(cid, "stopped")
    assert os.path.exists(marker)


def test_stopped_state_after_exit(rt, bundle, cid):
    bundle.args("true")
    create(rt, bundle, cid)
    rt.ok("start", cid)
    st = rt.wait_status(cid, "stopped")
    assert st["status"] == "stopped"
    rt.ok("delete", cid)
    assert rt.state(cid) is None


def test_delete_removes_state_dir(rt, bundle, cid):
    bundle.args("true")
    create(rt, bundle, cid)
    assert any(cid in n for _, dirs, files in os.walk(rt.root) for n in dirs + files), \
        "no state under --root named after the container"
    rt.ok("start", cid)
    rt.wait_status(cid, "stopped")
    rt.ok("delete", cid)
    leftovers = [os.path.join(d, n) for d, dirs, files in os.walk(rt.root)
                 for n in dirs + files if cid in n]
    assert leftovers == []


def test_delete_created_container(rt, bundle, cid):
    # A created (never started) container can be deleted without --force; its
    # init is killed.
    bundle.args("sleep", "1000")
    create(rt, bundle, cid)
    pid = rt.state(cid)["pid"]
    rt.ok("delete", cid)
    assert rt.state(cid) is None
    for _ in range(100):
        if not pid_alive(pid):
            break
        time.sleep(0.02)
    assert not pid_alive(pid)


# ---- kill ----------------------------------------------------------------------------

@pytest.mark.parametrize("sig", ["KILL", "SIGKILL", "9"])
def test_kill_forms(rt, bundle, cid, sig):
    bundle.args("sleep", "1000")
    create(rt, bundle, cid)
    rt.ok("start", cid)
    pid = rt.state(cid)["pid"]
    rt.ok("kill", cid, sig)
    rt.wait_status(cid, "stopped")
    assert not pid_alive(pid)


def test_kill_default_is_sigterm(rt, bundle, cid, workdir):
    out = os.path.join(workdir, "sig")
    bundle.sh("trap 'echo TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done")
    p = rt.popen("create", "--bundle", bundle.path, cid)
    assert rt.collect(p).rc == 0
    rt.ok("start", cid)
    _wait_for_text(p.out_path, "ready")
    rt.ok("kill", cid)
    rt.wait_status(cid, "stopped")
    with open(p.out_path) as f:
        assert f.read().split() == ["ready", "TERM"]


def test_kill_all(rt, bundle, cid):
    bundle.sh("sleep 1000 & sleep 1000 & echo ready; wait")
    p = rt.popen("create", "--bundle", bundle.path, cid)
    assert rt.collect(p).rc == 0
    rt.ok("start", cid)
    _wait_for_text(p.out_path, "ready")
    rt.ok("kill", "--all", cid, "KILL")
    rt.wait_status(cid, "stopped")


def test_kill_stopped_container_fails(rt, bundle, cid):
    bundle.args("true")
    create(rt, bundle, cid)
    rt.ok("start", cid)
    rt.wait_status(cid, "stopped")
    r = rt("kill", cid, "KILL")
    assert r.rc != 0, r.describe()


def test_kill_unknown_fails(rt, cid):
    assert rt("kill", cid, "KILL").rc != 0


def test_kill_bad_signal_fails(rt, bundle, cid):
    bundle.args("sleep", "1000")
    create(rt, bundle, cid)
    r = rt("kill", cid, "NOTASIGNAL")
    assert r.rc != 0, r.describe()
    assert rt.state(cid)["status"] == "created"


def test_kill_created_container(rt, bundle, cid):
    bundle.args("sleep", "1000")
    create(rt, bundle, cid)
    rt.ok("kill", cid, "KILL")
    rt.wait_status(cid, "stopped")


# ---- delete --------------------------------------------------------------------------

def test_delete_running_fails_without_force(rt, bundle, cid):
    bundle.args("sleep", "1000")
    create(rt, bundle, cid)
    rt.ok("start", cid)
    r = rt("delete", cid)
    assert r.rc != 0, r.describe()
    st = rt.state(cid)
    assert st is not None and st["status"] == "running"


def test_delete_force_running(rt, bundle, cid):
    bundle.args("sleep", "1000")
    create(rt, bundle, cid)
    rt.ok("start", cid)
    pid = rt.state(cid)["pid"]
    rt.ok("delete", "--force", cid)
    assert rt.state(cid) is None
    for _ in range(100):
        if not pid_alive(pid):
            break
        time.sleep(0.02)
    assert not pid_alive(pid)


def test_delete_unknown_fails(rt, cid):
    assert rt("delete", cid).rc != 0


def test_delete_force_unknown_succeeds(rt, cid):
    # runc: `delete --force` of a missing container is not an error
    # (containerd relies on this when cleaning up).
    r = rt("delete", "--force", cid)
    assert r.rc == 0, r.describe()


# ---- list ----------------------------------------------------------------------------

def test_list_table(rt, make_bundle):
    b1, b2 = make_bundle(), make_bundle()
    b1.args("sleep", "1000")
    b2.args("true")
    id1, id2 = "list-a-" + os.urandom(3).hex(), "list-b-" + os.urandom(3).hex()
    create(rt, b1, id1)
    create(rt, b2, id2)
    rt.ok("start", id2)
    rt.wait_status(id2, "stopped")
    r = rt.ok("list")
    lines = r.out.splitlines()
    assert lines[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    rows = {l.split()[0]: l.split() for l in lines[1:]}
    assert set(rows) == {id1, id2}, r.out
    assert rows[id1][1] == str(rt.state(id1)["pid"])
    assert rows[id1][2] == "created"
    assert rows[id1][3] == b1.path
    assert rows[id2][1] == "0"  # runc shows 0 for a stopped container
    assert rows[id2][2] == "stopped"
    assert rows[id1][-1] == "root"


def test_list_json(rt, bundle, cid):
    bundle.args("sleep", "1000")
    create(rt, bundle, cid)
    r = rt.ok("list", "--format", "json")
    items = json.loads(r.out)
    assert isinstance(items, list) and len(items) == 1
    it = items[0]
    assert it["id"] == cid
    assert it["pid"] == rt.state(cid)["pid"]
    assert it["status"] == "created"
    assert it["bundle"] == bundle.path
    assert "created" in it and "owner" in it


def test_list_quiet(rt, bundle, cid):
    bundle.args("sleep", "1000")
    create(rt, bundle, cid)
    r = rt.ok("list", "-q")
    assert r.out.split() == [cid]


def test_list_empty_root(rt):
    r = rt.ok("list")
    assert r.out.split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    r = rt.ok("list", "--format", "json")
    assert json.loads(r.out) in (None, [])  # runc prints null


# ---- flags ---------------------------------------------------------------------------

def test_pid_file(rt, bundle, cid, workdir):
    bundle.args("sleep", "1000")
    pidfile = os.path.join(workdir, "pidfile")
    create(rt, bundle, cid, "--pid-file", pidfile)
    with open(pidfile) as f:
        pid = int(f.read().strip())
    assert pid == rt.state(cid)["pid"]
    assert pid_alive(pid)


def test_pid_file_relative_to_cwd(rt, bundle, cid, workdir):
    bundle.args("sleep", "1000")
    create(rt, bundle, cid, "--pid-file", "rel.pid")  # rt runs with cwd=workdir
    with open(os.path.join(workdir, "rel.pid")) as f:
        assert int(f.read().strip()) == rt.state(cid)["pid"]


def test_run_detach(rt, bundle, cid, workdir):
    bundle.args("sleep", "1000")
    pidfile = os.path.join(workdir, "pidfile")
    r = rt("run", "--detach", "--pid-file", pidfile, "--bundle", bundle.path, cid)
    assert r.rc == 0, r.describe()
    st = rt.state(cid)
    assert st["status"] == "running"
    with open(pidfile) as f:
        assert int(f.read()) == st["pid"]
    rt.ok("kill", cid, "KILL")
    rt.wait_status(cid, "stopped")
    rt.ok("delete", cid)


def test_run_detach_short_flag(rt, bundle, cid):
    bundle.args("sleep", "1000")
    rt.ok("run", "-d", "--bundle", bundle.path, cid)
    assert rt.state(cid)["status"] == "running"


def test_bundle_defaults_to_cwd(rt, bundle, cid):
    bundle.args("true")
    p = rt.popen("create", cid, cwd=bundle.path)
    r = rt.collect(p)
    assert r.rc == 0, r.describe()
    assert os.path.realpath(rt.state(cid)["bundle"]) == os.path.realpath(bundle.path)


def test_create_twice_same_id_fails(rt, make_bundle, cid):
    b1, b2 = make_bundle(), make_bundle()
    b1.args("sleep", "1000")
    b2.args("sleep", "1000")
    create(rt, b1, cid)
    st = rt.state(cid)
    r = rt("create", "--bundle", b2.path, cid)
    assert r.rc != 0, r.describe()
    st2 = rt.state(cid)
    assert st2 is not None, "the first container was destroyed by the second create"
    assert st2["pid"] == st["pid"] and st2["bundle"] == st["bundle"]
    assert st2["status"] == "created"
    assert pid_alive(st["pid"])


@pytest.mark.parametrize("bad_id", ["../x", "", "a/b", "..", ".", "x y", "x\ny"])
def test_invalid_ids_refused(rt, bundle, workdir, bad_id):
    bundle.args("true")
    r = rt("create", "--bundle", bundle.path, bad_id)
    assert r.rc != 0, r.describe()
    assert r.err.strip(), "refused without a message"
    # Nothing escaped --root ("../x" would land in workdir/x) ...
    assert not os.path.exists(os.path.join(workdir, "x"))
    # ... and nothing was registered under it.
    if os.path.isdir(rt.root):
        entries = [e for e in os.listdir(rt.root) if not e.startswith(".")]
        assert entries == [], entries
    r = rt.ok("list", "-q")
    assert r.out.strip() == ""


def test_preserve_fds(rt, bundle, cid, workdir):
    path = os.path.join(workdir, "fd3")
    bundle.sh("echo via-fd3 >&3 && echo wrote")
    # fd 3 of the runtime is a file; --preserve-fds 1 hands it to the container.
    r = rt("run", "--preserve-fds", "1", "--bundle", bundle.path, cid,
           wrap=["/bin/sh", "-c", 'exec "$@" 3>"$0"', path])
    assert r.rc == 0, r.describe()
    assert r.out.strip() == "wrote"
    with open(path) as f:
        assert f.read() == "via-fd3\n"


def test_fds_not_preserved_by_default(rt, bundle, cid, workdir):
    path = os.path.join(workdir, "fd3")
    bundle.sh("ls /proc/self/fd; echo via-fd3 >&3 2>/dev/null || echo fd3-closed")
    r = rt("run", "--bundle", bundle.path, cid,
           wrap=["/bin/sh", "-c", 'exec "$@" 3>"$0"', path])
    assert r.rc == 0, r.describe()
    lines = r.out.split()
    assert lines[-1] == "fd3-closed"
    # Only stdio (and the fd ls opens for the directory) remain.
    assert set(lines[:-1]) <= {"0", "1", "2", "3"}, lines
    with open(path) as f:
        assert f.read() == ""


def test_log_json_on_failure(rt, bundle, cid, workdir):
    log = os.path.join(workdir, "runtime.log")
    bundle.args("/nonexistent")
    r = rt("create", "--bundle", bundle.path, cid,
           global_args=["--log", log, "--log-format", "json"])
    assert r.rc != 0
    with open(log) as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    assert lines, "nothing logged"
    entries = [json.loads(l) for l in lines]  # every line is a JSON object
    for e in entries:
        assert {"level", "msg", "time"} <= set(e), e
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", e["time"]), e
    errors = [e for e in entries if e["level"] == "error"]
    assert errors, entries
    assert any("nonexistent" in e["msg"] for e in errors), errors


def test_log_text_on_failure(rt, bundle, cid, workdir):
    log = os.path.join(workdir, "runtime.log")
    bundle.args("/nonexistent")
    r = rt("create", "--bundle", bundle.path, cid, global_args=["--log", log])
    assert r.rc != 0
    with open(log) as f:
        text = f.read()
    assert "nonexistent" in text
    assert "error" in text  # runc (logrus): level=error; the format is free


def test_error_goes_to_stderr(rt, bundle, cid):
    bundle.args("/nonexistent")
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.rc != 0
    assert "nonexistent" in r.err


def test_version(rt):
    r = rt.ok("--version")
    assert r.out.strip()
    assert "spec:" in r.out  # runc prints "spec: 1.0.2-dev"; tools parse it


def test_spec_refuses_to_overwrite(rt, bundle):
    r = rt("spec", "--bundle", bundle.path)
    assert r.rc != 0
    assert json.load(open(bundle.config_path))["process"]["terminal"] is False


def test_spec_output_is_usable(rt, bundle):
    c = bundle.config
    assert c["ociVersion"].startswith("1.")
    assert c["root"]["path"] == "rootfs"
    assert c["process"]["args"] == ["sh"]
    types = {n["type"] for n in c["linux"]["namespaces"]}
    assert {"pid", "network", "ipc", "uts", "mount"} <= types
    dests = [m["destination"] for m in c["mounts"]]
    for d in ("/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"):
        assert d in dests


def _wait_for_text(path, text, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path) as f:
            if text in f.read():
                return
        time.sleep(0.02)
    raise AssertionError("%r never appeared in %s" % (text, path))
