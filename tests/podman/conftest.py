"""Fixtures for the podman tests: podman 4.3 with everything private (its
--root, --runroot, tmp dir, containers.conf and storage.conf under one
temporary directory), hull as its OCI runtime through a logging wrapper with
a private hull --root, and the busybox test image from `podman load`.

    HULL=/abs/path/to/hull /usr/bin/python3 -m pytest -q tests/podman
"""

import os
import time
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "containerd"))
import ctrd  # noqa: E402

IMAGE = ctrd.IMAGE
def _cgroup_tops():
    if ctrd.pure_cgroup2():
        return ["/sys/fs/cgroup"]
    return [os.path.join("/sys/fs/cgroup", d) for d in sorted(os.listdir("/sys/fs/cgroup"))
            if os.path.isdir(os.path.join("/sys/fs/cgroup", d))]


class Podman:
    def __init__(self, base, hull):
        self.base = base
        self.hull = hull
        # podman 4.3 loses --runtime-flag on the --rm cleanup's `delete`
        # (conmon's exit command): hull must use its default --root.
        self.hull_root = "/run/hull"
        self.calls = os.path.join(base, "hull-calls.log")
        self.wrapper = os.path.join(base, "hull-logged")
        self.env = dict(os.environ, CONTAINERS_CONF=os.path.join(base, "containers.conf"),
                        CONTAINERS_STORAGE_CONF=os.path.join(base, "storage.conf"))
        # podman's parent cgroup for cgroupfs: made by podman on first use.
        self.parents_before = {t for t in _cgroup_tops() if os.path.isdir(os.path.join(t, "libpod_parent"))}

    def setup(self):
        b = self.base
        for d in ("root", "runroot", "tmp", "volumes", "net"):
            os.makedirs(os.path.join(b, d), exist_ok=True)
        ctrd.write_wrapper(self.wrapper, self.hull, self.calls)
        ulimits = ""
        if not ctrd.has_cap(ctrd.CAP_SYS_RESOURCE):
            # podman 4.3 asks for nofile/nproc of 1048576 when run as root; a
            # host that denies CAP_SYS_RESOURCE (this sandbox) refuses that
            # setrlimit in any runtime, runc included.
            ulimits = 'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n'
        pids = ""
        if not ctrd.pure_cgroup2():
            # podman's default pids limit (2048) needs the pids controller,
            # which this hybrid host's cgroup2 lacks (hull refuses, as it says).
            pids = "pids_limit = 0\n"
        with open(self.env["CONTAINERS_CONF"], "w") as f:
            f.write('[containers]\n%s%s'
                    '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                    'events_logfile_path = "{b}/events.log"\ntmp_dir = "{b}/tmp"\n'
                    'volume_path = "{b}/volumes"\nstatic_dir = "{b}/root/libpod"\n'
                    'runtime = "hull"\n'
                    'runtime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "hull"]\n'
                    '[engine.runtimes]\nhull = ["{w}"]\n'
                    '[network]\nnetwork_config_dir = "{b}/net"\n'.format(b=b, w=self.wrapper) % (pids, ulimits))
        with open(self.env["CONTAINERS_STORAGE_CONF"], "w") as f:
            f.write('[storage]\ndriver = "vfs"\ngraphroot = "{b}/root"\nrunroot = "{b}/runroot"\n'.format(b=b))

    def argv(self, *args, runtime=None):
        return ["podman", "--root", os.path.join(self.base, "root"), "--runroot", os.path.join(self.base, "runroot"),
                "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                "--runtime", runtime or "hull"] + list(args)

    def __call__(self, *args, input=None, timeout=120, runtime=None):
        argv = self.argv(*args, runtime=runtime)
        try:
            p = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout, env=self.env,
                               stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            return ctrd.Result(argv, "timeout", ctrd._s(e.stdout), ctrd._s(e.stderr))
        return ctrd.Result(argv, p.returncode, p.stdout, p.stderr)

    def conmon_pids(self):
        pids = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    argv = f.read().split(b"\0")
                with open("/proc/%s/stat" % p) as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z" and argv and argv[0].endswith(b"conmon") and \
                    any(self.base.encode() in a for a in argv):
                pids.append(int(p))
        return pids

    def hull_containers(self):
        """This session's containers under hull's --root (others may share it)."""
        ours = {a[-1] for _, a in ctrd.read_calls(self.calls)}
        return [c for c in ctrd._hull_list(self.hull, self.hull_root) if c in ours]

    def teardown(self):
        problems = []
        r = self("ps", "-aq", timeout=60)
        if r.out.strip():
            problems.append("podman containers left: %s" % r.out.split())
            self("rm", "-af", "-t", "0", timeout=120)
        # conmon exits on its own once its container is gone, a moment after
        # `podman rm` returns (it reports the exit and runs podman's cleanup).
        deadline = time.monotonic() + 10
        while self.conmon_pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in self.conmon_pids():
            problems.append("conmon %d left running" % pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for c in self.hull_containers():
            problems.append("hull container %s left under %s" % (c, self.hull_root))
            subprocess.run([self.hull, "--root", self.hull_root, "delete", "--force", c],
                           capture_output=True, timeout=30)
        for m in ctrd._mounts_under(self.base):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)
        # podman's cgroupfs parents (libpod_parent/conmon) when this session
        # made them; rmdir only removes empty groups.
        for top in _cgroup_tops():
            if top in self.parents_before:
                continue
            for d in ("libpod_parent/conmon", "libpod_parent"):
                try:
                    os.rmdir(os.path.join(top, d))
                except OSError:
                    pass
        return problems


@pytest.fixture(scope="session")
def hull():
    b = ctrd.hull_binary()
    if not (os.path.isfile(b) and os.access(b, os.X_OK)):
        pytest.fail("hull %s is not an executable file (set HULL=...)" % b, pytrace=False)
    return b


@pytest.fixture(scope="session")
def podman(hull, tmp_path_factory):
    ctrd.ensure_installed("podman", "podman")
    ctrd.ensure_installed("conmon", "conmon")
    archive = str(tmp_path_factory.mktemp("image") / "busybox-oci.tar")
    ctrd.oci_image.write_archive(archive)
    base = tempfile.mkdtemp(prefix="hull-podman-", dir="/tmp")
    os.chmod(base, 0o755)
    pm = Podman(base, hull)
    problems = []
    try:
        pm.setup()
        r = pm("load", "-i", archive)
        assert r.rc == 0 and IMAGE in r.out, r
        yield pm
    finally:
        problems = pm.teardown()
    assert not problems, "the podman session left things behind: %s" % problems
