/* /dev/kvm and the VM fd: API version, required extensions, the TSS and
 * identity-map pages, the in-kernel irqchip (PIC + IOAPIC + LAPICs) and PIT. */
#include "vm-internal.h"

#include <sys/ioctl.h>

struct kvm_required_cap
{
  int cap;
  const char *name;
  const char *why;
};

static const struct kvm_required_cap kvm_required_caps[] = {
  { KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "in-kernel interrupt controllers" },
  { KVM_CAP_PIT2, "KVM_CAP_PIT2", "in-kernel timer" },
  { KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest memory from a memfd" },
  { KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "x86 TSS placement" },
  { KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR", "x86 identity-map placement" },
  { KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "CPUID filtering" },
  { KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "race-free vCPU stop" },
  { KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "device interrupts" },
  { KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "virtqueue notifications" },
};

static int
kvm_open_error (const char *path, int saved_errno, hull_error_t *err)
{
  if (saved_errno == ENOENT)
    return hull_make_error_code (err, ENOENT,
                                 "%s does not exist: this host has no KVM (load kvm_intel or kvm_amd); "
                                 "VM isolation needs hardware virtualization",
                                 path);
  if (saved_errno == EACCES || saved_errno == EPERM)
    return hull_make_error (err, saved_errno, "open %s (VM isolation needs read-write access to it)", path);
  return hull_make_error (err, saved_errno, "open %s", path);
}

int
vm_kvm_open (const char *path, int n_cpus, int *fd_out, int *run_size, hull_error_t *err)
{
  cleanup_close int fd = open (path, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return kvm_open_error (path, errno, err);

  int version = ioctl (fd, KVM_GET_API_VERSION, 0);
  if (version < 0)
    return hull_make_error (err, errno, "%s: KVM_GET_API_VERSION (is it a KVM device?)", path);
  if (version != KVM_API_VERSION)
    return hull_make_error (err, 0, "%s: KVM API version %d, hull needs %d", path, version, KVM_API_VERSION);

  for (size_t i = 0; i < sizeof (kvm_required_caps) / sizeof (kvm_required_caps[0]); i++)
    {
      const struct kvm_required_cap *c = &kvm_required_caps[i];
      if (ioctl (fd, KVM_CHECK_EXTENSION, c->cap) <= 0)
        return hull_make_error (err, 0, "%s: the kernel's KVM lacks %s (%s)", path, c->name, c->why);
    }

  int max = ioctl (fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
  if (max <= 0)
    max = ioctl (fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
  if (max > 0 && n_cpus > max)
    return hull_make_error (err, 0, "%s: %d vCPUs asked for, this KVM allows %d", path, n_cpus, max);

  int size = ioctl (fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (size < (int)sizeof (struct kvm_run))
    return hull_make_error (err, size < 0 ? errno : 0, "%s: KVM_GET_VCPU_MMAP_SIZE", path);
  *run_size = size;
  *fd_out = steal_fd (&fd);
  return 0;
}

static int
kvm_vm_ioctl (struct vm *vm, unsigned long req, unsigned long arg, const char *what, hull_error_t *err)
{
  if (ioctl (vm->vm_fd, req, arg) < 0)
    return hull_make_error (err, errno, "%s", what);
  return 0;
}

int
vm_kvm_create_vm (struct vm *vm, hull_error_t *err)
{
  int fd;
  do
    fd = ioctl (vm->kvm_fd, KVM_CREATE_VM, 0);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return hull_make_error (err, errno, "KVM_CREATE_VM");
  vm->vm_fd = fd;

  /* Three pages for the TSS and one for the identity map that Intel's
   * real-mode emulation needs, in the hole below 4 GiB (docs/vmm.md). */
  uint64_t idmap = VM_IDENTITY_MAP_ADDR;
  if (kvm_vm_ioctl (vm, KVM_SET_IDENTITY_MAP_ADDR, (unsigned long)&idmap, "KVM_SET_IDENTITY_MAP_ADDR", err)
          < 0
      || kvm_vm_ioctl (vm, KVM_SET_TSS_ADDR, VM_TSS_ADDR, "KVM_SET_TSS_ADDR", err) < 0
      || kvm_vm_ioctl (vm, KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP", err) < 0)
    return -1;

  /* The speaker port 0x61 is handled in the kernel too (Linux reads it
   * while calibrating the TSC against the PIT). */
  struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
  return kvm_vm_ioctl (vm, KVM_CREATE_PIT2, (unsigned long)&pit, "KVM_CREATE_PIT2", err);
}

int
vm_irq_line (struct vm *vm, unsigned irq, int level)
{
  struct kvm_irq_level l = { .irq = irq, .level = level };
  return ioctl (vm->vm_fd, KVM_IRQ_LINE, &l);
}
