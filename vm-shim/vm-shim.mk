# vm-shim/: the VMM's pieces built apart from the hull library.  Included by
# the top-level Makefile; the library code (vm-shim/*.c) is built with the
# rest of libhull.
#   make vm-boot    $(BUILD)/vm-boot: boots a kernel with the VMM alone
#                   (vm-shim/tools/vm-boot.c), for trying guests by hand
#   make guest-kernel   the guest kernel (cached outside the tree)

# Only vm-shim and common: the tool does not wait on the other modules.
VM_SHIM_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard vm-shim/*.c)) $(BUILD)/common/common.o

$(BUILD)/vm-boot: $(BUILD)/vm-shim/tools/vm-boot.o $(VM_SHIM_OBJS)
	$(CC) $(HULL_CFLAGS) $(LDFLAGS) -o $@ $^ -lpthread

.PHONY: vm-boot
vm-boot: $(BUILD)/vm-boot
unit-bins: $(BUILD)/vm-boot

# The guest kernel: `make tinyconfig` of Debian's linux-source-6.1 plus
# vm-shim/guest/hull-guest.config, built once per (source, config) into
# $HULL_GUEST_CACHE (default /var/cache/hull-guest); prints the vmlinux path.
# Needs: apt-get install linux-source-6.1 flex bison libelf-dev bc
.PHONY: guest-kernel
guest-kernel:
	vm-shim/guest/build-kernel.sh

# libFuzzer target for the virtqueue parser (clang), with its seed corpus in
# vm-shim/fuzz/corpus/vm_virtqueue; new inputs go to a scratch directory.
#   make vm-fuzz VM_FUZZ_TIME=600
VM_FUZZ_TIME ?= 60
build-fuzz/fuzz_vm_virtqueue: vm-shim/fuzz/fuzz_vm_virtqueue.c vm-shim/virtqueue.c vm-shim/memory.c common/common.c \
                              $(wildcard vm-shim/*.h)
	@mkdir -p build-fuzz
	clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -o $@ \
	  vm-shim/fuzz/fuzz_vm_virtqueue.c vm-shim/virtqueue.c vm-shim/memory.c common/common.c

build-fuzz/fuzz_vm_agent_proto: vm-shim/fuzz/fuzz_vm_agent_proto.c vm-shim/agent-proto.c common/common.c \
                                vm-shim/agent-proto.h
	@mkdir -p build-fuzz
	clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -o $@ \
	  vm-shim/fuzz/fuzz_vm_agent_proto.c vm-shim/agent-proto.c common/common.c

.PHONY: vm-fuzz
vm-fuzz: build-fuzz/fuzz_vm_virtqueue
	@scratch=$$(mktemp -d /tmp/hull-vm-fuzz.XXXXXX) && mkdir -p build-fuzz/crashes && \
	  build-fuzz/fuzz_vm_virtqueue -max_total_time=$(VM_FUZZ_TIME) -print_final_stats=1 \
	    -artifact_prefix=build-fuzz/crashes/ $$scratch vm-shim/fuzz/corpus/vm_virtqueue; \
	  rc=$$?; rm -rf $$scratch; exit $$rc

# ---- the guest: agent, initramfs, kernel -----------------------------------
# $(BUILD)/guest/ holds what `hull vm-run` boots (it looks next to its own
# binary first: docs/vmm.md "Where hull finds its guest"):
#   hull-agent       vm-shim/agent/agent.c, static (PID 1 in the guest)
#   initramfs.cpio   the agent as /init plus busybox-static (uncompressed:
#                    a 2 MB copy beats decompressing in the guest)
#   vmlinux          the guest kernel, a link into its cache
# The agent is built without the sanitizers (a static PID 1 cannot carry
# them) but with the project's warnings.
GUEST_BUSYBOX ?= /bin/busybox
AGENT_SRCS := vm-shim/agent/agent.c vm-shim/agent-proto.c common/common.c

$(BUILD)/guest/hull-agent: $(AGENT_SRCS) vm-shim/agent-proto.h common/common.h vm-shim/vm-shim.mk
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -D_GNU_SOURCE -fno-strict-aliasing $(WARNINGS) -O2 -static -s \
	  -ffunction-sections -fdata-sections -Wl,--gc-sections -o $@ $(AGENT_SRCS)

$(BUILD)/mkinitramfs: $(BUILD)/vm-shim/tools/mkinitramfs.o $(BUILD)/common/common.o
	$(CC) $(HULL_CFLAGS) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs libarchive)

$(BUILD)/guest/initramfs.cpio: $(BUILD)/guest/hull-agent $(BUILD)/mkinitramfs vm-shim/guest/initramfs.sh
	vm-shim/guest/initramfs.sh $(BUILD)/guest/hull-agent $(GUEST_BUSYBOX) > $@.list
	$(BUILD)/mkinitramfs < $@.list > $@.tmp
	mv $@.tmp $@

.PHONY: guest guest-initramfs
guest-initramfs: $(BUILD)/guest/initramfs.cpio
guest: guest-initramfs
	@mkdir -p $(BUILD)/guest
	ln -sf "$$(vm-shim/guest/build-kernel.sh)" $(BUILD)/guest/vmlinux

# The sanitizer build's tests boot the guest in the test host VM: `make
# asan` builds the agent and initramfs, `make check` the kernel (cached).
unit-bins: $(BUILD)/guest/initramfs.cpio
.PHONY: check-guest
check: check-guest
check-guest:
	$(MAKE) BUILD=build-asan CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" guest

# `make install` puts the guest next to hull's library directory, when it
# was built (`make guest`): hull finds it at $(PREFIX)/lib/hull/guest.
GUESTDIR ?= $(PREFIX)/lib/hull/guest
.PHONY: install-guest
install: install-guest
install-guest:
	@if [ -e $(BUILD)/guest/vmlinux ] && [ -e $(BUILD)/guest/initramfs.cpio ]; then \
	  install -d $(DESTDIR)$(GUESTDIR) && \
	  install -m 0644 $(BUILD)/guest/vmlinux $(DESTDIR)$(GUESTDIR)/vmlinux && \
	  install -m 0644 $(BUILD)/guest/initramfs.cpio $(DESTDIR)$(GUESTDIR)/initramfs.cpio; \
	else echo "install: no guest in $(BUILD)/guest (make guest): VM isolation will need --kernel/--initrd"; fi

# ---- benchmark: hull's VMM vs QEMU microvm (tests/bench/vm-boot.py) -------
# Not a test.  QEMU boots an uncompressed vmlinux only through its PVH ELF
# note, and hull's guest kernel is built without CONFIG_PVH (hull uses the
# 64-bit entry), so bench-vm-kernel builds the same kernel with CONFIG_PVH=y
# added (a copy of the fragment plus that line, through the same
# build-kernel.sh and cache) and links it as $(BUILD)/guest/vmlinux-pvh.
# Both VMMs boot that file in the benchmark.
#   make bench-vm                 the benchmark, in the test host VM
#   make bench-vm BENCH_VM_ROUNDS=5
#   make bench-vm BENCH_VM_ARGS=--hugepages   guest RAM from the hugetlb pool, both VMMs
BENCH_VM_ROUNDS ?= 20
BENCH_VM_ARGS ?=
# One vCPU in the test host VM: with two its nested KVM froze (docs/vmm.md).
BENCH_VM_SMP ?= 1
.PHONY: bench-vm-kernel bench-vm
bench-vm-kernel:
	@mkdir -p $(BUILD)/guest
	@tmp=$$(mktemp -d /tmp/hull-pvh-kernel.XXXXXX) && trap 'rm -rf "$$tmp"' EXIT && \
	  cp vm-shim/guest/build-kernel.sh "$$tmp/" && \
	  { cat vm-shim/guest/hull-guest.config; \
	    printf '\n# tests/bench/vm-boot.py: for QEMU, which boots a vmlinux through its PVH note\nCONFIG_PVH=y\n'; \
	  } > "$$tmp/hull-guest.config" && \
	  k=$$("$$tmp/build-kernel.sh") && ln -sf "$$k" $(BUILD)/guest/vmlinux-pvh && \
	  echo "$(BUILD)/guest/vmlinux-pvh -> $$k"

# Where a guest's boot goes, sampled from KVM's exits (tests/bench/vm-profile.py):
#   make profile-vm PROFILE_VM_ARGS="--hugepages --timeline"
PROFILE_VM_ARGS ?=
.PHONY: profile-vm
profile-vm: $(BUILD)/hull guest
	tests/vm/testvm.sh run --smp $(BENCH_VM_SMP) --timeout 900 -- tests/bench/vm-profile.py $(BUILD)/hull $(PROFILE_VM_ARGS)

# The load printed inside the VM is the VM's own; the host's is printed here.
bench-vm: $(BUILD)/hull guest bench-vm-kernel
	@echo "bench-vm: host load before: $$(uptime)"
	tests/vm/testvm.sh run --smp $(BENCH_VM_SMP) --timeout 1500 -- tests/bench/vm-boot.py $(BUILD)/hull $(BENCH_VM_ROUNDS) $(BENCH_VM_ARGS)
	@echo "bench-vm: host load after: $$(uptime)"
