/* Split virtqueues against a hostile driver, on a plain buffer (no KVM):
 * out-of-range addresses, overflowing lengths, loops, over-long chains,
 * bad indirect tables, lying indices, wrap-around; then random rings, where
 * every buffer handed out must lie inside guest memory. */
#include "../../vm-shim/virtio.h"
#include "unit.h"

#define RAM_GPA 0x10000ULL
#define RAM_SIZE 0x10000ULL
#define DESC_GPA (RAM_GPA + 0x0000)
#define AVAIL_GPA (RAM_GPA + 0x1000)
#define USED_GPA (RAM_GPA + 0x2000)
#define DATA_GPA (RAM_GPA + 0x4000)
#define QSIZE 8

struct drv
{
  uint8_t ram[RAM_SIZE] __attribute__ ((aligned (16)));
  struct vm_mem mem;
  struct vm_virtqueue vq;
  uint16_t avail_idx;
};

static void *
gpa (struct drv *d, uint64_t a)
{
  return d->ram + (a - RAM_GPA);
}

static struct vring_desc *
desc (struct drv *d, uint64_t table, unsigned i)
{
  return (struct vring_desc *)gpa (d, table) + i;
}

static struct drv *
drv_new (uint16_t size)
{
  struct drv *d = xmalloc0 (sizeof (*d));
  vm_mem_init_buffer (&d->mem, d->ram, RAM_SIZE, RAM_GPA);
  d->vq = (struct vm_virtqueue){
    .size = size, .desc_gpa = DESC_GPA, .avail_gpa = AVAIL_GPA, .used_gpa = USED_GPA
  };
  return d;
}

static void
set_desc (struct drv *d, uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
          uint16_t next)
{
  *desc (d, table, i) = (struct vring_desc){ .addr = addr, .len = len, .flags = flags, .next = next };
}

/* Publishes head in the available ring. */
static void
publish (struct drv *d, uint16_t head)
{
  struct vring_avail *a = gpa (d, AVAIL_GPA);
  a->ring[d->avail_idx % d->vq.size] = head;
  a->idx = ++d->avail_idx;
}

/* Pops and expects a refusal whose message contains msg. */
#define CHECK_BROKEN(d, want)                                                                                \
  do                                                                                                         \
    {                                                                                                        \
      static struct vm_vq_chain c_;                                                                          \
      hull_error_t e_ = NULL;                                                                                \
      CHECK (vm_vq_pop (&(d)->vq, &c_, &e_) == -1);                                                          \
      CHECK_CONTAINS (e_->msg, want);                                                                        \
      hull_error_release (&e_);                                                                              \
    }                                                                                                        \
  while (0)

static struct vm_vq_chain chain;

TEST (good_chain_pops_and_pushes)
{
  struct drv *d = drv_new (QSIZE);
  hull_error_t err = NULL;
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) == 0);
  set_desc (d, DESC_GPA, 3, DATA_GPA, 16, VRING_DESC_F_NEXT, 5);
  set_desc (d, DESC_GPA, 5, DATA_GPA + 0x100, 32, VRING_DESC_F_NEXT, 0);
  set_desc (d, DESC_GPA, 0, DATA_GPA + 0x200, 64, VRING_DESC_F_WRITE, 0);
  publish (d, 3);
  CHECK (vm_vq_pop (&d->vq, &chain, &err) == 1);
  CHECK (chain.head == 3 && chain.n_out == 2 && chain.n_in == 1);
  CHECK (chain.out_len == 48 && chain.in_len == 64);
  CHECK (chain.iov[0].iov_base == gpa (d, DATA_GPA) && chain.iov[2].iov_base == gpa (d, DATA_GPA + 0x200));
  CHECK (vm_vq_pop (&d->vq, &chain, &err) == 0);
  vm_vq_push (&d->vq, 3, 10);
  struct vring_used *u = gpa (d, USED_GPA);
  CHECK (u->idx == 1 && u->ring[0].id == 3 && u->ring[0].len == 10);
  CHECK (vm_vq_should_signal (&d->vq));
  ((struct vring_avail *)gpa (d, AVAIL_GPA))->flags = VRING_AVAIL_F_NO_INTERRUPT;
  CHECK (!vm_vq_should_signal (&d->vq));
  free (d);
}

TEST (setup_checks_size_alignment_and_range)
{
  struct drv *d = drv_new (6);
  hull_error_t err = NULL;
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) < 0);
  CHECK_CONTAINS (err->msg, "queue size 6 is not a power of two");
  hull_error_release (&err);
  d->vq.size = 2048;
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) < 0);
  hull_error_release (&err);
  d->vq.size = QSIZE;
  d->vq.desc_gpa = DESC_GPA + 8;
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) < 0);
  CHECK_CONTAINS (err->msg, "descriptor table at 0x10008 is misaligned or outside guest RAM");
  hull_error_release (&err);
  d->vq.desc_gpa = 0;
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) < 0);
  hull_error_release (&err);
  d->vq.desc_gpa = DESC_GPA;
  d->vq.avail_gpa = AVAIL_GPA + 1;
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) < 0);
  CHECK_CONTAINS (err->msg, "available ring");
  hull_error_release (&err);
  d->vq.avail_gpa = AVAIL_GPA;
  d->vq.used_gpa = RAM_GPA + RAM_SIZE - 64; /* 6 + 8 * 8 bytes do not fit */
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) < 0);
  CHECK_CONTAINS (err->msg, "used ring");
  hull_error_release (&err);
  d->vq.used_gpa = UINT64_MAX - 3;
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) < 0);
  hull_error_release (&err);
  CHECK (d->vq.desc == NULL && d->vq.used == NULL);
  free (d);
}

TEST (buffers_outside_ram_are_refused)
{
  struct drv *d = drv_new (QSIZE);
  hull_error_t err = NULL;
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) == 0);
  set_desc (d, DESC_GPA, 0, 0x1000, 16, 0, 0);
  publish (d, 0);
  CHECK_BROKEN (d, "buffer at 0x1000 (16 bytes) outside guest RAM");

  d = (free (d), drv_new (QSIZE));
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) == 0);
  set_desc (d, DESC_GPA, 0, UINT64_MAX - 10, 100, 0, 0); /* addr + len overflows */
  publish (d, 0);
  CHECK_BROKEN (d, "outside guest RAM");

  d = (free (d), drv_new (QSIZE));
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) == 0);
  set_desc (d, DESC_GPA, 0, RAM_GPA + RAM_SIZE - 8, 9, VRING_DESC_F_WRITE, 0); /* one byte past the end */
  publish (d, 0);
  CHECK_BROKEN (d, "outside guest RAM");

  d = (free (d), drv_new (QSIZE));
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) == 0);
  set_desc (d, DESC_GPA, 0, RAM_GPA + RAM_SIZE - 8, 8, VRING_DESC_F_WRITE, 0); /* exactly to the end: fine */
  publish (d, 0);
  CHECK (vm_vq_pop (&d->vq, &chain, &err) == 1);
  free (d);
}

TEST (loops_and_bad_indices_are_refused)
{
  struct drv *d = drv_new (QSIZE);
  hull_error_t err = NULL;
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) == 0);
  set_desc (d, DESC_GPA, 0, DATA_GPA, 1, VRING_DESC_F_NEXT, 1);
  set_desc (d, DESC_GPA, 1, DATA_GPA, 1, VRING_DESC_F_NEXT, 0);
  publish (d, 0);
  CHECK_BROKEN (d, "descriptor chain from 0 loops");

  d = (free (d), drv_new (QSIZE));
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) == 0);
  set_desc (d, DESC_GPA, 2, DATA_GPA, 1, VRING_DESC_F_NEXT, 2); /* self loop */
  publish (d, 2);
  CHECK_BROKEN (d, "loops");

  d = (free (d), drv_new (QSIZE));
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) == 0);
  set_desc (d, DESC_GPA, 0, DATA_GPA, 1, VRING_DESC_F_NEXT, QSIZE);
  publish (d, 0);
  CHECK_BROKEN (d, "descriptor index 8 beyond a table of 8");

  d = (free (d), drv_new (QSIZE));
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) == 0);
  publish (d, 9);
  CHECK_BROKEN (d, "available entry names descriptor 9, queue size 8");

  d = (free (d), drv_new (QSIZE));
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) == 0);
  ((struct vring_avail *)gpa (d, AVAIL_GPA))->idx = QSIZE + 1; /* claims 9 new entries */
  CHECK_BROKEN (d, "available index 9 is 9 entries ahead of 0, in a queue of 8");

  /* A chain through every descriptor once is fine. */
  d = (free (d), drv_new (QSIZE));
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) == 0);
  for (unsigned i = 0; i < QSIZE; i++)
    set_desc (d, DESC_GPA, i, DATA_GPA, 4, i + 1 < QSIZE ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
  publish (d, 0);
  CHECK (vm_vq_pop (&d->vq, &chain, &err) == 1);
  CHECK (chain.n_out == QSIZE);
  free (d);
}

TEST (readable_after_writable_is_refused)
{
  struct drv *d = drv_new (QSIZE);
  hull_error_t err = NULL;
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) == 0);
  set_desc (d, DESC_GPA, 0, DATA_GPA, 4, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
  set_desc (d, DESC_GPA, 1, DATA_GPA, 4, 0, 0);
  publish (d, 0);
  CHECK_BROKEN (d, "device-readable buffer after a writable one");
  free (d);
}

#define IND_GPA (RAM_GPA + 0x3000)

TEST (indirect_tables_are_checked)
{
  struct drv *d = drv_new (QSIZE);
  hull_error_t err = NULL;
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) == 0);
  set_desc (d, DESC_GPA, 0, IND_GPA, 3 * 16, VRING_DESC_F_INDIRECT, 0);
  set_desc (d, IND_GPA, 0, DATA_GPA, 8, VRING_DESC_F_NEXT, 1);
  set_desc (d, IND_GPA, 1, DATA_GPA + 8, 8, VRING_DESC_F_NEXT, 2);
  set_desc (d, IND_GPA, 2, DATA_GPA + 16, 100, VRING_DESC_F_WRITE, 0);
  publish (d, 0);
  CHECK_BROKEN (d, "indirect descriptor without VIRTIO_F_INDIRECT_DESC");

  d->vq.indirect = true;
  CHECK (vm_vq_pop (&d->vq, &chain, &err) == 1);
  CHECK (chain.n_out == 2 && chain.n_in == 1 && chain.in_len == 100);

  struct
  {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    const char *msg;
  } bad[] = {
    { IND_GPA, 0, VRING_DESC_F_INDIRECT, "indirect table of 0 bytes" },
    { IND_GPA, 40, VRING_DESC_F_INDIRECT, "indirect table of 40 bytes" },
    { IND_GPA, (VM_VQ_MAX_SEGS + 1) * 16, VRING_DESC_F_INDIRECT, "indirect table of 16400 bytes" },
    { 0x100, 32, VRING_DESC_F_INDIRECT, "indirect table at 0x100 (32 bytes) outside guest RAM" },
    { UINT64_MAX - 15, 32, VRING_DESC_F_INDIRECT, "outside guest RAM" },
    { IND_GPA, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, "indirect descriptor with the NEXT flag" },
  };
  for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
    {
      d->vq.last_avail = 0;
      set_desc (d, DESC_GPA, 0, bad[i].addr, bad[i].len, bad[i].flags, 1);
      CHECK_BROKEN (d, bad[i].msg);
    }

  /* Nested, and a loop inside the table. */
  d->vq.last_avail = 0;
  set_desc (d, DESC_GPA, 0, IND_GPA, 2 * 16, VRING_DESC_F_INDIRECT, 0);
  set_desc (d, IND_GPA, 0, IND_GPA, 32, VRING_DESC_F_INDIRECT, 0);
  CHECK_BROKEN (d, "indirect descriptor inside an indirect table");
  d->vq.last_avail = 0;
  set_desc (d, IND_GPA, 0, DATA_GPA, 8, VRING_DESC_F_NEXT, 1);
  set_desc (d, IND_GPA, 1, DATA_GPA, 8, VRING_DESC_F_NEXT, 0);
  CHECK_BROKEN (d, "loops");
  d->vq.last_avail = 0;
  set_desc (d, IND_GPA, 1, DATA_GPA, 8, VRING_DESC_F_NEXT, 2);
  CHECK_BROKEN (d, "descriptor index 2 beyond a table of 2");

  /* A misaligned indirect table is read byte-wise, without harm. */
  d->vq.last_avail = 0;
  set_desc (d, DESC_GPA, 0, IND_GPA + 3, 16, VRING_DESC_F_INDIRECT, 0);
  struct vring_desc one = { .addr = DATA_GPA, .len = 8 };
  memcpy (gpa (d, IND_GPA + 3), &one, sizeof (one));
  CHECK (vm_vq_pop (&d->vq, &chain, &err) == 1);
  CHECK (chain.n_out == 1 && chain.out_len == 8);
  free (d);
}

TEST (chains_longer_than_the_segment_limit_are_refused)
{
  struct drv *d = drv_new (QSIZE);
  hull_error_t err = NULL;
  d->vq.indirect = true;
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) == 0);
  /* Two direct buffers, then an indirect table of the maximum size. */
  set_desc (d, DESC_GPA, 0, DATA_GPA, 1, VRING_DESC_F_NEXT, 1);
  set_desc (d, DESC_GPA, 1, DATA_GPA, 1, VRING_DESC_F_NEXT, 2);
  set_desc (d, DESC_GPA, 2, RAM_GPA + 0x8000, VM_VQ_MAX_SEGS * 16, VRING_DESC_F_INDIRECT, 0);
  for (unsigned i = 0; i < VM_VQ_MAX_SEGS; i++)
    set_desc (d, RAM_GPA + 0x8000, i, DATA_GPA, 1, i + 1 < VM_VQ_MAX_SEGS ? VRING_DESC_F_NEXT : 0,
              (uint16_t)(i + 1));
  publish (d, 0);
  CHECK_BROKEN (d, "chain of more than 1024 buffers");
  free (d);
}

TEST (indices_wrap_around)
{
  struct drv *d = drv_new (QSIZE);
  hull_error_t err = NULL;
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) == 0);
  d->vq.last_avail = d->vq.used_idx = d->vq.signalled_used = 65534;
  d->avail_idx = 65534;
  for (unsigned i = 0; i < 4; i++)
    {
      set_desc (d, DESC_GPA, i, DATA_GPA + i, 1, VRING_DESC_F_WRITE, 0);
      publish (d, (uint16_t)i);
    }
  CHECK (((struct vring_avail *)gpa (d, AVAIL_GPA))->idx == 2);
  for (unsigned i = 0; i < 4; i++)
    {
      CHECK (vm_vq_pop (&d->vq, &chain, &err) == 1);
      CHECK (chain.head == i);
      vm_vq_push (&d->vq, chain.head, 1);
    }
  CHECK (vm_vq_pop (&d->vq, &chain, &err) == 0);
  struct vring_used *u = gpa (d, USED_GPA);
  CHECK (u->idx == 2);
  CHECK (u->ring[(65535u) % QSIZE].id == 1 && u->ring[1].id == 3);
  free (d);
}

TEST (event_idx_signals_only_when_asked)
{
  struct drv *d = drv_new (QSIZE);
  hull_error_t err = NULL;
  d->vq.event_idx = true;
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) == 0);
  struct vring_avail *a = gpa (d, AVAIL_GPA);
  uint16_t *used_event = &a->ring[QSIZE];
  *used_event = 2; /* interrupt me when used->idx passes 2 */
  vm_vq_push (&d->vq, 0, 0);
  CHECK (!vm_vq_should_signal (&d->vq)); /* idx 1 */
  vm_vq_push (&d->vq, 0, 0);
  CHECK (!vm_vq_should_signal (&d->vq)); /* idx 2 */
  vm_vq_push (&d->vq, 0, 0);
  CHECK (vm_vq_should_signal (&d->vq)); /* idx 3 crosses used_event + 1 */
  /* Notification suppression towards the driver: avail_event. */
  set_desc (d, DESC_GPA, 0, DATA_GPA, 1, 0, 0);
  publish (d, 0);
  CHECK (vm_vq_enable_notify (&d->vq)); /* a buffer is already waiting */
  CHECK (vm_vq_pop (&d->vq, &chain, &err) == 1);
  CHECK (!vm_vq_enable_notify (&d->vq));
  struct vring_used *u = gpa (d, USED_GPA);
  CHECK (*(uint16_t *)&u->ring[QSIZE] == 1);
  free (d);
}

/* With EVENT_IDX a driver kicks only when its index passes avail_event: a
 * device that finds the ring empty must have asked for the next buffer. */
TEST (empty_pop_asks_for_the_next_kick)
{
  struct drv *d = drv_new (QSIZE);
  hull_error_t err = NULL;
  d->vq.event_idx = true;
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) == 0);
  uint16_t *avail_event = (uint16_t *)&((struct vring_used *)gpa (d, USED_GPA))->ring[QSIZE];
  for (unsigned i = 0; i < 3; i++)
    {
      set_desc (d, DESC_GPA, i, DATA_GPA, 1, 0, 0);
      publish (d, (uint16_t)i);
    }
  CHECK (*avail_event == 0);
  for (unsigned i = 0; i < 3; i++)
    CHECK (vm_vq_pop (&d->vq, &chain, &err) == 1);
  CHECK (vm_vq_pop (&d->vq, &chain, &err) == 0);
  CHECK (*avail_event == 3);
  free (d);
}

TEST (copy_across_segments)
{
  struct drv *d = drv_new (QSIZE);
  hull_error_t err = NULL;
  CHECK (vm_vq_setup (&d->vq, &d->mem, &err) == 0);
  memcpy (gpa (d, DATA_GPA), "abc", 3);
  memcpy (gpa (d, DATA_GPA + 0x100), "defgh", 5);
  set_desc (d, DESC_GPA, 0, DATA_GPA, 3, VRING_DESC_F_NEXT, 1);
  set_desc (d, DESC_GPA, 1, DATA_GPA + 0x100, 5, VRING_DESC_F_NEXT, 2);
  set_desc (d, DESC_GPA, 2, DATA_GPA + 0x200, 2, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
  set_desc (d, DESC_GPA, 3, DATA_GPA + 0x300, 10, VRING_DESC_F_WRITE, 0);
  publish (d, 0);
  CHECK (vm_vq_pop (&d->vq, &chain, &err) == 1);
  char buf[16] = { 0 };
  CHECK (vm_vq_copy_from (&chain, 2, buf, sizeof (buf)) == 6);
  CHECK_STR (buf, "cdefgh");
  CHECK (vm_vq_copy_to (&chain, 1, "XYZW", 4) == 4);
  CHECK (memcmp (gpa (d, DATA_GPA + 0x201), "X", 1) == 0);
  CHECK (memcmp (gpa (d, DATA_GPA + 0x300), "YZW", 3) == 0);
  CHECK (vm_vq_copy_to (&chain, 11, "12345", 5) == 1); /* only 12 bytes of room */
  free (d);
}

/* xorshift: reproducible noise. */
static uint64_t
rnd (uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

TEST (random_rings_never_escape_guest_memory)
{
  struct drv *d = drv_new (QSIZE);
  uint64_t seed = 0x1234567;
  unsigned got = 0, refused = 0;
  for (int round = 0; round < 20000; round++)
    {
      d->vq = (struct vm_virtqueue){ .size = QSIZE,
                                     .desc_gpa = DESC_GPA,
                                     .avail_gpa = AVAIL_GPA,
                                     .used_gpa = USED_GPA,
                                     .indirect = (round & 1) };
      hull_error_t err = NULL;
      if (vm_vq_setup (&d->vq, &d->mem, &err) < 0)
        abort ();
      /* Descriptors pointing near, inside and outside RAM. */
      for (unsigned i = 0; i < 64; i++)
        {
          uint64_t r = rnd (&seed);
          uint64_t base = (r & 3) == 0 ? 0 : (r & 3) == 1 ? UINT64_MAX - 0x1000 : RAM_GPA;
          set_desc (d, i < QSIZE ? DESC_GPA : IND_GPA,
                    i % QSIZE + (i >= QSIZE ? (i - QSIZE) / QSIZE * QSIZE : 0),
                    base + (rnd (&seed) % (RAM_SIZE + 64)),
                    (uint32_t)(rnd (&seed) % 0x400 * ((r >> 8) & 1 ? 1 : 64)), (uint16_t)(rnd (&seed) & 7),
                    (uint16_t)(rnd (&seed) % (QSIZE + 2)));
        }
      struct vring_avail *a = gpa (d, AVAIL_GPA);
      for (unsigned i = 0; i < QSIZE; i++)
        a->ring[i] = (uint16_t)(rnd (&seed) % (QSIZE + 1));
      a->idx = (uint16_t)(rnd (&seed) % (QSIZE + 3));
      for (int k = 0; k < QSIZE + 2; k++)
        {
          int r = vm_vq_pop (&d->vq, &chain, &err);
          if (r <= 0)
            {
              refused += r < 0;
              hull_error_release (&err);
              break;
            }
          got++;
          for (unsigned i = 0; i < chain.n_out + chain.n_in; i++)
            {
              uint8_t *p = chain.iov[i].iov_base;
              CHECK (p >= d->ram && p + chain.iov[i].iov_len <= d->ram + RAM_SIZE);
            }
          vm_vq_push (&d->vq, chain.head, (uint32_t)chain.in_len);
        }
    }
  CHECK (got > 100 && refused > 100); /* both paths were exercised */
  free (d);
}

RUN_TESTS ("vm_virtqueue")
