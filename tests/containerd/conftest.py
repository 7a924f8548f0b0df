"""Fixtures for the containerd tests: one private containerd for the session
(its own root, state, sockets and config.toml), the busybox test image
imported into it, and per-test checks that nothing is left behind.

    HULL=/abs/path/to/hull /usr/bin/python3 -m pytest -q tests/containerd
"""

import os
import re
import secrets
import tempfile

import pytest

import ctrd


def pytest_configure(config):
    config.addinivalue_line("markers", "cgroup2: needs a pure cgroup2 host with controllers (the test host VM)")


def pytest_collection_modifyitems(config, items):
    if ctrd.pure_cgroup2():
        return
    skip = pytest.mark.skip(reason="needs a pure cgroup2 host with the memory controller "
                                   "(/sys/fs/cgroup/cgroup.controllers): runs in the test host VM")
    for item in items:
        if "cgroup2" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    return "runtime under test: %s; cgroups: %s" % (
        ctrd.hull_binary(), "pure cgroup2" if ctrd.pure_cgroup2() else "hybrid (v1 controllers)")


@pytest.fixture(scope="session")
def hull():
    b = ctrd.hull_binary()
    if not (os.path.isfile(b) and os.access(b, os.X_OK)):
        pytest.fail("hull %s is not an executable file (set HULL=...)" % b, pytrace=False)
    return b


@pytest.fixture(scope="session")
def image_archive(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("image") / "busybox-oci.tar")
    ctrd.oci_image.write_archive(path)
    return path


@pytest.fixture(scope="session")
def containerd(hull, image_archive):
    ctrd.ensure_installed("containerd", "containerd")
    # Short path: the shim's and the console's socket paths must fit sun_path.
    base = tempfile.mkdtemp(prefix="hull-ctrd-", dir="/tmp")
    os.chmod(base, 0o755)
    d = ctrd.Containerd(base, hull)
    problems = []
    try:
        d.start()
        r = d.ctr("images", "import", image_archive, timeout=120)
        assert r.rc == 0, r
        yield d
    finally:
        problems = d.stop()
    assert not problems, "the containerd session left things behind: %s" % problems


@pytest.fixture
def cid(containerd, request):
    """A fresh container id; after the test, the container must be gone from
    containerd, from hull's --root and from the cgroup tree, or the test
    cleans up and fails."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:20].strip("-")
    c = "%s-%s" % (name, secrets.token_hex(3))
    yield c
    left = []
    if containerd.task_status(c) is not None:
        left.append("task")
        containerd.ctr("tasks", "kill", "-s", "KILL", c)
        containerd.ctr("tasks", "rm", "-f", c)
    if c in containerd.ctr("containers", "ls", "-q").out.split():
        left.append("container")
        containerd.ctr("containers", "rm", c)
    if c in containerd.hull_containers():
        left.append("hull state under %s" % containerd.hull_ns_root())
    if ctrd.processes_in_cgroup("/%s/%s" % (ctrd.NAMESPACE, c)):
        left.append("processes in cgroup /%s/%s" % (ctrd.NAMESPACE, c))
    if ctrd.cgroup_exists("/%s/%s" % (ctrd.NAMESPACE, c)):
        left.append("cgroup /%s/%s" % (ctrd.NAMESPACE, c))
    if os.path.exists(ctrd.shim_socket(containerd.sock, ctrd.NAMESPACE, c)):
        left.append("shim socket")
    assert not left, "container %s left behind: %s" % (c, ", ".join(left))
