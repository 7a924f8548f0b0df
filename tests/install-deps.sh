#!/bin/sh
# Installs what hull needs on Debian 12 (as root).
#   tests/install-deps.sh          build + run dependencies
#   tests/install-deps.sh --test   also what the test suite needs
set -eu
pkgs="build-essential pkg-config libseccomp-dev libcap-dev libmnl-dev libarchive-dev libyajl-dev busybox-static"
# libarchive is linked statically (Makefile: STATIC): the libraries it uses.
pkgs="$pkgs libzstd-dev liblz4-dev libacl1-dev libxml2-dev nettle-dev libbz2-dev liblzma-dev zlib1g-dev"
if [ "${1:-}" = "--test" ]; then
  pkgs="$pkgs python3 python3-pytest iproute2 procps time clang libclang-rt-14-dev"
  # Images (tests/integration/test_image*.py): peers that make and unpack them.
  pkgs="$pkgs umoci skopeo zstd"
  # The test host VM (tests/vm): QEMU, and what builds its initramfs from
  # Debian's kernel package.
  pkgs="$pkgs qemu-system-x86 kmod cpio xz-utils"
  # apparmor_parser: the VM's kernel has AppArmor (tests/integration-vm/test_apparmor.py
  # loads profiles; containerd's CRI and podman load their default ones).
  pkgs="$pkgs apparmor"
  # hull's guest kernel (make guest: vm-shim/guest/build-kernel.sh), built
  # from Debian's source package, for the VM-mode tests.
  pkgs="$pkgs linux-source-6.1 flex bison libelf-dev bc"
  # The daemons that drive hull (tests/containerd, tests/podman; the tests
  # start their own instances, never the system's), and a CRI client's gRPC.
  pkgs="$pkgs containerd podman conmon python3-grpcio"
fi
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing
fi
