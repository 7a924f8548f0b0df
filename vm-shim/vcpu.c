/* vCPUs: the fds and kvm_run pages, CPUID and local APIC setup, one thread
 * per vCPU running KVM_RUN, and the dispatch of its exits to the buses.
 * Stopping: vm_request_stop() sets vm->stopping; vm_vcpus_stop() then sets
 * immediate_exit in each kvm_run page and sends the kick signal, which
 * knocks a thread out of KVM_RUN (EINTR) or makes its next KVM_RUN return
 * at once. */
#include "vm-internal.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_IA32_MISC_ENABLE_FAST_STRING 1ULL

static void
vcpu_set_lvt_mode (struct kvm_lapic_state *l, unsigned reg, uint32_t mode)
{
  uint32_t v;
  memcpy (&v, &l->regs[reg], sizeof (v));
  v = (v & ~0x700u) | (mode << 8);
  memcpy (&l->regs[reg], &v, sizeof (v));
}

/* LINT0 as ExtINT and LINT1 as NMI ("virtual wire" mode), so the PIC's
 * interrupts reach the CPU before Linux programs the IOAPIC. */
static int
vcpu_setup_lapic (struct vm_vcpu *c, hull_error_t *err)
{
  struct kvm_lapic_state l;
  if (ioctl (c->fd, KVM_GET_LAPIC, &l) < 0)
    return hull_make_error (err, errno, "vCPU %u: KVM_GET_LAPIC", c->id);
  vcpu_set_lvt_mode (&l, APIC_LVT_LINT0, APIC_MODE_EXTINT);
  vcpu_set_lvt_mode (&l, APIC_LVT_LINT1, APIC_MODE_NMI);
  if (ioctl (c->fd, KVM_SET_LAPIC, &l) < 0)
    return hull_make_error (err, errno, "vCPU %u: KVM_SET_LAPIC", c->id);
  return 0;
}

static int
vcpu_setup_cpuid_msrs (struct vm *vm, struct vm_vcpu *c, hull_error_t *err)
{
  size_t size = sizeof (*vm->cpuid) + vm->cpuid->nent * sizeof (vm->cpuid->entries[0]);
  cleanup_free struct kvm_cpuid2 *cpuid = xmalloc (size);
  memcpy (cpuid, vm->cpuid, size);
  vm_cpuid_filter (cpuid, c->id, vm->cfg.n_cpus);
  if (ioctl (c->fd, KVM_SET_CPUID2, cpuid) < 0)
    return hull_make_error (err, errno, "vCPU %u: KVM_SET_CPUID2", c->id);

  struct
  {
    struct kvm_msrs hdr;
    struct kvm_msr_entry e[1];
  } msrs = { .hdr.nmsrs = 1,
             .e[0] = { .index = MSR_IA32_MISC_ENABLE, .data = MSR_IA32_MISC_ENABLE_FAST_STRING } };
  if (ioctl (c->fd, KVM_SET_MSRS, &msrs) != 1)
    return hull_make_error (err, errno, "vCPU %u: KVM_SET_MSRS", c->id);
  return 0;
}

static int
vcpu_create (struct vm *vm, unsigned id, hull_error_t *err)
{
  struct vm_vcpu *c = &vm->vcpus[id];
  int fd = ioctl (vm->vm_fd, KVM_CREATE_VCPU, id);
  if (fd < 0)
    return hull_make_error (err, errno, "KVM_CREATE_VCPU %u", id);
  c->fd = fd; /* KVM's vCPU fds are O_CLOEXEC */

  void *run = mmap (NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (run == MAP_FAILED)
    return hull_make_error (err, errno, "vCPU %u: mmap kvm_run", id);
  c->run = run;

  if (vcpu_setup_cpuid_msrs (vm, c, err) < 0)
    return -1;
  return vcpu_setup_lapic (c, err);
}

int
vm_vcpus_init (struct vm *vm, hull_error_t *err)
{
  if (vm_cpuid_get_supported (vm->kvm_fd, &vm->cpuid, err) < 0)
    return -1;
  if (ioctl (vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0)
    vm_cpuid_add_tsc_deadline (vm->cpuid);
  vm->vcpus = xmalloc0 (vm->cfg.n_cpus * sizeof (vm->vcpus[0]));
  for (unsigned i = 0; i < vm->cfg.n_cpus; i++)
    {
      vm->vcpus[i] = (struct vm_vcpu){ .vm = vm, .id = i, .fd = -1 };
    }
  for (unsigned i = 0; i < vm->cfg.n_cpus; i++)
    if (vcpu_create (vm, i, err) < 0)
      return -1;
  return 0;
}

void
vm_vcpus_exit (struct vm *vm)
{
  if (vm->vcpus != NULL)
    for (unsigned i = 0; i < vm->cfg.n_cpus; i++)
      {
        struct vm_vcpu *c = &vm->vcpus[i];
        if (c->run != NULL)
          munmap (c->run, vm->run_size);
        if (c->fd >= 0)
          close (c->fd);
      }
  free (vm->vcpus);
  vm->vcpus = NULL;
  free (vm->cpuid);
  vm->cpuid = NULL;
}

/* ---- exits ---------------------------------------------------------------------- */

/* Stops the VM with an error naming the vCPU, what happened and where. */
static int
vcpu_fail (struct vm_vcpu *c, char *what)
{
  hull_error_t err = NULL;
  struct kvm_regs regs;
  if (ioctl (c->fd, KVM_GET_REGS, &regs) == 0)
    hull_make_error (&err, 0, "vCPU %u: %s at rip 0x%llx", c->id, what, regs.rip);
  else
    hull_make_error (&err, 0, "vCPU %u: %s", c->id, what);
  free (what);
  vm_request_stop (c->vm, VM_STOP_ERROR, 0, &err);
  return -1;
}

static void
vcpu_exit_io (struct vm_vcpu *c)
{
  struct kvm_run *run = c->run;
  uint8_t *data = (uint8_t *)run + run->io.data_offset;
  bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
  /* A `rep outs`/`rep ins` arrives as count items of size bytes. */
  for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
    vm_bus_access (&c->vm->pio, run->io.port, data, run->io.size, is_write);
}

static int
vcpu_exit_system_event (struct vm_vcpu *c)
{
  switch (c->run->system_event.type)
    {
    case KVM_SYSTEM_EVENT_SHUTDOWN:
      vm_request_stop (c->vm, VM_STOP_POWEROFF, 0, NULL);
      return 1;
    case KVM_SYSTEM_EVENT_RESET:
      vm_request_stop (c->vm, VM_STOP_RESET, 0, NULL);
      return 1;
    default:
      return vcpu_fail (c, hull_fmt ("guest system event %" PRIu32 " (crash)", c->run->system_event.type));
    }
}

static const char *
vcpu_internal_error_name (uint32_t suberror)
{
  switch (suberror)
    {
    case KVM_INTERNAL_ERROR_EMULATION:
      return "emulation failure";
    case KVM_INTERNAL_ERROR_SIMUL_EX:
      return "exception while delivering an exception";
    case KVM_INTERNAL_ERROR_DELIVERY_EV:
      return "event delivery failed";
    default:
      return "internal error";
    }
}

/* Returns 0 to keep running, 1 when the VM stops, -1 on a vCPU error. */
static int
vcpu_handle_exit (struct vm_vcpu *c)
{
  struct kvm_run *run = c->run;
  switch (run->exit_reason)
    {
    case KVM_EXIT_IO:
      vcpu_exit_io (c);
      return 0;
    case KVM_EXIT_MMIO:
      vm_bus_access (&c->vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len, run->mmio.is_write);
      return 0;
    case KVM_EXIT_INTR:
      return 0;
    case KVM_EXIT_SHUTDOWN: /* triple fault: a reset on a PC */
      vm_request_stop (c->vm, VM_STOP_RESET, 0, NULL);
      return 1;
    case KVM_EXIT_SYSTEM_EVENT:
      return vcpu_exit_system_event (c);
    case KVM_EXIT_INTERNAL_ERROR:
      return vcpu_fail (c,
                        hull_fmt ("KVM %s (internal error %" PRIu32 ")",
                                  vcpu_internal_error_name (run->internal.suberror), run->internal.suberror));
    case KVM_EXIT_FAIL_ENTRY:
      return vcpu_fail (c, hull_fmt ("VM entry failed (hardware reason 0x%llx)",
                                     (unsigned long long)run->fail_entry.hardware_entry_failure_reason));
    default:
      return vcpu_fail (c, hull_fmt ("unexpected KVM exit reason %" PRIu32, run->exit_reason));
    }
}

static void *
vcpu_thread (void *arg)
{
  struct vm_vcpu *c = arg;
  char name[16];
  snprintf (name, sizeof (name), "hull-vcpu%u", c->id);
  pthread_setname_np (pthread_self (), name);

  /* Started with every signal blocked; only the kick gets through. */
  sigset_t kick;
  sigemptyset (&kick);
  sigaddset (&kick, VM_SIG_KICK);
  pthread_sigmask (SIG_UNBLOCK, &kick, NULL);

  while (!vm_stopping (c->vm))
    {
      if (ioctl (c->fd, KVM_RUN, 0) < 0)
        {
          if (errno == EINTR || errno == EAGAIN)
            continue;
          hull_error_t err = NULL;
          hull_make_error (&err, errno, "vCPU %u: KVM_RUN", c->id);
          vm_request_stop (c->vm, VM_STOP_ERROR, 0, &err);
          break;
        }
      if (vcpu_handle_exit (c) != 0)
        break;
    }
  return NULL;
}

static void
vcpu_kick_handler (int sig)
{
  (void)sig;
}

static void
vcpu_install_kick_handler (void)
{
  struct sigaction sa = { .sa_handler = vcpu_kick_handler };
  sigemptyset (&sa.sa_mask);
  /* No SA_RESTART: KVM_RUN must return EINTR. */
  sigaction (VM_SIG_KICK, &sa, NULL);
}

int
vm_vcpus_start (struct vm *vm, hull_error_t *err)
{
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once (&once, vcpu_install_kick_handler);

  sigset_t all, old;
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);
  int ret = 0;
  for (unsigned i = 0; i < vm->cfg.n_cpus; i++)
    {
      struct vm_vcpu *c = &vm->vcpus[i];
      int e = pthread_create (&c->thread, NULL, vcpu_thread, c);
      if (e != 0)
        {
          ret = hull_make_error (err, e, "start the thread of vCPU %u", i);
          break;
        }
      c->thread_started = true;
    }
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (ret < 0)
    {
      vm_request_stop (vm, VM_STOP_ERROR, 0, NULL);
      vm_vcpus_stop (vm);
    }
  return ret;
}

void
vm_vcpus_stop (struct vm *vm)
{
  for (unsigned i = 0; i < vm->cfg.n_cpus; i++)
    {
      struct vm_vcpu *c = &vm->vcpus[i];
      if (!c->thread_started)
        continue;
      /* Order: vm->stopping is already set; immediate_exit covers a
       * thread about to enter KVM_RUN, the signal one already inside. */
      __atomic_store_n (&c->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
      pthread_kill (c->thread, VM_SIG_KICK);
    }
  for (unsigned i = 0; i < vm->cfg.n_cpus; i++)
    {
      struct vm_vcpu *c = &vm->vcpus[i];
      if (c->thread_started)
        pthread_join (c->thread, NULL);
      c->thread_started = false;
    }
}
