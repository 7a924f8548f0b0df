"""Fixtures for the tests that need the test host VM (tests/vm/README.md): a
pure cgroup v2 host with every controller and a working /dev/kvm.

    tests/run-tests.sh build-asan vm        # boots the VM once, runs this directory

These tests run *inside* the VM, as root, on the host's tree (read-only,
with a tmpfs overlay).  They reuse tests/integration's fixtures and helpers
(`rt`, `bundle`, `make_bundle`, `cid`, `workdir`, `helpers.Bundle`, ...):
everything public in tests/integration/conftest.py is re-exported here, so a
fixture added there is usable here too."""

import faulthandler
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(os.path.dirname(HERE), "integration")
if INTEGRATION not in sys.path:
    sys.path.insert(0, INTEGRATION)

import helpers  # noqa: E402  (tests/integration/helpers.py)

_spec = importlib.util.spec_from_file_location("hull_integration_conftest",
                                               os.path.join(INTEGRATION, "conftest.py"))
_integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_integration)
for _name, _value in vars(_integration).items():
    if not _name.startswith("_") and _name not in globals():
        globals()[_name] = _value


def in_test_vm():
    """The harness (tests/vm/testvm.sh run) sets HULL_TESTVM=1 in the VM."""
    return os.environ.get("HULL_TESTVM") == "1"


@pytest.fixture(autouse=True, scope="session")
def _require_test_vm():
    if not in_test_vm():
        pytest.fail("tests/integration-vm runs inside the test host VM: "
                    "tests/run-tests.sh BUILD vm (or tests/vm/testvm.sh run -- ...)",
                    pytrace=False)


@pytest.fixture(scope="session")
def build_dir(hull_binary):
    """The build directory of the hull under test (its helpers live there)."""
    return os.path.dirname(os.path.abspath(hull_binary))


# A test that hangs in the test host VM would otherwise hold the whole stage
# until testvm.sh's time limit, with nothing said of where.  The watchdog
# waits HULL_TEST_WATCHDOG seconds (default 420) per test, then writes what
# every process is doing (state, kernel stack, syscall, the blocked tasks the
# kernel lists) and Python's own stacks to stderr, and SIGKILLs the hull
# processes under this pytest so that the test fails instead of hanging.
WATCHDOG_SECONDS = float(os.environ.get("HULL_TEST_WATCHDOG", "420"))


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace").rstrip("\n")
    except OSError as e:
        return "(%s)" % e.strerror


def _descendants(root):
    children = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        stat = _read("/proc/%s/stat" % pid)
        try:
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(pid))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _dump_hang(nodeid):
    err = sys.__stderr__
    err.write("\n!! watchdog: %s still running after %d s; what the processes are doing:\n"
              % (nodeid, WATCHDOG_SECONDS))
    pids = _descendants(os.getpid())
    for pid in pids:
        err.write("-- pid %d: %s\n" % (pid, _read("/proc/%d/cmdline" % pid).replace("\0", " ")))
        for tid in sorted(os.listdir("/proc/%d/task" % pid) if os.path.isdir("/proc/%d/task" % pid) else []):
            t = "/proc/%d/task/%s" % (pid, tid)
            state = [l for l in _read(t + "/status").splitlines() if l.startswith(("Name:", "State:"))]
            err.write("   tid %s %s wchan=%s syscall=%s\n" % (tid, " ".join(state), _read(t + "/wchan"),
                                                            _read(t + "/syscall")))
            for line in _read(t + "/stack").splitlines():
                err.write("      %s\n" % line)
    try:  # the blocked (D state) tasks, system-wide, into the kernel log
        with open("/proc/sysrq-trigger", "w") as f:
            f.write("w")
        kmsg = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=20).stdout
        err.write("-- the kernel log's end:\n" + "\n".join(kmsg.splitlines()[-80:]) + "\n")
    except (OSError, subprocess.SubprocessError) as e:
        err.write("-- no kernel log: %s\n" % e)
    err.write("-- pytest's threads:\n")
    err.flush()
    faulthandler.dump_traceback(file=err, all_threads=True)
    for pid in pids:
        if _read("/proc/%d/comm" % pid) == "hull":
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    err.write("!! watchdog: hull processes of this test killed\n")
    err.flush()


def _console_note(text):
    """A line on the VM's console (its serial port, which testvm.sh shows the
    end of when the VM fails): if the whole VM freezes, the last line says in
    which test.  Not the kernel's log: the harness keeps that off the console."""
    try:
        with open("/dev/console", "w") as f:
            f.write("hull-test: %s\n" % text)
    except OSError:
        pass


@pytest.fixture(autouse=True)
def _watchdog(request):
    nodeid = request.node.nodeid
    timer = threading.Timer(WATCHDOG_SECONDS, _dump_hang, args=(nodeid,))
    timer.daemon = True
    start = time.monotonic()
    _console_note("start %s" % nodeid)
    timer.start()
    yield
    timer.cancel()
    _console_note("end %s (%.1f s)" % (nodeid, time.monotonic() - start))
