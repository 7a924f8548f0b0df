/* Kernel images into guest memory: the uncompressed vmlinux (an ELF64
 * executable: PT_LOAD segments at their physical addresses, entered at
 * e_entry in 64-bit mode) and bzImage (setup header checked and kept for
 * the zero page; the protected-mode part at 1 MiB, entered at its 64-bit
 * entry, +0x200).  Every offset and size from the file is checked against
 * the file and against guest RAM before anything is copied. */
#include "vm-internal.h"

#include <elf.h>
#include <sys/stat.h>

#define LOADER_MAX_PHDRS 64
#define BZ_HDR_OFFSET 0x1f1
#define BZ_MIN_VERSION 0x020c /* 2.12: xloadflags */
#define BZ_XLF_KERNEL_64 (1u << 0)
#define BZ_ENTRY_64_OFFSET 0x200
#define BZ_LOAD_ADDR VM_HIMEM_START

/* Reads exactly len bytes at off; a short file is an error. */
static int
loader_pread (int fd, const char *path, void *buf, size_t len, uint64_t off, hull_error_t *err)
{
  size_t done = 0;
  while (done < len)
    {
      ssize_t r = pread (fd, (char *)buf + done, len - done, (off_t)(off + done));
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return hull_make_error (err, errno, "read kernel `%s`", path);
      if (r == 0)
        return hull_make_error (err, 0, "kernel `%s`: truncated at offset %" PRIu64, path, off + done);
      done += (size_t)r;
    }
  return 0;
}

/* Copies file bytes [off, off + filesz) to guest [gpa, gpa + memsz), the
 * rest zeroed; both ranges checked first. */
static int
loader_copy (struct vm_mem *mem, int fd, const char *path, uint64_t file_size, uint64_t off, uint64_t filesz,
             uint64_t gpa, uint64_t memsz, hull_error_t *err)
{
  if (filesz > memsz || off > file_size || filesz > file_size - off)
    return hull_make_error (err, 0, "kernel `%s`: segment at file offset 0x%" PRIx64 " lies outside the file",
                            path, off);
  uint8_t *dst = vm_mem_ptr (mem, gpa, memsz);
  if (dst == NULL || gpa < VM_HIMEM_START)
    return hull_make_error (err, 0,
                            "kernel `%s`: segment at 0x%" PRIx64 " (%" PRIu64
                            " bytes) does not fit in guest RAM "
                            "above 1 MiB",
                            path, gpa, memsz);
  if (loader_pread (fd, path, dst, filesz, off, err) < 0)
    return -1;
  memset (dst + filesz, 0, memsz - filesz);
  return 0;
}

static int
loader_check_ehdr (const Elf64_Ehdr *eh, const char *path, uint64_t file_size, hull_error_t *err)
{
  if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB
      || eh->e_machine != EM_X86_64)
    return hull_make_error (err, 0, "kernel `%s`: not an x86-64 ELF64 little-endian image", path);
  if (eh->e_type != ET_EXEC)
    return hull_make_error (err, 0, "kernel `%s`: ELF type %u, expected an executable (vmlinux)", path,
                            eh->e_type);
  if (eh->e_phentsize != sizeof (Elf64_Phdr) || eh->e_phnum == 0 || eh->e_phnum > LOADER_MAX_PHDRS)
    return hull_make_error (err, 0, "kernel `%s`: %u program headers of %u bytes", path, eh->e_phnum,
                            eh->e_phentsize);
  uint64_t ph_size = (uint64_t)eh->e_phnum * sizeof (Elf64_Phdr);
  if (eh->e_phoff > file_size || ph_size > file_size - eh->e_phoff)
    return hull_make_error (err, 0, "kernel `%s`: program headers outside the file", path);
  return 0;
}

static int
loader_elf (struct vm_mem *mem, int fd, const char *path, uint64_t file_size, struct vm_kernel_image *img,
            hull_error_t *err)
{
  Elf64_Ehdr eh;
  Elf64_Phdr ph[LOADER_MAX_PHDRS];
  if (loader_pread (fd, path, &eh, sizeof (eh), 0, err) < 0
      || loader_check_ehdr (&eh, path, file_size, err) < 0)
    return -1;
  if (loader_pread (fd, path, ph, eh.e_phnum * sizeof (Elf64_Phdr), eh.e_phoff, err) < 0)
    return -1;

  bool entry_loaded = false;
  unsigned n_load = 0;
  for (unsigned i = 0; i < eh.e_phnum; i++)
    {
      const Elf64_Phdr *p = &ph[i];
      if (p->p_type != PT_LOAD || p->p_memsz == 0)
        continue;
      if (loader_copy (mem, fd, path, file_size, p->p_offset, p->p_filesz, p->p_paddr, p->p_memsz, err) < 0)
        return -1;
      n_load++;
      if (p->p_paddr + p->p_memsz > img->end)
        img->end = p->p_paddr + p->p_memsz;
      if (eh.e_entry >= p->p_paddr && eh.e_entry - p->p_paddr < p->p_filesz)
        entry_loaded = true;
    }
  if (n_load == 0)
    return hull_make_error (err, 0, "kernel `%s`: no PT_LOAD segment", path);
  if (!entry_loaded)
    return hull_make_error (err, 0, "kernel `%s`: entry point 0x%" PRIx64 " is not in a loaded segment", path,
                            (uint64_t)eh.e_entry);
  img->entry = eh.e_entry;
  img->initrd_addr_max = VM_MMIO_START - 1;
  img->cmdline_max = VM_CMDLINE_MAX;
  return 0;
}

static int
loader_check_bz_header (const struct setup_header *h, const char *path, hull_error_t *err)
{
  if (h->version < BZ_MIN_VERSION)
    return hull_make_error (err, 0, "kernel `%s`: boot protocol %u.%02u, hull needs 2.12 or later", path,
                            h->version >> 8, h->version & 0xff);
  if (!(h->xloadflags & BZ_XLF_KERNEL_64))
    return hull_make_error (err, 0, "kernel `%s`: the bzImage has no 64-bit entry point (XLF_KERNEL_64)",
                            path);
  if (!(h->loadflags & LOADED_HIGH))
    return hull_make_error (err, 0, "kernel `%s`: a zImage (loaded low) is not supported", path);
  return 0;
}

static int
loader_bzimage (struct vm_mem *mem, int fd, const char *path, uint64_t file_size,
                const struct setup_header *h, struct vm_kernel_image *img, hull_error_t *err)
{
  if (loader_check_bz_header (h, path, err) < 0)
    return -1;
  uint64_t setup_size = ((uint64_t)(h->setup_sects ? h->setup_sects : 4) + 1) * 512;
  if (setup_size >= file_size)
    return hull_make_error (err, 0, "kernel `%s`: setup of %" PRIu64 " bytes leaves no kernel", path,
                            setup_size);
  uint64_t payload = file_size - setup_size;
  if (loader_copy (mem, fd, path, file_size, setup_size, payload, BZ_LOAD_ADDR, payload, err) < 0)
    return -1;

  /* The decompressor needs init_size bytes from where the kernel will run
   * (pref_address for a relocatable kernel loaded below it). */
  uint64_t run_at = h->relocatable_kernel && h->pref_address > BZ_LOAD_ADDR ? h->pref_address : BZ_LOAD_ADDR;
  uint64_t end = run_at + h->init_size;
  if (end < run_at || vm_mem_ptr (mem, run_at, h->init_size) == NULL)
    return hull_make_error (err, 0, "kernel `%s`: needs %u bytes from 0x%" PRIx64 ", more than guest RAM",
                            path, h->init_size, run_at);
  img->end = end > BZ_LOAD_ADDR + payload ? end : BZ_LOAD_ADDR + payload;
  img->entry = BZ_LOAD_ADDR + BZ_ENTRY_64_OFFSET;
  img->is_bzimage = true;
  img->hdr = *h;
  img->initrd_addr_max = h->initrd_addr_max;
  img->cmdline_max = h->cmdline_size + 1 < VM_CMDLINE_MAX ? h->cmdline_size + 1 : VM_CMDLINE_MAX;
  return 0;
}

int
vm_load_kernel (struct vm_mem *mem, int fd, const char *path, struct vm_kernel_image *img, hull_error_t *err)
{
  struct stat st;
  if (fstat (fd, &st) < 0)
    return hull_make_error (err, errno, "stat kernel `%s`", path);
  if (!S_ISREG (st.st_mode))
    return hull_make_error (err, 0, "kernel `%s`: not a regular file", path);
  uint64_t size = (uint64_t)st.st_size;
  memset (img, 0, sizeof (*img));

  unsigned char ident[SELFMAG];
  if (size >= sizeof (Elf64_Ehdr))
    {
      if (loader_pread (fd, path, ident, SELFMAG, 0, err) < 0)
        return -1;
      if (memcmp (ident, ELFMAG, SELFMAG) == 0)
        return loader_elf (mem, fd, path, size, img, err);
    }
  struct setup_header h;
  if (size >= BZ_HDR_OFFSET + sizeof (h))
    {
      if (loader_pread (fd, path, &h, sizeof (h), BZ_HDR_OFFSET, err) < 0)
        return -1;
      if (h.header == 0x53726448 /* "HdrS" */ && h.boot_flag == 0xaa55)
        return loader_bzimage (mem, fd, path, size, &h, img, err);
    }
  return hull_make_error (err, 0, "kernel `%s`: neither a vmlinux ELF nor a bzImage", path);
}
