// libFuzzer target for the split-virtqueue parser (vm-shim/virtqueue.c): the
// input is a guest's RAM (first 64 KiB) and, in its first bytes, the queue's
// size, ring addresses and negotiated features.  Every chain the parser hands
// out must lie inside guest RAM (checked here, and by ASan on the copies);
// a refusal is fine, a crash or a read outside the buffer is not.
//   make vm-fuzz VM_FUZZ_TIME=60
#include "../virtio.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define RAM_GPA 0x1000ULL
#define RAM_SIZE 0x10000u

struct fuzz_header
{
  uint16_t size;
  uint16_t flags;             /* bit 0: indirect, bit 1: event idx */
  uint32_t desc, avail, used; /* offsets into RAM, or anywhere when bit 31 is set */
  uint16_t last_avail, pops;
};

static uint64_t
addr (uint32_t v)
{
  return (v & 0x80000000u) ? (uint64_t)(v & 0x7fffffffu) << 8 : RAM_GPA + (v % RAM_SIZE);
}

static void
check_chain (const struct vm_vq_chain *c, const uint8_t *ram)
{
  static uint8_t scratch[RAM_SIZE];
  for (unsigned i = 0; i < c->n_out + c->n_in; i++)
    {
      const uint8_t *p = c->iov[i].iov_base;
      if (p < ram || p + c->iov[i].iov_len > ram + RAM_SIZE)
        __builtin_trap ();
    }
  vm_vq_copy_from (c, 0, scratch, c->out_len < sizeof (scratch) ? c->out_len : sizeof (scratch));
  vm_vq_copy_to (c, 0, scratch, c->in_len < sizeof (scratch) ? c->in_len : sizeof (scratch));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static uint8_t ram[RAM_SIZE] __attribute__ ((aligned (16)));
  static struct vm_vq_chain chain;
  struct fuzz_header h = { 0 };
  memcpy (&h, data, size < sizeof (h) ? size : sizeof (h));
  size_t skip = size < sizeof (h) ? size : sizeof (h);
  memset (ram, 0, sizeof (ram));
  memcpy (ram, data + skip, size - skip < sizeof (ram) ? size - skip : sizeof (ram));

  struct vm_mem mem;
  vm_mem_init_buffer (&mem, ram, sizeof (ram), RAM_GPA);
  struct vm_virtqueue vq = { .size = h.size,
                             .desc_gpa = addr (h.desc),
                             .avail_gpa = addr (h.avail),
                             .used_gpa = addr (h.used),
                             .indirect = h.flags & 1,
                             .event_idx = h.flags & 2 };
  hull_error_t err = NULL;
  if (vm_vq_setup (&vq, &mem, &err) < 0)
    {
      hull_error_release (&err);
      return 0;
    }
  vq.last_avail = vq.used_idx = vq.signalled_used = h.last_avail;
  for (unsigned i = 0; i < (h.pops % 64u) + 1; i++)
    {
      int r = vm_vq_pop (&vq, &chain, &err);
      if (r < 0)
        hull_error_release (&err);
      if (r <= 0)
        break;
      check_chain (&chain, ram);
      vm_vq_push (&vq, chain.head, (uint32_t)chain.in_len);
      (void)vm_vq_should_signal (&vq);
      (void)vm_vq_enable_notify (&vq);
    }
  return 0;
}
