"""Fixtures for the tests that need the test host VM (tests/vm/README.md): a
pure cgroup v2 host with every controller and a working /dev/kvm.

    tests/run-tests.sh build-asan vm        # boots the VM once, runs this directory

These tests run *inside* the VM, as root, on the host's tree (read-only,
with a tmpfs overlay).  They reuse tests/integration's fixtures and helpers
(`rt`, `bundle`, `make_bundle`, `cid`, `workdir`, `helpers.Bundle`, ...):
everything public in tests/integration/conftest.py is re-exported here, so a
fixture added there is usable here too."""

import importlib.util
import os
import sys

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
