"""hull as podman 4.3's OCI runtime (`podman --runtime PATH`), under conmon."""

import os
import re
import time

import pytest

import ctrd
IMAGE = ctrd.IMAGE


def _calls(podman, cid):
    return [argv for _, argv in ctrd.read_calls(podman.calls, cid)]


def _cmd(argv):
    """The command and its arguments, without podman's global flags."""
    i = 0
    while i < len(argv) and argv[i].startswith("--"):
        i += 1 if "=" in argv[i] else 2
    return argv[i:]


def test_run_rm_echo(podman):
    r = podman("run", "--rm", "--network", "none", IMAGE, "echo", "hi")
    assert r.rc == 0 and r.out == "hi\n", r


def test_runtime_by_path(podman):
    """`podman --runtime /path/to/hull`, without containers.conf's entry."""
    r = podman("run", "--rm", "--network", "none", IMAGE, "echo", "by-path", runtime=podman.wrapper)
    assert r.rc == 0 and r.out == "by-path\n", r


def test_run_exit_code_and_stderr(podman):
    r = podman("run", "--rm", "--network", "none", IMAGE, "sh", "-c", "echo oops >&2; exit 3")
    assert r.rc == 3 and "oops" in r.err, r


def test_run_stdin(podman):
    r = podman("run", "--rm", "-i", "--network", "none", IMAGE, "tr", "a-z", "A-Z", input="piped in\n")
    assert r.rc == 0 and r.out == "PIPED IN\n", r


def test_run_terminal(podman):
    argv = podman.argv("run", "--rm", "-t", "--network", "none", IMAGE, "sh", "-c", "tty; stty size; exit 5")
    rc, out = ctrd.run_in_pty(argv, rows=20, cols=70, env=podman.env)
    text = out.decode(errors="replace").replace("\r", "")
    assert rc == 5, text
    assert re.search(r"^/dev/pts/\d+$", text, re.M), text
    assert "20 70\n" in text, text


def test_detached_exec_stop_rm(podman):
    name = "hull-pm-%d" % os.getpid()
    r = podman("run", "-d", "--name", name, "--network", "none", IMAGE,
               "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done")
    assert r.rc == 0, r
    cid = r.out.strip()
    try:
        r = podman("inspect", "--format", "{{.State.Status}} {{.State.Pid}} {{.OCIRuntime}}", name)
        status, pid, runtime = r.out.split()
        assert status == "running" and int(pid) > 1 and runtime == "hull", r
        assert cid in podman.hull_containers()

        r = podman("exec", name, "sh", "-c", "echo in-exec; exit 4")
        assert r.rc == 4 and r.out == "in-exec\n", r
        r = podman("exec", "-i", name, "sh", "-c", "cat; echo eof", input="through exec\n")
        assert r.rc == 0 and r.out == "through exec\neof\n", r
        r = podman("exec", "--user", "65534:65534", "--workdir", "/tmp", "-e", "FOO=bar", name,
                   "sh", "-c", 'echo "$(id -u):$(id -g) $PWD $FOO"')
        assert r.rc == 0 and r.out == "65534:65534 /tmp bar\n", r

        r = podman("stop", "-t", "10", name)
        assert r.rc == 0, r
        r = podman("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name)
        assert r.out.split() == ["exited", "0"], r
    finally:
        r = podman("rm", "-f", name)
    assert r.rc == 0, r
    assert cid not in podman.hull_containers()
    assert podman.conmon_pids() == []

    cmds = [_cmd(a) for a in _calls(podman, cid)]
    names = [c[0] for c in cmds]
    assert names[:2] == ["create", "start"], cmds
    assert names.count("exec") == 3, cmds
    assert ["kill", cid, "15"] in cmds, cmds
    assert names[-1] == "delete", cmds
    # With hull in runtime_supports_json, conmon asks for runc's JSON log.
    create = _calls(podman, cid)[0]
    assert create[:3] == ["--log-format=json", "--log", create[2]] and create[2].endswith("/oci-log"), create


def test_stop_escalates_to_sigkill(podman):
    name = "hull-pm-kill-%d" % os.getpid()
    # pid 1 of a pid namespace ignores SIGTERM it has no handler for.
    r = podman("run", "-d", "--name", name, "--network", "none", IMAGE, "sleep", "1000")
    assert r.rc == 0, r
    try:
        r = podman("stop", "-t", "1", name)
        assert r.rc == 0, r
        r = podman("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name)
        assert r.out.split() == ["exited", "137"], r
    finally:
        assert podman("rm", "-f", name).rc == 0


def test_failed_create_shows_hulls_error(podman):
    r = podman("run", "--rm", "--network", "none", IMAGE, "/nonexistent")
    # podman maps "command not found" to 127, as for runc.
    assert r.rc == 127, r
    assert "/nonexistent" in r.err and "No such file or directory" in r.err, r
    assert podman.hull_containers() == []
    assert podman("ps", "-aq").out.strip() == ""


APPARMOR = os.path.isdir("/sys/kernel/security/apparmor")


@pytest.mark.skipif(not APPARMOR, reason="no AppArmor on this host: the containerd-vm stage runs "
                    "this in the test host VM")
def test_apparmor_default_profile(podman):
    """Where AppArmor is enabled (and apparmor_parser installed), podman loads
    its default profile and puts it in process.apparmorProfile, for the
    container and for exec: hull applies it.  The twin: the same container
    with --security-opt apparmor=unconfined."""
    show = ["cat", "/proc/self/attr/current"]
    r = podman("run", "--rm", "--network", "none", IMAGE, *show)
    assert r.rc == 0 and re.fullmatch(r"containers-default-[0-9.]+ \(enforce\)\n", r.out), r
    profile = r.out
    r = podman("run", "--rm", "--network", "none", "--security-opt", "apparmor=unconfined", IMAGE, *show)
    assert r.rc == 0 and r.out == "unconfined\n", r
    name = "hull-pm-aa-%d" % os.getpid()
    r = podman("run", "-d", "--name", name, "--network", "none", IMAGE, "sleep", "1000")
    assert r.rc == 0, r
    try:
        r = podman("exec", name, *show)
        assert r.rc == 0 and r.out == profile, r
    finally:
        assert podman("rm", "-f", "-t", "0", name).rc == 0


def test_pids_limit_unlimited(podman):
    """`--pids-limit -1` (unlimited) reaches the runtime as linux.resources.pids.limit = 0,
    which runc treats as "not set"."""
    r = podman("run", "--rm", "--network", "none", "--pids-limit", "-1", IMAGE, "true")
    assert r.rc == 0, r


def test_run_many_in_a_row(podman):
    """The state under hull's --root and the cgroups do not pile up."""
    for i in range(3):
        r = podman("run", "--rm", "--network", "none", IMAGE, "sh", "-c", "exit %d" % i)
        assert r.rc == i, r
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and podman.hull_containers():
        time.sleep(0.1)
    assert podman.hull_containers() == []
