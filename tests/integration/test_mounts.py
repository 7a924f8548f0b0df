"""Mounts from config.json, their options, masked and read-only paths, /dev."""

import os
import subprocess

import pytest

from helpers import proc_mounts_entry


def run_out(rt, bundle, cid, script):
    bundle.sh(script)
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.rc == 0, r.describe()
    return r.out


def test_tmpfs_size_mode_and_flags(rt, bundle, cid):
    bundle.add_mount("/mnt/t", "tmpfs", "tmpfs",
                     ["size=1m", "mode=0750", "nosuid", "nodev", "noexec"])
    out = run_out(rt, bundle, cid, "cat /proc/mounts; echo ---; stat -c %a /mnt/t")
    mounts, mode = out.split("---\n")
    e = proc_mounts_entry(mounts, "/mnt/t")
    assert e is not None, mounts
    assert e["type"] == "tmpfs"
    assert "size=1024k" in e["options"]
    assert "mode=750" in e["options"]
    for opt in ("nosuid", "nodev", "noexec", "rw"):
        assert opt in e["options"], e
    assert mode.strip() == "750"


def test_tmpfs_noexec_is_effective(rt, bundle, cid):
    bundle.add_mount("/mnt/t", "tmpfs", "tmpfs", ["noexec"])
    bundle.add_mount("/mnt/x", "tmpfs", "tmpfs", [])
    out = run_out(rt, bundle, cid,
                  "cp /bin/busybox /mnt/t/busybox; cp /bin/busybox /mnt/x/busybox; "
                  "/mnt/x/busybox true && echo exec-ok; "
                  "/mnt/t/busybox true 2>/dev/null || echo exec-refused")
    assert out.split() == ["exec-ok", "exec-refused"]


def test_tmpfs_size_is_enforced(rt, bundle, cid):
    bundle.add_mount("/mnt/t", "tmpfs", "tmpfs", ["size=64k"])
    out = run_out(rt, bundle, cid,
                  "dd if=/dev/zero of=/mnt/t/big bs=1k count=256 2>/dev/null; "
                  "echo rc=$?; stat -c %s /mnt/t/big")
    rc, size = out.split()
    assert rc != "rc=0"
    assert int(size) <= 64 * 1024


def test_bind_dir_readonly(rt, bundle, cid, host_dir):
    bundle.add_mount("/mnt/ro", "bind", host_dir, ["rbind", "ro"])
    out = run_out(rt, bundle, cid,
                  "cat /mnt/ro/hello.txt; "
                  "touch /mnt/ro/new 2>/dev/null && echo wrote || echo refused; "
                  "grep ' /mnt/ro ' /proc/mounts")
    lines = out.splitlines()
    assert lines[0] == "hello from the host"
    assert lines[1] == "refused"
    assert "ro" in lines[2].split()[3].split(",")
    assert not os.path.exists(os.path.join(host_dir, "new"))


def test_bind_dir_readwrite(rt, bundle, cid, host_dir):
    bundle.add_mount("/mnt/rw", "bind", host_dir, ["rbind", "rw"])
    out = run_out(rt, bundle, cid, "echo from-container > /mnt/rw/new && echo wrote")
    assert out.strip() == "wrote"
    with open(os.path.join(host_dir, "new")) as f:
        assert f.read() == "from-container\n"


def test_bind_file(rt, bundle, cid, host_dir):
    # The destination does not exist in the rootfs: the runtime creates a file.
    bundle.add_mount("/etc/injected.txt", "bind", os.path.join(host_dir, "hello.txt"),
                     ["bind", "ro"])
    out = run_out(rt, bundle, cid,
                  "cat /etc/injected.txt; test -f /etc/injected.txt && echo is-file; "
                  "echo x >> /etc/injected.txt 2>/dev/null || echo refused")
    assert out.splitlines() == ["hello from the host", "is-file", "refused"]


def test_bind_nodev_is_effective(rt, bundle, cid):
    bundle.add_mount("/mnt/null-nodev", "bind", "/dev/null", ["bind", "nodev"])
    bundle.add_mount("/mnt/null-dev", "bind", "/dev/null", ["bind"])
    out = run_out(rt, bundle, cid,
                  "echo x > /mnt/null-dev && echo dev-ok; "
                  "echo x > /mnt/null-nodev 2>/dev/null || echo nodev-refused")
    assert out.split() == ["dev-ok", "nodev-refused"]


def test_bind_noexec_nosuid_options_visible(rt, bundle, cid, host_dir):
    bundle.add_mount("/mnt/b", "bind", host_dir, ["rbind", "nosuid", "noexec", "nodev"])
    out = run_out(rt, bundle, cid, "cat /proc/mounts")
    e = proc_mounts_entry(out, "/mnt/b")
    assert e is not None, out
    for opt in ("nosuid", "noexec", "nodev"):
        assert opt in e["options"], e


def test_bind_noexec_is_effective(rt, bundle, cid, host_dir):
    import shutil
    shutil.copy2("/bin/busybox", os.path.join(host_dir, "busybox"))
    bundle.add_mount("/mnt/b", "bind", host_dir, ["rbind", "noexec"])
    bundle.add_mount("/mnt/c", "bind", host_dir, ["rbind"])
    out = run_out(rt, bundle, cid,
                  "/mnt/c/busybox true && echo ran; "
                  "/mnt/b/busybox true 2>/dev/null && echo ran || echo refused")
    assert out.split() == ["ran", "refused"]


EUID_C = "#include <stdio.h>\n#include <unistd.h>\n" \
    "int main(void) { printf(\"%d\\n\", (int) geteuid()); return 0; }\n"


def test_bind_nosuid_is_effective(rt, bundle, cid, host_dir):
    # A setuid-root binary run by uid 1000: euid 0 on a plain bind, 1000 under
    # nosuid.  (busybox drops setuid itself, so a tiny static program is used.)
    src = os.path.join(host_dir, "euid.c")
    exe = os.path.join(host_dir, "euid")
    with open(src, "w") as f:
        f.write(EUID_C)
    subprocess.run(["gcc", "-static", "-O1", "-o", exe, src], check=True)
    os.chown(exe, 0, 0)
    os.chmod(exe, 0o4755)

    def f(c):
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
        c["process"]["noNewPrivileges"] = False  # it would also block setuid
    bundle.edit(f)
    bundle.add_mount("/mnt/suid", "bind", host_dir, ["rbind"])
    bundle.add_mount("/mnt/nosuid", "bind", host_dir, ["rbind", "nosuid"])
    out = run_out(rt, bundle, cid, "/mnt/suid/euid; /mnt/nosuid/euid")
    assert out.split() == ["0", "1000"]


def test_no_new_privileges_blocks_setuid(rt, bundle, cid, host_dir):
    src = os.path.join(host_dir, "euid.c")
    exe = os.path.join(host_dir, "euid")
    with open(src, "w") as f:
        f.write(EUID_C)
    subprocess.run(["gcc", "-static", "-O1", "-o", exe, src], check=True)
    os.chmod(exe, 0o4755)
    bundle.edit(lambda c: c["process"].__setitem__("user", {"uid": 1000, "gid": 1000}))
    assert bundle.config["process"]["noNewPrivileges"] is True
    bundle.add_mount("/mnt/suid", "bind", host_dir, ["rbind"])
    out = run_out(rt, bundle, cid, "/mnt/suid/euid")
    assert out.split() == ["1000"]


def test_readonly_rootfs(rt, bundle, cid):
    assert bundle.config["root"]["readonly"] is True  # the spec default
    out = run_out(rt, bundle, cid,
                  "touch /newfile 2>/dev/null && echo wrote || echo refused; "
                  "grep -E '^[^ ]+ / ' /proc/mounts")
    lines = out.splitlines()
    assert lines[0] == "refused"
    assert "ro" in lines[-1].split()[3].split(",")


def test_writable_rootfs(rt, bundle, cid):
    bundle.edit(lambda c: c["root"].__setitem__("readonly", False))
    out = run_out(rt, bundle, cid, "echo hi > /newfile && echo wrote")
    assert out.strip() == "wrote"
    assert os.path.exists(os.path.join(bundle.rootfs, "newfile"))


def test_proc_is_the_containers(rt, bundle, cid):
    out = run_out(rt, bundle, cid, "grep ' /proc proc ' /proc/mounts; ls /proc | grep -E '^[0-9]+$'")
    lines = out.splitlines()
    assert lines[0].split()[2] == "proc"
    pids = [int(x) for x in lines[1:]]
    # Only the container's processes: sh (1), and the ls/grep pipeline.
    assert 1 in pids and len(pids) <= 4, pids


def test_sysfs_mounted_readonly(rt, bundle, cid):
    out = run_out(rt, bundle, cid, "cat /proc/mounts")
    e = proc_mounts_entry(out, "/sys")
    assert e is not None and e["type"] == "sysfs", out
    for opt in ("ro", "nosuid", "nodev", "noexec"):
        assert opt in e["options"], e


def test_devpts_mounted(rt, bundle, cid):
    out = run_out(rt, bundle, cid, "cat /proc/mounts; ls -l /dev/pts")
    e = proc_mounts_entry(out, "/dev/pts")
    assert e is not None and e["type"] == "devpts", out
    assert "ptmxmode=666" in e["options"] or "ptmxmode=0666" in e["options"], e
    assert "mode=620" in e["options"], e
    assert "gid=5" in e["options"], e
    assert "ptmx" in out


def test_devpts_is_a_new_instance(rt, bundle, cid):
    # A fresh devpts holds only ptmx: no host pty leaks in.
    out = run_out(rt, bundle, cid, "ls /dev/pts")
    assert out.split() == ["ptmx"]


def test_mqueue_mounted(rt, bundle, cid):
    out = run_out(rt, bundle, cid, "cat /proc/mounts")
    e = proc_mounts_entry(out, "/dev/mqueue")
    assert e is not None and e["type"] == "mqueue", out
    for opt in ("nosuid", "nodev", "noexec"):
        assert opt in e["options"], e


def test_shm_mounted(rt, bundle, cid):
    out = run_out(rt, bundle, cid, "cat /proc/mounts; echo x > /dev/shm/f && echo wrote")
    e = proc_mounts_entry(out, "/dev/shm")
    assert e is not None and e["type"] == "tmpfs", out
    assert "size=65536k" in e["options"], e
    assert out.splitlines()[-1] == "wrote"


def test_cgroup2_mount(rt, bundle, cid):
    # This host is hybrid: the unified hierarchy exists but has no controllers.
    # A cgroup2 mount at a fresh destination must work either way.
    def f(c):
        if not any(n["type"] == "cgroup" for n in c["linux"]["namespaces"]):
            c["linux"]["namespaces"].append({"type": "cgroup"})
        c["mounts"].append({"destination": "/mnt/cg", "type": "cgroup2", "source": "cgroup2",
                            "options": ["nosuid", "noexec", "nodev"]})
    bundle.edit(f)
    out = run_out(rt, bundle, cid, "cat /proc/mounts; echo ---; ls /mnt/cg")
    mounts, listing = out.split("---\n")
    e = proc_mounts_entry(mounts, "/mnt/cg")
    assert e is not None and e["type"] == "cgroup2", mounts
    assert "cgroup.procs" in listing.split()


def test_cgroup_mount_in_a_cgroup_namespace_is_the_containers_own_cgroup(rt, bundle, cid):
    """hull attaches a clone of the container's cgroup directory (made before
    the init) where a new cgroup2 would wait for an RCU grace period: the
    view must be the same: the container's cgroup as the root, read-only."""
    if not any(n["type"] == "cgroup" for n in bundle.config["linux"]["namespaces"]):
        bundle.edit(lambda c: c["linux"]["namespaces"].append({"type": "cgroup"}))
    out = run_out(rt, bundle, cid, "grep ' /sys/fs/cgroup ' /proc/self/mountinfo; echo ---; "
                  "cat /sys/fs/cgroup/cgroup.procs; echo ---; "
                  "mkdir /sys/fs/cgroup/sub 2>&1; echo ---; cat /proc/self/cgroup")
    info, procs, mkdir, own = out.split("---\n")
    fields = info.split()
    assert fields[3:5] == ["/", "/sys/fs/cgroup"], info
    assert "ro" in fields[5].split(","), info
    assert fields[fields.index("-") + 1] == "cgroup2", info
    # Only this container's processes: its init (pid 1, the shell) and cat.
    assert procs.split()[0] == "1" and len(procs.split()) == 2, procs
    assert "Read-only file system" in mkdir, mkdir
    assert "0::/" in own.splitlines(), own


def test_mount_destination_missing_parents_created(rt, bundle, cid):
    bundle.add_mount("/a/b/c", "tmpfs", "tmpfs", ["size=1m"])
    out = run_out(rt, bundle, cid, "grep ' /a/b/c ' /proc/mounts | cut -d' ' -f3")
    assert out.strip() == "tmpfs"


def test_mounts_applied_in_order(rt, bundle, cid, host_dir):
    # A bind on top of a tmpfs mounted just before it: order matters.
    bundle.add_mount("/mnt/outer", "tmpfs", "tmpfs", ["size=1m"])
    bundle.add_mount("/mnt/outer/inner", "bind", host_dir, ["rbind", "ro"])
    out = run_out(rt, bundle, cid, "cat /mnt/outer/inner/hello.txt")
    assert out.strip() == "hello from the host"


# ---- masked and read-only paths ----------------------------------------------------

def test_masked_file_reads_empty(rt, bundle, cid):
    masked = bundle.config["linux"]["maskedPaths"]
    assert "/proc/kcore" in masked and "/proc/timer_list" in masked
    # /proc/kcore is absent on kernels without CONFIG_PROC_KCORE (this host):
    # then it must stay absent or empty.  /proc/timer_list exists everywhere
    # and is not empty on the host.
    with open("/proc/timer_list") as f:
        assert f.read(64)
    out = run_out(rt, bundle, cid,
                  "cat /proc/kcore 2>/dev/null | wc -c; cat /proc/timer_list | wc -c")
    assert out.split() == ["0", "0"], out


def test_masked_directory_is_empty(rt, bundle, cid):
    assert "/sys/firmware" in bundle.config["linux"]["maskedPaths"]
    out = run_out(rt, bundle, cid, "ls -A /sys/firmware | wc -l")
    assert out.strip() == "0"


def test_masked_custom_path(rt, bundle, cid):
    bundle.edit(lambda c: c["linux"]["maskedPaths"].append("/etc/passwd"))
    out = run_out(rt, bundle, cid, "wc -c < /etc/passwd")
    assert out.strip() == "0"


def test_masked_missing_path_is_ignored(rt, bundle, cid):
    bundle.edit(lambda c: c["linux"]["maskedPaths"].append("/does/not/exist"))
    out = run_out(rt, bundle, cid, "echo fine")
    assert out.strip() == "fine"


def test_readonly_proc_sys(rt, bundle, cid):
    assert "/proc/sys" in bundle.config["linux"]["readonlyPaths"]
    out = run_out(rt, bundle, cid,
                  "echo x 2>&1 > /proc/sys/kernel/domainname; echo rc=$?; "
                  "grep ' /proc/sys ' /proc/mounts")
    lines = out.splitlines()
    assert "Read-only file system" in lines[0], out
    assert lines[1] != "rc=0"
    assert "ro" in lines[2].split()[3].split(",")


def test_readonly_custom_path(rt, bundle, cid):
    def f(c):
        c["root"]["readonly"] = False
        c["linux"]["readonlyPaths"].append("/tmp")
    bundle.edit(f)
    out = run_out(rt, bundle, cid,
                  "touch /tmp/x 2>/dev/null && echo wrote || echo refused; "
                  "touch /var/tmp/x && echo elsewhere-ok")
    assert out.split() == ["refused", "elsewhere-ok"]


# ---- /dev -------------------------------------------------------------------------

DEFAULT_CHAR_DEVICES = {
    "null": (1, 3), "zero": (1, 5), "full": (1, 7),
    "random": (1, 8), "urandom": (1, 9), "tty": (5, 0),
}


def test_dev_default_devices(rt, bundle, cid):
    script = "; ".join("stat -c '%%n %%F %%t %%T' /dev/%s" % d for d in DEFAULT_CHAR_DEVICES)
    out = run_out(rt, bundle, cid, script)
    for line in out.splitlines():
        name, rest = line.split(" ", 1)
        kind, major, minor = rest.rsplit(" ", 2)
        dev = name[len("/dev/"):]
        assert kind == "character special file", line
        assert (int(major, 16), int(minor, 16)) == DEFAULT_CHAR_DEVICES[dev], line
    assert len(out.splitlines()) == len(DEFAULT_CHAR_DEVICES)


def test_dev_default_devices_work(rt, bundle, cid):
    out = run_out(rt, bundle, cid,
                  "echo x > /dev/null && echo null-ok; "
                  "head -c 4 /dev/zero | od -An -tx1; "
                  "head -c 16 /dev/urandom | wc -c; "
                  "echo x > /dev/full 2>/dev/null || echo full-refused")
    lines = [l.strip() for l in out.splitlines()]
    assert lines == ["null-ok", "00 00 00 00", "16", "full-refused"]


def test_dev_symlinks_ptmx_pts_shm(rt, bundle, cid):
    out = run_out(rt, bundle, cid,
                  "for l in fd stdin stdout stderr; do echo $l $(readlink /dev/$l); done; "
                  "test -e /dev/ptmx && echo ptmx-exists; "
                  "test -d /dev/pts && echo pts-dir; test -d /dev/shm && echo shm-dir")
    lines = out.splitlines()
    assert lines[:4] == ["fd /proc/self/fd", "stdin /proc/self/fd/0",
                         "stdout /proc/self/fd/1", "stderr /proc/self/fd/2"]
    assert lines[4:] == ["ptmx-exists", "pts-dir", "shm-dir"]


def test_dev_ptmx_points_at_new_devpts(rt, bundle, cid):
    out = run_out(rt, bundle, cid, "readlink /dev/ptmx || stat -c '%t %T' /dev/ptmx")
    # runc makes /dev/ptmx a symlink to pts/ptmx; a bind of pts/ptmx is equivalent.
    assert out.strip() in ("pts/ptmx", "/dev/pts/ptmx", "5 2"), out


def test_dev_no_host_devices_leak(rt, bundle, cid):
    out = run_out(rt, bundle, cid, "ls /dev")
    names = set(out.split())
    for host_only in ("sda", "vda", "kvm", "fuse", "mem", "kmsg", "loop0"):
        assert host_only not in names, names


def test_linux_devices_entry(rt, bundle, cid):
    def f(c):
        c["linux"]["devices"] = [{"path": "/dev/hull-test", "type": "c", "major": 1,
                                  "minor": 7, "fileMode": 0o640, "uid": 1000, "gid": 1001}]
        c["linux"]["resources"]["devices"].append(
            {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"})
    bundle.edit(f)
    out = run_out(rt, bundle, cid,
                  "stat -c '%F %t %T %a %u %g' /dev/hull-test; "
                  "echo x > /dev/hull-test 2>/dev/null || echo full-refused")
    lines = out.splitlines()
    assert lines[0] == "character special file 1 7 640 1000 1001"
    assert lines[1] == "full-refused"  # it is /dev/full: writes fail with ENOSPC


@pytest.mark.parametrize("opt", ["nosuid", "nodev", "noexec"])
def test_tmpfs_single_flag(rt, bundle, cid, opt):
    bundle.add_mount("/mnt/t", "tmpfs", "tmpfs", [opt])
    out = run_out(rt, bundle, cid, "cat /proc/mounts")
    e = proc_mounts_entry(out, "/mnt/t")
    assert opt in e["options"], e
    others = {"nosuid", "nodev", "noexec"} - {opt}
    assert not others & set(e["options"]), e
