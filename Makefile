# hull — an OCI runtime with per-workload VM isolation.
#   make              release build in build/
#   make asan         ASan+UBSan build in build-asan/ (what the tests use)
#   make check        unit + integration tests (see README)
#   make install      PREFIX=/usr/local DESTDIR=

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
BUILD ?= build
CC ?= gcc
PKGS := libseccomp libcap libmnl libarchive yajl

ifeq ($(shell pkg-config --exists $(PKGS) && echo ok),)
$(error missing development packages: need $(PKGS) via pkg-config (Debian: apt-get install libseccomp-dev libcap-dev libmnl-dev libarchive-dev libyajl-dev pkg-config))
endif

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 \
            -Wno-format-nonliteral -Wpointer-arith -Wvla -Wno-missing-field-initializers
CFLAGS ?= -O2 -g
HULL_CFLAGS := -std=gnu11 -D_GNU_SOURCE -fno-strict-aliasing $(WARNINGS) $(CFLAGS) \
               $(shell pkg-config --cflags $(PKGS))
# Every hull command is a short-lived process, so start-up matters: linked
# dynamically, libarchive (with libxml2, libicu, libstdc++...) made the
# dynamic linker's symbol lookups >90% of a `hull state` (8.7M
# instructions; 0.7M static).  Its compressors are static too (each shared
# library is mapped and relocated by every command); only what image/ calls
# is pulled in, so libxml2 stays out.  STATIC=0 links everything dynamically.
STATIC ?= 1
ifeq ($(STATIC),1)
ARCHIVE_LIBS := $(filter-out -larchive -lxml2,$(shell pkg-config --static --libs-only-l libarchive))
LDLIBS := -Wl,--as-needed -Wl,-Bstatic -larchive $(ARCHIVE_LIBS) -lseccomp -lcap -lyajl_s -Wl,-Bdynamic \
          -lxml2 -lmnl
else
LDLIBS := $(shell pkg-config --libs $(PKGS))
endif

MODULES := common oci ns cgroups runtime image vm-shim
LIB_SRCS := $(filter-out runtime/main.c,$(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
DEPS := $(LIB_OBJS:.o=.d) $(BUILD)/runtime/main.d

.PHONY: all asan check unit integration install clean fuzz fuzz-bins bench format
all: $(BUILD)/hull

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(HULL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libhull.a: $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/hull: $(BUILD)/runtime/main.o $(BUILD)/libhull.a
	$(CC) $(HULL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
	ln -sf hull $(BUILD)/hull-vm

$(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h $(BUILD)/libhull.a
	@mkdir -p $(dir $@)
	$(CC) $(HULL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libhull.a $(LDLIBS)

SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan:
	$(MAKE) BUILD=build-asan CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" all unit-bins

unit-bins: $(UNIT_BINS)

# The test suite runs against the sanitizer build.
check: asan fuzz-bins
	tests/run-tests.sh build-asan

unit: asan
	tests/run-tests.sh build-asan unit

integration: asan
	tests/run-tests.sh build-asan integration

# libFuzzer targets (clang): tests/fuzz/fuzz_NAME.c with a seed corpus in
# tests/fuzz/corpus/NAME.  `make fuzz FUZZ_TIME=600` runs each for that long.
# Linked dynamically: suppressions of third-party leaks name the library.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/%)
FUZZ_TIME ?= 60
FUZZ_LIB_SRCS := $(filter-out runtime/main.c,$(foreach m,common oci ns cgroups image,$(wildcard $(m)/*.c)))
build-fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_SRCS) $(wildcard */*.h)
	@mkdir -p build-fuzz
	clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	  $(shell pkg-config --cflags $(PKGS)) -o $@ $< $(FUZZ_LIB_SRCS) $(shell pkg-config --libs $(PKGS))
fuzz-bins: $(FUZZ_BINS)
fuzz: fuzz-bins
	tests/run-fuzzers.sh $(FUZZ_TIME)

bench: all
	tests/bench/lifecycle.sh $(BUILD)/hull

install: all
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(BUILD)/hull $(DESTDIR)$(BINDIR)/hull
	ln -sf hull $(DESTDIR)$(BINDIR)/hull-vm

format:
	clang-format -i $(LIB_SRCS) runtime/main.c $(wildcard */*.h) $(UNIT_SRCS)

clean:
	rm -rf build build-asan build-fuzz

# Fragments owned by their folders: the test host VM (tests/vm/vm.mk) and
# the VMM's guest kernel, agent and initramfs (vm-shim/vm-shim.mk).
-include tests/vm/vm.mk
-include vm-shim/vm-shim.mk

# vm-shim keeps its fuzzers (and corpora) with it; the suite runs them too.
fuzz-bins: build-fuzz/fuzz_vm_virtqueue build-fuzz/fuzz_vm_agent_proto

-include $(DEPS)
