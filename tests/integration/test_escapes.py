"""Escapes runc and crun have suffered, each tried from inside a container
with `hull spec`'s defaults, and each shown to succeed when the protection
is taken away (so that none passes vacuously)."""

import os

import pytest


def _hook_script(bundle, name, body):
    path = os.path.join(bundle.rootfs, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return "/" + name


# CVE-2019-5736: a container process opens the runtime's binary through
# /proc/PID/exe while the runtime runs in the container, keeps the fd, and
# rewrites the binary once the runtime has exited.  The startContainer hook
# runs inside the container while its PID 1 is still hull's init, before the
# execve of the workload: exactly the window of that attack.
@pytest.mark.hull_only
def test_runtime_binary_cannot_be_opened_through_proc_exe(rt, bundle, cid):
    hook = _hook_script(bundle, "probe.sh", """
if cat /proc/1/exe > /dev/null 2>&1; then echo runtime-exe=opened; else echo runtime-exe=refused; fi
# The contrast: a dumpable root process (an ordinary sleep) in the same
# container: its /proc/PID/exe opens fine, so only the protection refuses.
sleep 100 & pid=$!
if cat /proc/$pid/exe > /dev/null 2>&1; then echo sibling-exe=opened; else echo sibling-exe=refused; fi
kill $pid
""")
    bundle.set_hook("startContainer", hook).args("true")
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.rc == 0, r.describe()
    assert "runtime-exe=refused" in r.err, r.describe()
    assert "sibling-exe=opened" in r.err, r.describe()


def test_mknod_needs_cap_mknod(rt, bundle, cid):
    bundle.edit(lambda c: c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}))
    bundle.sh("mknod /tmp/null c 1 3 2>/dev/null; echo rc=$?")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert "rc=1" in r.out, r.describe()


def test_mknod_with_cap_mknod_works(rt, bundle, cid):
    def f(c):
        c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"})
        for k in ("bounding", "effective", "permitted"):
            c["process"]["capabilities"][k].append("CAP_MKNOD")
    bundle.edit(f).sh("mknod /tmp/null c 1 3; echo rc=$?")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert "rc=0" in r.out, r.describe()


def test_mount_is_refused(rt, bundle, cid):
    bundle.sh("mount -t tmpfs none /mnt 2>/dev/null; echo rc=$?")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert "rc=0" not in r.out, r.describe()


def test_mount_works_with_cap_sys_admin_and_no_seccomp(rt, bundle, cid):
    def f(c):
        c["linux"].pop("seccomp", None)
        for k in ("bounding", "effective", "permitted"):
            c["process"]["capabilities"][k].append("CAP_SYS_ADMIN")
        c["mounts"].append({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs"})
    bundle.edit(f).sh("mount -t tmpfs none /mnt && echo rc=0")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert "rc=0" in r.out, r.describe()


def test_kernel_modules_cannot_be_loaded(rt, bundle, cid):
    # init_module needs CAP_SYS_MODULE (and the default profile denies it):
    # the error must be EPERM, not "bad module" (which would mean the kernel
    # looked at the image).
    bundle.edit(lambda c: c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}))
    bundle.sh("echo garbage > /tmp/x.ko; insmod /tmp/x.ko 2>&1; echo rc=$?")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert "rc=0" not in r.out
    if not os.path.exists("/proc/modules"):
        pytest.skip("this kernel has no module support (ENOSYS whatever the protection)")
    assert "not permitted" in r.out.lower(), r.describe()


def test_proc_sysrq_and_kcore_are_masked(rt, bundle, cid):
    bundle.sh("echo h > /proc/sysrq-trigger 2>/dev/null; echo sysrq=$?; head -c 16 /proc/kcore 2>/dev/null | wc -c")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert "sysrq=0" not in r.out
    assert r.out.split()[-1] == "0"


@pytest.mark.hull_only
@pytest.mark.skipif(os.path.exists("/sys/module/apparmor/parameters/enabled"),
                    reason="AppArmor is available here: the refusal is for hosts without it")
def test_apparmor_profile_without_apparmor_is_refused(rt, bundle, cid):
    """A profile that cannot be applied must not leave the workload
    unconfined without a word."""
    bundle.edit(lambda c: c["process"].__setitem__("apparmorProfile", "hull-default")).args("true")
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.rc != 0 and "process.apparmorProfile" in r.err and "not enabled" in r.err, r.describe()
    assert not os.path.exists(os.path.join(rt.root, cid))
