/* Can this host run a Linux guest at hardware speed?  /dev/kvm must exist
 * and be a usable KVM; and guest kernel mode must not be emulated, as it is
 * under kvm_pvm (a paravirtual KVM that runs guest user mode natively but
 * interprets guest ring 0 at a few million instructions per second: a
 * Linux guest either dies on an instruction the emulator lacks or takes
 * minutes to boot).  When kvm_pvm is loaded, or neither kvm_intel nor
 * kvm_amd is, a tiny guest times a ring-0 loop and the result decides. */
#include "vm-internal.h"

#include <sys/stat.h>

#define CALIB_ITERATIONS 100000u       /* two instructions each */
#define CALIB_MAX_NS (10ULL * 1000000) /* hardware: ~0.05 ms; nested under TCG: ~0.3 ms; kvm_pvm: ~55 ms */
#define CALIB_TIMEOUT_MS 5000

static bool
host_module_loaded (const char *sys_module, const char *name)
{
  cleanup_free char *path = hull_fmt ("%s/%s", sys_module, name);
  struct stat st;
  return stat (path, &st) == 0;
}

/* Times CALIB_ITERATIONS rounds of `dec ecx; jnz` in 64-bit ring 0. */
int
vm_host_calibrate (const char *dev_kvm, uint64_t *ns, hull_error_t *err)
{
  const uint32_t n = CALIB_ITERATIONS;
  const uint8_t code[] = {
    0xb9,
    (uint8_t)n,
    (uint8_t)(n >> 8),
    (uint8_t)(n >> 16),
    (uint8_t)(n >> 24), /* mov ecx, n */
    0xff,
    0xc9, /* 1: dec ecx */
    0x75,
    0xfc, /* jnz 1b */
    0x31,
    0xc0, /* xor eax, eax */
    0x66,
    0xba,
    0x01,
    0x05, /* mov dx, 0x501 */
    0xee, /* out dx, al */
    0xf4, /* hlt */
  };
  struct vm_raw_image raw
      = { .code = code, .len = sizeof (code), .load_gpa = 0x100000, .entry = 0x100000, .mode = VM_MODE_LONG };
  struct vm_config cfg = {
    .n_cpus = 1, .mem_size = VM_MEM_MIN, .raw = &raw, .timeout_ms = CALIB_TIMEOUT_MS, .dev_kvm = dev_kvm
  };
  struct vm *vm = NULL;
  struct vm_stop_info info;
  if (vm_create (&cfg, &vm, err) < 0)
    return -1;
  uint64_t t0 = hull_now_ns ();
  int ret = vm_run (vm, &info, err);
  *ns = hull_now_ns () - t0;
  vm_destroy (vm);
  if (ret < 0)
    return -1;
  if (info.reason == VM_STOP_TIMEOUT)
    *ns = (uint64_t)CALIB_TIMEOUT_MS * 1000000; /* at least that slow */
  else if (info.reason != VM_STOP_EXIT || info.code != 0)
    return hull_make_error (err, 0, "calibration guest stopped by %s", vm_stop_reason_name (info.reason));
  return 0;
}

int
vm_host_check_at (const char *dev_kvm, const char *sys_module, hull_error_t *err)
{
  int fd, run_size;
  if (vm_kvm_open (dev_kvm, 1, &fd, &run_size, err) < 0)
    return -1;
  close (fd);

  bool pvm = host_module_loaded (sys_module, "kvm_pvm");
  bool hw = host_module_loaded (sys_module, "kvm_intel") || host_module_loaded (sys_module, "kvm_amd");
  if (hw && !pvm)
    return 0;

  uint64_t ns;
  if (vm_host_calibrate (dev_kvm, &ns, err) < 0)
    return hull_error_wrap (err, "%s: cannot run a test guest", dev_kvm);
  if (ns <= CALIB_MAX_NS)
    return 0;
  double mips = 2.0 * CALIB_ITERATIONS / ((double)ns / 1e9) / 1e6;
  if (pvm)
    return hull_make_error (
        err, 0,
        "this host's %s is a paravirtual KVM (kvm_pvm) that emulates guest kernel mode; VM "
        "isolation needs hardware virtualization (guest kernel mode ran at %.1f million "
        "instructions/s)",
        dev_kvm, mips);
  return hull_make_error (
      err, 0,
      "this host's %s runs guest kernel mode at %.1f million instructions/s, not at hardware "
      "speed (an emulated or paravirtual KVM?); VM isolation needs hardware virtualization",
      dev_kvm, mips);
}

int
vm_host_check (const char *dev_kvm, hull_error_t *err)
{
  return vm_host_check_at (dev_kvm ? dev_kvm : "/dev/kvm", "/sys/module", err);
}
