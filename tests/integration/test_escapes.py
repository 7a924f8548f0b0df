"""Escapes runc and crun have suffered, each tried from inside a container
with `hull spec`'s defaults, and each shown to succeed when the protection
is taken away (so that none passes vacuously).

Each attempt comes in a pair: `test_X_is_refused` (the default config) and
`test_X_works_without_the_protection` (the config deliberately weakened:
a capability added, seccomp dropped, maskedPaths/readonlyPaths emptied, the
fd passed with --preserve-fds...).  Where a twin cannot be shown on this host
the test says why and skips, rather than pass on nothing.  The list, and what
each pair proves, is in docs/security.md.

The system calls busybox has no applet for (raw sockets, ptrace, the
renameat2 racer) come from escape_probe.c, built static by the `probe`
fixture."""

import json
import os
import socket
import subprocess
import time

import pytest

import helpers

HERE = os.path.dirname(os.path.abspath(__file__))

# hull spec's (and runc spec's) default capabilities:
# CAP_AUDIT_WRITE(29) | CAP_KILL(5) | CAP_NET_BIND_SERVICE(10).
DEFAULT_CAPS = (1 << 29) | (1 << 5) | (1 << 10)


@pytest.fixture(scope="session")
def probe(base_dir):
    out = os.path.join(base_dir, "escape_probe")
    r = subprocess.run(["cc", "-static", "-O2", "-Wall", "-Werror", "-o", out,
                        os.path.join(HERE, "escape_probe.c")], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail("building escape_probe.c failed:\n" + r.stderr, pytrace=False)
    return out


def install_probe(bundle, probe):
    dest = os.path.join(bundle.rootfs, "bin", "escape_probe")
    subprocess.run(["cp", probe, dest], check=True)
    return "/bin/escape_probe"


def add_caps(*caps):
    def edit(c):
        for kind in ("bounding", "effective", "permitted"):
            c["process"]["capabilities"][kind].extend(caps)
    return edit


def without_seccomp(c):
    c["linux"].pop("seccomp", None)


def both(*edits):
    def edit(c):
        for e in edits:
            e(c)
    return edit


def run_ok(rt, bundle, *args, edit=None, **kw):
    """`run` of the bundle (after edit), which must exit 0."""
    if edit:
        bundle.edit(edit)
    cid = helpers.new_id("esc")
    r = rt("run", *args, "--bundle", bundle.path, cid, **kw)
    assert r.rc == 0, r.describe()
    rt.ids.remove(cid)  # run deleted it
    return r


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


def _module_loading_possible():
    if not os.path.exists("/proc/modules"):
        return "this kernel has no module support: init_module fails with ENOSYS whatever the protection"
    with open("/proc/sys/kernel/modules_disabled") as f:
        if f.read().strip() != "0":
            return "kernel.modules_disabled is set: init_module fails with EPERM whatever the protection"
    return None


@pytest.mark.skipif(_module_loading_possible() is not None, reason=str(_module_loading_possible()))
def test_kernel_module_reaches_the_kernel_with_cap_sys_module_and_no_seccomp(rt, bundle, cid):
    # The twin: with the capability and no filter, the kernel does look at
    # the image, and refuses garbage as a bad module (ENOEXEC), not EPERM.
    # Garbage is all that is ever offered: nothing can load.
    def f(c):
        c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"})
        without_seccomp(c)
        add_caps("CAP_SYS_MODULE")(c)
    bundle.edit(f).sh("echo garbage > /tmp/x.ko; insmod /tmp/x.ko 2>&1; echo rc=$?")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert "rc=0" not in r.out
    assert "not permitted" not in r.out.lower(), r.describe()


@pytest.mark.hull_only
@pytest.mark.skipif(os.path.exists("/sys/module/apparmor/parameters/enabled"),
                    reason="AppArmor is available here: the refusal is for hosts without it")
def test_apparmor_profile_without_apparmor_is_refused(rt, bundle, cid):
    """A profile that cannot be applied must not leave the workload
    unconfined without a word.  No twin here: applying a profile needs a
    host with AppArmor (this test then skips); the test can still fail, if
    create went on and ran the workload unconfined."""
    bundle.edit(lambda c: c["process"].__setitem__("apparmorProfile", "hull-default")).args("true")
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.rc != 0 and "process.apparmorProfile" in r.err and "not enabled" in r.err, r.describe()
    assert not os.path.exists(os.path.join(rt.root, cid))


# ---- /proc/self/status: what the process ends up with -------------------------------

def _status(out):
    return {k: v.strip() for k, v in (line.split(":", 1) for line in out.splitlines() if ":" in line)}


STATUS = "grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status"


def test_status_shows_default_caps_no_new_privs_and_seccomp(rt, bundle, is_runc):
    # hull spec writes the Docker default profile; runc 1.1's spec writes
    # none, so under runc the same test expects what its config says.
    has_profile = "seccomp" in bundle.config["linux"]
    if not is_runc:
        assert has_profile, "hull spec must write a seccomp profile"
    st = _status(run_ok(rt, bundle.sh(STATUS)).out)
    for k in ("CapEff", "CapPrm", "CapBnd"):
        assert int(st[k], 16) == DEFAULT_CAPS, st
    assert st["NoNewPrivs"] == "1", st
    assert st["Seccomp"] == ("2" if has_profile else "0"), st


def test_status_changes_when_the_protections_are_off(rt, bundle):
    # The twin: the same lines read differently once the config asks for
    # less, so the test above reads real values.
    def f(c):
        without_seccomp(c)
        c["process"]["noNewPrivileges"] = False
        add_caps("CAP_SYS_ADMIN")(c)
    st = _status(run_ok(rt, bundle.sh(STATUS), edit=f).out)
    assert int(st["CapEff"], 16) == DEFAULT_CAPS | (1 << 21), st
    assert st["NoNewPrivs"] == "0", st
    assert st["Seccomp"] == "0", st


# ---- raw sockets -----------------------------------------------------------------------

def test_raw_socket_is_refused_without_cap_net_raw(rt, bundle, probe):
    # runc's (and hull's) default capabilities leave CAP_NET_RAW out, unlike
    # Docker's: no raw packets, no spoofing on the container's network.
    assert "CAP_NET_RAW" not in bundle.config["process"]["capabilities"]["bounding"]
    r = run_ok(rt, bundle.args(install_probe(bundle, probe), "rawsock"))
    assert r.out.strip() == "rawsock errno EPERM", r.describe()


def test_raw_socket_works_with_cap_net_raw(rt, bundle, probe):
    r = run_ok(rt, bundle.args(install_probe(bundle, probe), "rawsock"), edit=add_caps("CAP_NET_RAW"))
    assert r.out.strip() == "rawsock ok", r.describe()


# ---- ptrace of a process outside the container -------------------------------------

@pytest.fixture
def host_process():
    """A root process of the host, with every capability, for the container
    to try to trace."""
    p = subprocess.Popen(["sleep", "120"])
    yield p.pid
    p.kill()
    p.wait()


def _share_host_pids(c):
    # No pid namespace of its own: the host's processes are visible in the
    # container's /proc, the worst case for this attack.
    c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]


def test_ptrace_of_a_host_process_is_refused(rt, bundle, probe, host_process):
    bundle.args(install_probe(bundle, probe), "ptrace", str(host_process))
    r = run_ok(rt, bundle, edit=_share_host_pids)
    # The tracee's capabilities are not a subset of the container's, so the
    # kernel wants CAP_SYS_PTRACE for the attach and for /proc/PID/mem.
    assert r.out.split("\n")[:2] == ["ptrace errno EPERM", "mem errno EACCES"], r.describe()


def test_ptrace_of_a_host_process_works_with_cap_sys_ptrace_and_no_seccomp(rt, bundle, probe, host_process):
    bundle.args(install_probe(bundle, probe), "ptrace", str(host_process))
    r = run_ok(rt, bundle, edit=both(_share_host_pids, without_seccomp, add_caps("CAP_SYS_PTRACE")))
    assert r.out.split("\n")[:2] == ["ptrace ok", "mem ok"], r.describe()


# ---- masked paths ----------------------------------------------------------------------

def _host_has_content(path):
    """Whether path shows anything on this host (root reads it here)."""
    try:
        if os.path.isdir(path):
            return bool(os.listdir(path))
        with open(path, "rb") as f:
            return len(f.read(64)) > 0
    except OSError:
        return False


# runc's (and hull's) default maskedPaths.  Only those this kernel has are
# tried (a path the kernel lacks shows nothing either way), and each twin
# only where the host shows something there.
MASKED = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
          "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"]
MASKED_HERE = [p for p in MASKED if os.path.exists(p)]
MASKED_WITH_CONTENT = [p for p in MASKED if _host_has_content(p)]


def test_spec_masks_the_default_paths(bundle):
    assert set(MASKED) <= set(bundle.config["linux"]["maskedPaths"])
    assert {"/proc/sys", "/proc/sysrq-trigger"} <= set(bundle.config["linux"]["readonlyPaths"])


def _read_script(path):
    if os.path.isdir(path):
        return "echo entries=$(ls -A %s | wc -l)" % path
    return "/bin/escape_probe read %s" % path


@pytest.mark.parametrize("path", MASKED_HERE)
def test_masked_path_reads_nothing(rt, bundle, probe, path):
    install_probe(bundle, probe)
    r = run_ok(rt, bundle.sh(_read_script(path)))
    assert r.out.strip() in ("read 0", "entries=0"), r.describe()


@pytest.mark.parametrize("path", MASKED_WITH_CONTENT)
def test_masked_path_shows_the_host_without_masking(rt, bundle, probe, path):
    def f(c):
        c["linux"]["maskedPaths"] = []
        if path == "/proc/kcore":
            add_caps("CAP_SYS_RAWIO")(c)  # opening kcore needs it, masked or not
    install_probe(bundle, probe)
    r = run_ok(rt, bundle.sh(_read_script(path)), edit=f)
    out = r.out.strip()
    assert out not in ("read 0", "entries=0") and "errno" not in out, r.describe()


# ---- read-only paths: /proc/sys and /proc/sysrq-trigger --------------------------------

# kernel.hostname belongs to the container's own uts namespace: even the
# weakened twin changes nothing on the host (checked).
PROC_SYS_WRITE = ("echo escaped > /proc/sys/kernel/hostname 2>/dev/null && echo write=ok || echo write=refused;"
                  " hostname")


def test_proc_sys_is_read_only(rt, bundle):
    host = socket.gethostname()
    r = run_ok(rt, bundle.sh(PROC_SYS_WRITE))
    assert r.out.split() == ["write=refused", bundle.config["hostname"]], r.describe()
    assert socket.gethostname() == host


def test_proc_sys_is_writable_without_readonly_paths(rt, bundle):
    host = socket.gethostname()
    r = run_ok(rt, bundle.sh(PROC_SYS_WRITE), edit=lambda c: c["linux"].__setitem__("readonlyPaths", []))
    assert r.out.split() == ["write=ok", "escaped"], r.describe()
    assert socket.gethostname() == host


# Only opened for writing, never written: that is where the read-only bind
# stops it, and nothing reaches the host's kernel even in the twin.
needs_sysrq = pytest.mark.skipif(not os.path.exists("/proc/sysrq-trigger"),
                                 reason="this kernel has no /proc/sysrq-trigger (CONFIG_MAGIC_SYSRQ)")


@needs_sysrq
def test_sysrq_trigger_cannot_be_opened_for_writing(rt, bundle, probe):
    r = run_ok(rt, bundle.args(install_probe(bundle, probe), "openw", "/proc/sysrq-trigger"))
    assert r.out.strip() == "openw errno EROFS", r.describe()


@needs_sysrq
def test_sysrq_trigger_opens_for_writing_without_readonly_paths(rt, bundle, probe):
    def f(c):
        c["linux"]["readonlyPaths"] = [p for p in c["linux"]["readonlyPaths"] if p != "/proc/sysrq-trigger"]
    r = run_ok(rt, bundle.args(install_probe(bundle, probe), "openw", "/proc/sysrq-trigger"), edit=f)
    assert r.out.strip() == "openw ok", r.describe()


# ---- a host fd leaked into the container (CVE-2024-21626 "leaky vessels") -------------

@pytest.fixture
def leak(workdir, host_dir):
    """A host file opened read-write on fd 3 and a host directory on fd 4 of
    the runtime, as a careless caller (or a runtime's own leak) would."""
    path = os.path.join(workdir, "host-file")
    open(path, "w").close()
    wrap = ["/bin/sh", "-c", 'd=$1; shift; exec "$@" 3<>"$0" 4<"$d"', path, host_dir]
    return path, wrap


WRITE_FDS = ("for n in 3 4 5 6 7 8 9; do echo escaped >&$n; done 2>/dev/null;"
             " for f in /proc/self/fd/*; do readlink $f; done; true")


def test_leaked_fd_cannot_reach_the_host(rt, bundle, leak, host_dir):
    path, wrap = leak
    r = run_ok(rt, bundle.sh(WRITE_FDS), wrap=wrap)
    with open(path) as f:
        assert f.read() == "", r.describe()
    assert path not in r.out and host_dir not in r.out, r.describe()


def test_preserved_fd_reaches_the_host(rt, bundle, leak):
    path, wrap = leak
    r = run_ok(rt, bundle.sh(WRITE_FDS), "--preserve-fds", "1", wrap=wrap)
    with open(path) as f:
        assert f.read() == "escaped\n", r.describe()
    assert path in r.out, r.describe()


# The CVE itself: process.cwd set to /proc/self/fd/N, N a host directory the
# runtime leaked, puts the process's cwd outside the rootfs.
CWD_FD = lambda c: c["process"].__setitem__("cwd", "/proc/self/fd/4")  # noqa: E731


def _tree(top):
    return sorted(os.path.relpath(os.path.join(d, n), top)
                  for d, dirs, files in os.walk(top) for n in dirs + files)


def test_leaked_directory_fd_cannot_be_the_cwd(rt, bundle, leak, cid):
    _, wrap = leak
    bundle.edit(CWD_FD).sh("ls; pwd")
    before = _tree(bundle.rootfs)
    r = rt("run", "--bundle", bundle.path, cid, wrap=wrap)
    # Refused (the fd is closed: no such cwd), or at least not the host's.
    assert "hello.txt" not in r.out, r.describe()
    # ...and the cwd was not made in the rootfs after whatever a runtime's
    # own fd 4 named meanwhile.
    assert _tree(bundle.rootfs) == before, r.describe()


# A second line of defence, without a twin of its own: even a directory fd
# passed on purpose may not become process.cwd, since `..` from a cwd outside
# the root walks the host (runc: "possible container breakout detected").
# The twin below shows the same fd does reach the host when the process
# itself uses it, so the refusal here is the cwd check and nothing else.
@pytest.mark.parametrize("mirror", [False, True], ids=["plain", "rootfs_mirrors_the_host_path"])
def test_cwd_outside_the_root_is_refused_even_through_a_preserved_fd(rt, bundle, leak, cid, is_runc,
                                                                     host_dir, mirror):
    _, wrap = leak
    if mirror:
        # The same path inside the rootfs: a check that resolves the cwd in
        # the rootfs finds it; only the kernel's view (getcwd says
        # "(unreachable)") shows where the process would really be.
        os.makedirs(bundle.rootfs + host_dir)
    bundle.edit(CWD_FD).sh("ls; pwd")
    r = rt("run", "--preserve-fds", "2", "--bundle", bundle.path, cid, wrap=wrap)
    assert r.rc != 0 and "hello.txt" not in r.out, r.describe()
    assert "outside" in r.err if is_runc or mirror else "process.cwd" in r.err, r.describe()


def test_preserved_directory_fd_reaches_the_host(rt, bundle, leak):
    _, wrap = leak
    r = run_ok(rt, bundle.sh("cd /proc/self/fd/4 && ls"), "--preserve-fds", "2", wrap=wrap)
    assert "hello.txt" in r.out.split(), r.describe()


def test_leaked_directory_fd_cannot_be_entered(rt, bundle, leak):
    _, wrap = leak
    r = run_ok(rt, bundle.sh("cd /proc/self/fd/4 2>/dev/null && ls; true"), wrap=wrap)
    assert "hello.txt" not in r.out, r.describe()


# ---- unshare of a user namespace -------------------------------------------------------

UNSHARE = "unshare -U true 2>/dev/null && echo allowed || echo refused"


@pytest.mark.hull_only  # runc 1.1's spec writes no seccomp profile, and nothing else forbids it
def test_unshare_user_namespace_is_refused(rt, bundle):
    r = run_ok(rt, bundle.sh(UNSHARE))
    assert r.out == "refused\n", r.describe()


def test_unshare_user_namespace_works_without_seccomp(rt, bundle):
    r = run_ok(rt, bundle.sh(UNSHARE), edit=without_seccomp)
    assert r.out == "allowed\n", r.describe()


# ---- the symlink-exchange race against a bind mount (CVE-2021-30465) --------------------

RACE_ROUNDS = 120

# Runs as the createContainer hook: in the container's mount namespace,
# after the mounts and before pivot_root, so the host's paths are still in
# view.  It says where the bind of the marker directory landed, from the
# mount points of /proc/self/mountinfo (computed when read, so a directory
# renamed since still shows where it is now).
RACE_HOOK = r'''
import sys
outside, inside, real = sys.argv[1], sys.argv[2], sys.argv[3:5]
seen = []
with open("/proc/self/mountinfo") as f:
    for line in f:
        mp = line.split()[4].replace("\\040", " ")
        if mp == outside or mp.startswith(outside + "/"):
            seen.append("escaped")
        elif mp == inside:
            seen.append("inside")
        elif mp in real:
            seen.append("normal")
with open(sys.argv[5], "a") as f:
    f.write((",".join(seen) or "lost") + "\n")
'''


def test_symlink_exchange_race_never_mounts_outside_the_rootfs(rt, bundle, probe, workdir, host_dir):
    """A racer on the host swaps the mount destination /race/mnt (a real
    directory) with /race/link, a symlink whose target climbs out of the
    rootfs to the host directory `outside`, with renameat2(RENAME_EXCHANGE)
    in a tight loop, while the container is created again and again.

    No round may mount anything on `outside` (checked in the container's
    mount namespace by the hook, and on the host).  A round where the
    runtime met the symlink must show it: the bind on the symlink's target
    resolved inside the rootfs ("inside"), or create refusing the
    destination.  Some rounds must meet it, so the test cannot pass
    because the race was never run."""
    race = os.path.join(bundle.rootfs, "race")
    os.makedirs(os.path.join(race, "mnt"))
    outside = os.path.join(workdir, "outside")
    os.makedirs(outside)
    # Resolved on the host, this leads to `outside`; resolved with the
    # rootfs as "/", the ".." stop at the root and it names rootfs+outside.
    os.symlink("../" * 32 + outside.lstrip("/"), os.path.join(race, "link"))
    inside = bundle.rootfs + outside
    log = os.path.join(workdir, "race.log")
    hook = os.path.join(workdir, "race_hook.py")
    with open(hook, "w") as f:
        f.write(RACE_HOOK)
    bundle.add_mount("/race/mnt", "bind", host_dir, ["bind"])
    bundle.set_hook("createContainer", "/usr/bin/python3",
                    args=["python3", hook, outside, inside, os.path.join(race, "mnt"),
                          os.path.join(race, "link"), log])
    bundle.args("true")

    racer = subprocess.Popen([probe, "race", race, "mnt", "link"], stderr=subprocess.PIPE)
    refused = []
    try:
        for _ in range(RACE_ROUNDS):
            cid = helpers.new_id("race")
            r = rt("run", "--bundle", bundle.path, cid)
            rt.ids.remove(cid)
            if r.rc != 0:
                refused.append(r)
            assert racer.poll() is None, "the racer stopped: %s" % racer.stderr.read()
    finally:
        racer.kill()
        racer.wait()
    with open(log) as f:
        rounds = f.read().split()
    counts = {k: sum(1 for x in rounds if k in x.split(",")) for k in ("escaped", "inside", "normal", "lost")}
    summary = "%d rounds: %s, %d refused" % (RACE_ROUNDS, counts, len(refused))
    assert counts["escaped"] == 0, summary
    assert helpers.mount_points_under(outside) == [], summary
    assert os.listdir(outside) == [], summary
    assert counts["lost"] == 0, summary
    # Every round is accounted for: the hook ran, or create failed saying why.
    assert len(rounds) + len(refused) == RACE_ROUNDS, summary
    for r in refused:
        assert r.err.strip(), r.describe()
    # The race was really run: some rounds met the symlink.
    assert counts["inside"] + len(refused) > 0, summary
    print(summary)
