"""`exec`: another process in a running container, with runc's options."""

import json
import os
import re

import pytest

from helpers import ConsoleSocket, run_under_pty


@pytest.fixture
def console(workdir):
    c = ConsoleSocket(os.path.join(workdir, "exec-console.sock"))
    yield c
    c.close()


@pytest.fixture
def running(rt, bundle, cid):
    def f(c):
        c["process"]["args"] = ["sleep", "1000"]
        c["process"]["env"].append("FROM_CONFIG=yes")
        c["hostname"] = "exec-box"
    bundle.edit(f)
    rt.ok("run", "--detach", "--bundle", bundle.path, cid)
    return rt.wait_status(cid, "running")


def test_exec_runs_in_the_containers_namespaces(rt, running, cid):
    r = rt.ok("exec", cid, "sh", "-c", "hostname; echo $FROM_CONFIG; for n in net mnt pid; do readlink /proc/self/ns/$n; done")
    lines = r.out.split()
    assert lines[0] == "exec-box"
    assert lines[1] == "yes"
    init = running["pid"]
    for got, ns in zip(lines[2:], ("net", "mnt", "pid")):
        assert got == os.readlink("/proc/%d/ns/%s" % (init, ns)), ns


def test_exec_sees_the_containers_rootfs_and_pids(rt, running, cid):
    r = rt.ok("exec", cid, "sh", "-c", "ls /; ps -o pid,comm")
    assert "bin" in r.out.split() and "work" not in r.out.split()
    assert re.search(r"^\s*1\s+sleep$", r.out, re.M), r.out


def test_exec_exit_status(rt, running, cid):
    assert rt("exec", cid, "sh", "-c", "exit 7").rc == 7
    assert rt("exec", cid, "sh", "-c", "kill -KILL $$").rc == 128 + 9


def test_exec_overrides(rt, running, cid):
    r = rt.ok("exec", "--env", "FROM_CONFIG=over", "--env", "NEW=1", "--cwd", "/bin", "--user", "1000:1001",
              "--additional-gids", "2000", cid, "sh", "-c", "echo $FROM_CONFIG $NEW; pwd; id -u; id -g; id -G")
    assert r.out.split() == ["over", "1", "/bin", "1000", "1001", "1001", "2000"]


def test_exec_joins_the_cgroup(rt, running, cid):
    rt.ok("exec", "--detach", "--pid-file", os.path.join(rt.workdir, "exec.pid"), cid, "sleep", "500")
    with open(os.path.join(rt.workdir, "exec.pid")) as f:
        pid = int(f.read())
    assert pid in json.loads(rt.ok("ps", "--format", "json", cid).out)
    with open("/proc/%d/cgroup" % pid) as f:
        mine = f.read()
    with open("/proc/%d/cgroup" % running["pid"]) as f:
        assert f.read() == mine


def test_exec_process_file(rt, running, cid, workdir):
    proc = {"args": ["sh", "-c", "echo from-file $X; pwd"], "cwd": "/dev", "env": ["PATH=/bin", "X=42"],
            "user": {"uid": 0, "gid": 0}}
    path = os.path.join(workdir, "process.json")
    with open(path, "w") as f:
        json.dump(proc, f)
    r = rt.ok("exec", "--process", path, cid)
    assert r.out.split() == ["from-file", "42", "/dev"]


def test_exec_capabilities_follow_the_config_and_cap_adds(rt, running, cid):
    base = rt.ok("exec", cid, "sh", "-c", "grep CapEff /proc/self/status").out.split()[1]
    more = rt.ok("exec", "--cap", "CAP_SYS_ADMIN", cid, "sh", "-c", "grep CapEff /proc/self/status").out.split()[1]
    assert int(base, 16) & (1 << 21) == 0
    assert int(more, 16) & (1 << 21)


def test_exec_no_new_privs(rt, running, cid):
    r = rt.ok("exec", "--no-new-privs", cid, "sh", "-c", "grep NoNewPrivs /proc/self/status")
    assert r.out.split()[1] == "1"


def test_exec_missing_binary_fails(rt, running, cid):
    r = rt("exec", cid, "/no/such/binary")
    assert r.rc != 0
    assert "/no/such/binary" in r.err


def test_exec_in_stopped_container_fails(rt, bundle, cid):
    bundle.args("true")
    rt.ok("run", "--detach", "--bundle", bundle.path, cid)
    rt.wait_status(cid, "stopped")
    assert rt("exec", cid, "true").rc != 0


def test_exec_unknown_container_fails(rt, cid):
    assert rt("exec", cid, "true").rc != 0


def test_exec_tty_over_console_socket(rt, running, cid, console):
    p = rt.popen("exec", "--tty", "--detach", "--console-socket", console.path, cid, "sh", "-c", "tty; echo via-pty")
    assert rt.collect(p).rc == 0
    out = console.read_all(until=b"via-pty").decode(errors="replace")
    assert re.search(r"/dev/pts/\d+", out), out


def test_exec_tty_detach_without_console_socket_refused(rt, running, cid):
    assert rt("exec", "--tty", "--detach", cid, "true").rc != 0


def test_exec_tty_foreground_relay(rt, running, cid):
    rc, out = run_under_pty(rt.argv(["exec", "-t", cid, "sh", "-c", "tty; read l; echo got:$l; exit 3"]),
                            b"/dev/pts/", b"hi\r")
    assert rc == 3, out
    assert b"got:hi" in out, out


def test_exec_preserve_fds(rt, running, cid, workdir):
    path = os.path.join(workdir, "fd3")
    r = rt("exec", "--preserve-fds", "1", cid, "sh", "-c", "echo via-fd3 >&3 && echo wrote",
           wrap=["/bin/sh", "-c", 'exec "$@" 3>"$0"', path])
    assert r.rc == 0, r.describe()
    with open(path) as f:
        assert f.read() == "via-fd3\n"


def test_exec_fds_not_preserved_by_default(rt, running, cid, workdir):
    path = os.path.join(workdir, "fd3")
    r = rt("exec", cid, "sh", "-c", "echo via-fd3 >&3 2>/dev/null || echo fd3-closed",
           wrap=["/bin/sh", "-c", 'exec "$@" 3>"$0"', path])
    assert r.out.strip() == "fd3-closed", r.describe()


@pytest.mark.hull_only  # runc 1.1's spec has no seccomp profile
def test_exec_runs_under_the_containers_seccomp_filter(rt, bundle, cid):
    assert "seccomp" in bundle.config["linux"], "hull spec writes the default profile"
    bundle.args("sleep", "1000")
    rt.ok("run", "--detach", "--bundle", bundle.path, cid)
    rt.wait_status(cid, "running")
    r = rt("exec", cid, "sh", "-c", "grep '^Seccomp:' /proc/self/status; unshare -U true; echo rc=$?")
    assert "Seccomp:\t2" in r.out and "rc=1" in r.out, r.describe()


def test_exec_without_seccomp_can_unshare(rt, bundle, cid):
    """The contrast: with no filter the same unshare works."""
    def no_seccomp(c):
        c["linux"].pop("seccomp", None)
    bundle.edit(no_seccomp).args("sleep", "1000")
    rt.ok("run", "--detach", "--bundle", bundle.path, cid)
    rt.wait_status(cid, "running")
    r = rt("exec", cid, "sh", "-c", "unshare -U true; echo rc=$?")
    assert "rc=0" in r.out, r.describe()
