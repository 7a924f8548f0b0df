/* The guest's starting state.  For Linux, the 64-bit boot protocol
 * (Documentation/x86/boot.rst) as Firecracker uses it: the kernel loaded
 * (loader.c), the initramfs at the top of low RAM, the command line, the
 * zero page with the e820 map, the MP table, identity page tables and a
 * GDT, and the boot CPU in long mode at the kernel's entry with %rsi = the
 * zero page.  The other CPUs wait for Linux's INIT/SIPI.  Raw images (tests,
 * calibration) get the same long-mode state, or real mode. */
#include "vm-internal.h"

#include <sys/ioctl.h>
#include <sys/stat.h>

/* noreplace-smp: a guest with one CPU would otherwise rewrite every LOCK
 * prefix of its text at boot, one text_poke() each (60 ms of a nested boot);
 * the prefixes cost next to nothing where they stay. */
#define BOOT_DEFAULT_CMDLINE                                                                                 \
  "console=ttyS0 reboot=k panic=-1 pci=off acpi=off i8042.noaux i8042.nomux i8042.dumbkbd "                  \
  "tsc=reliable noreplace-smp"
#define E820_RAM 1
#define E820_RESERVED 2
#define PTE_PRESENT 1ULL
#define PTE_RW 2ULL
#define PTE_PS 0x80ULL
#define X86_CR0_PE 0x1ULL
#define X86_CR0_ET 0x10ULL
#define X86_CR0_NE 0x20ULL
#define X86_CR0_PG 0x80000000ULL
#define X86_CR4_PAE 0x20ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL
#define BOOT_CS 0x10
#define BOOT_DS 0x18

/* ---- long mode --------------------------------------------------------------- */

int
vm_boot_write_long_mode_tables (struct vm_mem *mem, hull_error_t *err)
{
  uint64_t *gdt = vm_mem_ptr (mem, VM_GDT_ADDR, 4 * sizeof (uint64_t));
  uint64_t *pml4 = vm_mem_ptr (mem, VM_PML4_ADDR, 4096);
  uint64_t *pdpt = vm_mem_ptr (mem, VM_PDPT_ADDR, 4096);
  uint64_t *pd = vm_mem_ptr (mem, VM_PD_ADDR, 4 * 4096);
  if (gdt == NULL || pml4 == NULL || pdpt == NULL || pd == NULL)
    return hull_make_error (err, 0, "guest RAM too small for the boot page tables");

  /* Null, null, 0x10: 64-bit code, 0x18: flat data (the selectors the
   * boot protocol names __BOOT_CS and __BOOT_DS). */
  gdt[0] = 0;
  gdt[1] = 0;
  gdt[2] = 0x00af9b000000ffffULL;
  gdt[3] = 0x00cf93000000ffffULL;

  /* Identity map of the first 4 GiB with 2 MiB pages. */
  memset (pml4, 0, 4096);
  memset (pdpt, 0, 4096);
  pml4[0] = VM_PDPT_ADDR | PTE_PRESENT | PTE_RW;
  for (uint64_t i = 0; i < 4; i++)
    pdpt[i] = (VM_PD_ADDR + i * 4096) | PTE_PRESENT | PTE_RW;
  for (uint64_t i = 0; i < 4 * 512; i++)
    pd[i] = (i << 21) | PTE_PRESENT | PTE_RW | PTE_PS;
  return 0;
}

static struct kvm_segment
boot_segment (uint16_t selector, uint8_t type, bool code)
{
  return (struct kvm_segment){ .base = 0,
                               .limit = 0xffffffff,
                               .selector = selector,
                               .type = type,
                               .present = 1,
                               .s = 1,
                               .l = code ? 1 : 0,
                               .db = code ? 0 : 1,
                               .g = 1 };
}

void
vm_boot_long_mode_sregs (struct kvm_sregs *s)
{
  s->cs = boot_segment (BOOT_CS, 0xb, true);                                  /* execute/read, accessed */
  s->ds = s->es = s->fs = s->gs = s->ss = boot_segment (BOOT_DS, 0x3, false); /* read/write, accessed */
  s->gdt.base = VM_GDT_ADDR;
  s->gdt.limit = 4 * sizeof (uint64_t) - 1;
  s->idt.base = VM_IDT_ADDR;
  s->idt.limit = 0;
  s->cr3 = VM_PML4_ADDR;
  s->cr4 = X86_CR4_PAE;
  s->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG;
  s->efer = EFER_LME | EFER_LMA;
}

static void
boot_real_mode_sregs (struct kvm_sregs *s, uint64_t entry)
{
  s->cs.selector = (uint16_t)(entry >> 4);
  s->cs.base = (entry >> 4) << 4;
  s->ds.selector = s->es.selector = s->ss.selector = 0;
  s->ds.base = s->es.base = s->ss.base = 0;
}

/* Registers of one vCPU: sregs for the mode, rip, rsp, rsi, rdi, FPU. */
static int
boot_set_cpu (struct vm_vcpu *c, enum vm_cpu_mode mode, uint64_t entry, hull_error_t *err)
{
  struct kvm_sregs s;
  if (ioctl (c->fd, KVM_GET_SREGS, &s) < 0)
    return hull_make_error (err, errno, "vCPU %u: KVM_GET_SREGS", c->id);
  if (mode == VM_MODE_LONG)
    vm_boot_long_mode_sregs (&s);
  else
    boot_real_mode_sregs (&s, entry);
  if (ioctl (c->fd, KVM_SET_SREGS, &s) < 0)
    return hull_make_error (err, errno, "vCPU %u: KVM_SET_SREGS", c->id);

  struct kvm_regs r = { .rflags = 2, .rdi = c->id };
  r.rip = mode == VM_MODE_LONG ? entry : (entry & 0xf);
  r.rsp = r.rbp = mode == VM_MODE_LONG ? VM_BOOT_STACK - c->id * 0x100 : 0x7000 - c->id * 0x100;
  r.rsi = VM_ZERO_PAGE_ADDR;
  if (ioctl (c->fd, KVM_SET_REGS, &r) < 0)
    return hull_make_error (err, errno, "vCPU %u: KVM_SET_REGS", c->id);

  struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
  if (ioctl (c->fd, KVM_SET_FPU, &fpu) < 0)
    return hull_make_error (err, errno, "vCPU %u: KVM_SET_FPU", c->id);
  return 0;
}

/* ---- raw images ------------------------------------------------------------ */

static int
boot_raw (struct vm *vm, const struct vm_raw_image *raw, hull_error_t *err)
{
  uint8_t *dst = vm_mem_ptr (&vm->mem, raw->load_gpa, raw->len);
  if (dst == NULL)
    return hull_make_error (err, 0, "raw image of %zu bytes at 0x%" PRIx64 " is outside guest RAM", raw->len,
                            raw->load_gpa);
  memcpy (dst, raw->code, raw->len);
  if (raw->mode == VM_MODE_LONG && vm_boot_write_long_mode_tables (&vm->mem, err) < 0)
    return -1;
  if (raw->mode == VM_MODE_LONG && vm_mptable_write (&vm->mem, vm->cfg.n_cpus, err) < 0)
    return -1;
  unsigned n = raw->start_all_cpus ? vm->cfg.n_cpus : 1;
  for (unsigned i = 0; i < n; i++)
    {
      struct vm_vcpu *c = &vm->vcpus[i];
      /* With the in-kernel irqchip, APs wait for INIT/SIPI unless told
       * they are runnable. */
      struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
      if (i > 0 && ioctl (c->fd, KVM_SET_MP_STATE, &mp) < 0)
        return hull_make_error (err, errno, "vCPU %u: KVM_SET_MP_STATE", i);
      if (boot_set_cpu (c, raw->mode, raw->entry, err) < 0)
        return -1;
    }
  return 0;
}

/* ---- Linux ---------------------------------------------------------------------- */

static int
boot_cmdline (struct vm *vm, const struct vm_kernel_image *img, hull_error_t *err)
{
  cleanup_free char *line = hull_fmt ("%s%s%s%s%s", BOOT_DEFAULT_CMDLINE, vm->cmdline_devices ? " " : "",
                                      vm->cmdline_devices ? vm->cmdline_devices : "",
                                      vm->cfg.cmdline ? " " : "", vm->cfg.cmdline ? vm->cfg.cmdline : "");
  size_t len = strlen (line) + 1;
  if (len > img->cmdline_max)
    return hull_make_error (err, 0, "kernel command line of %zu bytes: the kernel takes at most %u", len - 1,
                            img->cmdline_max - 1);
  char *dst = vm_mem_ptr (&vm->mem, VM_CMDLINE_ADDR, len);
  if (dst == NULL)
    return hull_make_error (err, 0, "guest RAM too small for the command line");
  memcpy (dst, line, len);
  return 0;
}

/* Places the initramfs as high as the kernel allows below the MMIO hole. */
static int
boot_initrd (struct vm *vm, const struct vm_kernel_image *img, uint64_t *addr, uint64_t *size,
             hull_error_t *err)
{
  const char *path = vm->cfg.initrd;
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0)
    return hull_make_error (err, errno, "open initramfs `%s`", path);
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    return hull_make_error (err, errno, "initramfs `%s`: not a regular file", path);

  uint64_t len = (uint64_t)st.st_size;
  uint64_t top = vm_mem_low_end (&vm->mem);
  if (img->initrd_addr_max + 1 < top)
    top = img->initrd_addr_max + 1;
  uint64_t at = len <= top ? (top - len) & ~0xfffULL : 0;
  uint8_t *dst = vm_mem_ptr (&vm->mem, at, len);
  if (len > top || at < img->end || dst == NULL)
    return hull_make_error (
        err, 0, "initramfs `%s` (%" PRIu64 " bytes) does not fit in guest RAM above the kernel", path, len);
  if (hull_read_all (fd, dst, len) != (ssize_t)len)
    return hull_make_error (err, errno, "read initramfs `%s`", path);
  *addr = at;
  *size = len;
  return 0;
}

static unsigned
boot_e820 (const struct vm_mem *mem, struct boot_e820_entry *e)
{
  unsigned n = 0;
  e[n++] = (struct boot_e820_entry){ .addr = 0, .size = VM_MPTABLE_START, .type = E820_RAM };
  e[n++] = (struct boot_e820_entry){ .addr = VM_MPTABLE_START,
                                     .size = 0xa0000 - VM_MPTABLE_START,
                                     .type = E820_RESERVED };
  e[n++] = (struct boot_e820_entry){ .addr = VM_HIMEM_START,
                                     .size = vm_mem_low_end (mem) - VM_HIMEM_START,
                                     .type = E820_RAM };
  for (unsigned i = 0; i < mem->n_regions; i++)
    if (mem->regions[i].gpa >= VM_4G)
      e[n++] = (struct boot_e820_entry){ .addr = mem->regions[i].gpa,
                                         .size = mem->regions[i].size,
                                         .type = E820_RAM };
  return n;
}

static int
boot_zero_page (struct vm *vm, const struct vm_kernel_image *img, uint64_t initrd_addr, uint64_t initrd_size,
                hull_error_t *err)
{
  struct boot_params *bp = vm_mem_ptr (&vm->mem, VM_ZERO_PAGE_ADDR, sizeof (*bp));
  if (bp == NULL)
    return hull_make_error (err, 0, "guest RAM too small for the zero page");
  memset (bp, 0, sizeof (*bp));
  if (img->is_bzimage)
    bp->hdr = img->hdr;
  else
    {
      bp->hdr.boot_flag = 0xaa55;
      bp->hdr.header = 0x53726448; /* "HdrS" */
      bp->hdr.kernel_alignment = 0x1000000;
    }
  bp->hdr.type_of_loader = 0xff; /* undefined boot loader */
  bp->hdr.cmd_line_ptr = VM_CMDLINE_ADDR;
  bp->hdr.cmdline_size = img->cmdline_max - 1;
  bp->hdr.ramdisk_image = (uint32_t)initrd_addr;
  bp->hdr.ramdisk_size = (uint32_t)initrd_size;
  bp->e820_entries = (uint8_t)boot_e820 (&vm->mem, bp->e820_table);
  return 0;
}

static int
boot_linux (struct vm *vm, hull_error_t *err)
{
  struct vm_kernel_image img;
  uint64_t initrd_addr = 0, initrd_size = 0;
  cleanup_close int fd = open (vm->cfg.kernel, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return hull_make_error (err, errno, "open kernel `%s`", vm->cfg.kernel);
  if (vm_mem_low_end (&vm->mem) <= VM_HIMEM_START)
    return hull_make_error (err, 0, "guest RAM too small for Linux");
  if (vm_load_kernel (&vm->mem, fd, vm->cfg.kernel, &img, err) < 0)
    return -1;
  if (vm->cfg.initrd && boot_initrd (vm, &img, &initrd_addr, &initrd_size, err) < 0)
    return -1;
  if (boot_cmdline (vm, &img, err) < 0 || boot_zero_page (vm, &img, initrd_addr, initrd_size, err) < 0)
    return -1;
  if (vm_mptable_write (&vm->mem, vm->cfg.n_cpus, err) < 0
      || vm_boot_write_long_mode_tables (&vm->mem, err) < 0)
    return -1;
  return boot_set_cpu (&vm->vcpus[0], VM_MODE_LONG, img.entry, err);
}

int
vm_boot_init (struct vm *vm, hull_error_t *err)
{
  if (vm->cfg.raw)
    return boot_raw (vm, vm->cfg.raw, err);
  return boot_linux (vm, err);
}
