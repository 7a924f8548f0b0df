"""hull's VMM booting hull's guest (docs/vmm.md): `hull vm-run -- CMD` runs CMD
through the guest agent, with stdio relayed and its exit status returned.
These run in the test host VM, where /dev/kvm runs guests at hardware speed
(nested under TCG); each test boots at least one guest."""

import hashlib
import os
import signal
import subprocess
import time

import pytest

BOOT_TIMEOUT = 300  # seconds for one boot + command, generous for nested TCG


@pytest.fixture(scope="session")
def guest(build_dir):
    """The guest kernel and initramfs `make guest` put next to hull."""
    g = os.path.join(build_dir, "guest")
    for name in ("vmlinux", "initramfs.cpio"):
        if not os.access(os.path.join(g, name), os.R_OK):
            pytest.fail("%s/%s is missing: make BUILD=%s guest" % (g, name, build_dir), pytrace=False)
    return g


def vm_run(hull_binary, *args, **kw):
    kw.setdefault("timeout", BOOT_TIMEOUT)
    kw.setdefault("capture_output", True)
    return subprocess.run([hull_binary, "vm-run"] + list(args), **kw)


def test_echo_hello(hull_binary, guest):
    r = vm_run(hull_binary, "--", "/bin/echo", "hello")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"hello\n", b""), r


@pytest.mark.parametrize("code", [1, 3, 42, 255])
def test_exit_status_is_the_commands(hull_binary, guest, code):
    r = vm_run(hull_binary, "--", "sh", "-c", "exit %d" % code)
    assert r.returncode == code, r


def test_killed_by_a_signal_exits_128_plus_it(hull_binary, guest):
    r = vm_run(hull_binary, "--", "sh", "-c", "kill -SEGV $$")
    assert r.returncode == 128 + signal.SIGSEGV, r


def test_stdout_and_stderr_are_separate_streams(hull_binary, guest):
    r = vm_run(hull_binary, "--", "sh", "-c", "echo to-out; echo to-err >&2; echo more-out")
    assert r.returncode == 0, r
    assert r.stdout == b"to-out\nmore-out\n"
    assert r.stderr == b"to-err\n"


def test_stdin_reaches_the_guest(hull_binary, guest):
    data = os.urandom(300 * 1024)
    r = vm_run(hull_binary, "--", "sha256sum", input=data)
    assert r.returncode == 0, r
    assert r.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()


def test_stdin_eof_ends_a_reader(hull_binary, guest):
    r = vm_run(hull_binary, "--", "wc", "-c", stdin=subprocess.DEVNULL)
    assert (r.returncode, r.stdout.strip()) == (0, b"0"), r


def test_multi_megabyte_output_arrives_intact_and_in_order(hull_binary, guest):
    # 8.9 MB of numbered lines, checked line by line against the host's own.
    r = vm_run(hull_binary, "--", "seq", "1", "1200000")
    assert r.returncode == 0, r.stderr
    expected = b"".join(b"%d\n" % i for i in range(1, 1200001))
    assert len(r.stdout) == len(expected)
    assert r.stdout == expected


def test_output_to_a_slow_reader_is_not_lost(hull_binary, guest):
    """The VMM stops taking the guest's output while the pipe is full, and
    writes out what is left when the guest is done."""
    p = subprocess.Popen([hull_binary, "vm-run", "--", "seq", "1", "200000"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2)  # the pipe fills while nobody reads
    out, err = p.communicate(timeout=BOOT_TIMEOUT)
    assert p.returncode == 0, err
    assert out == b"".join(b"%d\n" % i for i in range(1, 200001))


def test_command_not_found(hull_binary, guest):
    r = vm_run(hull_binary, "--", "no-such-command")
    assert r.returncode == 127, r
    assert b"no-such-command: No such file or directory" in r.stderr


def test_env_and_cwd(hull_binary, guest):
    r = vm_run(hull_binary, "-e", "GREETING=hi there", "--cwd", "/proc", "--",
               "sh", "-c", 'echo "$GREETING" "$(pwd)" "$HOME"')
    assert (r.returncode, r.stdout) == (0, b"hi there /proc /root\n"), r


def test_two_cpus(hull_binary, guest):
    r = vm_run(hull_binary, "--cpus", "2", "--", "nproc")
    assert (r.returncode, r.stdout) == (0, b"2\n"), r
    r = vm_run(hull_binary, "--", "nproc")
    assert (r.returncode, r.stdout) == (0, b"1\n"), r


def test_memory_size(hull_binary, guest):
    r = vm_run(hull_binary, "--memory", "300", "--", "sh", "-c", "grep MemTotal /proc/meminfo")
    assert r.returncode == 0, r
    total_kib = int(r.stdout.split()[1])
    # The kernel keeps a few MiB for itself: between 250 and 300 MiB.
    assert 250 * 1024 < total_kib <= 300 * 1024, r.stdout


NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages"


def _hugepages():
    """2 MiB pages of the pool in use or reserved by a mapping."""
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":")
            info[k] = int(v.split()[0])
    return info["HugePages_Total"] - info["HugePages_Free"] + info["HugePages_Rsvd"]


@pytest.fixture
def hugetlb_pool():
    """Sets the pool to N pages free (a function), and back afterwards."""
    with open(NR_HUGEPAGES) as f:
        before = f.read()

    def set_free(n):
        with open(NR_HUGEPAGES, "w") as f:
            f.write(str(_hugepages() + n))
    yield set_free
    with open(NR_HUGEPAGES, "w") as f:
        f.write(before)


def test_hugepages_back_guest_memory(hull_binary, guest, hugetlb_pool):
    hugetlb_pool(70)
    base = _hugepages()
    p = subprocess.Popen([hull_binary, "vm-run", "--hugepages", "--memory", "128", "--", "sh", "-c",
                          "grep MemTotal /proc/meminfo; read x; echo done"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = _wait_for_line(p.stdout, b"MemTotal", BOOT_TIMEOUT)
        # All 64 pages of the guest's 128 MiB are the VMM's while it runs
        # (reserved when mapped, so a short pool fails at start).
        held = _hugepages() - base
        out, err = p.communicate(input=b"\n", timeout=BOOT_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert held == 64, (held, line)
    assert 100 * 1024 < int(line.split()[1]) <= 128 * 1024, line
    assert out == b"done\n", out
    assert _hugepages() == base, "the guest's huge pages were not given back"


def test_hugepages_short_pool_is_refused_before_booting(hull_binary, guest, hugetlb_pool):
    hugetlb_pool(10)
    base = _hugepages()
    r = vm_run(hull_binary, "--hugepages", "--memory", "128", "--", "true", timeout=60)
    assert r.returncode == 1, r
    assert "guest RAM of 128 MiB needs 64 huge pages: 10 free of" in r.stderr.decode(), r.stderr
    assert _hugepages() == base
    r = vm_run(hull_binary, "--hugepages", "--memory", "129", "--", "true", timeout=60)
    assert r.returncode == 1, r
    assert "memory size 129 MiB: hugepages need whole 2 MiB pages" in r.stderr.decode(), r.stderr


def _wait_for_line(stream, want, timeout):
    deadline = time.monotonic() + timeout
    line = b""
    while time.monotonic() < deadline:
        line = stream.readline()
        if want in line:
            return line
        if not line:
            break
    raise AssertionError("did not see %r (last: %r)" % (want, line))


def test_sigterm_to_the_vmm_reaches_the_guest_process(hull_binary, guest):
    script = 'trap "echo got-TERM; exit 7" TERM; echo ready; while :; do sleep 1; done'
    p = subprocess.Popen([hull_binary, "vm-run", "--", "sh", "-c", script],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for_line(p.stdout, b"ready", BOOT_TIMEOUT)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=BOOT_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
    # The trap ran in the guest: the signal was delivered, not the VM killed.
    assert b"got-TERM" in out, (out, err)
    assert p.returncode == 7, err


def test_sigterm_kills_a_process_without_a_handler(hull_binary, guest):
    p = subprocess.Popen([hull_binary, "vm-run", "--", "sh", "-c", "echo ready; exec sleep 1000"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for_line(p.stdout, b"ready", BOOT_TIMEOUT)
        time.sleep(0.5)  # the exec of sleep
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=BOOT_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 128 + signal.SIGTERM


def test_caller_fds_stay_blocking(hull_binary, guest, tmp_path):
    """The VMM must not leave O_NONBLOCK on the open files it was given (a
    shell's terminal or pipe is shared with the shell)."""
    import fcntl
    r_fd, w_fd = os.pipe()
    try:
        r = subprocess.run([hull_binary, "vm-run", "--", "true"], stdin=r_fd,
                           capture_output=True, timeout=BOOT_TIMEOUT)
        assert r.returncode == 0, r
        assert not fcntl.fcntl(r_fd, fcntl.F_GETFL) & os.O_NONBLOCK
    finally:
        os.close(r_fd)
        os.close(w_fd)


def test_twenty_boots_leave_nothing_behind(build_dir, guest):
    """One process boots the guest 20 times (vm_create, vm_run, vm_destroy):
    the same fds, one thread and the same mappings after as before; under the
    sanitizer build the leak checker covers the heap."""
    tool = os.path.join(build_dir, "tests", "vm", "vm-repeat")
    r = subprocess.run([tool, os.path.join(guest, "vmlinux"), os.path.join(guest, "initramfs.cpio"),
                        "20"], capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "20 boots" in r.stdout


def test_bad_options_are_refused_before_booting(hull_binary, guest):
    for args, want in ((["--cpus", "0"], "--cpus: `0` is not a number from 1 to 64"),
                       (["--cpus", "65"], "--cpus: `65`"),
                       (["--memory", "x"], "--memory: `x`"),
                       (["--memory", "4"], "the guest needs at least"),
                       (["--cwd", "relative"], "--cwd `relative`: not an absolute path"),
                       (["-e", "NOVALUE"], "--env `NOVALUE`: expected NAME=VALUE"),
                       (["--kernel", "/nonexistent"], "/nonexistent"),
                       ([], "no command")):
        r = vm_run(hull_binary, *args, *(["--", "true"] if args else []), timeout=60)
        assert r.returncode == 1, (args, r)
        assert want in r.stderr.decode(), (args, r.stderr)
