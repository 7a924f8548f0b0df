/* CPUID for the guest: what KVM_GET_SUPPORTED_CPUID reports, minus what a
 * sandboxed guest must not use (nested virtualization, SGX, processor trace,
 * the PMU, MONITOR/MWAIT), plus the hypervisor bit, the TSC-deadline timer
 * KVM emulates, per-vCPU APIC ids and a flat topology (one package, n
 * cores, no SMT). */
#include "vm-internal.h"

#include <sys/ioctl.h>

#define CPUID_1_ECX_MONITOR (1u << 3)
#define CPUID_1_ECX_VMX (1u << 5)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT (1u << 28)
#define CPUID_7_EBX_SGX (1u << 2)
#define CPUID_7_EBX_PT (1u << 25)
#define CPUID_7_ECX_WAITPKG (1u << 5)
#define CPUID_7_ECX_SGX_LC (1u << 30)
#define CPUID_80000001_ECX_SVM (1u << 2)

int
vm_cpuid_get_supported (int kvm_fd, struct kvm_cpuid2 **out, hull_error_t *err)
{
  for (unsigned n = 64; n <= 4096; n *= 2)
    {
      struct kvm_cpuid2 *c = xmalloc0 (sizeof (*c) + n * sizeof (c->entries[0]));
      c->nent = n;
      if (ioctl (kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
        {
          *out = c;
          return 0;
        }
      int saved_errno = errno;
      free (c);
      if (saved_errno != E2BIG)
        return hull_make_error (err, saved_errno, "KVM_GET_SUPPORTED_CPUID");
    }
  return hull_make_error (err, E2BIG, "KVM_GET_SUPPORTED_CPUID");
}

static unsigned
cpuid_bits_for (unsigned n)
{
  unsigned bits = 0;
  while ((1u << bits) < n)
    bits++;
  return bits;
}

/* Leaves 0xb and 0x1f: extended topology, x2APIC id in EDX. */
static void
cpuid_topology (struct kvm_cpuid_entry2 *e, unsigned cpu, unsigned n_cpus)
{
  e->edx = cpu;
  switch (e->index)
    {
    case 0: /* SMT level: one thread per core */
      e->eax = 0;
      e->ebx = 1;
      e->ecx = (1u << 8) | 0;
      break;
    case 1: /* core level: n_cpus cores in the package */
      e->eax = cpuid_bits_for (n_cpus);
      e->ebx = n_cpus;
      e->ecx = (2u << 8) | 1;
      break;
    default: /* invalid level ends the enumeration */
      e->eax = e->ebx = 0;
      e->ecx = e->index;
      break;
    }
}

static void
cpuid_filter_entry (struct kvm_cpuid_entry2 *e, unsigned cpu, unsigned n_cpus)
{
  switch (e->function)
    {
    case 1:
      e->ecx &= ~(CPUID_1_ECX_VMX | CPUID_1_ECX_MONITOR);
      e->ecx |= CPUID_1_ECX_HYPERVISOR;
      /* EBX: initial APIC id in 31:24, logical processors in 23:16. */
      e->ebx = (e->ebx & 0xffffu) | (cpu << 24) | ((n_cpus & 0xff) << 16);
      if (n_cpus > 1)
        e->edx |= CPUID_1_EDX_HTT;
      else
        e->edx &= ~CPUID_1_EDX_HTT;
      break;
    case 4: /* cores per package - 1 in 31:26 */
      e->eax = (e->eax & 0x03ffffffu) | (((n_cpus - 1) & 0x3f) << 26);
      break;
    case 5:          /* MONITOR/MWAIT */
    case 0xa:        /* architectural PMU: none */
    case 0x12:       /* SGX */
    case 0x14:       /* processor trace */
    case 0x8000000a: /* SVM */
      e->eax = e->ebx = e->ecx = e->edx = 0;
      break;
    case 7:
      if (e->index == 0)
        {
          e->ebx &= ~(CPUID_7_EBX_SGX | CPUID_7_EBX_PT);
          e->ecx &= ~(CPUID_7_ECX_WAITPKG | CPUID_7_ECX_SGX_LC);
        }
      break;
    case 0xb:
    case 0x1f:
      cpuid_topology (e, cpu, n_cpus);
      break;
    case 0x80000001:
      e->ecx &= ~CPUID_80000001_ECX_SVM;
      break;
    default:
      break;
    }
}

void
vm_cpuid_filter (struct kvm_cpuid2 *c, unsigned cpu, unsigned n_cpus)
{
  for (unsigned i = 0; i < c->nent; i++)
    cpuid_filter_entry (&c->entries[i], cpu, n_cpus);
}

/* KVM emulates the LAPIC's TSC-deadline mode but leaves the CPUID bit to the
 * VMM (KVM_CAP_TSC_DEADLINE_TIMER), as QEMU and Firecracker set it.  Without
 * it Linux calibrates the LAPIC timer against the PIT at boot: 100 ms of
 * jiffies at best, 250 ms nested. */
void
vm_cpuid_add_tsc_deadline (struct kvm_cpuid2 *c)
{
  for (unsigned i = 0; i < c->nent; i++)
    if (c->entries[i].function == 1)
      c->entries[i].ecx |= CPUID_1_ECX_TSC_DEADLINE;
}
