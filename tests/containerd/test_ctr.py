"""hull under containerd 1.6's runc shim (io.containerd.runc.v2), driven by
ctr: the shim runs hull as its "runc" (ctr run --runc-binary, the
BinaryName option) with a private --runc-root."""

import json
import os
import re
import subprocess
import time

import pytest

import ctrd


def _calls(containerd, cid):
    return [argv for _, argv in ctrd.read_calls(containerd.calls, cid)]


# ---- ctr run ---------------------------------------------------------------------

def test_run_rm_output_and_exit_code(containerd, cid):
    r = containerd.run(cid, "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 7", flags=["--rm"])
    assert r.rc == 7, r
    assert r.out == "to-stdout\n", r
    assert "to-stderr" in r.err, r


def test_run_process_sees_the_image_and_its_own_namespaces(containerd, cid):
    script = "cat /etc/hostname; echo pid=$$; id -u; echo $PATH; ls /bin/busybox; readlink /proc/1/exe"
    r = containerd.run(cid, "sh", "-c", script, flags=["--rm"])
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[1] == "pid=1", r
    assert lines[2] == "0", r
    assert lines[3] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", r
    assert lines[4] == "/bin/busybox", r


def test_run_cgroup_is_the_one_containerd_asked_for(containerd, cid):
    r = containerd.run(cid, "cat", "/proc/self/cgroup", flags=["--rm"])
    assert r.rc == 0, r
    # ctr sets linux.cgroupsPath to /NAMESPACE/ID; hull puts the init in that
    # group of the cgroup2 hierarchy (seen as / through the cgroup namespace
    # on a pure v2 host, as runc does there; in full on a hybrid host).
    line = [ln for ln in r.out.splitlines() if ln.startswith("0::")]
    assert line, r
    assert line[0] in ("0::/", "0::/%s/%s" % (ctrd.NAMESPACE, cid)), r


def test_run_killed_by_signal_exits_128_plus_n(containerd, cid):
    # The init of a pid namespace cannot be killed from inside: kill it
    # from outside, through the shim (hull kill).
    argv = containerd.ctr_argv("run", *containerd.runtime_flags(), "--rm", ctrd.IMAGE, cid, "sleep", "1000")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        containerd.wait_status(cid, "RUNNING")
        r = containerd.ctr("tasks", "kill", "-s", "KILL", cid)
        assert r.rc == 0, r
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 137, (out, err)


def test_run_stdin(containerd, cid):
    # ctr 1.6 always attaches stdin (it has no -i) but does not close the
    # task's stdin at EOF (runc alike): read a known number of lines.
    r = containerd.run(cid, "sh", "-c", "read a; read b; echo \"$a/$b\" | tr a-z A-Z; echo done",
                       flags=["--rm"], input="hello from stdin\nsecond line\n")
    assert r.rc == 0, r
    assert r.out == "HELLO FROM STDIN/SECOND LINE\ndone\n", r


# ctr sends its terminal's size to the task after starting it: wait for it.
WAIT_SIZE = ("for i in $(seq 100); do s=$(stty size 2>/dev/null); case $s in [1-9]*) break;; esac; "
             "sleep 0.05; done; echo size=$s")


def test_run_terminal(containerd, cid):
    argv = containerd.ctr_argv("run", *containerd.runtime_flags(), "--rm", "-t", ctrd.IMAGE, cid,
                               "sh", "-c", "tty; %s; test -t 0 && echo stdin-is-a-tty; exit 3" % WAIT_SIZE)
    rc, out = ctrd.run_in_pty(argv, rows=31, cols=97)
    text = out.decode(errors="replace").replace("\r", "")
    assert rc == 3, text
    assert re.search(r"^/dev/pts/\d+$", text, re.M), text
    # ctr copies its terminal's size onto the container's console.
    assert "size=31 97\n" in text, text
    assert "stdin-is-a-tty" in text, text


def test_run_terminal_interactive(containerd, cid):
    argv = containerd.ctr_argv("run", *containerd.runtime_flags(), "--rm", "-t", ctrd.IMAGE, cid, "sh")
    rc, out = ctrd.run_in_pty(argv, input=b"echo $((6*7))-answer; exit 5\n")
    text = out.decode(errors="replace")
    assert rc == 5, text
    assert "42-answer" in text, text


def test_run_default_cpu_shares(containerd, cid):
    """Plain `ctr run` always sends linux.resources.cpu.shares (1024).  On a
    pure cgroup2 host hull applies it; on a hybrid host (no cpu controller in
    cgroup2) hull refuses it by default with a message that names the field
    and the controller, and ctr shows that message."""
    flags = [f for f in containerd.runtime_flags() if f not in ("--cpu-shares", "0")]
    r = containerd.ctr("run", *flags, "--rm", ctrd.IMAGE, cid, "true")
    if containerd.hybrid:
        assert r.rc != 0, r
        assert "linux.resources.cpu" in r.err and "`cpu` controller" in r.err, r
        assert cid not in containerd.ctr("containers", "ls", "-q").out.split()
    else:
        assert r.rc == 0, r


def test_failed_create_shows_hulls_error(containerd, cid):
    r = containerd.run(cid, "/nonexistent", flags=["--rm"])
    assert r.rc != 0, r
    # containerd reads the last JSON line of --log and puts its msg in the
    # error: "OCI runtime create failed: <hull's message>: unknown".
    assert "OCI runtime create failed" in r.err, r
    assert "/nonexistent" in r.err and "No such file or directory" in r.err, r
    assert containerd.task_status(cid) is None
    assert cid not in containerd.hull_containers()


# ---- detached tasks ----------------------------------------------------------------

LOOP = "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.1; done"


def _start_detached(containerd, cid, script=LOOP):
    r = containerd.run(cid, "sh", "-c", script, flags=["-d"])
    assert r.rc == 0, r
    return containerd.wait_status(cid, "RUNNING")


def _remove(containerd, cid):
    r = containerd.ctr("tasks", "rm", cid)
    assert r.rc == 0, r
    r = containerd.ctr("containers", "rm", cid)
    assert r.rc == 0, r


def test_detached_task_ls_ps_exec(containerd, cid):
    st = _start_detached(containerd, cid)
    assert st["pid"] > 1
    # `hull state` agrees with containerd on the init's pid.
    info = json.loads(_hull(containerd, "state", cid))
    assert info["pid"] == st["pid"] and info["status"] == "running", info

    r = containerd.ctr("tasks", "exec", "--exec-id", "e1", cid, "sh", "-c", "echo in-exec $$; exit 5")
    assert r.rc == 5, r
    assert r.out.startswith("in-exec "), r
    assert int(r.out.split()[1]) > 1, r

    r = containerd.ctr("tasks", "exec", "--exec-id", "e2", cid, "sh", "-c", "cat; echo eof",
                       input="piped\n")
    assert r.rc == 0 and r.out == "piped\neof\n", r

    # ps goes through `hull ps --format json`.
    r = containerd.ctr("tasks", "ps", cid)
    assert r.rc == 0, r
    pids = [int(ln.split()[0]) for ln in r.out.splitlines()[1:] if ln.strip()]
    assert st["pid"] in pids, r

    r = containerd.ctr("tasks", "kill", "-s", "KILL", cid)
    assert r.rc == 0, r
    containerd.wait_status(cid, "STOPPED")
    _remove(containerd, cid)


def test_exec_terminal(containerd, cid):
    _start_detached(containerd, cid)
    argv = containerd.ctr_argv("tasks", "exec", "-t", "--exec-id", "t1", cid,
                               "sh", "-c", "tty; %s; exit 6" % WAIT_SIZE)
    rc, out = ctrd.run_in_pty(argv, rows=24, cols=81)
    text = out.decode(errors="replace").replace("\r", "")
    assert rc == 6, text
    assert re.search(r"^/dev/pts/\d+$", text, re.M), text
    assert "size=24 81\n" in text, text
    containerd.ctr("tasks", "kill", "-s", "KILL", cid)
    containerd.wait_status(cid, "STOPPED")
    _remove(containerd, cid)


def test_exec_failure_shows_hulls_error(containerd, cid):
    _start_detached(containerd, cid)
    r = containerd.ctr("tasks", "exec", "--exec-id", "bad", cid, "/nonexistent")
    assert r.rc != 0, r
    assert "OCI runtime exec failed" in r.err and "/nonexistent" in r.err, r
    # The container is unharmed.
    r = containerd.ctr("tasks", "exec", "--exec-id", "good", cid, "true")
    assert r.rc == 0, r
    containerd.ctr("tasks", "kill", "-s", "KILL", cid)
    containerd.wait_status(cid, "STOPPED")
    _remove(containerd, cid)


def test_kill_term_and_exit_status(containerd, cid):
    _start_detached(containerd, cid)
    r = containerd.ctr("tasks", "kill", cid)  # SIGTERM, handled by the trap
    assert r.rc == 0, r
    containerd.wait_status(cid, "STOPPED")
    r = containerd.ctr("tasks", "rm", cid)
    assert r.rc == 0, r
    # ctr 1.6 reports a non-zero exit status of a deleted task as a warning.
    assert "exit code 42" in r.err, r
    assert containerd.ctr("containers", "rm", cid).rc == 0


def test_kill_all_and_sigkill_status(containerd, cid):
    _start_detached(containerd, cid, script="sleep 1000 & sleep 1000 & echo ready; wait")
    r = containerd.ctr("tasks", "exec", "--exec-id", "x", cid, "sh", "-c", "ps -o pid | wc -l")
    assert r.rc == 0, r
    r = containerd.ctr("tasks", "kill", "--all", "-s", "KILL", cid)
    assert r.rc == 0, r
    containerd.wait_status(cid, "STOPPED")
    r = containerd.ctr("tasks", "rm", cid)
    assert r.rc == 0 and "exit code 137" in r.err, r
    assert containerd.ctr("containers", "rm", cid).rc == 0


def test_run_again_with_task_start(containerd, cid):
    """Without --rm the container stays, with its runtime options (hull as
    BinaryName): `ctr task start` runs it again through hull."""
    r = containerd.run(cid, "sh", "-c", "echo run-$$; exit 9")
    assert r.rc == 9 and r.out == "run-1\n", r
    assert containerd.task_status(cid) is None
    n = len(_calls(containerd, cid))
    r = containerd.ctr("tasks", "start", cid)
    assert r.rc == 9 and r.out == "run-1\n", r
    assert [a[6] for a in _calls(containerd, cid)[n:]][:2] == ["create", "start"]
    if containerd.task_status(cid) is not None:
        containerd.ctr("tasks", "rm", cid)
    assert containerd.ctr("containers", "rm", cid).rc == 0


# ---- what the shim runs ----------------------------------------------------------------

def _hull(containerd, *args):
    p = subprocess.run([containerd.hull, "--root", containerd.hull_ns_root(), *args],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p
    return p.stdout


def test_shim_invocations(containerd, cid):
    _start_detached(containerd, cid)
    assert containerd.ctr("tasks", "exec", "--exec-id", "e1", cid, "true").rc == 0
    assert containerd.ctr("tasks", "ps", cid).rc == 0
    assert containerd.ctr("tasks", "kill", cid).rc == 0
    containerd.wait_status(cid, "STOPPED")
    _remove(containerd, cid)

    calls = _calls(containerd, cid)
    bundle = os.path.join(containerd.state, "io.containerd.runtime.v2.task", ctrd.NAMESPACE, cid)
    glob = ["--root", containerd.hull_ns_root(), "--log", os.path.join(bundle, "log.json"),
            "--log-format", "json"]
    for argv in calls:
        assert argv[:6] == glob, calls
    cmds = [argv[6:] for argv in calls]
    names = [c[0] for c in cmds]
    assert cmds[0] == ["create", "--bundle", bundle, "--pid-file", os.path.join(bundle, "init.pid"), cid], cmds
    assert cmds[1] == ["start", cid], cmds
    exec_ = [c for c in cmds if c[0] == "exec"]
    assert len(exec_) == 1, cmds
    e = exec_[0]
    assert e[1] == "--process" and e[3:] == ["--detach", "--pid-file", os.path.join(bundle, "e1.pid"), cid], cmds
    assert ["ps", "--format", "json", cid] in cmds, cmds
    assert ["kill", cid, "15"] in cmds, cmds
    # The task's delete, then the shim's own cleanup (delete --force, which
    # must succeed on a container that is already gone, as runc's).
    assert names[-2:] == ["delete", "delete"] and cmds[-2] == ["delete", cid], cmds
    assert cmds[-1] == ["delete", "--force", cid], cmds


def test_shim_log_is_json_lines(containerd, cid):
    """A failed create leaves hull's log; every line is runc's JSON shape
    (level, msg, time) and the last one is the error containerd shows."""
    keep = os.path.join(containerd.base, "kept-log-" + cid)
    wrapper = os.path.join(containerd.base, "hull-keeplog")
    # The shim deletes the bundle (and log.json) on failure: copy the log out.
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n'%s' \"$@\"; rc=$?\n"
                "[ \"$3\" = --log ] && [ -f \"$4\" ] && cp \"$4\" '%s'\nexit $rc\n" % (containerd.hull, keep))
    os.chmod(wrapper, 0o755)
    flags = containerd.runtime_flags(binary=wrapper)
    r = containerd.ctr("run", *flags, "--rm", ctrd.IMAGE, cid, "/nonexistent")
    assert r.rc != 0, r
    with open(keep) as f:
        lines = [ln for ln in f.read().splitlines() if ln.strip()]
    assert lines, "empty log"
    for ln in lines:
        entry = json.loads(ln)
        assert set(entry) >= {"level", "msg", "time"}, ln
    last = json.loads(lines[-1])
    assert last["level"] == "error" and last["msg"] in r.err, (lines, r)


def test_nothing_left_after_rm(containerd, cid):
    st = _start_detached(containerd, cid)
    assert containerd.shim_pids(cid=cid), "no shim running for a live task"
    containerd.ctr("tasks", "kill", "-s", "KILL", cid)
    containerd.wait_status(cid, "STOPPED")
    _remove(containerd, cid)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.path.exists("/proc/%d" % st["pid"]):
        time.sleep(0.05)
    assert not os.path.exists("/proc/%d" % st["pid"]), "the init is still there"
    assert os.listdir(containerd.hull_ns_root()) == [], "state left under hull's --root"
    assert not os.path.exists(ctrd.shim_socket(containerd.sock, ctrd.NAMESPACE, cid))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and containerd.shim_pids(cid=cid):
        time.sleep(0.05)
    assert containerd.shim_pids(cid=cid) == [], "the shim did not exit after the container was removed"
