"""`hull vm-run` on this machine: its /dev/kvm is a paravirtual KVM
(kvm_pvm) that cannot run a Linux guest kernel (shared/TESTBED.md), so
VM isolation must refuse at once with a message that says so, not hang.
(The VM itself is tested in the test host VM: tests/integration-vm.)"""

import os
import subprocess

import pytest


@pytest.mark.hull_only
def test_vm_run_says_why_this_host_cannot_run_a_guest(hull_binary):
    r = subprocess.run([hull_binary, "vm-run", "--", "/bin/echo", "hello"],
                       capture_output=True, text=True, timeout=60)
    if os.path.isdir("/sys/module/kvm_pvm"):
        assert r.returncode == 1 and "hello" not in r.stdout, r
        assert "paravirtual KVM (kvm_pvm)" in r.stderr, r.stderr
        assert "VM isolation needs hardware virtualization" in r.stderr
    elif not os.path.exists("/dev/kvm"):
        assert r.returncode == 1 and "/dev/kvm" in r.stderr, r
    else:
        # A host whose KVM works: the guest runs (after `make guest`), or
        # its absence is what the error names.
        assert (r.returncode, r.stdout) == (0, "hello\n") or \
            (r.returncode == 1 and "no guest" in r.stderr), r
