"""Fixtures for hull's integration tests.

    HULL=/abs/path/to/hull /usr/bin/python3 -m pytest -q tests/integration

The same tests run against runc (HULL=/usr/sbin/runc) to prove them; tests
that check hull's own wording are marked `hull_only` and skipped for runc."""

import os
import re
import shutil
import stat
import tempfile

import pytest

import helpers


def pytest_configure(config):
    config.addinivalue_line("markers", "hull_only: checks hull-specific text; skipped for runc")


def pytest_report_header(config):
    b = helpers.runtime_binary()
    return "runtime under test: %s%s" % (b, " (runc)" if helpers.runtime_is_runc(b) else "")


def pytest_collection_modifyitems(config, items):
    if not helpers.runtime_is_runc():
        return
    skip = pytest.mark.skip(reason="hull_only: checks hull-specific output")
    for item in items:
        if "hull_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def hull_binary():
    b = helpers.runtime_binary()
    if not (os.path.isfile(b) and os.access(b, os.X_OK)):
        pytest.fail("runtime %s is not an executable file (set HULL=...)" % b, pytrace=False)
    return b


@pytest.fixture(scope="session")
def is_runc(hull_binary):
    return helpers.runtime_is_runc(hull_binary)


@pytest.fixture(scope="session")
def base_dir():
    # Not pytest's tmp_path: its parents are 0700, and a container in a user
    # namespace (host uid 100000) must be able to walk to its rootfs.
    d = tempfile.mkdtemp(prefix="hull-it-", dir="/tmp")
    os.chmod(d, 0o755)
    template = os.path.join(d, "rootfs-template")
    helpers.make_rootfs_template(template)
    yield d
    leaked = helpers.ensure_unmounted_under(d)
    shutil.rmtree(d, ignore_errors=True)
    assert not leaked, "mounts leaked on the host under %s: %s" % (d, leaked)


_counter = [0]


@pytest.fixture
def workdir(base_dir, request):
    # Short paths: a console socket path must fit in sun_path (108 bytes).
    _counter[0] += 1
    name = re.sub(r"[^A-Za-z0-9]+", "_", request.node.name)[:24]
    d = os.path.join(base_dir, "%03d-%s" % (_counter[0], name))
    os.makedirs(d)
    os.chmod(d, 0o755)
    yield d
    leaked = helpers.ensure_unmounted_under(d)
    shutil.rmtree(d, ignore_errors=True)
    assert not leaked, "mounts leaked on the host under %s: %s" % (d, leaked)


@pytest.fixture
def rt(hull_binary, workdir):
    r = helpers.Runtime(hull_binary, os.path.join(workdir, "state"), workdir)
    yield r
    r.cleanup()


@pytest.fixture
def bundle(hull_binary, base_dir, workdir):
    return helpers.Bundle(os.path.join(workdir, "bundle"),
                          os.path.join(base_dir, "rootfs-template"), hull_binary)


@pytest.fixture
def make_bundle(hull_binary, base_dir, workdir):
    """For tests that need more than one bundle."""
    n = [0]

    def make():
        n[0] += 1
        return helpers.Bundle(os.path.join(workdir, "bundle%d" % n[0]),
                              os.path.join(base_dir, "rootfs-template"), hull_binary)
    return make


@pytest.fixture
def cid():
    return helpers.new_id()


@pytest.fixture
def host_dir(workdir):
    """A host directory with one file in it, for bind mounts."""
    d = os.path.join(workdir, "hostdir")
    os.makedirs(d)
    os.chmod(d, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    with open(os.path.join(d, "hello.txt"), "w") as f:
        f.write("hello from the host\n")
    return d
