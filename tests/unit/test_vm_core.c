/* vm-shim core on /dev/kvm with tiny hand-assembled guests: the serial log,
 * SMP, every way a VM stops, rollback of a failed create, and no fd left
 * behind.  These run on kvm_pvm too: a few hundred ring-0 instructions. */
#include "test_vm_fixture.h"
#include "unit.h"

#include <signal.h>

/* Real mode at 0x1000: "OK\n" to the UART, then 7 to the exit port. */
static const uint8_t guest_real_ok[] = {
  0xba, 0xf8, 0x03, /* mov dx, 0x3f8 */
  0xb0, 'O',  0xee, /* mov al, 'O'; out dx, al */
  0xb0, 'K',  0xee, /* mov al, 'K'; out dx, al */
  0xb0, '\n', 0xee, /* mov al, '\n'; out dx, al */
  0xba, 0x01, 0x05, /* mov dx, 0x501 */
  0xb0, 0x07, 0xee, /* mov al, 7; out dx, al */
  0xf4,             /* hlt */
};

/* Long mode: "OK\n" to the UART, then the i8042 reset command. */
static const uint8_t guest_long_reset[] = {
  0x66, 0xba, 0xf8, 0x03, /* mov dx, 0x3f8 */
  0xb0, 'O',  0xee,       /* mov al, 'O'; out dx, al */
  0xb0, 'K',  0xee,       /* mov al, 'K'; out dx, al */
  0xb0, '\n', 0xee,       /* mov al, '\n'; out dx, al */
  0xb0, 0xfe, 0xe6, 0x64, /* mov al, 0xfe; out 0x64, al */
  0xf4,                   /* hlt */
};

/* Long mode, every CPU (rdi = its index): the BSP writes 'A', waits for the
 * AP's flag at 0x3000, writes '\n' and exits with 0; the AP writes 'B' and
 * sets the flag. */
static const uint8_t guest_smp[] = {
  0x85, 0xff,                                     /* test edi, edi */
  0x75, 0x1c,                                     /* jnz ap */
  0x66, 0xba, 0xf8, 0x03,                         /* mov dx, 0x3f8 */
  0xb0, 'A',  0xee,                               /* mov al, 'A'; out dx, al */
  0x80, 0x3c, 0x25, 0x00, 0x30, 0x00, 0x00, 0x00, /* 1: cmp byte [0x3000], 0 */
  0x74, 0xf6,                                     /* je 1b */
  0xb0, '\n', 0xee,                               /* mov al, '\n'; out dx, al */
  0x66, 0xba, 0x01, 0x05,                         /* mov dx, 0x501 */
  0x31, 0xc0, 0xee,                               /* xor eax, eax; out dx, al */
  0xf4,                                           /* hlt */
  0x66, 0xba, 0xf8, 0x03,                         /* ap: mov dx, 0x3f8 */
  0xb0, 'B',  0xee,                               /* mov al, 'B'; out dx, al */
  0xc6, 0x04, 0x25, 0x00, 0x30, 0x00, 0x00, 0x01, /* mov byte [0x3000], 1 */
  0xf4,                                           /* hlt */
};

/* ud2 with an empty IDT: #UD, #DF, triple fault.  (int3 would do on
 * hardware, but kvm_pvm's emulator fails on it.) */
static const uint8_t guest_triple_fault[] = { 0x0f, 0x0b };
/* Jumps into the MMIO hole: KVM cannot fetch instructions from MMIO. */
static const uint8_t guest_exec_mmio[] = {
  0xb8, 0x00, 0x00, 0x00, 0xd0, /* mov eax, 0xd0000000 */
  0xff, 0xe0,                   /* jmp rax */
};
static const uint8_t guest_halt[] = { 0xf4, 0xeb, 0xfd }; /* 1: hlt; jmp 1b */

struct vmt
{
  char *dir;
  char *log;
  struct vm_raw_image raw;
  struct vm_config cfg;
};

static void
vmt_init (struct vmt *t, const uint8_t *code, size_t len, enum vm_cpu_mode mode)
{
  t->dir = vmt_tmpdir ();
  t->log = hull_fmt ("%s/serial.log", t->dir);
  uint64_t at = mode == VM_MODE_REAL ? 0x1000 : 0x100000;
  t->raw = (struct vm_raw_image){ .code = code, .len = len, .load_gpa = at, .entry = at, .mode = mode };
  t->cfg = (struct vm_config){
    .n_cpus = 1, .mem_size = 16 << 20, .raw = &t->raw, .serial_log = t->log, .timeout_ms = 20000
  };
}

static void
vmt_fini (struct vmt *t)
{
  free (t->log);
  vmt_cleanup (t->dir);
}

TEST (real_mode_guest_writes_to_serial_log_and_exits)
{
  if (!vmt_have_kvm ())
    return;
  struct vmt t;
  vmt_init (&t, guest_real_ok, sizeof (guest_real_ok), VM_MODE_REAL);
  struct vm_stop_info info;
  hull_error_t err = NULL;
  int ret = vmt_run (&t.cfg, &info, &err);
  cleanup_free char *log = vmt_read_log (t.log);
  vmt_fini (&t);
  CHECK (err == NULL);
  CHECK (ret == 0);
  CHECK (info.reason == VM_STOP_EXIT);
  CHECK (info.code == 7);
  CHECK_STR (log, "OK\n");
}

TEST (long_mode_guest_resets_through_i8042)
{
  if (!vmt_have_kvm ())
    return;
  struct vmt t;
  vmt_init (&t, guest_long_reset, sizeof (guest_long_reset), VM_MODE_LONG);
  struct vm_stop_info info;
  hull_error_t err = NULL;
  int ret = vmt_run (&t.cfg, &info, &err);
  cleanup_free char *log = vmt_read_log (t.log);
  vmt_fini (&t);
  CHECK (ret == 0);
  CHECK (info.reason == VM_STOP_RESET);
  CHECK_STR (log, "OK\n");
}

TEST (smp_two_vcpus_each_write)
{
  if (!vmt_have_kvm ())
    return;
  struct vmt t;
  vmt_init (&t, guest_smp, sizeof (guest_smp), VM_MODE_LONG);
  t.cfg.n_cpus = 2;
  t.raw.start_all_cpus = true;
  struct vm_stop_info info;
  hull_error_t err = NULL;
  int ret = vmt_run (&t.cfg, &info, &err);
  cleanup_free char *log = vmt_read_log (t.log);
  vmt_fini (&t);
  CHECK (ret == 0);
  CHECK (info.reason == VM_STOP_EXIT && info.code == 0);
  /* The order of A and B is the race between the CPUs; \n comes last. */
  CHECK (strcmp (log, "AB\n") == 0 || strcmp (log, "BA\n") == 0);
}

TEST (triple_fault_is_a_reset)
{
  if (!vmt_have_kvm ())
    return;
  struct vmt t;
  vmt_init (&t, guest_triple_fault, sizeof (guest_triple_fault), VM_MODE_LONG);
  struct vm_stop_info info;
  hull_error_t err = NULL;
  int ret = vmt_run (&t.cfg, &info, &err);
  vmt_fini (&t);
  CHECK (ret == 0);
  CHECK (info.reason == VM_STOP_RESET);
}

TEST (vcpu_error_stops_the_vm_with_a_message)
{
  if (!vmt_have_kvm ())
    return;
  struct vmt t;
  vmt_init (&t, guest_exec_mmio, sizeof (guest_exec_mmio), VM_MODE_LONG);
  t.cfg.n_cpus = 2;
  struct vm_stop_info info;
  hull_error_t err = NULL;
  int ret = vmt_run (&t.cfg, &info, &err);
  vmt_fini (&t);
  CHECK (ret == -1);
  CHECK (info.reason == VM_STOP_ERROR);
  CHECK_CONTAINS (err->msg, "vCPU 0: KVM emulation failure (internal error 1) at rip 0xd0000000");
  hull_error_release (&err);
}

/* Reads the first virtio-mmio register (an MMIO exit to the transport from
 * the vCPU thread) and exits with its low byte: 'v' of "virt". */
static const uint8_t guest_virtio_magic[] = {
  0xb8, 0x00, 0x00, 0x00, 0xd0, /* mov eax, 0xd0000000 (zero-extended) */
  0x8b, 0x00,                   /* mov eax, [rax] */
  0x66, 0xba, 0x01, 0x05,       /* mov dx, 0x501 */
  0xee,                         /* out dx, al */
  0xf4,                         /* hlt */
};

TEST (guest_reads_the_channel_device_registers)
{
  if (!vmt_have_kvm ())
    return;
  int fds[2];
  CHECK (pipe2 (fds, O_CLOEXEC) == 0);
  struct vm_port ports[] = { { "hull.ctl", fds[0], fds[1] } };
  struct vmt t;
  vmt_init (&t, guest_virtio_magic, sizeof (guest_virtio_magic), VM_MODE_LONG);
  t.cfg.ports = ports;
  t.cfg.n_ports = 1;
  struct vm_stop_info info;
  hull_error_t err = NULL;
  int ret = vmt_run (&t.cfg, &info, &err);
  vmt_fini (&t);
  close (fds[0]);
  close (fds[1]);
  CHECK (err == NULL);
  CHECK (ret == 0);
  CHECK (info.reason == VM_STOP_EXIT && info.code == 'v');
}

TEST (deadline_stops_a_halted_guest)
{
  if (!vmt_have_kvm ())
    return;
  struct vmt t;
  vmt_init (&t, guest_halt, sizeof (guest_halt), VM_MODE_LONG);
  t.cfg.timeout_ms = 50;
  t.cfg.n_cpus = 2; /* the AP waits for a SIPI that never comes */
  struct vm_stop_info info;
  hull_error_t err = NULL;
  int ret = vmt_run (&t.cfg, &info, &err);
  vmt_fini (&t);
  CHECK (ret == 0);
  CHECK (info.reason == VM_STOP_TIMEOUT);
}

static void *
send_sigterm_later (void *arg)
{
  (void)arg;
  sigset_t s;
  sigemptyset (&s);
  sigaddset (&s, SIGTERM);
  pthread_sigmask (SIG_BLOCK, &s, NULL);
  usleep (50 * 1000);
  kill (getpid (), SIGTERM);
  return NULL;
}

TEST (sigterm_to_the_vmm_stops_the_guest)
{
  if (!vmt_have_kvm ())
    return;
  struct vmt t;
  vmt_init (&t, guest_halt, sizeof (guest_halt), VM_MODE_LONG);
  struct vm *vm = NULL;
  hull_error_t err = NULL;
  CHECK (vm_create (&t.cfg, &vm, &err) == 0);
  pthread_t th;
  pthread_create (&th, NULL, send_sigterm_later, NULL);
  struct vm_stop_info info;
  int ret = vm_run (vm, &info, &err);
  pthread_join (th, NULL);
  /* A second run is refused: the vCPUs' state is gone. */
  hull_error_t err2 = NULL;
  int ret2 = vm_run (vm, &info, &err2);
  vm_destroy (vm);
  vmt_fini (&t);
  CHECK (ret == 0);
  CHECK (info.reason == VM_STOP_SIGNAL);
  CHECK (info.code == SIGTERM);
  CHECK (ret2 < 0);
  CHECK_CONTAINS (err2->msg, "not ready to run");
  hull_error_release (&err2);
}

TEST (no_fd_or_thread_left_after_runs)
{
  if (!vmt_have_kvm ())
    return;
  int before = vmt_count_fds ();
  for (int i = 0; i < 5; i++)
    {
      struct vmt t;
      vmt_init (&t, guest_smp, sizeof (guest_smp), VM_MODE_LONG);
      t.cfg.n_cpus = 2;
      t.raw.start_all_cpus = true;
      struct vm_stop_info info;
      hull_error_t err = NULL;
      int ret = vmt_run (&t.cfg, &info, &err);
      vmt_fini (&t);
      CHECK (ret == 0);
    }
  CHECK (vmt_count_fds () == before);
  /* Only this thread is left. */
  cleanup_free char *status = NULL;
  size_t len;
  hull_error_t err = NULL;
  CHECK (hull_read_file_at (AT_FDCWD, "/proc/self/status", 1 << 16, &status, &len, &err) == 0);
  CHECK_CONTAINS (status, "\nThreads:\t1\n");
  /* No guest RAM or kvm_run page is still mapped. */
  cleanup_free char *maps = NULL;
  CHECK (hull_read_file_at (AT_FDCWD, "/proc/self/maps", 1 << 22, &maps, &len, &err) == 0);
  CHECK (strstr (maps, "hull-guest-ram") == NULL);
  CHECK (strstr (maps, "kvm-vcpu") == NULL);
}

TEST (failed_create_rolls_back)
{
  if (!vmt_have_kvm ())
    return;
  int before = vmt_count_fds ();
  struct vmt t;
  vmt_init (&t, guest_halt, sizeof (guest_halt), VM_MODE_LONG);
  hull_error_t err = NULL;
  struct vm *vm = NULL;

  /* Fails in the devices level: the serial log's directory is missing. */
  t.cfg.serial_log = "/nonexistent/dir/serial.log";
  CHECK (vm_create (&t.cfg, &vm, &err) < 0);
  CHECK_CONTAINS (err->msg, "create VM (devices): open serial log `/nonexistent/dir/serial.log`");
  hull_error_release (&err);
  CHECK (vmt_count_fds () == before);

  /* Fails in the boot level: the image lies outside RAM. */
  t.cfg.serial_log = t.log;
  t.raw.load_gpa = (16 << 20) - 1;
  CHECK (vm_create (&t.cfg, &vm, &err) < 0);
  CHECK_CONTAINS (err->msg, "create VM (boot): raw image of 3 bytes at 0xffffff is outside guest RAM");
  hull_error_release (&err);
  CHECK (vmt_count_fds () == before);

  /* Fails in the first level. */
  t.raw.load_gpa = 0x100000;
  t.cfg.dev_kvm = "/nonexistent/kvm";
  CHECK (vm_create (&t.cfg, &vm, &err) < 0);
  CHECK_CONTAINS (err->msg, "/nonexistent/kvm does not exist: this host has no KVM");
  hull_error_release (&err);
  CHECK (vmt_count_fds () == before);
  vmt_fini (&t);
}

TEST (config_is_checked)
{
  struct vm_raw_image raw = { .code = guest_halt, .len = 1 };
  struct vm_config cfg = { .n_cpus = 0, .mem_size = 16 << 20, .raw = &raw };
  struct vm *vm = NULL;
  hull_error_t err = NULL;
  CHECK (vm_create (&cfg, &vm, &err) < 0);
  CHECK_CONTAINS (err->msg, "0 vCPUs asked for");
  hull_error_release (&err);
  cfg.n_cpus = 1;
  cfg.mem_size = (16 << 20) + 4096;
  CHECK (vm_create (&cfg, &vm, &err) < 0);
  CHECK_CONTAINS (err->msg, "must be whole MiB");
  hull_error_release (&err);
  cfg.mem_size = 16 << 20;
  cfg.kernel = "/boot/vmlinuz";
  CHECK (vm_create (&cfg, &vm, &err) < 0);
  CHECK_CONTAINS (err->msg, "either a kernel or a raw image");
  hull_error_release (&err);
}

TEST (memory_bounds_never_overflow)
{
  static uint8_t buf[8192];
  struct vm_mem m;
  vm_mem_init_buffer (&m, buf, sizeof (buf), 0x10000);
  CHECK (vm_mem_ptr (&m, 0x10000, 8192) == buf);
  CHECK (vm_mem_ptr (&m, 0x11fff, 1) == buf + 8191);
  CHECK (vm_mem_ptr (&m, 0x12000, 0) == buf + 8192);
  CHECK (vm_mem_ptr (&m, 0x11fff, 2) == NULL);
  CHECK (vm_mem_ptr (&m, 0xffff, 1) == NULL);
  CHECK (vm_mem_ptr (&m, 0x10001, UINT64_MAX) == NULL);
  CHECK (vm_mem_ptr (&m, UINT64_MAX, 2) == NULL);
  CHECK (vm_mem_ptr (&m, 0x10000, 8193) == NULL);
}

static void
nop_io_write (void *dev, uint64_t off, const uint8_t *d, uint32_t len)
{
  (void)dev;
  (void)off;
  (void)d;
  (void)len;
}

TEST (bus_refuses_overlaps_and_reads_ones_where_nothing_is)
{
  static const struct vm_io_ops ops = { .write = nop_io_write };
  struct vm_bus bus = { .name = "port I/O" };
  hull_error_t err = NULL;
  CHECK (vm_bus_register (&bus, 0x3f8, 8, &ops, NULL, "serial", &err) == 0);
  CHECK (vm_bus_register (&bus, 0x60, 5, &ops, NULL, "i8042", &err) == 0);
  CHECK (vm_bus_register (&bus, 0x3fc, 2, &ops, NULL, "other", &err) < 0);
  CHECK_CONTAINS (err->msg, "port I/O bus: other at 0x3fc+0x2 overlaps serial");
  hull_error_release (&err);
  CHECK (vm_bus_register (&bus, 0x5c, 5, &ops, NULL, "low", &err) < 0);
  CHECK_CONTAINS (err->msg, "overlaps i8042");
  hull_error_release (&err);
  uint8_t d[4] = { 0 };
  CHECK (vm_bus_access (&bus, 0x3ff, d, 1, false));
  CHECK (!vm_bus_access (&bus, 0x3ff, d, 2, false)); /* crosses the end */
  CHECK (d[0] == 0xff && d[1] == 0xff);
  CHECK (!vm_bus_access (&bus, 0x80, d, 4, false));
  CHECK (atomic_load (&bus.unhandled) == 2);
  vm_bus_release (&bus);
}

TEST (cpuid_filter_masks_and_numbers_cpus)
{
  struct
  {
    struct kvm_cpuid2 c;
    struct kvm_cpuid_entry2 e[5];
  } t = { .c.nent = 5 };
  t.e[0] = (struct kvm_cpuid_entry2){ .function = 1, .ecx = (1u << 5) | (1u << 3) | 1, .ebx = 0xff0800 };
  t.e[1] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 1 };
  t.e[2] = (struct kvm_cpuid_entry2){ .function = 0xa, .eax = 0x7300403 };
  t.e[3] = (struct kvm_cpuid_entry2){ .function = 0x80000001, .ecx = 0x4 | 0x1 };
  t.e[4] = (struct kvm_cpuid_entry2){ .function = 7, .ebx = (1u << 25) | (1u << 2) | 1 };
  vm_cpuid_filter (&t.c, 2, 3);
  CHECK (t.e[0].ecx == (1u | (1u << 31))); /* no VMX, no MONITOR; hypervisor */
  CHECK ((t.e[0].ebx >> 24) == 2);         /* APIC id */
  CHECK (((t.e[0].ebx >> 16) & 0xff) == 3);
  CHECK ((t.e[0].ebx & 0xffff) == 0x0800); /* CLFLUSH size kept */
  CHECK (t.e[1].edx == 2 && t.e[1].ebx == 3 && t.e[1].eax == 2);
  CHECK (t.e[2].eax == 0);
  CHECK (t.e[3].ecx == 0x1);
  CHECK (t.e[4].ebx == 1);
  vm_cpuid_add_tsc_deadline (&t.c);
  CHECK (t.e[0].ecx == (1u | (1u << 24) | (1u << 31))); /* TSC-deadline timer, leaf 1 only */
  CHECK (t.e[3].ecx == 0x1 && t.e[4].ecx == 0);
}

RUN_TESTS ("vm_core")
