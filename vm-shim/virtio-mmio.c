/* The virtio-mmio transport, version 2 ("modern", virtio 1.x section 4.2),
 * apart from the device models (struct vm_virtio_ops).  Each device gets a
 * 4 KiB MMIO window and an IRQ, announced to Linux on the command line
 * (virtio_mmio.device=4K@0xd0000000:5).  Queue kicks reach the loop thread
 * through an ioeventfd (KVM completes the guest's write without leaving the
 * kernel); interrupts go in through an irqfd (an edge on the IOAPIC pin). */
#include "virtio.h"

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#define MMIO_MAGIC 0x74726976  /* "virt" */
#define MMIO_VENDOR 0x4c4c5548 /* "HULL" */
#define MMIO_TRANSPORT_FEATURES                                                                              \
  ((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC))

struct vm_virtio_kick
{
  struct vm_virtio *t;
  unsigned q;
  int fd;
};

struct vm_virtio
{
  struct vm *vm;
  const struct vm_virtio_ops *ops;
  void *dev;
  uint64_t base;
  unsigned irq;
  pthread_mutex_t lock;

  uint32_t status;
  uint32_t device_features_sel, driver_features_sel;
  uint64_t driver_features;
  uint32_t queue_sel;
  uint32_t interrupt_status;
  uint32_t config_generation;
  bool broken;

  struct vm_virtqueue *queues;
  struct vm_virtio_kick *kicks; /* one eventfd per queue */
  int irq_fd;
};

void
vm_virtio_lock (struct vm_virtio *t)
{
  pthread_mutex_lock (&t->lock);
}

void
vm_virtio_unlock (struct vm_virtio *t)
{
  pthread_mutex_unlock (&t->lock);
}

uint32_t
vm_virtio_status (struct vm_virtio *t)
{
  return t->status;
}

uint64_t
vm_virtio_mmio_base (struct vm_virtio *t)
{
  return t->base;
}

bool
vm_virtio_active (struct vm_virtio *t)
{
  return (t->status & VIRTIO_CONFIG_S_DRIVER_OK) && !t->broken;
}

struct vm_virtqueue *
vm_virtio_queue (struct vm_virtio *t, unsigned q)
{
  return q < t->ops->n_queues && t->queues[q].ready ? &t->queues[q] : NULL;
}

static void
virtio_raise (struct vm_virtio *t, uint32_t why)
{
  t->interrupt_status |= why;
  uint64_t one = 1;
  if (write (t->irq_fd, &one, sizeof (one)) < 0 && errno != EAGAIN)
    vm_serial_note (t->vm, "%s: interrupt eventfd write: %s", t->ops->name, strerror (errno));
}

void
vm_virtio_signal (struct vm_virtio *t)
{
  virtio_raise (t, VIRTIO_MMIO_INT_VRING);
}

void
vm_virtio_kick_self (struct vm_virtio *t, unsigned q)
{
  uint64_t one = 1;
  if (q < t->ops->n_queues)
    (void)!write (t->kicks[q].fd, &one, sizeof (one));
}

void
vm_virtio_set_broken (struct vm_virtio *t, const char *what, hull_error_t *err)
{
  if (!t->broken)
    vm_serial_note (t->vm, "%s at 0x%" PRIx64 ": %s: %s; device needs reset", t->ops->name, t->base, what,
                    err && *err ? (*err)->msg : "");
  hull_error_release (err);
  t->broken = true;
  t->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
  t->config_generation++;
  virtio_raise (t, VIRTIO_MMIO_INT_CONFIG);
}

static void
virtio_reset (struct vm_virtio *t)
{
  if (t->ops->reset)
    t->ops->reset (t->dev);
  for (unsigned i = 0; i < t->ops->n_queues; i++)
    {
      vm_vq_reset (&t->queues[i]);
      t->queues[i].size = t->ops->queue_max (i);
    }
  t->status = 0;
  t->device_features_sel = t->driver_features_sel = 0;
  t->driver_features = 0;
  t->queue_sel = 0;
  t->interrupt_status = 0;
  t->broken = false;
}

/* ---- registers ------------------------------------------------------------------- */

static uint32_t
virtio_read_reg (struct vm_virtio *t, uint64_t off)
{
  uint64_t features = t->ops->features | MMIO_TRANSPORT_FEATURES;
  struct vm_virtqueue *vq = t->queue_sel < t->ops->n_queues ? &t->queues[t->queue_sel] : NULL;
  switch (off)
    {
    case VIRTIO_MMIO_MAGIC_VALUE:
      return MMIO_MAGIC;
    case VIRTIO_MMIO_VERSION:
      return 2;
    case VIRTIO_MMIO_DEVICE_ID:
      return t->ops->device_id;
    case VIRTIO_MMIO_VENDOR_ID:
      return MMIO_VENDOR;
    case VIRTIO_MMIO_DEVICE_FEATURES:
      return t->device_features_sel < 2 ? (uint32_t)(features >> (32 * t->device_features_sel)) : 0;
    case VIRTIO_MMIO_QUEUE_NUM_MAX:
      return vq ? t->ops->queue_max (t->queue_sel) : 0;
    case VIRTIO_MMIO_QUEUE_READY:
      return vq ? vq->ready : 0;
    case VIRTIO_MMIO_INTERRUPT_STATUS:
      return t->interrupt_status;
    case VIRTIO_MMIO_STATUS:
      return t->status;
    case VIRTIO_MMIO_CONFIG_GENERATION:
      return t->config_generation;
    case VIRTIO_MMIO_SHM_LEN_LOW:
    case VIRTIO_MMIO_SHM_LEN_HIGH:
      return 0xffffffff; /* no shared memory regions */
    default:
      return 0;
    }
}

static void
virtio_queue_ready (struct vm_virtio *t, struct vm_virtqueue *vq, uint32_t v)
{
  if (!v)
    {
      uint16_t size = vq->size;
      vm_vq_reset (vq);
      vq->size = size;
      return;
    }
  hull_error_t err = NULL;
  vq->event_idx = t->driver_features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
  vq->indirect = t->driver_features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
  uint16_t max = t->ops->queue_max ((unsigned)(vq - t->queues));
  if (vq->size > max)
    hull_make_error (&err, 0, "queue size %u above the maximum %u", vq->size, max);
  if (err != NULL || vm_vq_setup (vq, &t->vm->mem, &err) < 0)
    {
      vm_virtio_set_broken (t, "queue setup", &err);
      return;
    }
  vq->ready = true;
}

/* FEATURES_OK only if the driver took VERSION_1 and nothing we did not
 * offer; the driver reads the status back to learn the verdict. */
static void
virtio_write_status (struct vm_virtio *t, uint32_t v)
{
  if (v == 0)
    {
      virtio_reset (t);
      return;
    }
  uint64_t offered = t->ops->features | MMIO_TRANSPORT_FEATURES;
  if ((v & VIRTIO_CONFIG_S_FEATURES_OK) && !(t->status & VIRTIO_CONFIG_S_FEATURES_OK)
      && (!(t->driver_features & (1ULL << VIRTIO_F_VERSION_1)) || (t->driver_features & ~offered)))
    v &= ~VIRTIO_CONFIG_S_FEATURES_OK;
  bool now_ok = (v & VIRTIO_CONFIG_S_DRIVER_OK) && !(t->status & VIRTIO_CONFIG_S_DRIVER_OK);
  t->status = v | (t->status & VIRTIO_CONFIG_S_NEEDS_RESET);
  if (now_ok && !t->broken && t->ops->activate)
    t->ops->activate (t->dev);
}

static void
virtio_set_addr (struct vm_virtqueue *vq, uint64_t *field, bool high, uint32_t v)
{
  if (vq->ready) /* the driver may not move a live queue */
    return;
  *field = high ? (*field & 0xffffffffULL) | ((uint64_t)v << 32) : (*field & ~0xffffffffULL) | v;
}

static void
virtio_write_reg (struct vm_virtio *t, uint64_t off, uint32_t v)
{
  struct vm_virtqueue *vq = t->queue_sel < t->ops->n_queues ? &t->queues[t->queue_sel] : NULL;
  bool features_open = !(t->status & VIRTIO_CONFIG_S_FEATURES_OK);
  switch (off)
    {
    case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
      t->device_features_sel = v;
      break;
    case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
      t->driver_features_sel = v;
      break;
    case VIRTIO_MMIO_DRIVER_FEATURES:
      if (features_open && t->driver_features_sel < 2)
        {
          unsigned shift = 32 * t->driver_features_sel;
          t->driver_features = (t->driver_features & ~(0xffffffffULL << shift)) | ((uint64_t)v << shift);
        }
      break;
    case VIRTIO_MMIO_QUEUE_SEL:
      t->queue_sel = v;
      break;
    case VIRTIO_MMIO_QUEUE_NUM:
      if (vq && !vq->ready)
        vq->size = (uint16_t)(v > 0xffff ? 0 : v);
      break;
    case VIRTIO_MMIO_QUEUE_READY:
      if (vq && !t->broken)
        virtio_queue_ready (t, vq, v);
      break;
    case VIRTIO_MMIO_QUEUE_NOTIFY:
      /* Only when no ioeventfd caught it (no KVM: tests): same path. */
      if (v < t->ops->n_queues)
        {
          uint64_t one = 1;
          (void)!write (t->kicks[v].fd, &one, sizeof (one));
        }
      break;
    case VIRTIO_MMIO_INTERRUPT_ACK:
      t->interrupt_status &= ~v;
      break;
    case VIRTIO_MMIO_STATUS:
      virtio_write_status (t, v);
      break;
    case VIRTIO_MMIO_QUEUE_DESC_LOW:
    case VIRTIO_MMIO_QUEUE_DESC_HIGH:
      if (vq)
        virtio_set_addr (vq, &vq->desc_gpa, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
      break;
    case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
    case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
      if (vq)
        virtio_set_addr (vq, &vq->avail_gpa, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, v);
      break;
    case VIRTIO_MMIO_QUEUE_USED_LOW:
    case VIRTIO_MMIO_QUEUE_USED_HIGH:
      if (vq)
        virtio_set_addr (vq, &vq->used_gpa, off == VIRTIO_MMIO_QUEUE_USED_HIGH, v);
      break;
    default: /* read-only or unknown: ignored */
      break;
    }
}

static void
virtio_mmio_read (void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
  struct vm_virtio *t = dev;
  memset (data, 0, len);
  pthread_mutex_lock (&t->lock);
  if (off >= VIRTIO_MMIO_CONFIG)
    {
      uint64_t c = off - VIRTIO_MMIO_CONFIG;
      if (c < t->ops->config_size && len <= t->ops->config_size - c && t->ops->config_read)
        t->ops->config_read (t->dev, (uint32_t)c, data, len);
    }
  else if (len == 4 && off % 4 == 0)
    {
      uint32_t v = virtio_read_reg (t, off);
      memcpy (data, &v, 4);
    }
  pthread_mutex_unlock (&t->lock);
}

static void
virtio_mmio_write (void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
  struct vm_virtio *t = dev;
  if (off >= VIRTIO_MMIO_CONFIG || len != 4 || off % 4 != 0)
    return; /* config space is read-only for our devices */
  uint32_t v;
  memcpy (&v, data, 4);
  pthread_mutex_lock (&t->lock);
  virtio_write_reg (t, off, v);
  pthread_mutex_unlock (&t->lock);
}

static const struct vm_io_ops virtio_mmio_ops = { .read = virtio_mmio_read, .write = virtio_mmio_write };

/* ---- kicks, interrupts, setup ------------------------------------------------------- */

static void
virtio_on_kick (struct vm *vm, void *opaque, uint32_t events)
{
  struct vm_virtio_kick *k = opaque;
  struct vm_virtio *t = k->t;
  uint64_t n;
  (void)vm;
  (void)events;
  if (read (k->fd, &n, sizeof (n)) < 0)
    return;
  pthread_mutex_lock (&t->lock);
  if (vm_virtio_active (t) && t->queues[k->q].ready && t->ops->queue_notify)
    t->ops->queue_notify (t->dev, k->q);
  pthread_mutex_unlock (&t->lock);
}

static int
virtio_setup_kick (struct vm_virtio *t, unsigned q, hull_error_t *err)
{
  struct vm_virtio_kick *k = &t->kicks[q];
  k->t = t;
  k->q = q;
  k->fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (k->fd < 0)
    return hull_make_error (err, errno, "%s: eventfd", t->ops->name);
  if (t->vm->vm_fd >= 0)
    {
      struct kvm_ioeventfd io = { .datamatch = q,
                                  .addr = t->base + VIRTIO_MMIO_QUEUE_NOTIFY,
                                  .len = 4,
                                  .fd = k->fd,
                                  .flags = KVM_IOEVENTFD_FLAG_DATAMATCH };
      if (ioctl (t->vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
        return hull_make_error (err, errno, "%s: KVM_IOEVENTFD for queue %u", t->ops->name, q);
    }
  return vm_loop_add (t->vm, k->fd, EPOLLIN, virtio_on_kick, k, err);
}

static int
virtio_setup_irq (struct vm_virtio *t, hull_error_t *err)
{
  t->irq_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (t->irq_fd < 0)
    return hull_make_error (err, errno, "%s: eventfd", t->ops->name);
  struct kvm_irqfd irqfd = { .fd = (uint32_t)t->irq_fd, .gsi = t->irq };
  if (t->vm->vm_fd >= 0 && ioctl (t->vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
    return hull_make_error (err, errno, "%s: KVM_IRQFD for IRQ %u", t->ops->name, t->irq);
  return 0;
}

static void
virtio_release (struct vm_virtio *t)
{
  for (unsigned i = 0; t->kicks && i < t->ops->n_queues; i++)
    if (t->kicks[i].fd >= 0)
      close (t->kicks[i].fd);
  if (t->irq_fd >= 0)
    close (t->irq_fd);
  free (t->kicks);
  free (t->queues);
  pthread_mutex_destroy (&t->lock);
  free (t);
}

static char *
virtio_cmdline_append (char *line, uint64_t base, unsigned irq)
{
  char *out
      = hull_fmt ("%s%svirtio_mmio.device=4K@0x%" PRIx64 ":%u", line ? line : "", line ? " " : "", base, irq);
  free (line);
  return out;
}

int
vm_virtio_mmio_add (struct vm *vm, const struct vm_virtio_ops *ops, void *dev, struct vm_virtio **out,
                    hull_error_t *err)
{
  unsigned slot = vm->n_virtio;
  if (VM_VIRTIO_IRQ_BASE + slot > VM_IRQ_MAX)
    return hull_make_error (err, 0, "%s: no IRQ left for another virtio device", ops->name);
  struct vm_virtio *t = xmalloc0 (sizeof (*t));
  *t = (struct vm_virtio){ .vm = vm,
                           .ops = ops,
                           .dev = dev,
                           .irq_fd = -1,
                           .base = VM_MMIO_START + slot * VM_MMIO_SIZE,
                           .irq = VM_VIRTIO_IRQ_BASE + slot };
  pthread_mutex_init (&t->lock, NULL);
  t->queues = xmalloc0 (ops->n_queues * sizeof (t->queues[0]));
  t->kicks = xmalloc0 (ops->n_queues * sizeof (t->kicks[0]));
  for (unsigned i = 0; i < ops->n_queues; i++)
    {
      t->kicks[i].fd = -1;
      t->queues[i].size = ops->queue_max (i);
    }
  /* Owned by the VM from here: vm_virtio_mmio_release_all undoes it. */
  vm->virtio = xreallocarray (vm->virtio, vm->n_virtio + 1, sizeof (vm->virtio[0]));
  vm->virtio[vm->n_virtio++] = t;
  if (virtio_setup_irq (t, err) < 0)
    return -1;
  for (unsigned i = 0; i < ops->n_queues; i++)
    if (virtio_setup_kick (t, i, err) < 0)
      return -1;
  if (vm_bus_register (&vm->mmio, t->base, VM_MMIO_SIZE, &virtio_mmio_ops, t, ops->name, err) < 0)
    return -1;
  vm->cmdline_devices = virtio_cmdline_append (vm->cmdline_devices, t->base, t->irq);
  *out = t;
  return 0;
}

void
vm_virtio_mmio_release_all (struct vm *vm)
{
  for (unsigned i = 0; i < vm->n_virtio; i++)
    virtio_release (vm->virtio[i]);
  free (vm->virtio);
  vm->virtio = NULL;
  vm->n_virtio = 0;
}
