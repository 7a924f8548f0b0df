# vm-shim/: the VMM's pieces built apart from the hull library.  Included by
# the top-level Makefile; the library code (vm-shim/*.c) is built with the
# rest of libhull.
#   make vm-boot    $(BUILD)/vm-boot: boots a kernel with the VMM alone
#                   (vm-shim/tools/vm-boot.c), for trying guests by hand

# Only vm-shim and common: the tool does not wait on the other modules.
VM_SHIM_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard vm-shim/*.c)) $(BUILD)/common/common.o

$(BUILD)/vm-boot: $(BUILD)/vm-shim/tools/vm-boot.o $(VM_SHIM_OBJS)
	$(CC) $(HULL_CFLAGS) $(LDFLAGS) -o $@ $^ -lpthread

.PHONY: vm-boot
vm-boot: $(BUILD)/vm-boot
unit-bins: $(BUILD)/vm-boot
