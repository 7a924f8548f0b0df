"""The Kubernetes path: a pod run over containerd's CRI socket with
`runtime_handler = "hull"`, which is what the kubelet sends for a pod whose
RuntimeClass has `handler: hull`.  containerd maps the handler to
`[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull]` in the
session's config.toml (ctrd.py), whose options name hull (a logging
wrapper) as BinaryName and a private Root.

No crictl in Debian 12: the few CRI v1 messages needed are encoded here by
hand (protobuf wire format) and sent with python3-grpcio."""

import os
import secrets
import subprocess
import time

import pytest

import ctrd

CRI = "/runtime.v1.RuntimeService/"
NODE = 2  # NamespaceMode NODE: host network, so no CNI plugin is needed
EXITED = 2  # ContainerState CONTAINER_EXITED


def _grpc():
    try:
        import grpc
    except ImportError:
        ctrd.apt_install("python3-grpcio")
        import grpc
    return grpc


# ---- protobuf wire format --------------------------------------------------------

def _varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def _f(num, value):
    """One field: str/bytes (length-delimited), int (varint), or a
    list of parts (an embedded message)."""
    if isinstance(value, int):
        return _varint(num << 3) + _varint(value)
    if isinstance(value, str):
        value = value.encode()
    elif isinstance(value, list):
        value = b"".join(value)
    return _varint(num << 3 | 2) + _varint(len(value)) + value


def _decode(buf):
    """{field number: [values]}: ints for varints, bytes otherwise."""
    out, i = {}, 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _read_varint(buf, i)
        elif wt == 2:
            n, i = _read_varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        out.setdefault(num, []).append(v)
    return out


def _read_varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


# ---- the CRI calls ---------------------------------------------------------------

class Cri:
    def __init__(self, sock):
        grpc = _grpc()
        self.grpc = grpc
        self.channel = grpc.insecure_channel("unix://" + sock)

    def call(self, method, request, timeout=120):
        f = self.channel.unary_unary(CRI + method, request_serializer=lambda b: b,
                                     response_deserializer=lambda b: b)
        return _decode(f(request, timeout=timeout))

    def close(self):
        self.channel.close()


def _sandbox_config(name, log_dir):
    return [
        _f(1, [_f(1, name), _f(2, "uid-" + name), _f(3, "hull-test")]),  # metadata
        # no hostname: the kubelet sets none for a host-network pod (the UTS
        # namespace is the host's too, and runc refuses a hostname then)
        _f(3, log_dir),                                                   # log_directory
        _f(8, [                                                           # linux
            _f(1, "/hull-cri-test"),                                      # cgroup_parent
            _f(2, [_f(1, [_f(1, NODE)])]),                                # security_context.namespace_options.network
        ]),
    ]


@pytest.fixture
def cri(containerd, tmp_path_factory):
    archive = str(tmp_path_factory.mktemp("pause") / "pause.tar")
    ctrd.oci_image.write_archive(archive, name=ctrd.PAUSE_IMAGE, cmd=ctrd.PAUSE_CMD)
    for path in (archive, _busybox_archive(containerd)):
        r = containerd.ctr("images", "import", path, ns="k8s.io", timeout=120)
        assert r.rc == 0, r
    c = Cri(containerd.sock)
    yield c
    c.close()
    for top in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        try:
            os.rmdir(os.path.join(top, "hull-cri-test"))
        except OSError:
            pass


def _busybox_archive(containerd):
    path = os.path.join(containerd.base, "busybox-k8s.tar")
    ctrd.oci_image.write_archive(path)
    return path


def _new_pod(containerd, cri):
    name = "pod-" + secrets.token_hex(3)
    log_dir = os.path.join(containerd.base, "pods", name)
    os.makedirs(log_dir)
    sandbox = _sandbox_config(name, log_dir)
    r = cri.call("RunPodSandbox", _f(1, sandbox) + _f(2, "hull"))
    return r[1][0].decode(), sandbox, log_dir


def _remove_pod(containerd, cri, pod):
    """StopPodSandbox + RemovePodSandbox; on failure, force the removal
    through ctr so that the next tests start clean, then fail."""
    try:
        # (StopPodSandbox waits for the sandbox's exit to be handled, up to
        # the call's deadline: keep it short.)
        cri.call("StopPodSandbox", _f(1, pod), timeout=15)
        cri.call("RemovePodSandbox", _f(1, pod), timeout=15)
    except cri.grpc.RpcError as e:
        _force_clean(containerd)
        raise AssertionError("removing pod %s: %s" % (pod, e.details()))
    assert ctrd._hull_list(containerd.hull, os.path.join(containerd.hull_root, "k8s.io")) == []


def _force_clean(containerd):
    """Every k8s.io task and container removed through ctr, the pods' shims
    stopped, hull's state and cgroups gone: what a failed CRI test leaves."""
    for c in containerd.ctr("containers", "ls", "-q", ns="k8s.io").out.split():
        containerd.ctr("tasks", "kill", "-s", "KILL", c, ns="k8s.io")
        containerd.ctr("tasks", "rm", "-f", c, ns="k8s.io")
        containerd.ctr("containers", "rm", c, ns="k8s.io")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and containerd.shim_pids(ns="k8s.io"):
        time.sleep(0.1)
    for pid in containerd.shim_pids(ns="k8s.io"):
        os.kill(pid, 9)
    root = os.path.join(containerd.hull_root, "k8s.io")
    for c in ctrd._hull_list(containerd.hull, root):
        subprocess.run([containerd.hull, "--root", root, "delete", "--force", c], capture_output=True, timeout=30)


def _assert_ran_under_hull(containerd, id_):
    """Run through the CRI runtime's options: BinaryName (the wrapper) and
    Root (+ the namespace)."""
    calls = [a for _, a in ctrd.read_calls(containerd.calls, id_)]
    assert calls, "hull was not run for %s" % id_
    assert calls[0][:2] == ["--root", os.path.join(containerd.hull_root, "k8s.io")], calls[0]
    assert "create" in calls[0], calls[0]


def test_pod_sandbox_runs_under_hull(containerd, cri):
    pod, _, _ = _new_pod(containerd, cri)
    try:
        st = _decode(cri.call("PodSandboxStatus", _f(1, pod))[1][0])
        assert st[3] == [0] if 3 in st else True  # SANDBOX_READY (0, the default)
        _assert_ran_under_hull(containerd, pod)
        # The sandbox ("pause") process runs, as hull's container init.
        info = subprocess.run([containerd.hull, "--root", os.path.join(containerd.hull_root, "k8s.io"),
                               "state", pod], capture_output=True, text=True, timeout=30)
        assert info.returncode == 0 and '"running"' in info.stdout, info
    finally:
        # Stopping the sandbox hits the kill bug below once its pause
        # process has exited: tolerated here, checked there.
        try:
            _remove_pod(containerd, cri, pod)
        except AssertionError:
            pass


def test_pod_container_exit_status_and_logs(containerd, cri):
    pod, sandbox, log_dir = _new_pod(containerd, cri)
    try:
        container = [
            _f(1, [_f(1, "c1")]),                                   # metadata.name
            _f(2, [_f(1, ctrd.IMAGE)]),                             # image.image
            _f(3, "sh"), _f(4, "-c"),
            _f(4, "cat /proc/self/attr/current 2>/dev/null; echo hello-from-cri; exit 7"),
            _f(11, "c1.log"),                                       # log_path (under log_directory)
        ]
        r = cri.call("CreateContainer", _f(1, pod) + _f(2, container) + _f(3, sandbox))
        cid = r[1][0].decode()
        cri.call("StartContainer", _f(1, cid))
        _assert_ran_under_hull(containerd, cid)
        deadline = time.monotonic() + 10
        state = exit_code = None
        while time.monotonic() < deadline:
            st = _decode(cri.call("ContainerStatus", _f(1, cid))[1][0])
            state, exit_code = st.get(3, [0])[0], st.get(7, [0])[0]
            if state == EXITED:
                break
            time.sleep(0.2)
        assert state == EXITED, "container state %s" % state
        assert exit_code == 7
        with open(os.path.join(log_dir, "c1.log")) as f:
            log = f.read()
        assert "hello-from-cri" in log
        if os.path.isdir("/sys/kernel/security/apparmor"):
            # Where AppArmor is enabled (the test host VM), the CRI loads
            # its default profile and asks for it: hull applied it.
            assert "cri-containerd.apparmor.d (enforce)" in log, log
    finally:
        _remove_pod(containerd, cri, pod)
    r = containerd.ctr("containers", "ls", "-q", ns="k8s.io")
    assert r.out.split() == [], r


def test_unknown_runtime_handler_is_refused(containerd, cri):
    name = "pod-" + secrets.token_hex(3)
    log_dir = os.path.join(containerd.base, "pods", name)
    os.makedirs(log_dir)
    with pytest.raises(cri.grpc.RpcError) as e:
        cri.call("RunPodSandbox", _f(1, _sandbox_config(name, log_dir)) + _f(2, "no-such-handler"))
    assert "no-such-handler" in str(e.value.details())
