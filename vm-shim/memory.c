/* Guest RAM: one sealed memfd, mapped once, given to KVM in at most two
 * slots (below the MMIO hole, and from 4 GiB).  vm_mem_ptr() is the only
 * way from a guest-physical address to a host pointer.
 *
 * With cfg.hugepages the memfd is a hugetlb one: 2 MiB pages from the
 * host's reserved pool, all of them reserved when the memory is mapped (so
 * a short pool is an error at start, never a SIGBUS in a vCPU), and KVM maps
 * the guest with 2 MiB entries: one nested page fault where 4 KiB pages
 * take 512 (docs/vmm.md, "Memory layout": huge pages). */
#include "vm-internal.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

void *
vm_mem_ptr (const struct vm_mem *m, uint64_t gpa, uint64_t len)
{
  for (unsigned i = 0; i < m->n_regions; i++)
    {
      const struct vm_mem_region *r = &m->regions[i];
      /* Written so that nothing overflows: gpa - r->gpa is only computed
       * once gpa >= r->gpa, and len is compared with what is left. */
      if (gpa < r->gpa)
        continue;
      uint64_t off = gpa - r->gpa;
      if (off > r->size || len > r->size - off)
        continue;
      return r->hva + off;
    }
  return NULL;
}

void
vm_mem_init_buffer (struct vm_mem *m, void *buf, size_t size, uint64_t gpa)
{
  memset (m, 0, sizeof (*m));
  m->fd = -1;
  m->regions[0] = (struct vm_mem_region){ .gpa = gpa, .size = size, .hva = buf };
  m->n_regions = 1;
}

uint64_t
vm_mem_low_end (const struct vm_mem *m)
{
  return m->n_regions > 0 && m->regions[0].gpa == 0 ? m->regions[0].size : 0;
}

#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21U << 26) /* linux/memfd.h: log2 of the page size, shifted */
#endif
#define HUGETLB_2M_DIR "/sys/kernel/mm/hugepages/hugepages-2048kB"

/* What the pool has, for the error that says it is short: "N free of M". */
static char *
memory_hugetlb_pool (void)
{
  cleanup_free char *free_pages = NULL, *total = NULL;
  hull_error_t ignored = NULL;
  if (hull_read_file_at (AT_FDCWD, HUGETLB_2M_DIR "/free_hugepages", 64, &free_pages, NULL, &ignored) < 0
      || hull_read_file_at (AT_FDCWD, HUGETLB_2M_DIR "/nr_hugepages", 64, &total, NULL, &ignored) < 0)
    {
      hull_error_release (&ignored);
      return xstrdup ("this host has no 2 MiB hugetlb pool");
    }
  return hull_fmt ("%lu free of %lu in " HUGETLB_2M_DIR, strtoul (free_pages, NULL, 10),
                   strtoul (total, NULL, 10));
}

static int
memory_create_memfd (uint64_t size, bool hugepages, int *fd_out, hull_error_t *err)
{
  unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING | (hugepages ? MFD_HUGETLB | MFD_HUGE_2MB : 0);
  cleanup_close int fd = memfd_create ("hull-guest-ram", flags);
  if (fd < 0)
    return hull_make_error (err, errno, "memfd_create guest RAM%s",
                            hugepages ? " (hugetlb, 2 MiB pages)" : "");
  if (ftruncate (fd, (off_t)size) < 0)
    return hull_make_error (err, errno, "size guest RAM memfd to %" PRIu64 " bytes", size);
  /* The size can no longer change: a later holder of the fd (a virtio-fs
   * or vhost-user backend) cannot shrink it under the VMM's mapping. */
  if (fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
    return hull_make_error (err, errno, "seal guest RAM memfd");
  *fd_out = steal_fd (&fd);
  return 0;
}

static int
memory_add_slot (struct vm *vm, unsigned slot, const struct vm_mem_region *r, hull_error_t *err)
{
  struct kvm_userspace_memory_region kr = {
    .slot = slot,
    .guest_phys_addr = r->gpa,
    .memory_size = r->size,
    .userspace_addr = (uintptr_t)r->hva,
  };
  if (ioctl (vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0)
    return hull_make_error (err, errno,
                            "KVM_SET_USER_MEMORY_REGION slot %u (0x%" PRIx64 ", %" PRIu64 " bytes)", slot,
                            r->gpa, r->size);
  return 0;
}

int
vm_memory_init (struct vm *vm, hull_error_t *err)
{
  struct vm_mem *m = &vm->mem;
  uint64_t size = vm->cfg.mem_size;
  bool huge = vm->cfg.hugepages;

  if (memory_create_memfd (size, huge, &m->fd, err) < 0)
    return -1;
  /* hugetlb: no MAP_NORESERVE, so the pages are reserved here. */
  void *map = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | (huge ? 0 : MAP_NORESERVE), m->fd, 0);
  if (map == MAP_FAILED)
    {
      if (huge && errno == ENOMEM)
        {
          cleanup_free char *pool = memory_hugetlb_pool ();
          return hull_make_error (err, ENOMEM,
                                  "guest RAM of %" PRIu64 " MiB needs %" PRIu64 " huge pages: %s", size >> 20,
                                  (uint64_t)(size / VM_HUGEPAGE_SIZE), pool);
        }
      return hull_make_error (err, errno, "mmap %" PRIu64 " bytes of guest RAM", size);
    }
  m->map = map;
  m->map_size = size;
  /* Guest memory stays out of the VMM's core dumps.  Without hugetlb,
   * transparent huge pages where the host allows them for shared memory
   * (shmem_enabled=advise): fewer nested page faults for the guest. */
  (void)madvise (map, size, MADV_DONTDUMP);
  if (!huge)
    (void)madvise (map, size, MADV_HUGEPAGE);

  uint64_t low = size < VM_MMIO_START ? size : VM_MMIO_START;
  m->regions[0] = (struct vm_mem_region){ .gpa = 0, .size = low, .hva = m->map };
  m->n_regions = 1;
  if (size > low)
    m->regions[m->n_regions++]
        = (struct vm_mem_region){ .gpa = VM_4G, .size = size - low, .hva = m->map + low };

  for (unsigned i = 0; i < m->n_regions; i++)
    if (memory_add_slot (vm, i, &m->regions[i], err) < 0)
      return -1;
  return 0;
}

void
vm_memory_exit (struct vm *vm)
{
  struct vm_mem *m = &vm->mem;
  if (m->map != NULL)
    munmap (m->map, m->map_size);
  m->map = NULL;
  m->n_regions = 0;
  if (m->fd >= 0)
    close (m->fd);
  m->fd = -1;
}
