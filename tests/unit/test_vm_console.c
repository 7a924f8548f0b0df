/* The channel device (virtio-console, multiport) and the virtio-mmio
 * transport, without KVM: the test plays the guest's driver on a plain
 * buffer, through the MMIO registers, as Linux's virtio_mmio and
 * virtio_console drivers do; the host side is pipes.  Then a hostile
 * driver: the device must end up DEVICE_NEEDS_RESET, never crash. */
#include "../../vm-shim/virtio.h"
#include "../../vm-shim/agent-proto.h"
#include "test_vm_fixture.h"
#include "unit.h"

#include <signal.h>
#include <sys/eventfd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_console.h>
#include <linux/virtio_mmio.h>

#define RAM_SIZE (2u << 20)
#define QN 128       /* largest queue the driver picks: more than one device round */
#define BUF_SIZE 512 /* each buffer the driver posts */
#define RING_BASE 0x10000
#define BUF_BASE 0x80000

struct gq /* the driver's view of one queue */
{
  uint16_t num; /* its size: QN, or less if the device offers less */
  uint16_t avail_idx, used_seen;
  uint16_t kick_base; /* avail_idx at the last kick decision (Linux: num_added) */
};

struct guest
{
  bool event_idx; /* negotiated: kick only when the device asks (avail_event) */
  uint8_t *ram;
  struct vm *vm;
  unsigned n_queues;
  struct gq q[2 * (VM_MAX_PORTS + 1)];
  char *dir, *log;
};

static uint64_t
ring_gpa (unsigned q)
{
  return RING_BASE + q * 0x2000;
}
static uint64_t
buf_gpa (unsigned q, unsigned i)
{
  return BUF_BASE + (q * QN + i) * BUF_SIZE;
}
static struct vring_desc *
g_desc (struct guest *g, unsigned q)
{
  return (void *)(g->ram + ring_gpa (q));
}
static struct vring_avail *
g_avail (struct guest *g, unsigned q)
{
  return (void *)(g->ram + ring_gpa (q) + 0x800);
}
static struct vring_used *
g_used (struct guest *g, unsigned q)
{
  return (void *)(g->ram + ring_gpa (q) + 0x1000);
}

static uint32_t
mmio_read (struct guest *g, uint64_t off)
{
  uint32_t v;
  vm_bus_access (&g->vm->mmio, VM_MMIO_START + off, (uint8_t *)&v, 4, false);
  return v;
}

static void
mmio_write (struct guest *g, uint64_t off, uint32_t v)
{
  vm_bus_access (&g->vm->mmio, VM_MMIO_START + off, (uint8_t *)&v, 4, true);
}

static void
pump (struct guest *g)
{
  for (int i = 0; i < 8; i++)
    vm_loop_poll (g->vm, 0);
}

/* Adds one buffer (desc index = avail slot) and kicks unless told not to. */
static void
g_post (struct guest *g, unsigned q, const void *data, uint32_t len, bool writable, bool kick)
{
  unsigned slot = g->q[q].avail_idx % g->q[q].num;
  uint64_t a = buf_gpa (q, slot);
  if (data)
    memcpy (g->ram + a, data, len);
  g_desc (g, q)[slot]
      = (struct vring_desc){ .addr = a, .len = len, .flags = writable ? VRING_DESC_F_WRITE : 0 };
  g_avail (g, q)->ring[slot] = (uint16_t)slot;
  __atomic_thread_fence (__ATOMIC_RELEASE);
  g_avail (g, q)->idx = ++g->q[q].avail_idx;
  if (!kick)
    return;
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  /* As Linux's virtqueue_kick_prepare: with EVENT_IDX, only when the
   * buffers added since the last kick pass the device's avail_event. */
  uint16_t old = g->q[q].kick_base, new = g->q[q].avail_idx;
  uint16_t avail_event = *(uint16_t *)&g_used (g, q)->ring[g->q[q].num];
  g->q[q].kick_base = new;
  if (!g->event_idx || (uint16_t)(new - avail_event - 1) < (uint16_t)(new - old))
    mmio_write (g, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

/* Next used buffer of q: its data and length; false if none. */
static bool
g_take (struct guest *g, unsigned q, void **data, uint32_t *len)
{
  struct vring_used *u = g_used (g, q);
  if (u->idx == g->q[q].used_seen)
    return false;
  struct vring_used_elem e = u->ring[g->q[q].used_seen++ % g->q[q].num];
  *data = g->ram + g_desc (g, q)[e.id].addr;
  *len = e.len;
  return true;
}

static int
g_setup_queues (struct guest *g, unsigned n)
{
  for (unsigned q = 0; q < n; q++)
    {
      mmio_write (g, VIRTIO_MMIO_QUEUE_SEL, q);
      uint32_t max = mmio_read (g, VIRTIO_MMIO_QUEUE_NUM_MAX);
      if (max == 0)
        return -1;
      g->q[q].num = max < QN ? (uint16_t)max : QN;
      mmio_write (g, VIRTIO_MMIO_QUEUE_NUM, g->q[q].num);
      mmio_write (g, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)ring_gpa (q));
      mmio_write (g, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
      mmio_write (g, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)ring_gpa (q) + 0x800);
      mmio_write (g, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)ring_gpa (q) + 0x1000);
      mmio_write (g, VIRTIO_MMIO_QUEUE_READY, 1);
    }
  return 0;
}

/* The virtio 1.x initialisation sequence (section 3.1.1). */
static int
g_init_device (struct guest *g, uint64_t features)
{
  g->event_idx = features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
  memset (g->q, 0, sizeof (g->q));
  memset (g->ram + RING_BASE, 0, BUF_BASE - RING_BASE);
  mmio_write (g, VIRTIO_MMIO_STATUS, 0);
  mmio_write (g, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
  mmio_write (g, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  mmio_write (g, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
  mmio_write (g, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  mmio_write (g, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
  mmio_write (g, VIRTIO_MMIO_STATUS,
              VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
  if (!(mmio_read (g, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK))
    return -1;
  if (g_setup_queues (g, g->n_queues) < 0)
    return -1;
  mmio_write (g, VIRTIO_MMIO_STATUS,
              VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK
                  | VIRTIO_CONFIG_S_DRIVER_OK);
  return 0;
}

static void
g_control (struct guest *g, uint32_t id, uint16_t event, uint16_t value)
{
  struct virtio_console_control m = { .id = id, .event = event, .value = value };
  g_post (g, 3, &m, sizeof (m), false, true);
}

/* What Linux's drivers take: event indices and indirect descriptors too. */
static const uint64_t default_features = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_CONSOLE_F_MULTIPORT)
                                         | (1ULL << VIRTIO_RING_F_EVENT_IDX)
                                         | (1ULL << VIRTIO_RING_F_INDIRECT_DESC);

static struct guest *
guest_new_process (struct vm_port *ports, unsigned n, const struct vm_process *process)
{
  struct guest *g = xmalloc0 (sizeof (*g));
  g->ram = xmalloc0 (RAM_SIZE);
  g->dir = vmt_tmpdir ();
  g->log = hull_fmt ("%s/serial.log", g->dir);
  g->n_queues = 2 * (n + (process ? VM_AGENT_PORTS : 0) + 1);
  struct vm_config cfg = { .ports = ports, .n_ports = n, .serial_log = g->log, .process = process };
  hull_error_t err = NULL;
  if (vm_create_devices_only (&cfg, g->ram, RAM_SIZE, &g->vm, &err) < 0)
    {
      fprintf (stderr, "%s\n", err->msg);
      abort ();
    }
  return g;
}

static struct guest *
guest_new (struct vm_port *ports, unsigned n)
{
  return guest_new_process (ports, n, NULL);
}

static void
guest_free (struct guest *g)
{
  vm_destroy (g->vm);
  free (g->ram);
  free (g->log);
  vmt_cleanup (g->dir);
  free (g);
}

/* Brings the device up to "every port ready, named and open": the control
 * exchange Linux's virtio_console does at probe, message by message. */
static int
g_bring_up (struct guest *g, unsigned n_ports, char names[][16])
{
  if (g_init_device (g, default_features) < 0)
    return -1;
  for (unsigned i = 0; i < 8; i++)
    g_post (g, 2, NULL, BUF_SIZE, true, false);
  for (unsigned p = 0; p < n_ports; p++)
    for (unsigned i = 0; i < 4; i++)
      g_post (g, p == 0 ? 0 : 2 * p + 2, NULL, BUF_SIZE, true, false);
  g_control (g, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
  unsigned added = 0, named = 0, opened = 0;
  for (int round = 0; round < 10 && opened < n_ports; round++)
    {
      pump (g);
      void *d;
      uint32_t len;
      while (g_take (g, 2, &d, &len))
        {
          struct virtio_console_control m;
          if (len < 8 || len - 8 >= 16)
            return -2;
          memcpy (&m, d, 8);
          if (m.id >= n_ports)
            return -3;
          if (m.event == VIRTIO_CONSOLE_PORT_ADD)
            {
              added++;
              g_control (g, m.id, VIRTIO_CONSOLE_PORT_READY, 1);
            }
          else if (m.event == VIRTIO_CONSOLE_PORT_NAME)
            {
              memcpy (names[m.id], (char *)d + 8, len - 8);
              names[m.id][len - 8] = 0;
              named++;
            }
          else if (m.event == VIRTIO_CONSOLE_PORT_OPEN && m.value == 1)
            opened++;
          g_post (g, 2, NULL, BUF_SIZE, true, true); /* recycle */
        }
    }
  if (added != n_ports || named != n_ports || opened != n_ports)
    return -4;
  /* A guest process opens each port, as Linux's port_fops_open says. */
  for (unsigned p = 0; p < n_ports; p++)
    g_control (g, p, VIRTIO_CONSOLE_PORT_OPEN, 1);
  pump (g);
  return 0;
}

struct pipes
{
  int in[2], out[2];
};

static void
make_pipes (struct pipes *p)
{
  if (pipe2 (p->in, O_CLOEXEC) < 0 || pipe2 (p->out, O_CLOEXEC) < 0)
    abort ();
}

TEST (transport_identifies_the_device)
{
  struct vm_port ports[] = { { "hull.ctl", -1, -1 } };
  struct guest *g = guest_new (ports, 1);
  CHECK (mmio_read (g, VIRTIO_MMIO_MAGIC_VALUE) == 0x74726976);
  CHECK (mmio_read (g, VIRTIO_MMIO_VERSION) == 2);
  CHECK (mmio_read (g, VIRTIO_MMIO_DEVICE_ID) == 3);
  mmio_write (g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
  CHECK (mmio_read (g, VIRTIO_MMIO_DEVICE_FEATURES) & 1); /* VERSION_1 */
  mmio_write (g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  CHECK (mmio_read (g, VIRTIO_MMIO_DEVICE_FEATURES) & (1u << VIRTIO_CONSOLE_F_MULTIPORT));
  uint32_t max_ports;
  vm_bus_access (&g->vm->mmio, VM_MMIO_START + 0x100 + 4, (uint8_t *)&max_ports, 4, false);
  CHECK (max_ports == 1);
  uint8_t beyond[4] = { 1, 1, 1, 1 };
  vm_bus_access (&g->vm->mmio, VM_MMIO_START + 0x100 + 10, beyond, 4, false); /* crosses the config's end */
  CHECK (beyond[0] == 0 && beyond[3] == 0);
  CHECK_STR (g->vm->cmdline_devices, "virtio_mmio.device=4K@0xd0000000:5");
  guest_free (g);
}

/* Receive queues (even) are offered smaller than transmit queues (odd):
 * Linux fills every receive queue with one page per descriptor. */
TEST (receive_queues_are_offered_smaller_than_transmit_queues)
{
  struct vm_port ports[] = { { "hull.ctl", -1, -1 } };
  struct guest *g = guest_new (ports, 1);
  uint32_t max[4];
  for (unsigned q = 0; q < 4; q++)
    {
      mmio_write (g, VIRTIO_MMIO_QUEUE_SEL, q);
      max[q] = mmio_read (g, VIRTIO_MMIO_QUEUE_NUM_MAX);
    }
  CHECK (max[0] == 64 && max[2] == 64);
  CHECK (max[1] == 256 && max[3] == 256);
  guest_free (g);
}

TEST (legacy_driver_is_refused_features_ok)
{
  struct vm_port ports[] = { { "hull.ctl", -1, -1 } };
  struct guest *g = guest_new (ports, 1);
  CHECK (g_init_device (g, 1ULL << VIRTIO_CONSOLE_F_MULTIPORT) < 0); /* no VERSION_1 */
  CHECK (g_init_device (g, default_features | (1ULL << 40)) < 0);    /* not offered */
  CHECK (g_init_device (g, default_features) == 0);
  guest_free (g);
}

TEST (ports_are_announced_named_and_carry_data_both_ways)
{
  struct pipes a, b;
  make_pipes (&a);
  make_pipes (&b);
  struct vm_port ports[] = { { "hull.stdin", a.in[0], -1 }, { "hull.stdout", -1, b.out[1] } };
  struct guest *g = guest_new (ports, 2);
  close (a.in[0]);
  close (b.out[1]);
  char names[2][16];
  CHECK (g_bring_up (g, 2, names) == 0);
  CHECK_STR (names[0], "hull.stdin");
  CHECK_STR (names[1], "hull.stdout");

  /* guest -> host on port 1 (tx queue 5) */
  g_post (g, 5, "hello, ", 7, false, true);
  g_post (g, 5, "host\n", 5, false, true);
  pump (g);
  char buf[64] = { 0 };
  CHECK (read (b.out[0], buf, sizeof (buf)) == 12);
  CHECK_STR (buf, "hello, host\n");
  void *d;
  uint32_t len;
  CHECK (g_take (g, 5, &d, &len) && g_take (g, 5, &d, &len));

  /* host -> guest on port 0 (rx queue 0) */
  CHECK (write (a.in[1], "from host", 9) == 9);
  pump (g);
  CHECK (g_take (g, 0, &d, &len));
  CHECK (len == 9 && memcmp (d, "from host", 9) == 0);
  CHECK (mmio_read (g, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_VRING);

  /* EOF on the host's input: PORT_OPEN 0 for port 0 after the data. */
  CHECK (write (a.in[1], "last", 4) == 4);
  close (a.in[1]);
  pump (g);
  CHECK (g_take (g, 0, &d, &len) && len == 4);
  CHECK (g_take (g, 2, &d, &len) && len == 8);
  struct virtio_console_control m;
  memcpy (&m, d, 8);
  CHECK (m.event == VIRTIO_CONSOLE_PORT_OPEN && m.id == 0 && m.value == 0);

  /* The guest closes port 1: the host reader sees EOF. */
  g_control (g, 1, VIRTIO_CONSOLE_PORT_OPEN, 0);
  pump (g);
  CHECK (read (b.out[0], buf, sizeof (buf)) == 0);
  close (b.out[0]);
  guest_free (g);
}

TEST (host_input_waits_for_a_guest_open)
{
  struct pipes a;
  make_pipes (&a);
  struct vm_port ports[] = { { "hull.stdin", a.in[0], -1 } };
  struct guest *g = guest_new (ports, 1);
  close (a.in[0]);
  CHECK (write (a.in[1], "early", 5) == 5); /* before the guest opens the port */
  char names[1][16];
  CHECK (g_bring_up (g, 1, names) == 0); /* opens it at the end */
  void *d;
  uint32_t len;
  CHECK (g_take (g, 0, &d, &len) && len == 5 && memcmp (d, "early", 5) == 0);
  g_control (g, 0, VIRTIO_CONSOLE_PORT_OPEN, 0); /* closed: input waits again */
  pump (g);
  CHECK (write (a.in[1], "later", 5) == 5);
  pump (g);
  CHECK (!g_take (g, 0, &d, &len));
  g_control (g, 0, VIRTIO_CONSOLE_PORT_OPEN, 1);
  pump (g);
  CHECK (g_take (g, 0, &d, &len) && len == 5 && memcmp (d, "later", 5) == 0);
  close (a.in[1]);
  guest_free (g);
}

TEST (regular_files_flow_past_one_round)
{
  char *dir = vmt_tmpdir ();
  cleanup_free char *in = hull_fmt ("%s/in", dir);
  cleanup_free char *out = hull_fmt ("%s/out", dir);
  static uint8_t data[200 * BUF_SIZE];
  for (size_t i = 0; i < sizeof (data); i++)
    data[i] = (uint8_t)(i * 7 + i / 251);
  int fd = open (in, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  CHECK (hull_write_all (fd, data, sizeof (data)) == (ssize_t)sizeof (data));
  close (fd);
  int in_fd = open (in, O_RDONLY | O_CLOEXEC);
  int out_fd = open (out, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  struct vm_port ports[] = { { "hull.in", in_fd, -1 }, { "hull.out", -1, out_fd } };
  struct guest *g = guest_new (ports, 2);
  close (in_fd);
  close (out_fd);
  char names[2][16];
  CHECK (g_bring_up (g, 2, names) == 0);
  /* Linux keeps the receive queue full; the file is 200 buffers long, so it
   * takes several rounds of re-posted buffers. */
  while ((uint16_t)(g->q[0].avail_idx - g->q[0].used_seen) < g->q[0].num)
    g_post (g, 0, NULL, BUF_SIZE, true, false);
  mmio_write (g, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  /* The guest copies the input port to the output port, as `cat` would,
   * re-posting receive buffers as it goes. */
  size_t moved = 0;
  for (int round = 0; round < 2000 && moved < sizeof (data); round++)
    {
      void *d;
      uint32_t len;
      while (g_take (g, 0, &d, &len))
        {
          g_post (g, 5, d, len, false, true);
          moved += len;
          g_post (g, 0, NULL, BUF_SIZE, true, true);
        }
      pump (g);
      while (g_take (g, 5, &d, &len))
        ;
    }
  pump (g);
  guest_free (g);
  cleanup_free char *copy = NULL;
  size_t len = 0;
  hull_error_t err = NULL;
  CHECK (hull_read_file_at (AT_FDCWD, out, 1 << 20, &copy, &len, &err) == 0);
  vmt_cleanup (dir);
  CHECK (moved == sizeof (data));
  CHECK (len == sizeof (data) && memcmp (copy, data, len) == 0);
}

TEST (slow_reader_stalls_only_its_port)
{
  struct pipes a, b;
  make_pipes (&a);
  make_pipes (&b);
  fcntl (a.out[1], F_SETPIPE_SZ, 4096);
  struct vm_port ports[] = { { "slow", -1, a.out[1] }, { "fast", -1, b.out[1] } };
  struct guest *g = guest_new (ports, 2);
  close (a.out[1]);
  close (b.out[1]);
  char names[2][16];
  CHECK (g_bring_up (g, 2, names) == 0);

  static uint8_t chunk[BUF_SIZE];
  memset (chunk, 'x', sizeof (chunk));
  for (int i = 0; i < 12; i++) /* 6 KiB into a 4 KiB pipe */
    g_post (g, 1, chunk, sizeof (chunk), false, true);
  g_post (g, 5, "fast", 4, false, true);
  pump (g);
  char buf[8192];
  CHECK (read (b.out[0], buf, sizeof (buf)) == 4);
  CHECK (g_used (g, 1)->idx < 12); /* the slow port holds the rest */
  size_t total = 0;
  for (int round = 0; round < 10 && total < 12 * BUF_SIZE; round++)
    {
      ssize_t n = read (a.out[0], buf, sizeof (buf));
      CHECK (n > 0);
      total += (size_t)n;
      pump (g);
    }
  CHECK (total == 12 * BUF_SIZE);
  CHECK (g_used (g, 1)->idx == 12);
  close (a.out[0]);
  close (b.out[0]);
  guest_free (g);
}

TEST (a_stream_arrives_intact_and_in_order)
{
  struct pipes a;
  make_pipes (&a);
  struct vm_port ports[] = { { "hull.stdout", -1, a.out[1] } };
  struct guest *g = guest_new (ports, 1);
  close (a.out[1]);
  char names[1][16];
  CHECK (g_bring_up (g, 1, names) == 0);
  uint32_t next_out = 0, next_in = 0;
  const uint32_t total = 256 * 1024; /* 32-bit counters, 1 MiB */
  uint8_t chunk[BUF_SIZE];
  while (next_in < total)
    {
      /* Keep the queue full, drain the pipe, recycle used buffers. */
      while (next_out < total && (uint16_t)(g->q[1].avail_idx - g_used (g, 1)->idx) < g->q[1].num)
        {
          for (unsigned i = 0; i < BUF_SIZE / 4; i++, next_out++)
            memcpy (chunk + 4 * i, &next_out, 4);
          g_post (g, 1, chunk, BUF_SIZE, false, true);
        }
      pump (g);
      uint32_t v[1024];
      ssize_t n = read (a.out[0], v, sizeof (v));
      CHECK (n > 0 && n % 4 == 0);
      for (ssize_t i = 0; i < n / 4; i++)
        CHECK (v[i] == next_in++);
    }
  close (a.out[0]);
  guest_free (g);
}

TEST (gone_reader_drops_output_without_killing_the_vmm)
{
  struct pipes a;
  make_pipes (&a);
  struct vm_port ports[] = { { "hull.stdout", -1, a.out[1] } };
  struct guest *g = guest_new (ports, 1);
  close (a.out[1]);
  close (a.out[0]); /* no reader: a write would raise SIGPIPE */
  char names[1][16];
  CHECK (g_bring_up (g, 1, names) == 0);
  g_post (g, 1, "lost", 4, false, true);
  g_post (g, 1, "lost too", 8, false, true);
  pump (g);
  CHECK (g_used (g, 1)->idx == 2); /* both buffers back to the guest */
  cleanup_free char *log = vmt_read_log (g->log);
  CHECK_CONTAINS (log, "[hull-vmm] channel port hull.stdout: write: Broken pipe; output dropped");
  CHECK (!(mmio_read (g, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET));
  guest_free (g);
}

static void
expect_broken (int *unit_failed, struct guest *g, const char *note)
{
  CHECK (mmio_read (g, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
  CHECK (mmio_read (g, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
  cleanup_free char *log = vmt_read_log (g->log);
  CHECK_CONTAINS (log, note);
  /* A reset brings it back. */
  char names[1][16];
  CHECK (g_bring_up (g, 1, names) == 0);
  CHECK (!(mmio_read (g, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET));
}

TEST (hostile_driver_breaks_only_the_device)
{
  struct pipes a;
  make_pipes (&a);
  struct vm_port ports[] = { { "hull.ctl", a.in[0], a.out[1] } };
  struct guest *g = guest_new (ports, 1);
  char names[1][16];
  CHECK (g_bring_up (g, 1, names) == 0);

  /* A control message for a port that does not exist. */
  g_control (g, 7, VIRTIO_CONSOLE_PORT_READY, 1);
  pump (g);
  expect_broken (unit_failed, g,
                 "[hull-vmm] virtio-console at 0xd0000000: control message: control message 3 "
                 "for port 7, the device has 1; device needs reset");

  /* A transmit buffer outside guest RAM. */
  g_post (g, 1, NULL, 16, false, false);
  g_desc (g, 1)[(g->q[1].avail_idx - 1) % g->q[1].num].addr = RAM_SIZE - 8;
  mmio_write (g, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
  pump (g);
  expect_broken (unit_failed, g, "port transmit queue: buffer at 0x1ffff8 (16 bytes) outside guest RAM");

  /* A descriptor loop on the control queue. */
  g_post (g, 3, NULL, 8, false, false);
  unsigned s = (g->q[3].avail_idx - 1) % g->q[3].num;
  g_desc (g, 3)[s].flags = VRING_DESC_F_NEXT;
  g_desc (g, 3)[s].next = (uint16_t)s;
  mmio_write (g, VIRTIO_MMIO_QUEUE_NOTIFY, 3);
  pump (g);
  expect_broken (unit_failed, g, "control transmit queue: descriptor chain from");

  /* A receive queue larger than the device offers. */
  mmio_write (g, VIRTIO_MMIO_STATUS, 0);
  mmio_write (g, VIRTIO_MMIO_QUEUE_SEL, 2);
  mmio_write (g, VIRTIO_MMIO_QUEUE_NUM, 128);
  mmio_write (g, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)ring_gpa (2));
  mmio_write (g, VIRTIO_MMIO_QUEUE_READY, 1);
  CHECK (mmio_read (g, VIRTIO_MMIO_QUEUE_READY) == 0);
  expect_broken (unit_failed, g, "queue setup: queue size 128 above the maximum 64");

  /* A queue placed outside RAM when it is made ready. */
  mmio_write (g, VIRTIO_MMIO_STATUS, 0);
  mmio_write (g, VIRTIO_MMIO_QUEUE_SEL, 0);
  mmio_write (g, VIRTIO_MMIO_QUEUE_NUM, g->q[0].num);
  mmio_write (g, VIRTIO_MMIO_QUEUE_DESC_LOW, 0xfffff000);
  mmio_write (g, VIRTIO_MMIO_QUEUE_READY, 1);
  CHECK (mmio_read (g, VIRTIO_MMIO_QUEUE_READY) == 0);
  expect_broken (unit_failed, g, "queue setup: descriptor table at 0xfffff000");

  /* Registers hit with the wrong width or out of range are ignored. */
  uint8_t b = 0xff;
  vm_bus_access (&g->vm->mmio, VM_MMIO_START + VIRTIO_MMIO_STATUS, &b, 1, true);
  mmio_write (g, VIRTIO_MMIO_QUEUE_SEL, 1000);
  mmio_write (g, VIRTIO_MMIO_QUEUE_READY, 1);
  mmio_write (g, VIRTIO_MMIO_QUEUE_NOTIFY, 1000);
  CHECK (mmio_read (g, VIRTIO_MMIO_QUEUE_NUM_MAX) == 0);
  CHECK (!(mmio_read (g, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET));
  close (a.in[1]);
  close (a.out[0]);
  close (a.in[0]);
  close (a.out[1]);
  guest_free (g);
}

TEST (no_fd_left_behind)
{
  int before = vmt_count_fds ();
  struct pipes a;
  make_pipes (&a);
  struct vm_port ports[] = { { "a", a.in[0], a.out[1] }, { "b", a.in[0], -1 } };
  struct guest *g = guest_new (ports, 2);
  char names[2][16];
  CHECK (g_bring_up (g, 2, names) == 0);
  guest_free (g);
  close (a.in[0]);
  close (a.in[1]);
  close (a.out[0]);
  close (a.out[1]);
  CHECK (vmt_count_fds () == before);
}

TEST (port_names_are_checked)
{
  struct vm_port ports[] = { { "ok", -1, -1 }, { "no/slash", -1, -1 } };
  struct vm_config cfg = { .ports = ports, .n_ports = 2 };
  struct vm *vm;
  hull_error_t err = NULL;
  static uint8_t ram[1 << 20];
  CHECK (vm_create_devices_only (&cfg, ram, sizeof (ram), &vm, &err) < 0);
  CHECK_CONTAINS (err->msg, "channel port 1: bad name `no/slash`");
  hull_error_release (&err);
  ports[1].name = "ok";
  CHECK (vm_create_devices_only (&cfg, ram, sizeof (ram), &vm, &err) < 0);
  CHECK_CONTAINS (err->msg, "name `ok` used twice");
  hull_error_release (&err);
}

TEST (the_callers_open_files_keep_their_flags)
{
  struct pipes a;
  make_pipes (&a);
  int efd = eventfd (0, EFD_CLOEXEC); /* cannot be opened again: made non-blocking for the VM's life */
  struct vm_port ports[] = { { "pipe", a.in[0], a.out[1] }, { "efd", efd, -1 } };
  struct guest *g = guest_new (ports, 2);
  CHECK (!(fcntl (a.in[0], F_GETFL) & O_NONBLOCK));
  CHECK (!(fcntl (a.out[1], F_GETFL) & O_NONBLOCK));
  CHECK (fcntl (efd, F_GETFL) & O_NONBLOCK);
  guest_free (g);
  CHECK (!(fcntl (efd, F_GETFL) & O_NONBLOCK)); /* put back as found */
  close (efd);
  for (int i = 0; i < 2; i++)
    {
      close (a.in[i]);
      close (a.out[i]);
    }
}

/* ---- the guest agent's control port (agent-client.c) ------------------------
 * With vm_config.process the device has the agent's four ports: hull.ctl is
 * port 0 (rx queue 0, tx queue 1).  The test plays the agent. */

/* The stdio ports need a host side to be announced open: pipes, closed
 * here once the device has its own fds. */
static struct guest *
agent_guest (struct vm_process *p)
{
  static char *argv[] = { "/bin/echo", "hi", NULL };
  struct pipes io;
  make_pipes (&io);
  *p = (struct vm_process){ .argv = argv, .stdin_fd = io.in[0], .stdout_fd = io.out[1], .stderr_fd = io.out[1] };
  struct guest *g = guest_new_process (NULL, 0, p);
  for (int i = 0; i < 2; i++)
    {
      close (io.in[i]);
      close (io.out[i]);
    }
  char names[VM_AGENT_PORTS][16];
  if (g_bring_up (g, VM_AGENT_PORTS, names) < 0 || strcmp (names[0], VM_AGENT_PORT_CTL) != 0
      || strcmp (names[2], VM_AGENT_PORT_STDOUT) != 0)
    abort ();
  return g;
}

static void
agent_says (struct guest *g, uint32_t type, const void *payload, uint32_t len)
{
  struct vm_agent_buf b;
  vm_agent_msg_build (&b, type, payload, len);
  g_post (g, 1, b.data, (uint32_t)b.len, false, true);
  free (b.data);
  pump (g);
}

static void
agent_says_u32 (struct guest *g, uint32_t type, uint32_t v)
{
  agent_says (g, type, &v, 4);
}

/* The next message the host sent on hull.ctl. */
static bool
agent_hears (struct guest *g, uint32_t *type, uint8_t *payload, uint32_t *len)
{
  void *d;
  uint32_t n;
  struct vm_agent_msg m;
  hull_error_t err = NULL;
  if (!g_take (g, 0, &d, &n) || vm_agent_msg_parse (d, n, &m, &err) != (ssize_t)n)
    return false;
  *type = m.type;
  *len = m.len;
  memcpy (payload, m.payload, m.len);
  g_post (g, 0, NULL, BUF_SIZE, true, true); /* recycle */
  return true;
}

TEST (agent_gets_run_signals_and_its_exit_stops_the_vm)
{
  struct vm_process p;
  struct guest *g = agent_guest (&p);
  CHECK (!vm_agent_forward_signal (g->vm, SIGTERM)); /* no RUN yet: nothing to signal */
  agent_says_u32 (g, VM_AGENT_HELLO, VM_AGENT_PROTO_VERSION);
  uint32_t type, len;
  uint8_t buf[BUF_SIZE];
  CHECK (agent_hears (g, &type, buf, &len));
  CHECK (type == VM_AGENT_RUN);
  struct vm_agent_msg m = { .type = type, .len = len, .payload = buf };
  struct vm_agent_run run;
  hull_error_t err = NULL;
  CHECK (vm_agent_run_decode (&m, &run, &err) == 0);
  CHECK_STR (run.cwd, "/");
  CHECK_STR (run.argv[0], "/bin/echo");
  CHECK_STR (run.argv[1], "hi");
  CHECK (run.env[0] == NULL);
  vm_agent_run_release (&run);

  CHECK (vm_agent_forward_signal (g->vm, SIGTERM));
  pump (g);
  CHECK (agent_hears (g, &type, buf, &len));
  CHECK (type == VM_AGENT_SIGNAL && len == 4 && buf[0] == SIGTERM);

  agent_says_u32 (g, VM_AGENT_STARTED, 42);
  CHECK (!vm_stopping (g->vm));
  agent_says_u32 (g, VM_AGENT_EXIT, 0x0300); /* exited with 3 */
  CHECK (g->vm->stop.reason == VM_STOP_PROCESS);
  struct vm_stop_info info = { 0 };
  vm_agent_collect (g->vm, &info);
  CHECK (info.process_exited && info.process_status == 0x0300);
  CHECK (info.agent_ready_ns > 0 && info.process_exit_ns >= info.agent_ready_ns);
  guest_free (g);
}

TEST (agent_protocol_violations_stop_the_vm_with_the_reason)
{
  static const struct
  {
    const char *want;
    uint32_t pre; /* 1: HELLO first, 2: and STARTED */
    uint32_t type;
    uint32_t len;
    const char *payload;
  } cases[] = {
    { "guest agent: EXIT before STARTED", 1, VM_AGENT_EXIT, 4, "\0\0\0\0" },
    { "guest agent: STARTED without a RUN", 0, VM_AGENT_STARTED, 4, "\1\0\0\0" },
    { "guest agent: speaks protocol version 2, hull speaks 1", 0, VM_AGENT_HELLO, 4, "\2\0\0\0" },
    { "guest agent: HELLO twice", 1, VM_AGENT_HELLO, 4, "\1\0\0\0" },
    { "guest agent: the guest sent RUN, a host-to-guest message", 0, VM_AGENT_RUN, 0, "" },
    { "guest agent: control message of unknown type 99", 0, 99, 0, "" },
    { "guest agent: control message STARTED: 2 bytes of payload, expected 4", 1, VM_AGENT_STARTED, 2, "\1\0" },
    { "neither exited nor killed", 2, VM_AGENT_EXIT, 4, "\x7f\0\0\0" }, /* "stopped" */
    { "guest agent: bad ? text", 0, VM_AGENT_ERROR, 14, "bad \033 text\0\0\0" },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      struct vm_process p;
      struct guest *g = agent_guest (&p);
      if (cases[i].pre >= 1)
        agent_says_u32 (g, VM_AGENT_HELLO, VM_AGENT_PROTO_VERSION);
      if (cases[i].pre >= 2)
        agent_says_u32 (g, VM_AGENT_STARTED, 7);
      CHECK (!vm_stopping (g->vm));
      if (cases[i].type == 99)
        {
          uint8_t raw[8] = { 99, 0, 0, 0, 0, 0, 0, 0 };
          g_post (g, 1, raw, 8, false, true);
          pump (g);
        }
      else
        agent_says (g, cases[i].type, cases[i].payload, cases[i].len);
      CHECK (g->vm->stop.reason == VM_STOP_ERROR);
      CHECK_CONTAINS (g->vm->stop_err->msg, cases[i].want);
      guest_free (g);
    }
}

RUN_TESTS ("vm_console")
