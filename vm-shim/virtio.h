/* vm-shim's virtio: split virtqueues (virtqueue.c), the device ops that
 * device models implement (virtio-console.c) and the virtio-mmio
 * transport (virtio-mmio.c) that drives them.  Internal to vm-shim. */
#ifndef HULL_VM_VIRTIO_H
#define HULL_VM_VIRTIO_H

#include "vm-internal.h"

#include <linux/virtio_ring.h>
#include <sys/uio.h>

/* ---- memory barriers ------------------------------------------------------------
 * The rings are shared with the guest's CPUs.  On x86 the read and write
 * barriers only stop the compiler; the full barrier is an mfence-class
 * instruction because x86 lets a later load pass an earlier store. */
#define vm_smp_rmb() __atomic_thread_fence (__ATOMIC_ACQUIRE)
#define vm_smp_wmb() __atomic_thread_fence (__ATOMIC_RELEASE)
#define vm_smp_mb() __atomic_thread_fence (__ATOMIC_SEQ_CST)

/* ---- split virtqueues (virtqueue.c) -------------------------------------------- */
#define VM_VQ_MAX_SIZE 1024 /* largest queue a device offers */
#define VM_VQ_MAX_SEGS 1024 /* most buffers in one chain, indirect ones included */

struct vm_virtqueue
{
  const struct vm_mem *mem;
  uint16_t size; /* power of two, set by the driver */
  bool ready;
  bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */
  bool indirect;  /* VIRTIO_F_INDIRECT_DESC negotiated */
  uint64_t desc_gpa, avail_gpa, used_gpa;
  /* Host pointers into guest RAM, valid once vm_vq_setup() succeeded. */
  struct vring_desc *desc;
  struct vring_avail *avail;
  struct vring_used *used;
  uint16_t last_avail;     /* next available entry to take */
  uint16_t used_idx;       /* our copy of used->idx */
  uint16_t signalled_used; /* used_idx when the driver was last interrupted */
};

/* One chain: device-readable buffers first (out), then writable (in). */
struct vm_vq_chain
{
  uint16_t head;
  unsigned n_out, n_in;
  uint64_t out_len, in_len;
  struct iovec iov[VM_VQ_MAX_SEGS]; /* out buffers, then in buffers */
};

/* Checks the size and the three ring areas against guest RAM and their
 * alignment, and keeps host pointers.  Fails with the reason. */
int vm_vq_setup (struct vm_virtqueue *vq, const struct vm_mem *mem, hull_error_t *err);
void vm_vq_reset (struct vm_virtqueue *vq);
/* Takes the next available chain: 1 when *chain is filled, 0 when the ring
 * is empty, -1 when the guest broke the rules (*err says which). */
int vm_vq_pop (struct vm_virtqueue *vq, struct vm_vq_chain *chain, hull_error_t *err);
/* Puts back the last popped chain (to retry later with more room). */
void vm_vq_unpop (struct vm_virtqueue *vq);
/* Returns a chain to the driver with `len` bytes written into it. */
void vm_vq_push (struct vm_virtqueue *vq, uint16_t head, uint32_t len);
/* After one or more pushes: does the driver want an interrupt? */
bool vm_vq_should_signal (struct vm_virtqueue *vq);
/* Asks the driver for notifications again; true if buffers arrived in the
 * meantime (process them, or they would wait for the next kick). */
bool vm_vq_enable_notify (struct vm_virtqueue *vq);
void vm_vq_disable_notify (struct vm_virtqueue *vq);
/* Has the driver made chains available that were not taken yet? */
bool vm_vq_has_avail (struct vm_virtqueue *vq);
/* Copies up to len bytes out of / into a chain's buffers. */
size_t vm_vq_copy_from (const struct vm_vq_chain *c, uint64_t offset, void *dst, size_t len);
size_t vm_vq_copy_to (const struct vm_vq_chain *c, uint64_t offset, const void *src, size_t len);

/* ---- devices and the virtio-mmio transport (virtio-mmio.c) ----------------------
 * A device model fills a vm_virtio_ops table and knows nothing of the
 * transport.  Every callback runs with the transport's lock held: register
 * accesses come from vCPU threads, queue work from the loop thread. */
struct vm_virtio;

struct vm_virtio_ops
{
  const char *name;
  uint32_t device_id;
  uint64_t features; /* device-specific bits; the transport adds VERSION_1,
                        EVENT_IDX and INDIRECT_DESC */
  unsigned n_queues;
  /* QueueNumMax of queue q (the driver may choose less). */
  uint16_t (*queue_max) (unsigned q);
  size_t config_size;
  void (*config_read) (void *dev, uint32_t offset, uint8_t *data, uint32_t len);
  /* The driver set DRIVER_OK: queues are set up, work may start. */
  void (*activate) (void *dev);
  /* The driver kicked queue q (from the loop thread). */
  void (*queue_notify) (void *dev, unsigned q);
  /* The driver reset the device: forget every queue-related state. */
  void (*reset) (void *dev);
};

/* Adds a device on the next MMIO slot and IRQ (devices level). */
int vm_virtio_mmio_add (struct vm *vm, const struct vm_virtio_ops *ops, void *dev, struct vm_virtio **out,
                        hull_error_t *err);
void vm_virtio_mmio_release_all (struct vm *vm);

/* For the device, with the lock held (inside a callback or vm_virtio_lock). */
struct vm_virtqueue *vm_virtio_queue (struct vm_virtio *t, unsigned q); /* NULL unless ready */
bool vm_virtio_active (struct vm_virtio *t);                            /* DRIVER_OK and not broken */
void vm_virtio_signal (struct vm_virtio *t);                            /* used buffers: interrupt */
/* Queues q's work for the loop's next round, as a guest kick would. */
void vm_virtio_kick_self (struct vm_virtio *t, unsigned q);
/* The guest broke the rules: DEVICE_NEEDS_RESET, a config interrupt, a
 * note in the serial log; queues are ignored until the driver resets. */
void vm_virtio_set_broken (struct vm_virtio *t, const char *what, hull_error_t *err);
void vm_virtio_lock (struct vm_virtio *t);
void vm_virtio_unlock (struct vm_virtio *t);
uint32_t vm_virtio_status (struct vm_virtio *t);
uint64_t vm_virtio_mmio_base (struct vm_virtio *t);

#endif
