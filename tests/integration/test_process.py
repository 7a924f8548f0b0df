"""The container process: exit status, stdio, hostname, env, cwd, user, umask,
PID 1, loopback."""

import signal


def test_run_returns_exit_status(rt, bundle, cid):
    bundle.sh("exit 3")
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.rc == 3, r.describe()


def test_run_zero_exit(rt, bundle, cid):
    bundle.args("true")
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.rc == 0, r.describe()


def test_run_killed_by_signal_is_128_plus_sig(rt, bundle, cid):
    bundle.args("sleep", "1000")
    p = rt.popen("run", "--bundle", bundle.path, cid)
    rt.wait_status(cid, "running")
    rt.ok("kill", cid, "KILL")
    r = rt.collect(p)
    assert r.rc == 128 + signal.SIGKILL, r.describe()


def test_run_signal_with_handler_exit_status(rt, bundle, cid):
    # PID 1 with a handler for TERM: the signal arrives and the handler's exit
    # status is what `run` returns.
    bundle.sh("trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done")
    p = rt.popen("run", "--bundle", bundle.path, cid)
    rt.wait_status(cid, "running")
    # Wait for the trap to be installed (the script prints once it is).
    import time
    for _ in range(200):
        with open(p.out_path) as f:
            if "ready" in f.read():
                break
        time.sleep(0.02)
    rt.ok("kill", cid, "TERM")
    r = rt.collect(p)
    assert r.rc == 7, r.describe()


def test_run_removes_container_afterwards(rt, bundle, cid):
    bundle.args("true")
    rt.ok("run", "--bundle", bundle.path, cid)
    assert rt.state(cid) is None


def test_stdout_and_stderr_are_separate(rt, bundle, cid):
    bundle.sh("echo to-stdout; echo to-stderr >&2")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert r.out == "to-stdout\n"
    assert "to-stderr\n" in r.err
    assert "to-stdout" not in r.err


def test_stdin_is_passed(rt, bundle, cid, workdir):
    bundle.args("cat")
    path = workdir + "/input"
    with open(path, "w") as f:
        f.write("fed through stdin\n")
    with open(path) as stdin:
        r = rt.ok("run", "--bundle", bundle.path, cid, stdin=stdin)
    assert r.out == "fed through stdin\n"


def test_hostname(rt, bundle, cid):
    bundle.edit(lambda c: c.__setitem__("hostname", "box-under-test")).args("hostname")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert r.out.strip() == "box-under-test"


def test_env(rt, bundle, cid):
    def f(c):
        c["process"]["env"] = ["PATH=/bin:/usr/bin", "FOO=bar baz", "EMPTY="]
        c["process"]["args"] = ["env"]
    bundle.edit(f)
    r = rt.ok("run", "--bundle", bundle.path, cid)
    lines = r.out.splitlines()
    assert "FOO=bar baz" in lines
    assert "EMPTY=" in lines
    assert "PATH=/bin:/usr/bin" in lines


def test_cwd(rt, bundle, cid):
    bundle.edit(lambda c: c["process"].__setitem__("cwd", "/var/tmp")).args("pwd")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert r.out.strip() == "/var/tmp"


def test_cwd_created_when_missing(rt, bundle, cid):
    # runc creates a missing cwd (runtime-spec leaves it open; containerd relies on it).
    bundle.edit(lambda c: c["process"].__setitem__("cwd", "/work/here")).args("pwd")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert r.out.strip() == "/work/here"


def test_user_uid_gid_additional_gids(rt, bundle, cid):
    def f(c):
        c["process"]["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [10, 20]}
    bundle.edit(f).sh("id -u; id -g; id -G")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    uid, gid, groups = r.out.splitlines()
    assert uid == "1000"
    assert gid == "1001"
    gids = {int(g) for g in groups.split()}
    assert {10, 20} <= gids
    assert 0 not in gids, "root group kept as a supplementary group: %s" % groups


def test_user_root_has_no_supplementary_groups_by_default(rt, bundle, cid):
    bundle.sh("id -u; id -G")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    uid, groups = r.out.splitlines()
    assert uid == "0"
    assert groups.split() == ["0"]


def test_umask(rt, bundle, cid):
    def f(c):
        c["process"]["user"]["umask"] = 0o027
        c["root"]["readonly"] = False
    bundle.edit(f).sh("umask; touch /tmp/f; stat -c %a /tmp/f")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    mask, mode = r.out.split()
    assert mask == "0027"
    assert mode == "640"


def test_pid_1_in_pid_namespace(rt, bundle, cid):
    bundle.sh("echo $$")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert r.out.strip() == "1"


def test_loopback_up_in_new_netns(rt, bundle, cid):
    bundle.sh("cat /sys/class/net/lo/flags; ls /sys/class/net")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    flags, *ifaces = r.out.split()
    assert int(flags, 16) & 0x1, "lo is not IFF_UP: flags %s" % flags
    assert ifaces == ["lo"], "new netns should only have lo: %s" % ifaces


def test_loopback_has_its_address(rt, bundle, cid):
    # The kernel gives lo 127.0.0.1 only once lo is brought up.
    bundle.sh("ip -o addr show lo")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert "inet 127.0.0.1/8" in r.out, r.out


def test_noNewPrivileges_and_capabilities_applied(rt, bundle, cid):
    # The default spec keeps 3 capabilities and sets noNewPrivileges.
    bundle.sh("grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    status = dict(line.split(":\t") for line in r.out.splitlines())
    assert status["NoNewPrivs"].strip() == "1"
    # CAP_AUDIT_WRITE(29) | CAP_KILL(5) | CAP_NET_BIND_SERVICE(10)
    want = (1 << 29) | (1 << 5) | (1 << 10)
    assert int(status["CapEff"], 16) == want
    assert int(status["CapBnd"], 16) == want


def test_rlimits_applied(rt, bundle, cid):
    def f(c):
        c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654}]
    bundle.edit(f).sh("ulimit -n; ulimit -H -n")
    r = rt.ok("run", "--bundle", bundle.path, cid)
    assert r.out.split() == ["321", "654"]


# runtime-spec config.md (capabilities): a value that cannot be mapped to a
# kernel interface or cannot be granted MUST be logged as a warning, and
# runtimes SHOULD NOT fail.  runc 1.1's own `spec` output relies on this: it
# lists ambient capabilities that are not inheritable.

def test_ambient_caps_not_inheritable_are_not_fatal(rt, bundle, cid):
    def f(c):
        caps = c["process"]["capabilities"]
        caps["ambient"] = list(caps["permitted"])
        caps.pop("inheritable", None)
    bundle.edit(f).args("true")
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.rc == 0, r.describe()


def test_unknown_capability_warns_not_fails(rt, bundle, cid):
    bundle.edit(lambda c: c["process"]["capabilities"]["bounding"].append("CAP_NOPE"))
    bundle.args("true")
    r = rt("run", "--bundle", bundle.path, cid)
    assert r.rc == 0, r.describe()
    assert "CAP_NOPE" in r.err, "no warning about the unknown capability"
