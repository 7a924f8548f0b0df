/* vm-shim internals: the VM's structures, the guest memory layout and the
 * ops tables shared by the files of vm-shim/.  Not for other modules. */
#ifndef HULL_VM_INTERNAL_H
#define HULL_VM_INTERNAL_H

#include "vm.h"
#include <inttypes.h>
#include <asm/bootparam.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>

/* ---- guest physical memory layout (docs/vmm.md) ----------------------------- */
#define VM_GDT_ADDR 0x500ULL
#define VM_IDT_ADDR 0x520ULL
#define VM_ZERO_PAGE_ADDR 0x7000ULL
#define VM_BOOT_STACK 0x8ff0ULL
#define VM_PML4_ADDR 0x9000ULL
#define VM_PDPT_ADDR 0xa000ULL
#define VM_PD_ADDR 0xb000ULL /* 4 page directories: 0xb000 .. 0xefff */
#define VM_CMDLINE_ADDR 0x20000ULL
#define VM_CMDLINE_MAX 2048
#define VM_MPTABLE_START 0x9f000ULL /* MP config table; e820 low RAM ends here */
#define VM_MPF_ADDR 0x9fc00ULL      /* MP floating pointer: 639 KiB, where Linux scans */
#define VM_HIMEM_START 0x100000ULL
#define VM_MMIO_START 0xd0000000ULL
#define VM_MMIO_SIZE 0x1000ULL /* per virtio-mmio device */
#define VM_IOAPIC_ADDR 0xfec00000ULL
#define VM_LAPIC_ADDR 0xfee00000ULL
#define VM_IDENTITY_MAP_ADDR 0xfffbc000ULL
#define VM_TSS_ADDR 0xfffbd000ULL
#define VM_4G 0x100000000ULL
#define VM_HUGEPAGE_SIZE (2ULL << 20)

/* ---- I/O ports and IRQs ------------------------------------------------------- */
#define VM_SERIAL_PORT 0x3f8
#define VM_SERIAL_IRQ 4
#define VM_I8042_DATA_PORT 0x60
#define VM_I8042_CMD_PORT 0x64
#define VM_PVEXIT_PORT 0x501
#define VM_VIRTIO_IRQ_BASE 5
#define VM_IRQ_MAX 23 /* IOAPIC pins */

/* The signal that knocks a vCPU thread out of KVM_RUN. */
#define VM_SIG_KICK (SIGRTMIN + 1)

/* ---- guest memory (memory.c) -------------------------------------------------- */
#define VM_MEM_MAX_REGIONS 2
struct vm_mem_region
{
  uint64_t gpa;
  uint64_t size;
  uint8_t *hva;
};

struct vm_mem
{
  struct vm_mem_region regions[VM_MEM_MAX_REGIONS];
  unsigned n_regions;
  int fd;
  uint8_t *map;
  size_t map_size;
};

/* The one way to turn a guest-physical range into a host pointer: returns
 * NULL unless [gpa, gpa + len) lies inside one RAM region (no overflow). */
void *vm_mem_ptr (const struct vm_mem *m, uint64_t gpa, uint64_t len);
/* A vm_mem over a caller's buffer at guest address gpa (tests, no KVM). */
void vm_mem_init_buffer (struct vm_mem *m, void *buf, size_t size, uint64_t gpa);
/* RAM below the MMIO hole, in bytes. */
uint64_t vm_mem_low_end (const struct vm_mem *m);

/* Reads a field the guest may change concurrently exactly once. */
#define vm_read_once(x) __atomic_load_n (&(x), __ATOMIC_RELAXED)
#define vm_write_once(x, v) __atomic_store_n (&(x), (v), __ATOMIC_RELAXED)

/* ---- buses (bus.c) ------------------------------------------------------------- */
struct vm_io_ops
{
  void (*read) (void *dev, uint64_t offset, uint8_t *data, uint32_t len);
  void (*write) (void *dev, uint64_t offset, const uint8_t *data, uint32_t len);
};

struct vm_bus_range
{
  uint64_t base;
  uint64_t len;
  const struct vm_io_ops *ops;
  void *dev;
  const char *name;
};

struct vm_bus
{
  const char *name;            /* "port I/O", "MMIO" */
  struct vm_bus_range *ranges; /* sorted by base, no overlaps */
  size_t n;
  atomic_ulong unhandled; /* accesses that hit no device */
};

int vm_bus_register (struct vm_bus *bus, uint64_t base, uint64_t len, const struct vm_io_ops *ops, void *dev,
                     const char *name, hull_error_t *err);
/* Dispatches an access; an access that hits no device reads as all ones and
 * its writes are dropped.  Returns false then. */
bool vm_bus_access (struct vm_bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);
void vm_bus_release (struct vm_bus *bus);

/* ---- vCPUs (vcpu.c, cpuid.c) ------------------------------------------------- */
struct vm_vcpu
{
  struct vm *vm;
  unsigned id;
  int fd;
  struct kvm_run *run;
  pthread_t thread;
  bool thread_started;
};

int vm_vcpus_init (struct vm *vm, hull_error_t *err);
void vm_vcpus_exit (struct vm *vm);
/* Starts one thread per vCPU; on failure the started ones are stopped and
 * joined. */
int vm_vcpus_start (struct vm *vm, hull_error_t *err);
/* Sets immediate_exit and kicks every started thread, then joins them. */
void vm_vcpus_stop (struct vm *vm);

int vm_cpuid_get_supported (int kvm_fd, struct kvm_cpuid2 **out, hull_error_t *err);
/* Filters KVM's supported CPUID for vCPU `cpu` of `n_cpus` (pure). */
void vm_cpuid_filter (struct kvm_cpuid2 *c, unsigned cpu, unsigned n_cpus);
/* Sets the TSC-deadline timer bit (leaf 1 ECX), for a KVM that has
 * KVM_CAP_TSC_DEADLINE_TIMER. */
void vm_cpuid_add_tsc_deadline (struct kvm_cpuid2 *c);

/* ---- the event loop (vm.c) -------------------------------------------------- */
typedef void (*vm_loop_fn) (struct vm *vm, void *opaque, uint32_t events);
/* Watches fd in vm_run's loop (epoll events); fn runs in the loop thread. */
int vm_loop_add (struct vm *vm, int fd, uint32_t events, vm_loop_fn fn, void *opaque, hull_error_t *err);
int vm_loop_mod (struct vm *vm, int fd, uint32_t events, hull_error_t *err);
/* Stops watching fd (safe from inside a handler). */
void vm_loop_del (struct vm *vm, int fd);
/* One round of the loop: waits up to timeout_ms and runs the handlers of
 * the fds that are ready (tests drive devices with it). */
void vm_loop_poll (struct vm *vm, int timeout_ms);
/* A VM with devices but no KVM, on a caller's buffer as RAM at address 0
 * (tests of device models: the test plays the guest driver). */
int vm_create_devices_only (const struct vm_config *cfg, void *ram, size_t ram_size, struct vm **out,
                            hull_error_t *err);

/* First caller wins; async-signal-unsafe (takes a lock).  With
 * VM_STOP_ERROR, *err (may be NULL) is taken over. */
void vm_request_stop (struct vm *vm, enum vm_stop_reason reason, int code, hull_error_t *err);

/* ---- devices ------------------------------------------------------------------ */
struct vm_serial;
struct vm_console;
struct vm_rtc;
int vm_serial_init (struct vm *vm, hull_error_t *err);
void vm_serial_exit (struct vm *vm);
int vm_power_init (struct vm *vm, hull_error_t *err);
int vm_rtc_init (struct vm *vm, hull_error_t *err);
void vm_rtc_exit (struct vm *vm);
/* The host/guest channel: virtio-console with cfg.ports (virtio-console.c). */
int vm_console_init (struct vm *vm, hull_error_t *err);
void vm_console_exit (struct vm *vm);
/* After the vCPUs stopped: starts writing out what the guest left in the
 * ports' transmit queues; true while some of it still waits for its fd. */
bool vm_console_output_pending (struct vm *vm);
/* The guest agent's control port (agent-client.c): fills ctl's fds. */
struct vm_agent;
#define VM_AGENT_PORTS 4 /* hull.ctl, hull.stdin, hull.stdout, hull.stderr */
int vm_agent_init (struct vm *vm, struct vm_port *ctl, hull_error_t *err);
/* The console duplicated the port's fd: the agent closes its copy. */
void vm_agent_port_taken (struct vm *vm);
void vm_agent_exit (struct vm *vm);
/* A stop signal: true when it was forwarded to the guest's process. */
bool vm_agent_forward_signal (struct vm *vm, int signo);
/* After the run: reads the last messages and fills the process fields. */
void vm_agent_collect (struct vm *vm, struct vm_stop_info *info);
/* Appends "[hull-vmm] ...\n" to the serial log: the VMM's own notes
 * (a broken device), kept apart from the workload's output. */
void vm_serial_note (struct vm *vm, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
/* Raises or lowers an IOAPIC/PIC input line (KVM_IRQ_LINE). */
int vm_irq_line (struct vm *vm, unsigned irq, int level);

/* ---- boot (boot.c, loader.c, mptable.c) -------------------------------------- */
struct vm_kernel_image
{
  uint64_t entry; /* guest-physical 64-bit entry point */
  uint64_t end;   /* first byte after the kernel and the memory it needs */
  bool is_bzimage;
  struct setup_header hdr;  /* bzImage: its setup header */
  uint64_t initrd_addr_max; /* highest byte an initramfs may use */
  uint32_t cmdline_max;     /* longest command line, NUL included */
};

int vm_load_kernel (struct vm_mem *mem, int fd, const char *path, struct vm_kernel_image *img,
                    hull_error_t *err);
int vm_boot_init (struct vm *vm, hull_error_t *err);
int vm_mptable_write (struct vm_mem *mem, unsigned n_cpus, hull_error_t *err);
/* Identity page tables and GDT in guest memory; sregs for 64-bit mode. */
int vm_boot_write_long_mode_tables (struct vm_mem *mem, hull_error_t *err);
void vm_boot_long_mode_sregs (struct kvm_sregs *s);

/* ---- host check (host-check.c) -------------------------------------------- */
/* Times a ring-0 loop in a tiny guest. */
int vm_host_calibrate (const char *dev_kvm, uint64_t *ns, hull_error_t *err);
/* vm_host_check with the /sys/module directory given (tests). */
int vm_host_check_at (const char *dev_kvm, const char *sys_module, hull_error_t *err);

/* ---- the VM ------------------------------------------------------------------- */
struct vm_loop_watch
{
  int fd; /* -1 once deleted; freed after the current round */
  vm_loop_fn fn;
  void *opaque;
};

struct vm_level;
struct vm
{
  struct vm_config cfg; /* strings are copies owned by the VM */
  const struct vm_level *levels;
  unsigned n_levels;
  unsigned levels_done;
  void *test_ram; /* vm_create_devices_only: RAM is the caller's */

  int kvm_fd;
  int vm_fd;
  int run_size; /* KVM_GET_VCPU_MMAP_SIZE */
  struct kvm_cpuid2 *cpuid;

  struct vm_mem mem;

  int epoll_fd;
  int stop_fd; /* eventfd, written by vm_request_stop */
  struct vm_loop_watch **watches;
  size_t n_watches;

  struct vm_bus pio;
  struct vm_bus mmio;
  struct vm_serial *serial;
  struct vm_console *console;
  struct vm_rtc *rtc;
  struct vm_virtio **virtio; /* virtio-mmio devices, in slot order */
  unsigned n_virtio;
  char *cmdline_devices; /* "virtio_mmio.device=..." for the devices added */

  struct vm_vcpu *vcpus;
  struct vm_agent *agent; /* with cfg.process */
  uint64_t created_ns;    /* when vm_create began (hull_now_ns) */
  bool flush_abort;       /* a stop signal came while the output was flushed */

  pthread_mutex_t stop_lock;
  atomic_bool stopping;
  struct vm_stop_info stop;
  hull_error_t stop_err;
};

static inline bool
vm_stopping (struct vm *vm)
{
  return atomic_load (&vm->stopping);
}

/* Level helpers in kvm.c. */
int vm_kvm_open (const char *path, int n_cpus, int *fd_out, int *run_size, hull_error_t *err);
int vm_kvm_create_vm (struct vm *vm, hull_error_t *err);
int vm_memory_init (struct vm *vm, hull_error_t *err);
void vm_memory_exit (struct vm *vm);

#endif
