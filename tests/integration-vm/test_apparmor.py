"""AppArmor: `process.apparmorProfile` (and `exec --apparmor`) confine the
container's process with a loaded profile.  The test host VM's kernel
(Debian's) has AppArmor enabled and its init mounts securityfs, so
apparmor_parser (Debian's `apparmor` package, installed on the machine) can
load profiles; the bare test machines have no AppArmor at all, so only the
refusal is tested there (tests/integration/test_escapes.py).

Each test loads its own profile, named after the container, that allows
everything but reading /secret, and unloads it at the end.  The twin of
each confinement check is the same container without the profile reading
the file."""

import json
import os
import subprocess

import pytest

import helpers
from test_bad_input import HostSnapshot, refused

ENABLED = "/sys/module/apparmor/parameters/enabled"
PROFILES = "/sys/kernel/security/apparmor/profiles"
PARSER = "/sbin/apparmor_parser"
SECRET = "secret-for-the-twin"

# Everything allowed (so the container itself works: exec, /proc, signals
# from the runtime, ...) but reading one file.
PROFILE = """abi <abi/3.0>,
profile %s flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  signal,
  ptrace,
  unix,
  mount,
  umount,
  pivot_root,
  deny /secret r,
}
"""

SHOW = "cat /proc/self/attr/current; echo; cat /secret 2>&1; echo rc=$?"


def loaded_profiles():
    with open(PROFILES) as f:
        return {line.rsplit(" (", 1)[0] for line in f.read().splitlines()}


@pytest.fixture(scope="session")
def apparmor():
    with open(ENABLED) as f:
        assert f.read().strip() == "Y", "AppArmor is not enabled in the test VM's kernel"
    assert os.path.exists(PROFILES), \
        "no %s: securityfs is not mounted (tests/vm/init mounts it)" % PROFILES
    assert os.access(PARSER, os.X_OK), \
        "%s is missing: tests/install-deps.sh --test installs Debian's apparmor" % PARSER


def parser(flag, text):
    r = subprocess.run([PARSER, flag], input=text, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "apparmor_parser %s failed: %s" % (flag, r.stderr)


@pytest.fixture
def profile(apparmor, rt, cid):
    """A loaded profile, unique to the test; unloaded at the end, once the
    test's containers are gone."""
    name = "hull-test-" + cid
    text = PROFILE % name
    parser("--replace", text)
    assert name in loaded_profiles()
    yield name
    rt.cleanup()
    rt.ids.clear()  # deleted: rt's own teardown need not try again
    parser("--remove", text)
    assert name not in loaded_profiles()


@pytest.fixture
def secret_bundle(bundle):
    with open(os.path.join(bundle.rootfs, "secret"), "w") as f:
        f.write(SECRET + "\n")
    os.chmod(os.path.join(bundle.rootfs, "secret"), 0o644)
    return bundle


def with_profile(name):
    return lambda c: c["process"].__setitem__("apparmorProfile", name)


def assert_confined(out, name):
    assert out.splitlines()[0] == "%s (enforce)" % name, out
    assert SECRET not in out, out
    assert "Permission denied" in out and "rc=1" in out, out


def assert_unconfined(out):
    assert out.splitlines()[0] == "unconfined", out
    assert SECRET in out and "rc=0" in out, out


# ---- the container's process --------------------------------------------------------

def test_profile_confines_the_container(rt, secret_bundle, cid, profile):
    secret_bundle.edit(with_profile(profile)).sh(SHOW)
    r = rt.ok("run", "--bundle", secret_bundle.path, cid, timeout=120)
    assert_confined(r.out, profile)


def test_without_the_profile_the_file_is_read(rt, secret_bundle, cid, profile):
    # The twin: the same container, the profile loaded but not asked for.
    secret_bundle.sh(SHOW)
    r = rt.ok("run", "--bundle", secret_bundle.path, cid, timeout=120)
    assert_unconfined(r.out)


def test_profile_confines_a_non_root_user(rt, secret_bundle, cid, profile):
    def f(c):
        with_profile(profile)(c)
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
    secret_bundle.edit(f).sh("id -u; " + SHOW)
    r = rt.ok("run", "--bundle", secret_bundle.path, cid, timeout=120)
    assert r.out.splitlines()[0] == "1000", r.describe()
    assert_confined(r.out.split("\n", 1)[1], profile)


def test_profile_confines_a_container_in_a_user_namespace(rt, secret_bundle, cid, profile):
    def userns(c):
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    secret_bundle.edit(userns).edit(with_profile(profile)).sh(SHOW)
    r = rt.ok("run", "--bundle", secret_bundle.path, cid, timeout=120)
    assert_confined(r.out, profile)
    # The twin: the same user namespace without the profile.
    secret_bundle.edit(lambda c: c["process"].pop("apparmorProfile") and None)
    r = rt.ok("run", "--bundle", secret_bundle.path, cid + "-twin", timeout=120)
    assert_unconfined(r.out)


def test_create_then_start_runs_confined(rt, secret_bundle, cid, profile):
    secret_bundle.edit(with_profile(profile)).sh(SHOW)
    p = rt.popen("create", "--bundle", secret_bundle.path, cid)
    r = rt.collect(p, timeout=120)
    assert r.rc == 0, r.describe()
    assert rt.state(cid)["status"] == "created"
    rt.ok("start", cid)
    rt.wait_status(cid, "stopped", timeout=60)
    # The container's stdout is create's.
    with open(p.out_path) as f:
        assert_confined(f.read(), profile)


def test_start_container_hook_runs_under_the_profile(rt, secret_bundle, cid, profile):
    """startContainer hooks run in the container, forked by its init after
    the profile was set for the next execve: confined too, as with runc."""
    secret_bundle.edit(with_profile(profile)).sh("cat /tmp/hook.out")
    secret_bundle.add_mount("/tmp", "tmpfs", "tmpfs")
    secret_bundle.set_hook("startContainer", "/bin/sh",
                           ["sh", "-c", "{ %s; } >/tmp/hook.out 2>&1" % SHOW])
    r = rt.ok("run", "--bundle", secret_bundle.path, cid, timeout=120)
    assert_confined(r.out, profile)


def test_profile_not_loaded_is_refused_by_create(rt, secret_bundle, cid, workdir, apparmor):
    """A profile that is not loaded: create fails and leaves nothing (no
    state, no process, no cgroup, no mount), and the workload never runs.
    runc fails the same way (its init applies the profile before create
    returns)."""
    name = "hull-test-not-loaded-" + cid
    marker = os.path.join(workdir, "ran")
    os.makedirs(marker)
    secret_bundle.edit(with_profile(name)).sh("touch /mnt/ran/yes")
    secret_bundle.add_mount("/mnt/ran", "bind", marker, ["rbind", "rw"])
    r = refused(rt, secret_bundle, cid, workdir)
    assert os.listdir(marker) == []
    if not helpers.runtime_is_runc(rt.binary):
        assert "process.apparmorProfile" in r.err and name in r.err, r.describe()
        assert "not loaded" in r.err, r.describe()


# ---- exec -----------------------------------------------------------------------------

@pytest.fixture
def running(rt, secret_bundle, cid):
    secret_bundle.args("sleep", "1000")
    rt.ok("run", "--detach", "--bundle", secret_bundle.path, cid, timeout=120)
    return rt.wait_status(cid, "running")


@pytest.fixture
def running_confined(rt, secret_bundle, cid, profile):
    secret_bundle.edit(with_profile(profile)).args("sleep", "1000")
    rt.ok("run", "--detach", "--bundle", secret_bundle.path, cid, timeout=120)
    return rt.wait_status(cid, "running")


def write_process(workdir, **extra):
    proc = dict({"args": ["sh", "-c", SHOW], "cwd": "/", "env": ["PATH=/bin:/usr/bin"],
                 "user": {"uid": 0, "gid": 0}}, **extra)
    path = os.path.join(workdir, "process.json")
    with open(path, "w") as f:
        json.dump(proc, f)
    return path


def test_exec_apparmor_option_confines_the_process(rt, running, cid, profile):
    r = rt.ok("exec", "--apparmor", profile, cid, "sh", "-c", SHOW, timeout=120)
    assert_confined(r.out, profile)
    # The twin: the same exec without --apparmor (the container has none).
    r = rt.ok("exec", cid, "sh", "-c", SHOW, timeout=120)
    assert_unconfined(r.out)


def test_exec_process_file_profile_confines_the_process(rt, running, cid, profile, workdir):
    r = rt.ok("exec", "--process", write_process(workdir, apparmorProfile=profile), cid,
              timeout=120)
    assert_confined(r.out, profile)
    r = rt.ok("exec", "--process", write_process(workdir), cid, timeout=120)
    assert_unconfined(r.out)


def test_exec_keeps_the_containers_profile(rt, running_confined, cid, profile, workdir):
    """As runc: a process exec'd with the container's process (args on the
    command line) keeps the container's profile.  A process file is the
    whole process, as with runc: one without apparmorProfile runs
    unconfined (whoever may exec may also pass --apparmor unconfined)."""
    r = rt.ok("exec", cid, "sh", "-c", SHOW, timeout=120)
    assert_confined(r.out, profile)
    r = rt.ok("exec", "--process", write_process(workdir, apparmorProfile=profile), cid,
              timeout=120)
    assert_confined(r.out, profile)
    r = rt.ok("exec", "--process", write_process(workdir), cid, timeout=120)
    assert_unconfined(r.out)


def test_exec_profile_not_loaded_is_refused(rt, running, cid, workdir, apparmor):
    name = "hull-test-not-loaded-" + cid
    snap = HostSnapshot(cid, workdir)
    r = rt("exec", "--apparmor", name, cid, "sh", "-c", "echo ran", timeout=120)
    assert r.rc != 0 and "ran" not in r.out, r.describe()
    if not helpers.runtime_is_runc(rt.binary):
        assert "apparmorProfile" in r.err and name in r.err and "not loaded" in r.err, \
            r.describe()
    # The container goes on, with nothing more in it than before.
    assert rt.state(cid)["status"] == "running"
    assert json.loads(rt.ok("ps", "--format", "json", cid).out) == [running["pid"]]
    assert snap._procs() == snap.procs
