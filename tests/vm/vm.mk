# The test host VM (tests/vm/README.md).  Included by the top-level Makefile.
#   make testvm      fetch the kernel and build the initramfs (cached), and
#                    the in-VM helpers of this build
#   make check-vm    the tests that need the VM (tests/integration-vm), on
#                    the sanitizer build
# The helpers are built with the unit tests, so `make asan` has them.

TESTVM_BINS := $(BUILD)/tests/vm/kvm-smoke $(BUILD)/tests/vm/vm-repeat

$(BUILD)/tests/vm/kvm-smoke: tests/vm/kvm-smoke.c
	@mkdir -p $(dir $@)
	$(CC) $(HULL_CFLAGS) $(LDFLAGS) -o $@ $<

# Boots hull's guest N times in one process and checks nothing stays.
$(BUILD)/tests/vm/vm-repeat: tests/vm/vm-repeat.c $(BUILD)/libhull.a
	@mkdir -p $(dir $@)
	$(CC) $(HULL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libhull.a $(LDLIBS)

unit-bins: $(TESTVM_BINS)

.PHONY: testvm check-vm
testvm: $(TESTVM_BINS)
	tests/vm/testvm.sh prepare

check-vm: asan
	tests/run-tests.sh build-asan vm
