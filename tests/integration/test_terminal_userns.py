"""process.terminal over --console-socket, and user namespaces with id maps."""

import os
import re

import pytest

from helpers import ConsoleSocket


@pytest.fixture
def console(workdir):
    c = ConsoleSocket(os.path.join(workdir, "console.sock"))
    yield c
    c.close()


def test_terminal_over_console_socket(rt, bundle, cid, console):
    bundle.edit(lambda c: c["process"].__setitem__("terminal", True))
    bundle.sh("tty; stty size 2>/dev/null; echo term=$TERM; echo out-via-pty; exit 5")
    r = rt("create", "--bundle", bundle.path, "--console-socket", console.path, cid)
    assert r.rc == 0, r.describe()
    master = console.wait_master()
    assert os.isatty(master), "received fd is not a terminal"
    rt.ok("start", cid)
    out = console.read_all(until=b"out-via-pty").decode(errors="replace")
    st = rt.wait_status(cid, "stopped")
    del st
    lines = [l.strip() for l in out.splitlines()]
    assert re.fullmatch(r"/dev/pts/\d+", lines[0]), out
    assert "out-via-pty" in lines, out
    assert "term=xterm" in lines, out


def test_terminal_stdin_from_master(rt, bundle, cid, console):
    bundle.edit(lambda c: c["process"].__setitem__("terminal", True))
    bundle.sh("read line; echo got:$line")
    rt.ok("create", "--bundle", bundle.path, "--console-socket", console.path, cid)
    master = console.wait_master()
    rt.ok("start", cid)
    os.write(master, b"typed\n")
    out = console.read_all(until=b"got:typed").decode(errors="replace")
    assert "got:typed" in out, out
    rt.wait_status(cid, "stopped")


def test_terminal_is_controlling_tty_and_stdio(rt, bundle, cid, console):
    bundle.edit(lambda c: c["process"].__setitem__("terminal", True))
    bundle.sh("for i in 0 1 2; do readlink /proc/self/fd/$i; done; "
              "test -t 0 && test -t 1 && test -t 2 && echo all-ttys; "
              "echo >/dev/tty 2>/dev/null && echo has-ctty; echo done")
    rt.ok("create", "--bundle", bundle.path, "--console-socket", console.path, cid)
    console.wait_master()
    rt.ok("start", cid)
    out = console.read_all(until=b"done").decode(errors="replace")
    lines = [l.strip() for l in out.splitlines()]
    ptys = lines[:3]
    assert len(set(ptys)) == 1 and ptys[0].startswith("/dev/pts/"), out
    assert "all-ttys" in lines, out
    assert "has-ctty" in lines, out  # /dev/tty opens only with a controlling terminal (ENXIO)


def test_terminal_without_console_socket_refused(rt, bundle, cid):
    bundle.edit(lambda c: c["process"].__setitem__("terminal", True))
    r = rt("create", "--bundle", bundle.path, cid)
    assert r.rc != 0, r.describe()
    assert rt.state(cid) is None


def test_console_socket_without_terminal_refused(rt, bundle, cid, console):
    r = rt("create", "--bundle", bundle.path, "--console-socket", console.path, cid)
    assert r.rc != 0, r.describe()
    assert rt.state(cid) is None


# ---- user namespace ------------------------------------------------------------------

HOST_BASE = 100000


def userns(c, readonly=False):
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": HOST_BASE, "size": 65536}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": HOST_BASE, "size": 65536}]
    c["root"]["readonly"] = readonly


def chown_tree(path, uid, gid):
    for dirpath, dirnames, filenames in os.walk(path):
        os.lchown(dirpath, uid, gid)
        for n in dirnames + filenames:
            os.lchown(os.path.join(dirpath, n), uid, gid)


def test_userns_maps(rt, bundle, cid):
    chown_tree(bundle.rootfs, HOST_BASE, HOST_BASE)
    bundle.edit(userns).sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g")
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.rc == 0, r.describe()
    lines = r.out.splitlines()
    assert lines[0].split() == ["0", str(HOST_BASE), "65536"]
    assert lines[1].split() == ["0", str(HOST_BASE), "65536"]
    assert lines[2:] == ["0", "0"]


def test_userns_file_ownership(rt, bundle, cid, workdir):
    chown_tree(bundle.rootfs, HOST_BASE, HOST_BASE)
    os.lchown(bundle.rootfs + "/bin/busybox", HOST_BASE + 1000, HOST_BASE + 1000)
    shared = os.path.join(workdir, "shared")
    os.makedirs(shared)
    os.chown(shared, HOST_BASE, HOST_BASE)
    bundle.edit(userns)
    bundle.add_mount("/shared", "bind", shared, ["rbind", "rw"])
    bundle.sh("stat -c '%u %g' /bin/busybox /etc/passwd; touch /shared/made /rootfile; "
              "stat -c '%u' /proc/1")
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.rc == 0, r.describe()
    lines = r.out.splitlines()
    assert lines[0] == "1000 1000"  # host 101000 seen as 1000
    assert lines[1] == "0 0"       # host 100000 seen as root
    assert lines[2] == "0"
    st = os.stat(os.path.join(shared, "made"))
    assert (st.st_uid, st.st_gid) == (HOST_BASE, HOST_BASE)
    st = os.stat(os.path.join(bundle.rootfs, "rootfile"))
    assert (st.st_uid, st.st_gid) == (HOST_BASE, HOST_BASE)


def test_userns_unmapped_files_are_nobody(rt, bundle, cid, host_dir):
    chown_tree(bundle.rootfs, HOST_BASE, HOST_BASE)
    bundle.edit(userns)
    # host_dir is owned by host root, which is not mapped: overflow id 65534.
    bundle.add_mount("/mnt/h", "bind", host_dir, ["rbind", "ro"])
    bundle.sh("stat -c '%u %g' /mnt/h/hello.txt")
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.rc == 0, r.describe()
    assert r.out.strip() == "65534 65534"


def test_userns_process_runs_as_mapped_host_uid(rt, bundle, cid):
    chown_tree(bundle.rootfs, HOST_BASE, HOST_BASE)
    bundle.edit(userns).args("sleep", "1000")
    rt.ok("create", "--bundle", bundle.path, cid)
    pid = rt.state(cid)["pid"]
    with open("/proc/%d/status" % pid) as f:
        status = dict(l.split(":", 1) for l in f.read().splitlines())
    assert status["Uid"].split()[0] == str(HOST_BASE), status["Uid"]
    assert status["Gid"].split()[0] == str(HOST_BASE), status["Gid"]
    assert os.readlink("/proc/%d/ns/user" % pid) != os.readlink("/proc/self/ns/user")


def test_userns_with_user_and_groups(rt, bundle, cid):
    chown_tree(bundle.rootfs, HOST_BASE, HOST_BASE)
    def f(c):
        userns(c)
        c["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5]}
    bundle.edit(f).sh("id -u; id -g; id -G")
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.rc == 0, r.describe()
    uid, gid, groups = r.out.splitlines()
    assert (uid, gid) == ("1000", "1000")
    assert "5" in groups.split()


def test_userns_without_mappings_refused(rt, bundle, cid):
    def f(c):
        c["linux"]["namespaces"].append({"type": "user"})
    bundle.edit(f)
    r = rt("create", "--bundle", bundle.path, cid)
    assert r.rc != 0, r.describe()
    assert rt.state(cid) is None
