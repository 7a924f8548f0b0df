/* The Intel MultiProcessor Specification 1.4 table: how Linux finds the
 * application processors, the IOAPIC and the ISA interrupt wiring on a
 * machine without ACPI (as Firecracker and kvmtool write it).  The
 * floating pointer sits at 639 KiB, where Linux scans; the configuration
 * table below it, in memory the e820 map reserves. */
#include "vm-internal.h"

#define MP_APIC_VERSION 0x14
#define MP_IOAPIC_VERSION 0x11
#define MP_CPU_ENABLED 1
#define MP_CPU_BSP 2
#define MP_CPU_SIGNATURE 0x600 /* family 6 */
#define MP_CPU_FEATURES 0x201  /* FPU, APIC */
#define MP_ENTRY_CPU 0
#define MP_ENTRY_BUS 1
#define MP_ENTRY_IOAPIC 2
#define MP_ENTRY_INTSRC 3
#define MP_ENTRY_LINTSRC 4
#define MP_IRQ_INT 0
#define MP_IRQ_NMI 1
#define MP_IRQ_EXTINT 3
#define MP_BUS_ISA 0

struct mpf_intel
{
  char signature[4];
  uint32_t physptr;
  uint8_t length;
  uint8_t specification;
  uint8_t checksum;
  uint8_t feature[5];
} __attribute__ ((packed));

struct mpc_table
{
  char signature[4];
  uint16_t length;
  uint8_t spec;
  uint8_t checksum;
  char oem[8];
  char productid[12];
  uint32_t oemptr;
  uint16_t oemsize;
  uint16_t oemcount;
  uint32_t lapic;
  uint32_t reserved;
} __attribute__ ((packed));

struct mpc_cpu
{
  uint8_t type;
  uint8_t apicid;
  uint8_t apicver;
  uint8_t cpuflag;
  uint32_t cpufeature;
  uint32_t featureflag;
  uint32_t reserved[2];
} __attribute__ ((packed));

struct mpc_bus
{
  uint8_t type;
  uint8_t busid;
  char bustype[6];
} __attribute__ ((packed));

struct mpc_ioapic
{
  uint8_t type;
  uint8_t apicid;
  uint8_t apicver;
  uint8_t flags;
  uint32_t apicaddr;
} __attribute__ ((packed));

struct mpc_intsrc /* also the local interrupt entries (mpc_lintsrc) */
{
  uint8_t type;
  uint8_t irqtype;
  uint16_t irqflag;
  uint8_t srcbus;
  uint8_t srcbusirq;
  uint8_t dstapic;
  uint8_t dstirq;
} __attribute__ ((packed));

static uint8_t
mp_checksum (const void *p, size_t len)
{
  uint8_t sum = 0;
  for (size_t i = 0; i < len; i++)
    sum += ((const uint8_t *)p)[i];
  return (uint8_t)-sum;
}

static size_t
mp_table_size (unsigned n_cpus)
{
  return sizeof (struct mpc_table) + n_cpus * sizeof (struct mpc_cpu) + sizeof (struct mpc_bus)
         + sizeof (struct mpc_ioapic) + (VM_IRQ_MAX + 1 + 2) * sizeof (struct mpc_intsrc);
}

/* Appends the entries after the header at p; returns the end. */
static uint8_t *
mp_write_entries (uint8_t *p, unsigned n_cpus, uint8_t ioapic_id)
{
  for (unsigned i = 0; i < n_cpus; i++, p += sizeof (struct mpc_cpu))
    *(struct mpc_cpu *)p = (struct mpc_cpu){ .type = MP_ENTRY_CPU,
                                             .apicid = (uint8_t)i,
                                             .apicver = MP_APIC_VERSION,
                                             .cpuflag = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
                                             .cpufeature = MP_CPU_SIGNATURE,
                                             .featureflag = MP_CPU_FEATURES };
  *(struct mpc_bus *)p = (struct mpc_bus){ .type = MP_ENTRY_BUS, .busid = MP_BUS_ISA, .bustype = "ISA   " };
  p += sizeof (struct mpc_bus);
  *(struct mpc_ioapic *)p = (struct mpc_ioapic){ .type = MP_ENTRY_IOAPIC,
                                                 .apicid = ioapic_id,
                                                 .apicver = MP_IOAPIC_VERSION,
                                                 .flags = 1,
                                                 .apicaddr = VM_IOAPIC_ADDR };
  p += sizeof (struct mpc_ioapic);
  /* ISA IRQ n on IOAPIC pin n, edge/high as the bus defaults: what KVM's
   * default GSI routing does. */
  for (unsigned irq = 0; irq <= VM_IRQ_MAX; irq++, p += sizeof (struct mpc_intsrc))
    *(struct mpc_intsrc *)p = (struct mpc_intsrc){ .type = MP_ENTRY_INTSRC,
                                                   .irqtype = MP_IRQ_INT,
                                                   .srcbus = MP_BUS_ISA,
                                                   .srcbusirq = (uint8_t)irq,
                                                   .dstapic = ioapic_id,
                                                   .dstirq = (uint8_t)irq };
  *(struct mpc_intsrc *)p
      = (struct mpc_intsrc){ .type = MP_ENTRY_LINTSRC, .irqtype = MP_IRQ_EXTINT, .dstirq = 0 };
  p += sizeof (struct mpc_intsrc);
  *(struct mpc_intsrc *)p
      = (struct mpc_intsrc){ .type = MP_ENTRY_LINTSRC, .irqtype = MP_IRQ_NMI, .dstapic = 0xff, .dstirq = 1 };
  return p + sizeof (struct mpc_intsrc);
}

int
vm_mptable_write (struct vm_mem *mem, unsigned n_cpus, hull_error_t *err)
{
  size_t size = mp_table_size (n_cpus);
  uint8_t *table = vm_mem_ptr (mem, VM_MPTABLE_START, size);
  struct mpf_intel *mpf = vm_mem_ptr (mem, VM_MPF_ADDR, sizeof (*mpf));
  if (table == NULL || mpf == NULL || VM_MPTABLE_START + size > VM_MPF_ADDR)
    return hull_make_error (err, 0, "MP table for %u CPUs does not fit below 0x%llx", n_cpus, VM_MPF_ADDR);

  struct mpc_table *h = (struct mpc_table *)table;
  memset (table, 0, size);
  *h = (struct mpc_table){ .signature = "PCMP",
                           .length = (uint16_t)size,
                           .spec = 4,
                           .oem = "HULL    ",
                           .productid = "HULL VM     ",
                           .lapic = VM_LAPIC_ADDR };
  mp_write_entries (table + sizeof (*h), n_cpus, (uint8_t)(n_cpus + 1));
  h->oemcount = (uint16_t)(n_cpus + 1 + 1 + VM_IRQ_MAX + 1 + 2);
  h->checksum = mp_checksum (table, size);

  *mpf = (struct mpf_intel){
    .signature = "_MP_", .physptr = VM_MPTABLE_START, .length = 1, .specification = 4
  };
  mpf->checksum = mp_checksum (mpf, sizeof (*mpf));
  return 0;
}
