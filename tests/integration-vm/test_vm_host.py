"""The test host VM is the host the other tests here assume: cgroup v2 alone
with the controllers enabled, a /dev/kvm that runs guests, and hull working
in it."""

import fcntl
import os
import subprocess

import pytest

KVM_GET_API_VERSION = 0xAE00
WANTED_CONTROLLERS = {"cpuset", "cpu", "io", "memory", "pids"}


def cgroup_mounts():
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            fstype = fields[fields.index("-") + 1]
            if fstype in ("cgroup", "cgroup2"):
                out.append((fields[4], fstype))
    return out


def test_cgroup2_only_with_controllers():
    assert cgroup_mounts() == [("/sys/fs/cgroup", "cgroup2")], \
        "expected cgroup2 at /sys/fs/cgroup and no other cgroup mount (no v1)"
    with open("/sys/fs/cgroup/cgroup.controllers") as f:
        available = set(f.read().split())
    assert WANTED_CONTROLLERS <= available, "missing: %s" % (WANTED_CONTROLLERS - available)
    with open("/sys/fs/cgroup/cgroup.subtree_control") as f:
        enabled = set(f.read().split())
    assert WANTED_CONTROLLERS <= enabled, "not enabled at the root: %s" % (
        WANTED_CONTROLLERS - enabled)
    # The test runner sits in the root cgroup (tests/vm/README.md).
    with open("/proc/self/cgroup") as f:
        assert f.read().strip() == "0::/"


def test_kvm_api_version():
    fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    try:
        assert fcntl.ioctl(fd, KVM_GET_API_VERSION) == 12
    finally:
        os.close(fd)


def test_kvm_runs_a_guest(build_dir):
    """Nested KVM: a real-mode guest does `out` then `hlt` (tests/vm/kvm-smoke.c)."""
    smoke = os.environ.get("HULL_KVM_SMOKE") or os.path.join(build_dir, "tests", "vm",
                                                             "kvm-smoke")
    if not os.access(smoke, os.X_OK):
        pytest.fail("%s is missing (make asan builds it)" % smoke, pytrace=False)
    r = subprocess.run([smoke], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("kvm-smoke: ok"), r.stdout


def test_hull_runs_a_busybox_container(rt, bundle, cid):
    bundle.sh("echo hello from $(hostname); cat /proc/self/cgroup")
    r = rt.ok("run", "--bundle", bundle.path, cid, timeout=120)
    assert "hello from" in r.out
    assert r.out.splitlines()[-1].startswith("0::"), r.describe()
