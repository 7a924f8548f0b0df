/* The host/guest channel: a virtio-console device with
 * VIRTIO_CONSOLE_F_MULTIPORT (virtio 1.x section 5.3), one named port per
 * stream.  Queues: port 0 rx/tx = 0/1, control rx/tx = 2/3, port n rx/tx =
 * 2n+2/2n+3.  Host side: each port has an in fd (host -> guest) and an out
 * fd (guest -> host), non-blocking and watched by the loop only while there
 * is something to do, so a full pipe stalls its own port and nothing else.
 * Why virtio-console rather than vsock: docs/vmm.md. */
#include "virtio.h"

#include <limits.h>
#include <signal.h>
#include <linux/virtio_console.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* Receive queues (host -> guest) are smaller: Linux fills each with one page
 * per descriptor when the port appears, 1,280 allocations at boot for five
 * queues of 256.  64 pages in flight keep stdin's pipe busy; transmit queues,
 * which the guest fills only as it writes, keep 256 for stdout's bursts. */
#define CONSOLE_TX_QUEUE_SIZE 256
#define CONSOLE_RX_QUEUE_SIZE 64
/* Chains per queue per round: a guest that keeps adding buffers must not
 * keep the loop thread (and the signals it reads) to itself.  A round that
 * stops there kicks the queue again, to continue after the other fds. */
#define CONSOLE_BATCH 64
#define CTRL_RX_Q 2
#define CTRL_TX_Q 3

struct console_msg
{
  uint32_t id;
  uint16_t event, value;
  char *name; /* PORT_NAME only */
};

struct console_port
{
  struct vm_console *con;
  unsigned id;
  const char *name;
  int in_fd, out_fd; /* our duplicates, -1 when none or closed */
  bool in_watched, out_watched;
  bool in_pollable, out_pollable; /* false for regular files: always ready */
  bool in_sock, out_sock;         /* sockets: MSG_DONTWAIT instead of O_NONBLOCK */
  int in_flags, out_flags;        /* file status flags to put back when closing, or -1 */
  bool guest_ready;               /* PORT_READY received */
  bool guest_open;                /* a guest process has the port open */
  bool close_out_when_drained;    /* the guest closed the port */
  bool tx_busy;                   /* tx holds a chain being written out */
  unsigned tx_seg;                /* first iovec of tx not yet written */
  struct vm_vq_chain tx;
};

struct vm_console
{
  struct vm *vm;
  struct vm_virtio *t;
  unsigned n_ports;
  struct console_port *ports;
  struct console_msg *msgs; /* control messages waiting for guest buffers */
  size_t n_msgs;
  struct vm_vq_chain scratch;
  struct virtio_console_config config;
  struct vm_virtio_ops ops; /* console_ops with this device's queue count */
};

static unsigned
port_rx_q (unsigned id)
{
  return id == 0 ? 0 : 2 * id + 2;
}

static unsigned
port_tx_q (unsigned id)
{
  return id == 0 ? 1 : 2 * id + 3;
}

/* ---- fds in the loop -------------------------------------------------------------- */

static void console_on_in (struct vm *vm, void *opaque, uint32_t events);
static void console_on_out (struct vm *vm, void *opaque, uint32_t events);

/* Watches (or stops watching) one direction of a port.  A regular file
 * cannot be polled (EPERM): it is always ready, so it is never watched. */
static void
port_watch (struct console_port *p, bool out, bool on)
{
  int fd = out ? p->out_fd : p->in_fd;
  bool *watched = out ? &p->out_watched : &p->in_watched;
  bool *pollable = out ? &p->out_pollable : &p->in_pollable;
  if (fd < 0 || *watched == on || !*pollable)
    return;
  if (!on)
    {
      vm_loop_del (p->con->vm, fd);
      *watched = false;
      return;
    }
  hull_error_t err = NULL;
  if (vm_loop_add (p->con->vm, fd, out ? EPOLLOUT : EPOLLIN, out ? console_on_out : console_on_in, p, &err)
      < 0)
    {
      if (err->status == EPERM)
        *pollable = false;
      else
        vm_serial_note (p->con->vm, "channel port %s: %s", p->name, err->msg);
      hull_error_release (&err);
      return;
    }
  *watched = true;
}

static void
port_close (struct console_port *p, bool out)
{
  port_watch (p, out, false);
  int *fd = out ? &p->out_fd : &p->in_fd;
  int *flags = out ? &p->out_flags : &p->in_flags;
  if (*fd >= 0 && *flags >= 0)
    (void)fcntl (*fd, F_SETFL, *flags); /* the open file is shared: as we found it */
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
  *flags = -1;
}

/* ---- control messages -------------------------------------------------------------- */

static void
console_flush_msgs (struct vm_console *c)
{
  struct vm_virtqueue *vq = vm_virtio_queue (c->t, CTRL_RX_Q);
  bool pushed = false;
  hull_error_t err = NULL;
  while (vq && c->n_msgs > 0)
    {
      int r = vm_vq_pop (vq, &c->scratch, &err);
      if (r < 0)
        {
          vm_virtio_set_broken (c->t, "control receive queue", &err);
          return;
        }
      if (r == 0)
        break; /* the guest will kick when it adds buffers */
      struct console_msg *m = &c->msgs[0];
      struct virtio_console_control hdr = { .id = m->id, .event = m->event, .value = m->value };
      size_t len = vm_vq_copy_to (&c->scratch, 0, &hdr, sizeof (hdr));
      if (m->name)
        len += vm_vq_copy_to (&c->scratch, sizeof (hdr), m->name, strlen (m->name));
      vm_vq_push (vq, c->scratch.head, (uint32_t)len);
      pushed = true;
      free (m->name);
      memmove (c->msgs, c->msgs + 1, --c->n_msgs * sizeof (c->msgs[0]));
    }
  if (pushed && vm_vq_should_signal (vq))
    vm_virtio_signal (c->t);
}

static void
console_send (struct vm_console *c, uint32_t id, uint16_t event, uint16_t value, const char *name)
{
  c->msgs = xreallocarray (c->msgs, c->n_msgs + 1, sizeof (c->msgs[0]));
  c->msgs[c->n_msgs++] = (struct console_msg){
    .id = id, .event = event, .value = value, .name = name ? xstrdup (name) : NULL
  };
  console_flush_msgs (c);
}

static bool
port_host_connected (const struct console_port *p)
{
  return p->in_fd >= 0 || p->out_fd >= 0;
}

static void port_fill (struct console_port *p);
static void port_drain (struct console_port *p);

static void
console_port_open_by_guest (struct console_port *p, bool open)
{
  p->guest_open = open;
  if (open)
    {
      port_fill (p);
      return;
    }
  /* The guest closed the port: EOF for the host reader once what the guest
   * wrote before closing is out. */
  p->close_out_when_drained = true;
  port_drain (p);
}

/* Returns -1 when the message breaks the protocol. */
static int
console_control (struct vm_console *c, const struct virtio_console_control *m, hull_error_t *err)
{
  if (m->event == VIRTIO_CONSOLE_DEVICE_READY)
    {
      if (m->value != 1)
        vm_serial_note (c->vm, "channel: the guest driver failed to set up the device");
      for (unsigned i = 0; m->value == 1 && i < c->n_ports; i++)
        console_send (c, i, VIRTIO_CONSOLE_PORT_ADD, 0, NULL);
      return 0;
    }
  if (m->event != VIRTIO_CONSOLE_PORT_READY && m->event != VIRTIO_CONSOLE_PORT_OPEN)
    return 0; /* nothing else is for the device; ignore */
  if (m->id >= c->n_ports)
    return hull_make_error (err, 0, "control message %u for port %u, the device has %u", m->event, m->id,
                            c->n_ports);
  struct console_port *p = &c->ports[m->id];
  if (m->event == VIRTIO_CONSOLE_PORT_OPEN)
    {
      console_port_open_by_guest (p, m->value);
      return 0;
    }
  if (m->value != 1)
    {
      vm_serial_note (c->vm, "channel: the guest failed to add port %s", p->name);
      return 0;
    }
  p->guest_ready = true;
  console_send (c, p->id, VIRTIO_CONSOLE_PORT_NAME, 1, p->name);
  console_send (c, p->id, VIRTIO_CONSOLE_PORT_OPEN, port_host_connected (p), NULL);
  port_fill (p);
  port_drain (p);
  return 0;
}

static void
console_control_from_guest (struct vm_console *c)
{
  struct vm_virtqueue *vq = vm_virtio_queue (c->t, CTRL_TX_Q);
  hull_error_t err = NULL;
  bool pushed = false;
  int n = 0;
  for (int r; vq && n < CONSOLE_BATCH && (r = vm_vq_pop (vq, &c->scratch, &err)) != 0; n++)
    {
      struct virtio_console_control m;
      if (r < 0)
        {
          vm_virtio_set_broken (c->t, "control transmit queue", &err);
          return;
        }
      if (vm_vq_copy_from (&c->scratch, 0, &m, sizeof (m)) != sizeof (m))
        {
          vm_virtio_set_broken (c->t, "control transmit queue: message shorter than 8 bytes", NULL);
          return;
        }
      vm_vq_push (vq, c->scratch.head, 0);
      pushed = true;
      if (console_control (c, &m, &err) < 0)
        {
          vm_virtio_set_broken (c->t, "control message", &err);
          return;
        }
      if (!vm_virtio_active (c->t))
        return;
    }
  if (pushed && vm_vq_should_signal (vq))
    vm_virtio_signal (c->t);
  if (n == CONSOLE_BATCH)
    vm_virtio_kick_self (c->t, CTRL_TX_Q);
}

/* ---- data ------------------------------------------------------------------------ */

/* The host's input ended: the guest reads EOF once it has the data. */
static void
port_in_eof (struct console_port *p)
{
  port_close (p, false);
  console_send (p->con, p->id, VIRTIO_CONSOLE_PORT_OPEN, port_host_connected (p), NULL);
}

static ssize_t
port_readv (struct console_port *p, struct iovec *iov, int n)
{
  if (!p->in_sock)
    return readv (p->in_fd, iov, n);
  struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
  return recvmsg (p->in_fd, &m, MSG_DONTWAIT);
}

static ssize_t
port_writev (struct console_port *p, struct iovec *iov, int n)
{
  if (!p->out_sock)
    return writev (p->out_fd, iov, n);
  struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
  return sendmsg (p->out_fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Host -> guest: reads in_fd straight into the guest's receive buffers. */
static void
port_fill (struct console_port *p)
{
  struct vm_console *c = p->con;
  struct vm_virtqueue *vq = vm_virtio_queue (c->t, port_rx_q (p->id));
  hull_error_t err = NULL;
  bool pushed = false;
  /* Linux drops what arrives on a port no guest process has open: the
   * host's input waits for the open (as QEMU's virtserialport does). */
  if (!vq || !p->guest_open || p->in_fd < 0 || !vm_virtio_active (c->t))
    {
      port_watch (p, false, false); /* else a readable fd would spin the loop */
      return;
    }
  int n = 0;
  for (; n < CONSOLE_BATCH; n++)
    {
      int r = vm_vq_pop (vq, &c->scratch, &err);
      if (r < 0)
        {
          vm_virtio_set_broken (c->t, "port receive queue", &err);
          return;
        }
      if (r == 0)
        {
          port_watch (p, false, false); /* until the guest adds buffers */
          break;
        }
      int iovcnt = (int)(c->scratch.n_in < IOV_MAX ? c->scratch.n_in : IOV_MAX);
      ssize_t got = iovcnt ? port_readv (p, &c->scratch.iov[c->scratch.n_out], iovcnt) : 0;
      if (got < 0 && (errno == EAGAIN || errno == EINTR))
        {
          vm_vq_unpop (vq);
          port_watch (p, false, true);
          break;
        }
      if (got <= 0 && iovcnt > 0)
        {
          if (got < 0)
            vm_serial_note (c->vm, "channel port %s: read: %s", p->name, strerror (errno));
          vm_vq_unpop (vq);
          port_in_eof (p);
          break;
        }
      vm_vq_push (vq, c->scratch.head, (uint32_t)got);
      pushed = true;
      port_watch (p, false, true);
    }
  if (pushed && vm_vq_should_signal (vq))
    vm_virtio_signal (c->t);
  /* The round ended with buffers and maybe data left; a regular file is
   * never watched, so come back through the queue. */
  if (n == CONSOLE_BATCH)
    vm_virtio_kick_self (c->t, port_rx_q (p->id));
}

/* Skips `done` bytes of the pending chain's buffers. */
static void
port_tx_advance (struct console_port *p, size_t done)
{
  while (done > 0 && p->tx_seg < p->tx.n_out)
    {
      struct iovec *v = &p->tx.iov[p->tx_seg];
      size_t n = done < v->iov_len ? done : v->iov_len;
      v->iov_base = (char *)v->iov_base + n;
      v->iov_len -= n;
      done -= n;
      if (v->iov_len == 0)
        p->tx_seg++;
    }
  while (p->tx_seg < p->tx.n_out && p->tx.iov[p->tx_seg].iov_len == 0)
    p->tx_seg++;
}

/* Writes what it can of the pending chain; true when it is all out. */
static bool
port_tx_write (struct console_port *p)
{
  while (p->out_fd >= 0 && p->tx_seg < p->tx.n_out)
    {
      unsigned left = p->tx.n_out - p->tx_seg;
      ssize_t n = port_writev (p, &p->tx.iov[p->tx_seg], (int)(left < IOV_MAX ? left : IOV_MAX));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        {
          port_watch (p, true, true);
          return false;
        }
      if (n < 0)
        {
          /* The reader is gone: what the guest writes is dropped from now
           * on, as on a closed terminal, rather than blocking the guest. */
          vm_serial_note (p->con->vm, "channel port %s: write: %s; output dropped", p->name,
                          strerror (errno));
          port_close (p, true);
          break;
        }
      port_tx_advance (p, (size_t)n);
    }
  return true;
}

/* Guest -> host: the transmit queue's chains written to out_fd in order. */
static void
port_drain (struct console_port *p)
{
  struct vm_console *c = p->con;
  struct vm_virtqueue *vq = vm_virtio_queue (c->t, port_tx_q (p->id));
  hull_error_t err = NULL;
  bool pushed = false;
  if (!vq || !vm_virtio_active (c->t))
    {
      port_watch (p, true, false);
      return;
    }
  int n = 0;
  for (; n < CONSOLE_BATCH; n++)
    {
      if (!p->tx_busy)
        {
          int r = vm_vq_pop (vq, &p->tx, &err);
          if (r < 0)
            {
              vm_virtio_set_broken (c->t, "port transmit queue", &err);
              return;
            }
          if (r == 0)
            break;
          p->tx_busy = true;
          p->tx_seg = 0;
          port_tx_advance (p, 0);
        }
      if (!port_tx_write (p))
        break; /* out_fd is full: console_on_out resumes */
      vm_vq_push (vq, p->tx.head, 0);
      p->tx_busy = false;
      pushed = true;
    }
  if (!p->tx_busy)
    port_watch (p, true, false);
  if (pushed && vm_vq_should_signal (vq))
    vm_virtio_signal (c->t);
  if (n == CONSOLE_BATCH)
    vm_virtio_kick_self (c->t, port_tx_q (p->id)); /* more may wait: after the other fds */
  else if (!p->tx_busy && p->close_out_when_drained && !vm_vq_enable_notify (vq))
    port_close (p, true);
}

static void
console_on_in (struct vm *vm, void *opaque, uint32_t events)
{
  struct console_port *p = opaque;
  (void)vm;
  (void)events;
  vm_virtio_lock (p->con->t);
  port_fill (p);
  vm_virtio_unlock (p->con->t);
}

static void
console_on_out (struct vm *vm, void *opaque, uint32_t events)
{
  struct console_port *p = opaque;
  (void)vm;
  (void)events;
  vm_virtio_lock (p->con->t);
  port_drain (p);
  vm_virtio_unlock (p->con->t);
}

/* ---- device ops ---------------------------------------------------------------------- */

static void console_port_notify (struct vm_console *c, unsigned q);

static void
console_queue_notify (void *dev, unsigned q)
{
  struct vm_console *c = dev;
  if (q == CTRL_TX_Q)
    console_control_from_guest (c);
  else if (q == CTRL_RX_Q)
    console_flush_msgs (c);
  else
    console_port_notify (c, q);
}

static void
console_port_notify (struct vm_console *c, unsigned q)
{
  unsigned id = q < 2 ? 0 : (q - 2) / 2;
  if (id >= c->n_ports)
    return;
  if (q == port_rx_q (id))
    port_fill (&c->ports[id]);
  else
    port_drain (&c->ports[id]);
}

static void
console_reset (void *dev)
{
  struct vm_console *c = dev;
  for (unsigned i = 0; i < c->n_ports; i++)
    {
      struct console_port *p = &c->ports[i];
      port_watch (p, false, false);
      port_watch (p, true, false);
      p->guest_ready = p->guest_open = p->tx_busy = false;
    }
  for (size_t i = 0; i < c->n_msgs; i++)
    free (c->msgs[i].name);
  c->n_msgs = 0;
}

/* DRIVER_OK: anything the driver queued before it is taken now. */
static void
console_activate (void *dev)
{
  struct vm_console *c = dev;
  console_control_from_guest (c);
  console_flush_msgs (c);
}

static void
console_config_read (void *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
  struct vm_console *c = dev;
  memcpy (data, (const uint8_t *)&c->config + offset, len); /* range checked by the transport */
}

/* Even queues receive (port 0, control, ports 1..n), odd ones transmit. */
static uint16_t
console_queue_max (unsigned q)
{
  return q % 2 == 0 ? CONSOLE_RX_QUEUE_SIZE : CONSOLE_TX_QUEUE_SIZE;
}

static const struct vm_virtio_ops console_ops = {
  .name = "virtio-console",
  .device_id = 3, /* VIRTIO_ID_CONSOLE */
  .features = 1ULL << VIRTIO_CONSOLE_F_MULTIPORT,
  .queue_max = console_queue_max,
  .config_size = sizeof (struct virtio_console_config),
  .config_read = console_config_read,
  .activate = console_activate,
  .queue_notify = console_queue_notify,
  .reset = console_reset,
};

/* The VMM's fd for one direction of a port.  The loop needs it
 * non-blocking, but O_NONBLOCK is a flag of the open file, which the caller
 * shares (a terminal or a pipe inherited from a shell is shared with every
 * process using it), so it is set on the caller's open file only as a last
 * resort, and put back when the port closes:
 *   - a pipe or a terminal is opened again through /proc/self/fd: a new
 *     open file of the VMM's own;
 *   - a socket is duplicated and used with MSG_DONTWAIT;
 *   - a regular file never blocks: duplicated, never polled;
 *   - a pipe's write end whose reader is gone: duplicated (writes fail
 *     with EPIPE whatever the flags);
 *   - anything else, or what cannot be opened again (a pty master, a
 *     serial line opened exclusively): duplicated and made non-blocking
 *     until the port closes. */
static int
console_port_fd (int fd, bool out, const char *name, int *res, bool *is_sock, int *restore, hull_error_t *err)
{
  *res = *restore = -1;
  *is_sock = false;
  if (fd < 0)
    return 0;
  struct stat st;
  if (fstat (fd, &st) < 0)
    return hull_make_error (err, errno, "channel port %s: fd %d", name, fd);
  bool ptmx = S_ISCHR (st.st_mode) && major (st.st_rdev) == 5 && minor (st.st_rdev) == 2;
  if (S_ISFIFO (st.st_mode) || (S_ISCHR (st.st_mode) && !ptmx))
    {
      char path[HULL_PROC_FD_PATH_MAX];
      int r = open (hull_proc_fd_path (fd, path), (out ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
      if (r >= 0)
        {
          *res = r;
          return 0;
        }
    }
  int d = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  if (d < 0)
    return hull_make_error (err, errno, "channel port %s: dup fd %d", name, fd);
  *res = d;
  *is_sock = S_ISSOCK (st.st_mode);
  if (S_ISSOCK (st.st_mode) || S_ISREG (st.st_mode) || S_ISFIFO (st.st_mode))
    return 0;
  int fl = fcntl (d, F_GETFL);
  if (fl < 0 || fcntl (d, F_SETFL, fl | O_NONBLOCK) < 0)
    return hull_make_error (err, errno, "channel port %s: O_NONBLOCK on fd %d", name, fd);
  *restore = fl;
  return 0;
}

/* After the vCPUs stopped: takes every chain the guest left in the ports'
 * transmit queues; true while some still wait for room in their fd. */
bool
vm_console_output_pending (struct vm *vm)
{
  struct vm_console *c = vm->console;
  bool pending = false;
  if (c == NULL)
    return false;
  vm_virtio_lock (c->t);
  for (unsigned i = 0; vm_virtio_active (c->t) && i < c->n_ports; i++)
    {
      struct console_port *p = &c->ports[i];
      struct vm_virtqueue *vq = vm_virtio_queue (c->t, port_tx_q (p->id));
      if (vq == NULL)
        continue;
      if (!p->tx_busy && vm_vq_has_avail (vq))
        port_drain (p);
      pending = pending || p->tx_busy || (vm_virtio_active (c->t) && vm_vq_has_avail (vq));
    }
  vm_virtio_unlock (c->t);
  return pending;
}

int
vm_console_init (struct vm *vm, hull_error_t *err)
{
  /* A host reader that went away is an EPIPE to handle (the port's output
   * is dropped), not a reason for the VMM to die. */
  signal (SIGPIPE, SIG_IGN);
  struct vm_console *c = xmalloc0 (sizeof (*c));
  vm->console = c;
  c->vm = vm;
  c->n_ports = vm->cfg.n_ports;
  c->ports = xmalloc0 (c->n_ports * sizeof (c->ports[0]));
  c->config.max_nr_ports = c->n_ports;
  for (unsigned i = 0; i < c->n_ports; i++)
    {
      const struct vm_port *cp = &vm->cfg.ports[i];
      struct console_port *p = &c->ports[i];
      *p = (struct console_port){ .con = c,
                                  .id = i,
                                  .name = cp->name,
                                  .in_fd = -1,
                                  .out_fd = -1,
                                  .in_flags = -1,
                                  .out_flags = -1,
                                  .in_pollable = true,
                                  .out_pollable = true };
      if (console_port_fd (cp->in_fd, false, cp->name, &p->in_fd, &p->in_sock, &p->in_flags, err) < 0
          || console_port_fd (cp->out_fd, true, cp->name, &p->out_fd, &p->out_sock, &p->out_flags, err) < 0)
        return -1;
    }
  c->ops = console_ops;
  c->ops.n_queues = 2 * (c->n_ports + 1);
  return vm_virtio_mmio_add (vm, &c->ops, c, &c->t, err);
}

void
vm_console_exit (struct vm *vm)
{
  struct vm_console *c = vm->console;
  if (c == NULL)
    return;
  for (unsigned i = 0; i < c->n_ports; i++)
    {
      port_close (&c->ports[i], false);
      port_close (&c->ports[i], true);
    }
  for (size_t i = 0; i < c->n_msgs; i++)
    free (c->msgs[i].name);
  free (c->msgs);
  free (c->ports);
  free (c);
  vm->console = NULL;
}
