"""linux.seccomp through the real CLI: the default profile of `spec`, custom
profiles (errnoRet, argument filters, kill), the listener of SCMP_ACT_NOTIFY
with a small seccomp agent written here, and the loading order without
noNewPrivileges.  Every test also runs the same command without the filter
(or with a filter that does not match) to show that the filter is what made
the difference."""

import errno
import fcntl
import json
import os
import select
import socket
import struct
import threading

import pytest

import helpers


def without_seccomp(c):
    c["linux"].pop("seccomp", None)


def with_profile(profile):
    def edit(c):
        c["linux"]["seccomp"] = profile
    return edit


def allow_all_but(*rules, **extra):
    p = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": list(rules)}
    p.update(extra)
    return p


def run_script(rt, bundle, script, edit=None):
    bundle.sh(script)
    if edit:
        bundle.edit(edit)
    cid = helpers.new_id()
    return rt("run", "--bundle", bundle.path, cid)


# ---- the default profile of `spec` ---------------------------------------------

@pytest.mark.hull_only
def test_spec_has_the_default_profile(bundle):
    s = bundle.config["linux"]["seccomp"]
    assert s["defaultAction"] == "SCMP_ACT_ERRNO"
    assert s["defaultErrnoRet"] == 1
    names = {n for rule in s["syscalls"] for n in rule["names"]}
    assert {"read", "execve", "clone", "clone3", "personality", "socket"} <= names
    # The default capabilities hold no CAP_SYS_ADMIN.
    assert not {"mount", "unshare", "setns", "keyctl", "chroot"} & names


UNSHARE = "unshare -U true && echo allowed || echo refused"


@pytest.mark.hull_only
def test_default_profile_refuses_a_user_namespace(rt, bundle):
    r = run_script(rt, bundle, UNSHARE)
    assert r.rc == 0, r.describe()
    assert r.out == "refused\n", r.describe()
    assert "Operation not permitted" in r.err
    # The same container without the profile may create one.
    r = run_script(rt, bundle, UNSHARE, without_seccomp)
    assert r.rc == 0, r.describe()
    assert r.out == "allowed\n", r.describe()


def add_cap(cap):
    def edit(c):
        for kind in ("bounding", "effective", "permitted"):
            c["process"]["capabilities"][kind].append(cap)
    return edit


@pytest.mark.hull_only
def test_default_profile_refuses_chroot_even_with_the_capability(rt, bundle):
    # The profile was resolved by `spec` for the default capabilities.
    script = "chroot / true && echo allowed || echo refused"
    bundle.edit(add_cap("CAP_SYS_CHROOT"))
    r = run_script(rt, bundle, script)
    assert r.rc == 0, r.describe()
    assert r.out == "refused\n", r.describe()
    r = run_script(rt, bundle, script, without_seccomp)
    assert r.out == "allowed\n", r.describe()


@pytest.mark.hull_only
def test_default_profile_runs_an_ordinary_workload(rt, bundle):
    # fork/exec, pipes, files on a tmpfs, signals, personality queries.
    script = ("echo hi > /dev/shm/f && cat /dev/shm/f | tr a-z A-Z && (sleep 0.01 &) && wait "
              "&& kill -0 $$ && uname -m >/dev/null && echo done")
    r = run_script(rt, bundle, script)
    assert r.rc == 0, r.describe()
    assert r.out == "HI\ndone\n", r.describe()


# ---- custom profiles ------------------------------------------------------------

MKDIR = "mkdir /dev/shm/d && echo made || echo failed"


def test_errno_ret_is_the_errno_the_process_sees(rt, bundle):
    profile = allow_all_but(
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSPC},
        {"names": ["symlink", "symlinkat"], "action": "SCMP_ACT_ERRNO"})
    script = MKDIR + "; ln -s x /dev/shm/l && echo linked || echo not-linked"
    r = run_script(rt, bundle, script, with_profile(profile))
    assert r.rc == 0, r.describe()
    assert r.out == "failed\nnot-linked\n", r.describe()
    assert "No space left on device" in r.err
    # Without errnoRet: EPERM, as runc.
    assert "Operation not permitted" in r.err
    r = run_script(rt, bundle, script, without_seccomp)
    assert r.out == "made\nlinked\n", r.describe()


def mode_rules(action, conds):
    """Rules for chmod(2) (mode second) and fchmodat(2)/fchmodat2 (mode third)."""
    return [{"names": ["chmod"], "action": action, "args": [dict(c, index=1) for c in conds]},
            {"names": ["fchmodat", "fchmodat2"], "action": action,
             "args": [dict(c, index=2) for c in conds]}]


def chmod_script(*modes):
    return "touch /dev/shm/f; " + "; ".join(
        "chmod %s /dev/shm/f && echo %s || echo no-%s" % (m, m, m) for m in modes)


def test_masked_eq_takes_value_as_the_mask(rt, bundle):
    # Refuse modes that give nothing to group and others: the mode masked
    # with 077 equals 0 (value is the mask, valueTwo the datum, as runc).
    profile = allow_all_but(*mode_rules("SCMP_ACT_ERRNO",
                                        [{"value": 0o077, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]))
    script = chmod_script("0700", "0755", "0600", "0644")
    r = run_script(rt, bundle, script, with_profile(profile))
    assert r.rc == 0, r.describe()
    assert r.out == "no-0700\n0755\nno-0600\n0644\n", r.describe()
    r = run_script(rt, bundle, script, without_seccomp)
    assert r.out == "0700\n0755\n0600\n0644\n", r.describe()


def test_same_argument_twice_means_either(rt, bundle):
    # runc: two conditions on the same argument are two rules (OR), while
    # conditions on different arguments must all hold (AND).
    eq = [{"value": 0o700, "op": "SCMP_CMP_EQ"}, {"value": 0o750, "op": "SCMP_CMP_EQ"}]
    profile = allow_all_but(*mode_rules("SCMP_ACT_ERRNO", eq))
    script = chmod_script("0700", "0750", "0755")
    r = run_script(rt, bundle, script, with_profile(profile))
    assert r.out == "no-0700\nno-0750\n0755\n", r.describe()
    r = run_script(rt, bundle, script, without_seccomp)
    assert r.out == "0700\n0750\n0755\n", r.describe()


def test_kill_process_kills_the_container(rt, bundle):
    profile = allow_all_but({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"})
    # exec: the shell itself makes the call, so the container's init dies.
    script = "echo before; exec mkdir /dev/shm/d"
    r = run_script(rt, bundle, script, with_profile(profile))
    assert r.rc == 128 + 31, r.describe()  # SIGSYS
    assert r.out == "before\n"
    r = run_script(rt, bundle, script, without_seccomp)
    assert r.rc == 0, r.describe()


@pytest.mark.hull_only  # runc 1.1 refuses every flag ("not yet supported")
def test_flags_are_accepted(rt, bundle):
    profile = allow_all_but({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
                            flags=["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                   "SECCOMP_FILTER_FLAG_TSYNC"])
    r = run_script(rt, bundle, MKDIR + "; grep ^Seccomp: /proc/self/status", with_profile(profile))
    assert r.rc == 0, r.describe()
    assert r.out.split() == ["failed", "Seccomp:", "2"], r.describe()


def test_without_no_new_privileges_the_filter_still_applies(rt, bundle):
    # No CAP_SYS_ADMIN and no no_new_privs: the filter must be loaded while
    # the runtime still holds its capabilities.
    def edit(c):
        c["process"]["noNewPrivileges"] = False
        with_profile(allow_all_but({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                                    "errnoRet": errno.ENOSPC}))(c)
    script = MKDIR + "; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status"
    r = run_script(rt, bundle, script, edit)
    assert r.rc == 0, r.describe()
    assert r.out.split() == ["failed", "NoNewPrivs:", "0", "Seccomp:", "2"], r.describe()
    assert "No space left on device" in r.err


@pytest.mark.hull_only
def test_refused_profiles_name_the_field(rt, bundle, cid, workdir):
    cases = [
        ({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": os.path.join(workdir, "a.sock")},
         "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"),
        (allow_all_but({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}, listenerPath="agent.sock"),
         "linux.seccomp.listenerPath: `agent.sock` is not an absolute path"),
        (allow_all_but({"names": ["mkdir", ""], "action": "SCMP_ACT_ERRNO"}),
         "linux.seccomp.syscalls[0].names[1]: empty syscall name"),
    ]
    for profile, msg in cases:
        bundle.args("true").edit(with_profile(profile))
        r = rt("create", "--bundle", bundle.path, cid)
        assert r.rc != 0, r.describe()
        assert msg in r.err, r.describe()
        assert rt.state(cid) is None


# ---- SCMP_ACT_NOTIFY: the listener and a seccomp agent ------------------------------

# <linux/seccomp.h>: struct seccomp_notif is 80 bytes, seccomp_notif_resp 24.
NOTIF_RECV = 0xC0502100
NOTIF_SEND = 0xC0182101


class Agent:
    """A seccomp agent: receives the notify fd and runc's
    ContainerProcessState on listenerPath, then answers every notification
    with a fake success (the kernel does not run the syscall)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.sock.settimeout(helpers.DEFAULT_TIMEOUT)
        self.state = None
        self.fds = []
        self.answered = []
        self.error = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                msg, self.fds, _, _ = socket.recv_fds(conn, 65536, 4)
                while not msg.endswith(b"}"):
                    more = conn.recv(65536)
                    if not more:
                        break
                    msg += more
                self.state = json.loads(msg)
            self._answer(self.fds[0])
        except Exception as e:  # reported by wait()
            self.error = e

    def _answer(self, fd):
        while not self._stop.is_set():
            r, _, _ = select.select([fd], [], [], 0.1)
            if not r:
                continue
            req = bytearray(80)
            try:
                fcntl.ioctl(fd, NOTIF_RECV, req)
            except OSError as e:
                if e.errno in (errno.ENOENT, errno.EINTR):
                    continue
                return
            notif_id, pid, _flags, nr = struct.unpack_from("=QIIi", req)
            self.answered.append(nr)
            resp = bytearray(struct.pack("=QqiI", notif_id, 0, 0, 0))
            try:
                fcntl.ioctl(fd, NOTIF_SEND, resp)
            except OSError:
                pass

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        for fd in self.fds:
            os.close(fd)
        self.sock.close()


@pytest.mark.parametrize("nnp", [True, False], ids=["no_new_privs", "loaded_before_caps"])
def test_listener_gets_the_notify_fd_and_the_state(rt, bundle, cid, workdir, nnp):
    path = os.path.join(workdir, "agent.sock")
    agent = Agent(path)
    try:
        profile = allow_all_but({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"},
                                listenerPath=path, listenerMetadata="hello agent")
        bundle.sh("mkdir /dev/shm/d && echo mkdir-said-ok; test -d /dev/shm/d && echo exists || echo absent")
        bundle.edit(with_profile(profile))
        bundle.edit(lambda c: c["process"].__setitem__("noNewPrivileges", nnp))
        r = rt("run", "--bundle", bundle.path, cid)
    finally:
        agent.close()
    assert agent.error is None, agent.error
    assert r.rc == 0, r.describe()
    # The agent said yes, but the kernel never made the directory.
    assert r.out == "mkdir-said-ok\nabsent\n", r.describe()
    assert agent.answered, "no notification reached the agent"
    st = agent.state
    assert len(agent.fds) == 1
    assert st["fds"] == ["seccompFd"]
    assert st["metadata"] == "hello agent"
    assert st["ociVersion"]
    assert isinstance(st["pid"], int) and st["pid"] > 0
    assert st["state"]["id"] == cid
    assert st["state"]["pid"] == st["pid"]
    assert st["state"]["status"] == "creating"
    assert st["state"]["bundle"] == bundle.path

    # Without the filter the directory is really made.
    bundle.edit(without_seccomp)
    r = rt("run", "--bundle", bundle.path, helpers.new_id())
    assert r.out == "mkdir-said-ok\nexists\n", r.describe()


def test_missing_listener_fails_create(rt, bundle, cid, workdir):
    profile = allow_all_but({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"},
                            listenerPath=os.path.join(workdir, "nobody.sock"))
    bundle.args("true").edit(with_profile(profile))
    r = rt("create", "--bundle", bundle.path, cid)
    assert r.rc != 0, r.describe()
    assert "nobody.sock" in r.err, r.describe()
    assert rt.state(cid) is None
