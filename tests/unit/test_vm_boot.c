/* Linux boot path with fake kernels: a vmlinux ELF and a bzImage whose
 * "kernel" checks the zero page handed over in %rsi and prints the command
 * line and the initramfs to the UART.  Then malformed images, refused with
 * a message before anything runs. */
#include "test_vm_fixture.h"
#include "unit.h"

#include <elf.h>

/* 64-bit: check "HdrS" in the zero page (%rsi), print the command line,
 * '|', the initramfs (rep outsb), exit 0; exit 1 on a bad zero page. */
static const uint8_t fake_kernel[] = {
  0x81, 0xbe, 0x02, 0x02, 0x00, 0x00, 0x48, 0x64, 0x72, 0x53, /* cmpl $"HdrS", 0x202(%rsi) */
  0x75, 0x2e,                                                 /* jne fail */
  0x48, 0x89, 0xf3,                                           /* mov %rsi, %rbx */
  0x8b, 0xb3, 0x28, 0x02, 0x00, 0x00,                         /* mov 0x228(%rbx), %esi: cmd_line_ptr */
  0x66, 0xba, 0xf8, 0x03,                                     /* mov $0x3f8, %dx */
  0xac,                                                       /* 1: lodsb */
  0x84, 0xc0,                                                 /* test %al, %al */
  0x74, 0x03,                                                 /* jz 2f */
  0xee,                                                       /* out %al, %dx */
  0xeb, 0xf8,                                                 /* jmp 1b */
  0xb0, '|',  0xee,                                           /* 2: mov $'|', %al; out */
  0x8b, 0xb3, 0x18, 0x02, 0x00, 0x00,                         /* mov 0x218(%rbx), %esi: ramdisk_image */
  0x8b, 0x8b, 0x1c, 0x02, 0x00, 0x00,                         /* mov 0x21c(%rbx), %ecx: ramdisk_size */
  0xf3, 0x6e,                                                 /* rep outsb */
  0x66, 0xba, 0x01, 0x05,                                     /* mov $0x501, %dx */
  0x31, 0xc0, 0xee,                                           /* xor %eax, %eax; out */
  0xf4,                                                       /* hlt */
  0x66, 0xba, 0x01, 0x05,                                     /* fail: mov $0x501, %dx */
  0xb0, 0x01, 0xee,                                           /* mov $1, %al; out */
  0xf4,                                                       /* hlt */
};

#define KERNEL_PADDR 0x1000000ULL

struct elf_image
{
  Elf64_Ehdr eh;
  Elf64_Phdr ph[2];
  uint8_t code[sizeof (fake_kernel)];
};

static void
make_elf (struct elf_image *img)
{
  memset (img, 0, sizeof (*img));
  memcpy (img->eh.e_ident, ELFMAG, SELFMAG);
  img->eh.e_ident[EI_CLASS] = ELFCLASS64;
  img->eh.e_ident[EI_DATA] = ELFDATA2LSB;
  img->eh.e_ident[EI_VERSION] = EV_CURRENT;
  img->eh.e_type = ET_EXEC;
  img->eh.e_machine = EM_X86_64;
  img->eh.e_version = EV_CURRENT;
  img->eh.e_entry = KERNEL_PADDR;
  img->eh.e_phoff = offsetof (struct elf_image, ph);
  img->eh.e_ehsize = sizeof (Elf64_Ehdr);
  img->eh.e_phentsize = sizeof (Elf64_Phdr);
  img->eh.e_phnum = 2;
  img->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD,
                             .p_offset = offsetof (struct elf_image, code),
                             .p_vaddr = 0xffffffff81000000ULL,
                             .p_paddr = KERNEL_PADDR,
                             .p_filesz = sizeof (fake_kernel),
                             .p_memsz = sizeof (fake_kernel) + 0x10000 /* bss */ };
  img->ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE };
  memcpy (img->code, fake_kernel, sizeof (fake_kernel));
}

/* A bzImage: one setup sector after the boot sector, then the
 * protected-mode part with a ud2 at its 32-bit entry and the fake kernel
 * at the 64-bit entry (+0x200). */
#define BZ_SETUP_SECTS 1
#define BZ_SIZE ((BZ_SETUP_SECTS + 1) * 512 + 0x200 + sizeof (fake_kernel))

static void
make_bzimage (uint8_t *f)
{
  memset (f, 0, BZ_SIZE);
  struct setup_header h = { 0 };
  h.setup_sects = BZ_SETUP_SECTS;
  h.boot_flag = 0xaa55;
  h.header = 0x53726448;
  h.version = 0x020f;
  h.loadflags = LOADED_HIGH;
  h.initrd_addr_max = 0x7fffffff;
  h.kernel_alignment = 0x200000;
  h.relocatable_kernel = 1;
  h.xloadflags = 1; /* XLF_KERNEL_64 */
  h.cmdline_size = 2047;
  h.pref_address = KERNEL_PADDR;
  h.init_size = 0x200000;
  memcpy (f + 0x1f1, &h, sizeof (h));
  uint8_t *pm = f + (BZ_SETUP_SECTS + 1) * 512;
  pm[0] = 0x0f, pm[1] = 0x0b;
  memcpy (pm + 0x200, fake_kernel, sizeof (fake_kernel));
}

static char *
write_tmp (const char *dir, const char *name, const void *data, size_t len)
{
  char *path = hull_fmt ("%s/%s", dir, name);
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || hull_write_all (fd, data, len) != (ssize_t)len)
    abort ();
  close (fd);
  return path;
}

static const char initrd_data[] = "hello from the initramfs";

/* Boots kernel_data with an initramfs and "hull.test=1"; returns the log. */
static char *
boot_fake (const void *kernel_data, size_t len, int *ret, struct vm_stop_info *info, hull_error_t *err)
{
  char *dir = vmt_tmpdir ();
  cleanup_free char *kernel = write_tmp (dir, "kernel", kernel_data, len);
  cleanup_free char *initrd = write_tmp (dir, "initrd", initrd_data, strlen (initrd_data));
  cleanup_free char *log = hull_fmt ("%s/serial.log", dir);
  struct vm_config cfg = { .n_cpus = 2,
                           .mem_size = 64 << 20,
                           .kernel = kernel,
                           .initrd = initrd,
                           .cmdline = "hull.test=1",
                           .serial_log = log,
                           .timeout_ms = 20000 };
  *ret = vmt_run (&cfg, info, err);
  char *out = vmt_read_log (log);
  vmt_cleanup (dir);
  return out;
}

TEST (vmlinux_elf_boots_in_long_mode_with_zero_page)
{
  if (!vmt_have_kvm ())
    return;
  struct elf_image img;
  make_elf (&img);
  int ret;
  struct vm_stop_info info;
  hull_error_t err = NULL;
  cleanup_free char *log = boot_fake (&img, sizeof (img), &ret, &info, &err);
  CHECK (err == NULL);
  CHECK (ret == 0);
  CHECK (info.reason == VM_STOP_EXIT && info.code == 0);
  CHECK_STR (log, "console=ttyS0 reboot=k panic=-1 pci=off acpi=off i8042.noaux i8042.nomux i8042.dumbkbd "
                  "tsc=reliable noreplace-smp hull.test=1|hello from the initramfs");
}

TEST (bzimage_boots_through_its_64bit_entry)
{
  if (!vmt_have_kvm ())
    return;
  static uint8_t bz[BZ_SIZE];
  make_bzimage (bz);
  int ret;
  struct vm_stop_info info;
  hull_error_t err = NULL;
  cleanup_free char *log = boot_fake (bz, sizeof (bz), &ret, &info, &err);
  CHECK (err == NULL);
  CHECK (ret == 0);
  CHECK (info.reason == VM_STOP_EXIT && info.code == 0);
  CHECK_CONTAINS (log, " hull.test=1|hello from the initramfs");
}

/* ---- without KVM: the loader and the zero page on a plain buffer ---------------- */

struct load_case
{
  char *dir;
  uint8_t *ram;
  struct vm_mem mem;
};

static int
load_image (struct load_case *c, const void *data, size_t len, struct vm_kernel_image *img, hull_error_t *err)
{
  c->dir = vmt_tmpdir ();
  c->ram = xmalloc0 (64 << 20);
  vm_mem_init_buffer (&c->mem, c->ram, 64 << 20, 0);
  cleanup_free char *path = write_tmp (c->dir, "kernel", data, len);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  int ret = vm_load_kernel (&c->mem, fd, "kernel", img, err);
  close (fd);
  free (c->ram);
  vmt_cleanup (c->dir);
  return ret;
}

static void
expect_refused (int *unit_failed, const void *data, size_t len, const char *msg)
{
  struct load_case c;
  struct vm_kernel_image img;
  hull_error_t err = NULL;
  CHECK (load_image (&c, data, len, &img, &err) < 0);
  CHECK_CONTAINS (err->msg, msg);
  hull_error_release (&err);
}

TEST (loader_places_elf_segments_and_zeroes_bss)
{
  struct elf_image e;
  make_elf (&e);
  struct load_case c;
  c.dir = vmt_tmpdir ();
  c.ram = xmalloc0 (64 << 20);
  memset (c.ram, 0xaa, 64 << 20);
  vm_mem_init_buffer (&c.mem, c.ram, 64 << 20, 0);
  cleanup_free char *path = write_tmp (c.dir, "kernel", &e, sizeof (e));
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct vm_kernel_image img;
  hull_error_t err = NULL;
  int ret = vm_load_kernel (&c.mem, fd, "kernel", &img, &err);
  close (fd);
  bool code_ok = memcmp (c.ram + KERNEL_PADDR, fake_kernel, sizeof (fake_kernel)) == 0;
  bool bss_zero = c.ram[KERNEL_PADDR + sizeof (fake_kernel)] == 0 && c.ram[KERNEL_PADDR + 0x10000] == 0;
  bool after_untouched = c.ram[KERNEL_PADDR + sizeof (fake_kernel) + 0x10000] == 0xaa;
  free (c.ram);
  vmt_cleanup (c.dir);
  CHECK (ret == 0);
  CHECK (code_ok && bss_zero && after_untouched);
  CHECK (img.entry == KERNEL_PADDR);
  CHECK (img.end == KERNEL_PADDR + sizeof (fake_kernel) + 0x10000);
  CHECK (!img.is_bzimage);
}

TEST (loader_refuses_malformed_elf)
{
  struct elf_image e;
  make_elf (&e);
  e.eh.e_type = ET_DYN;
  expect_refused (unit_failed, &e, sizeof (e), "ELF type 3, expected an executable");
  make_elf (&e);
  e.eh.e_machine = EM_386;
  expect_refused (unit_failed, &e, sizeof (e), "not an x86-64 ELF64");
  make_elf (&e);
  e.eh.e_phnum = 0;
  expect_refused (unit_failed, &e, sizeof (e), "0 program headers");
  make_elf (&e);
  e.eh.e_phoff = sizeof (e) - 8;
  expect_refused (unit_failed, &e, sizeof (e), "program headers outside the file");
  make_elf (&e);
  e.ph[0].p_offset = UINT64_MAX - 4;
  expect_refused (unit_failed, &e, sizeof (e), "lies outside the file");
  make_elf (&e);
  e.ph[0].p_filesz = sizeof (e);
  expect_refused (unit_failed, &e, sizeof (e), "lies outside the file");
  make_elf (&e);
  e.ph[0].p_paddr = (64 << 20) - 16;
  expect_refused (unit_failed, &e, sizeof (e), "does not fit in guest RAM above 1 MiB");
  make_elf (&e);
  e.ph[0].p_paddr = UINT64_MAX - 8;
  expect_refused (unit_failed, &e, sizeof (e), "does not fit in guest RAM");
  make_elf (&e);
  e.ph[0].p_paddr = 0x7000; /* would overwrite the zero page */
  expect_refused (unit_failed, &e, sizeof (e), "does not fit in guest RAM above 1 MiB");
  make_elf (&e);
  e.eh.e_entry = KERNEL_PADDR + 0x8000; /* in the bss */
  expect_refused (unit_failed, &e, sizeof (e), "entry point 0x1008000 is not in a loaded segment");
  make_elf (&e);
  e.ph[0].p_type = PT_NULL;
  expect_refused (unit_failed, &e, sizeof (e), "no PT_LOAD segment");
  expect_refused (unit_failed, "garbage", 7, "neither a vmlinux ELF nor a bzImage");
  expect_refused (unit_failed, &e, 40, "neither a vmlinux ELF nor a bzImage");
}

TEST (loader_refuses_malformed_bzimage)
{
  static uint8_t bz[BZ_SIZE];
  struct setup_header *h = (struct setup_header *)(bz + 0x1f1);
  make_bzimage (bz);
  h->version = 0x020a;
  expect_refused (unit_failed, bz, sizeof (bz), "boot protocol 2.10, hull needs 2.12 or later");
  make_bzimage (bz);
  h->xloadflags = 0;
  expect_refused (unit_failed, bz, sizeof (bz), "no 64-bit entry point");
  make_bzimage (bz);
  h->loadflags = 0;
  expect_refused (unit_failed, bz, sizeof (bz), "a zImage");
  make_bzimage (bz);
  h->setup_sects = 200;
  expect_refused (unit_failed, bz, sizeof (bz), "leaves no kernel");
  make_bzimage (bz);
  h->init_size = 0xffffffff;
  expect_refused (unit_failed, bz, sizeof (bz), "more than guest RAM");

  make_bzimage (bz);
  struct load_case c;
  struct vm_kernel_image img;
  hull_error_t err = NULL;
  CHECK (load_image (&c, bz, sizeof (bz), &img, &err) == 0);
  CHECK (img.is_bzimage);
  CHECK (img.entry == 0x100200);
  CHECK (img.end == KERNEL_PADDR + 0x200000);
  CHECK (img.cmdline_max == 2048);
}

TEST (boot_refuses_oversized_command_line_and_initramfs)
{
  if (!vmt_have_kvm ())
    return;
  struct elf_image e;
  make_elf (&e);
  char *dir = vmt_tmpdir ();
  cleanup_free char *kernel = write_tmp (dir, "kernel", &e, sizeof (e));
  cleanup_free char *long_line = xmalloc (3000);
  memset (long_line, 'x', 2999);
  long_line[2999] = 0;
  struct vm_config cfg = { .n_cpus = 1, .mem_size = 32 << 20, .kernel = kernel, .cmdline = long_line };
  struct vm *vm = NULL;
  hull_error_t err = NULL;
  int r1 = vm_create (&cfg, &vm, &err);
  cleanup_free char *m1 = err ? xstrdup (err->msg) : NULL;
  hull_error_release (&err);

  /* 20 MiB of initramfs cannot sit above a kernel ending past 16 MiB in
   * 32 MiB of RAM. */
  cleanup_free uint8_t *big = xmalloc0 (20 << 20);
  cleanup_free char *initrd = write_tmp (dir, "initrd", big, 20 << 20);
  cfg.cmdline = NULL;
  cfg.initrd = initrd;
  int r2 = vm_create (&cfg, &vm, &err);
  cleanup_free char *m2 = err ? xstrdup (err->msg) : NULL;
  hull_error_release (&err);
  vmt_cleanup (dir);
  CHECK (r1 < 0);
  CHECK_CONTAINS (m1, "create VM (boot): kernel command line of ");
  CHECK_CONTAINS (m1, "bytes: the kernel takes at most 2047");
  CHECK (r2 < 0);
  CHECK_CONTAINS (m2, "(20971520 bytes) does not fit in guest RAM above the kernel");
}

TEST (mptable_has_valid_checksums)
{
  static uint8_t ram[1 << 20];
  struct vm_mem m;
  vm_mem_init_buffer (&m, ram, sizeof (ram), 0);
  hull_error_t err = NULL;
  CHECK (vm_mptable_write (&m, 4, &err) == 0);
  const uint8_t *mpf = ram + VM_MPF_ADDR;
  CHECK (memcmp (mpf, "_MP_", 4) == 0);
  uint8_t sum = 0;
  for (int i = 0; i < 16; i++)
    sum += mpf[i];
  CHECK (sum == 0);
  uint32_t physptr;
  memcpy (&physptr, mpf + 4, 4);
  CHECK (physptr == VM_MPTABLE_START);
  const uint8_t *t = ram + physptr;
  CHECK (memcmp (t, "PCMP", 4) == 0);
  uint16_t len;
  memcpy (&len, t + 4, 2);
  CHECK (len == 44 + 4 * 20 + 8 + 8 + 26 * 8);
  sum = 0;
  for (int i = 0; i < len; i++)
    sum += t[i];
  CHECK (sum == 0);
  CHECK (t[44] == 0 && t[44 + 3] == 3);                  /* CPU 0: enabled, boot processor */
  CHECK (t[44 + 3 * 20 + 1] == 3);                       /* CPU 3's APIC id */
  CHECK (vm_mptable_write (&m, VM_MAX_CPUS, &err) == 0); /* the largest still fits */
}

RUN_TESTS ("vm_boot")
