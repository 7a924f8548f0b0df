/* Split virtqueues (virtio 1.x, section 2.7) read and written from the
 * device side, with the guest treated as hostile: docs/vmm.md, "bounds-
 * checking rules".  Every guest address goes through vm_mem_ptr(); every
 * guest-written field is read once into a local before it is checked; any
 * violation returns -1 and the caller marks the device broken. */
#include "virtio.h"

static bool
vq_is_pow2 (unsigned n)
{
  return n != 0 && (n & (n - 1)) == 0;
}

static void *
vq_area (const struct vm_mem *mem, uint64_t gpa, uint64_t len, uint64_t align)
{
  return gpa % align ? NULL : vm_mem_ptr (mem, gpa, len);
}

int
vm_vq_setup (struct vm_virtqueue *vq, const struct vm_mem *mem, hull_error_t *err)
{
  uint64_t n = vq->size;
  if (!vq_is_pow2 (vq->size) || vq->size > VM_VQ_MAX_SIZE)
    return hull_make_error (err, 0, "queue size %u is not a power of two up to %d", vq->size, VM_VQ_MAX_SIZE);
  /* The sizes include used_event and avail_event, which Linux always
   * allocates. */
  vq->desc = vq_area (mem, vq->desc_gpa, 16 * n, 16);
  vq->avail = vq_area (mem, vq->avail_gpa, 6 + 2 * n, 2);
  vq->used = vq_area (mem, vq->used_gpa, 6 + 8 * n, 4);
  if (vq->desc == NULL || vq->avail == NULL || vq->used == NULL)
    {
      const char *which = vq->desc == NULL    ? "descriptor table"
                          : vq->avail == NULL ? "available ring"
                                              : "used ring";
      uint64_t gpa = vq->desc == NULL ? vq->desc_gpa : vq->avail == NULL ? vq->avail_gpa : vq->used_gpa;
      vq->desc = NULL, vq->avail = NULL, vq->used = NULL;
      return hull_make_error (err, 0, "%s at 0x%" PRIx64 " is misaligned or outside guest RAM", which, gpa);
    }
  vq->mem = mem;
  vq->last_avail = vq->used_idx = vq->signalled_used = 0;
  return 0;
}

void
vm_vq_reset (struct vm_virtqueue *vq)
{
  uint16_t size = vq->size;
  memset (vq, 0, sizeof (*vq));
  vq->size = size;
}

static uint16_t *
vq_used_event (struct vm_virtqueue *vq)
{
  return &vq->avail->ring[vq->size];
}

static uint16_t *
vq_avail_event (struct vm_virtqueue *vq)
{
  return (uint16_t *)&vq->used->ring[vq->size];
}

/* ---- walking a chain --------------------------------------------------------- */

struct vq_walk
{
  const struct vring_desc *table; /* the ring's table, or an indirect one */
  unsigned table_size;
  unsigned steps; /* descriptors visited in this table */
  bool in_indirect;
};

static int
vq_enter_indirect (struct vm_virtqueue *vq, struct vq_walk *w, const struct vring_desc *d, hull_error_t *err)
{
  if (!vq->indirect)
    return hull_make_error (err, 0, "indirect descriptor without VIRTIO_F_INDIRECT_DESC");
  if (w->in_indirect)
    return hull_make_error (err, 0, "indirect descriptor inside an indirect table");
  if (d->flags & VRING_DESC_F_NEXT)
    return hull_make_error (err, 0, "indirect descriptor with the NEXT flag");
  if (d->len == 0 || d->len % sizeof (struct vring_desc) != 0
      || d->len / sizeof (struct vring_desc) > VM_VQ_MAX_SEGS)
    return hull_make_error (err, 0, "indirect table of %u bytes", d->len);
  const struct vring_desc *t = vm_mem_ptr (vq->mem, d->addr, d->len);
  if (t == NULL)
    return hull_make_error (err, 0, "indirect table at 0x%" PRIx64 " (%u bytes) outside guest RAM",
                            (uint64_t)d->addr, d->len);
  *w = (struct vq_walk){ .table = t, .table_size = d->len / sizeof (struct vring_desc), .in_indirect = true };
  return 0;
}

static int
vq_add_buffer (struct vm_virtqueue *vq, struct vm_vq_chain *c, const struct vring_desc *d, hull_error_t *err)
{
  bool writable = d->flags & VRING_DESC_F_WRITE;
  if (!writable && c->n_in > 0)
    return hull_make_error (err, 0, "device-readable buffer after a writable one");
  if (c->n_out + c->n_in == VM_VQ_MAX_SEGS)
    return hull_make_error (err, 0, "chain of more than %d buffers", VM_VQ_MAX_SEGS);
  void *p = vm_mem_ptr (vq->mem, d->addr, d->len);
  if (p == NULL)
    return hull_make_error (err, 0, "buffer at 0x%" PRIx64 " (%u bytes) outside guest RAM", (uint64_t)d->addr,
                            d->len);
  c->iov[c->n_out + c->n_in] = (struct iovec){ .iov_base = p, .iov_len = d->len };
  if (writable)
    c->n_in++, c->in_len += d->len;
  else
    c->n_out++, c->out_len += d->len;
  return 0;
}

/* Follows the chain from head; every index, address and length checked. */
static int
vq_walk_chain (struct vm_virtqueue *vq, uint16_t head, struct vm_vq_chain *c, hull_error_t *err)
{
  struct vq_walk w = { .table = vq->desc, .table_size = vq->size };
  unsigned idx = head;
  c->head = head;
  c->n_out = c->n_in = 0;
  c->out_len = c->in_len = 0;
  for (;;)
    {
      /* A chain visits each descriptor of a table at most once, so a
       * longer one loops. */
      if (idx >= w.table_size)
        return hull_make_error (err, 0, "descriptor index %u beyond a table of %u", idx, w.table_size);
      if (++w.steps > w.table_size)
        return hull_make_error (err, 0, "descriptor chain from %u loops", head);
      struct vring_desc d;
      memcpy (&d, &w.table[idx], sizeof (d)); /* one read; only the copy is used */
      if (d.flags & VRING_DESC_F_INDIRECT)
        {
          if (vq_enter_indirect (vq, &w, &d, err) < 0)
            return -1;
          idx = 0;
          continue;
        }
      if (vq_add_buffer (vq, c, &d, err) < 0)
        return -1;
      if (!(d.flags & VRING_DESC_F_NEXT))
        return 0;
      idx = d.next;
    }
}

int
vm_vq_pop (struct vm_virtqueue *vq, struct vm_vq_chain *chain, hull_error_t *err)
{
  uint16_t avail_idx = vm_read_once (vq->avail->idx);
  uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
  /* Empty: with EVENT_IDX the driver only kicks when its index passes
   * avail_event, so ask for the next one before saying "empty"; a buffer
   * added meanwhile is seen by the re-read in vm_vq_enable_notify. */
  if (pending == 0 && (!vq->event_idx || !vm_vq_enable_notify (vq)))
    return 0;
  if (pending == 0)
    {
      avail_idx = vm_read_once (vq->avail->idx);
      pending = (uint16_t)(avail_idx - vq->last_avail);
    }
  if (pending > vq->size)
    return hull_make_error (err, 0, "available index %u is %u entries ahead of %u, in a queue of %u",
                            avail_idx, pending, vq->last_avail, vq->size);
  /* Read the ring entry only after the index that published it: pairs
   * with the driver's write barrier between the two. */
  vm_smp_rmb ();
  uint16_t head = vm_read_once (vq->avail->ring[vq->last_avail & (vq->size - 1)]);
  if (head >= vq->size)
    return hull_make_error (err, 0, "available entry names descriptor %u, queue size %u", head, vq->size);
  if (vq_walk_chain (vq, head, chain, err) < 0)
    return -1;
  vq->last_avail++;
  return 1;
}

void
vm_vq_unpop (struct vm_virtqueue *vq)
{
  vq->last_avail--;
}

void
vm_vq_push (struct vm_virtqueue *vq, uint16_t head, uint32_t len)
{
  struct vring_used_elem *e = &vq->used->ring[vq->used_idx & (vq->size - 1)];
  vm_write_once (e->id, (uint32_t)head);
  vm_write_once (e->len, len);
  /* The element must be visible before the index that hands it over:
   * pairs with the driver's read barrier after it reads used->idx. */
  vm_smp_wmb ();
  vq->used_idx++;
  vm_write_once (vq->used->idx, vq->used_idx);
}

bool
vm_vq_should_signal (struct vm_virtqueue *vq)
{
  /* Our used->idx store must be visible before we read the driver's
   * flags or used_event (a later load passing an earlier store): else we
   * could read a stale "no interrupt" while the driver reads our stale
   * index and goes to sleep, and the interrupt is lost. */
  vm_smp_mb ();
  if (!vq->event_idx)
    return !(vm_read_once (vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
  uint16_t old = vq->signalled_used, new = vq->used_idx;
  vq->signalled_used = new;
  uint16_t event = vm_read_once (*vq_used_event (vq));
  return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

void
vm_vq_disable_notify (struct vm_virtqueue *vq)
{
  if (!vq->event_idx)
    vm_write_once (vq->used->flags, (uint16_t)VRING_USED_F_NO_NOTIFY);
}

bool
vm_vq_has_avail (struct vm_virtqueue *vq)
{
  return vm_read_once (vq->avail->idx) != vq->last_avail;
}

bool
vm_vq_enable_notify (struct vm_virtqueue *vq)
{
  if (vq->event_idx)
    vm_write_once (*vq_avail_event (vq), vq->last_avail);
  else
    vm_write_once (vq->used->flags, (uint16_t)0);
  /* The store that re-enables kicks must be visible before we look at
   * avail->idx again: otherwise the driver may add a buffer, read the old
   * "no kick" and not kick, while we read the old index: a lost kick. */
  vm_smp_mb ();
  return vm_read_once (vq->avail->idx) != vq->last_avail;
}

size_t
vm_vq_copy_from (const struct vm_vq_chain *c, uint64_t offset, void *dst, size_t len)
{
  size_t done = 0;
  for (unsigned i = 0; i < c->n_out && done < len; i++)
    {
      const struct iovec *v = &c->iov[i];
      if (offset >= v->iov_len)
        {
          offset -= v->iov_len;
          continue;
        }
      size_t n = v->iov_len - offset < len - done ? v->iov_len - offset : len - done;
      memcpy ((char *)dst + done, (char *)v->iov_base + offset, n);
      done += n;
      offset = 0;
    }
  return done;
}

size_t
vm_vq_copy_to (const struct vm_vq_chain *c, uint64_t offset, const void *src, size_t len)
{
  size_t done = 0;
  for (unsigned i = c->n_out; i < c->n_out + c->n_in && done < len; i++)
    {
      const struct iovec *v = &c->iov[i];
      if (offset >= v->iov_len)
        {
          offset -= v->iov_len;
          continue;
        }
      size_t n = v->iov_len - offset < len - done ? v->iov_len - offset : len - done;
      memcpy ((char *)v->iov_base + offset, (const char *)src + done, n);
      done += n;
      offset = 0;
    }
  return done;
}
