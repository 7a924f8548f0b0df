/* The VM's life: vm_create() runs the init levels in order and undoes the
 * done ones in reverse when one fails; vm_run() starts the vCPU threads and
 * runs the event loop until a stop request; vm_destroy() undoes every
 * level.  See docs/vmm.md for the levels and the threads. */
#include "virtio.h"
#include "agent-proto.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>

struct vm_level
{
  const char *name;
  int (*init) (struct vm *vm, hull_error_t *err);
  void (*exit) (struct vm *vm);
};

const char *
vm_stop_reason_name (enum vm_stop_reason r)
{
  static const char *const names[] = {
    [VM_STOP_NONE] = "none",      [VM_STOP_RESET] = "reset",   [VM_STOP_POWEROFF] = "power-off",
    [VM_STOP_EXIT] = "exit port", [VM_STOP_SIGNAL] = "signal", [VM_STOP_TIMEOUT] = "timeout",
    [VM_STOP_ERROR] = "error",    [VM_STOP_PROCESS] = "process exited",
  };
  return (unsigned)r < sizeof (names) / sizeof (names[0]) ? names[r] : "?";
}

/* ---- stop requests ------------------------------------------------------------- */

void
vm_request_stop (struct vm *vm, enum vm_stop_reason reason, int code, hull_error_t *err)
{
  pthread_mutex_lock (&vm->stop_lock);
  if (vm->stop.reason == VM_STOP_NONE)
    {
      vm->stop = (struct vm_stop_info){ .reason = reason, .code = code };
      if (err != NULL)
        vm->stop_err = steal_pointer (err);
    }
  else if (err != NULL)
    hull_error_release (err);
  atomic_store (&vm->stopping, true);
  pthread_mutex_unlock (&vm->stop_lock);

  uint64_t one = 1;
  if (vm->stop_fd >= 0 && write (vm->stop_fd, &one, sizeof (one)) < 0 && errno != EAGAIN)
    abort (); /* an eventfd write cannot fail otherwise */
}

/* ---- the event loop ------------------------------------------------------------- */

int
vm_loop_add (struct vm *vm, int fd, uint32_t events, vm_loop_fn fn, void *opaque, hull_error_t *err)
{
  struct vm_loop_watch *w = xmalloc0 (sizeof (*w));
  *w = (struct vm_loop_watch){ .fd = fd, .fn = fn, .opaque = opaque };
  struct epoll_event ev = { .events = events, .data.ptr = w };
  if (epoll_ctl (vm->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
    {
      int saved_errno = errno;
      free (w);
      return hull_make_error (err, saved_errno, "epoll_ctl ADD fd %d", fd);
    }
  vm->watches = xreallocarray (vm->watches, vm->n_watches + 1, sizeof (vm->watches[0]));
  vm->watches[vm->n_watches++] = w;
  return 0;
}

static struct vm_loop_watch *
loop_find (struct vm *vm, int fd, size_t *index)
{
  for (size_t i = 0; fd >= 0 && i < vm->n_watches; i++)
    if (vm->watches[i]->fd == fd)
      {
        if (index)
          *index = i;
        return vm->watches[i];
      }
  return NULL;
}

int
vm_loop_mod (struct vm *vm, int fd, uint32_t events, hull_error_t *err)
{
  struct vm_loop_watch *w = loop_find (vm, fd, NULL);
  struct epoll_event ev = { .events = events, .data.ptr = w };
  if (w == NULL || epoll_ctl (vm->epoll_fd, EPOLL_CTL_MOD, fd, &ev) < 0)
    return hull_make_error (err, w ? errno : ENOENT, "epoll_ctl MOD fd %d", fd);
  return 0;
}

/* The watch is only marked: a later event of the same round may still
 * point at it.  loop_reap frees it after the round. */
void
vm_loop_del (struct vm *vm, int fd)
{
  struct vm_loop_watch *w = loop_find (vm, fd, NULL);
  if (w == NULL)
    return;
  (void)epoll_ctl (vm->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
  w->fd = -1;
}

static void
loop_reap (struct vm *vm)
{
  for (size_t i = 0; i < vm->n_watches;)
    if (vm->watches[i]->fd < 0)
      {
        free (vm->watches[i]);
        vm->watches[i] = vm->watches[--vm->n_watches];
      }
    else
      i++;
}

static void
loop_on_stop_fd (struct vm *vm, void *opaque, uint32_t events)
{
  uint64_t n;
  (void)opaque;
  (void)events;
  while (read (vm->stop_fd, &n, sizeof (n)) > 0)
    ;
}

static void
loop_on_signal (struct vm *vm, void *opaque, uint32_t events)
{
  int *sfd = opaque;
  struct signalfd_siginfo si;
  (void)events;
  if (read (*sfd, &si, sizeof (si)) != (ssize_t)sizeof (si))
    return;
  if (vm_stopping (vm))
    vm->flush_abort = true; /* do not wait for slow readers any more */
  else if (!vm_agent_forward_signal (vm, (int)si.ssi_signo))
    vm_request_stop (vm, VM_STOP_SIGNAL, (int)si.ssi_signo, NULL);
}

static int
loop_init (struct vm *vm, hull_error_t *err)
{
  vm->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (vm->epoll_fd < 0)
    return hull_make_error (err, errno, "epoll_create1");
  vm->stop_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (vm->stop_fd < 0)
    return hull_make_error (err, errno, "eventfd");
  return vm_loop_add (vm, vm->stop_fd, EPOLLIN, loop_on_stop_fd, NULL, err);
}

static void
loop_exit (struct vm *vm)
{
  for (size_t i = 0; i < vm->n_watches; i++)
    free (vm->watches[i]);
  free (vm->watches);
  vm->watches = NULL;
  vm->n_watches = 0;
  if (vm->stop_fd >= 0)
    close (vm->stop_fd);
  if (vm->epoll_fd >= 0)
    close (vm->epoll_fd);
  vm->stop_fd = vm->epoll_fd = -1;
}

void
vm_loop_poll (struct vm *vm, int timeout_ms)
{
  struct epoll_event evs[16];
  int n = epoll_wait (vm->epoll_fd, evs, 16, timeout_ms);
  for (int i = 0; i < n; i++)
    {
      struct vm_loop_watch *w = evs[i].data.ptr;
      if (w->fd >= 0)
        w->fn (vm, w->opaque, evs[i].events);
    }
  loop_reap (vm);
}

/* Waits for events until a stop is requested or the deadline passes. */
static void
loop_run (struct vm *vm)
{
  uint64_t deadline = vm->cfg.timeout_ms ? hull_now_ns () + vm->cfg.timeout_ms * 1000000ULL : 0;
  while (!vm_stopping (vm))
    {
      int timeout = -1;
      if (deadline)
        {
          uint64_t now = hull_now_ns ();
          if (now >= deadline)
            {
              vm_request_stop (vm, VM_STOP_TIMEOUT, 0, NULL);
              break;
            }
          timeout = (int)((deadline - now + 999999) / 1000000);
        }
      vm_loop_poll (vm, timeout);
    }
}

/* ---- levels ------------------------------------------------------------------ */

static int
level_kvm_init (struct vm *vm, hull_error_t *err)
{
  return vm_kvm_open (vm->cfg.dev_kvm, (int)vm->cfg.n_cpus, &vm->kvm_fd, &vm->run_size, err);
}

static void
level_kvm_exit (struct vm *vm)
{
  if (vm->kvm_fd >= 0)
    close (vm->kvm_fd);
  vm->kvm_fd = -1;
}

static void
level_vm_exit (struct vm *vm)
{
  if (vm->vm_fd >= 0)
    close (vm->vm_fd);
  vm->vm_fd = -1;
}

static int
level_devices_init (struct vm *vm, hull_error_t *err)
{
  vm->pio.name = "port I/O";
  vm->mmio.name = "MMIO";
  if (vm_serial_init (vm, err) < 0 || vm_power_init (vm, err) < 0 || vm_rtc_init (vm, err) < 0)
    return -1;
  /* The agent's ports come last (vm_alloc); hull.ctl is the first of them. */
  if (vm->cfg.process
      && vm_agent_init (vm, (struct vm_port *)&vm->cfg.ports[vm->cfg.n_ports - VM_AGENT_PORTS], err) < 0)
    return -1;
  if (vm->cfg.n_ports > 0 && vm_console_init (vm, err) < 0)
    return -1;
  vm_agent_port_taken (vm);
  return 0;
}

static void
level_devices_exit (struct vm *vm)
{
  /* Transports first: their ops tables live in the devices. */
  vm_virtio_mmio_release_all (vm);
  vm_console_exit (vm);
  vm_agent_exit (vm);
  vm_rtc_exit (vm);
  vm_serial_exit (vm);
  vm_bus_release (&vm->pio);
  vm_bus_release (&vm->mmio);
  free (vm->cmdline_devices);
  vm->cmdline_devices = NULL;
}

static const struct vm_level vm_levels[] = {
  { "kvm", level_kvm_init, level_kvm_exit },
  { "vm", vm_kvm_create_vm, level_vm_exit },
  { "memory", vm_memory_init, vm_memory_exit },
  { "event loop", loop_init, loop_exit },
  { "devices", level_devices_init, level_devices_exit },
  { "vcpus", vm_vcpus_init, vm_vcpus_exit },
  { "boot", vm_boot_init, NULL },
};
#define VM_N_LEVELS (sizeof (vm_levels) / sizeof (vm_levels[0]))

/* Without KVM, on the caller's buffer: what device tests need. */
static int
level_test_memory_init (struct vm *vm, hull_error_t *err)
{
  (void)err;
  vm_mem_init_buffer (&vm->mem, vm->test_ram, vm->cfg.mem_size, 0);
  return 0;
}

static const struct vm_level vm_test_levels[] = {
  { "memory", level_test_memory_init, NULL },
  { "event loop", loop_init, loop_exit },
  { "devices", level_devices_init, level_devices_exit },
};

static void
vm_levels_unwind (struct vm *vm)
{
  while (vm->levels_done > 0)
    {
      const struct vm_level *l = &vm->levels[--vm->levels_done];
      if (l->exit)
        l->exit (vm);
    }
}

/* ---- create, run, destroy -------------------------------------------------------- */

static int
vm_ports_check (const struct vm_config *c, hull_error_t *err)
{
  if (c->n_ports > VM_MAX_PORTS)
    return hull_make_error (err, EINVAL, "VM: %u channel ports, at most %d", c->n_ports, VM_MAX_PORTS);
  for (unsigned i = 0; i < c->n_ports; i++)
    {
      const char *n = c->ports[i].name;
      size_t len = n ? strlen (n) : 0;
      if (len == 0 || len > 64
          || strspn (n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != len)
        return hull_make_error (err, EINVAL, "VM: channel port %u: bad name `%s`", i, n ? n : "");
      for (unsigned j = 0; j < i; j++)
        if (strcmp (c->ports[j].name, n) == 0)
          return hull_make_error (err, EINVAL, "VM: channel port name `%s` used twice", n);
    }
  return 0;
}

static int
vm_config_check (const struct vm_config *c, hull_error_t *err)
{
  if (c->process && (c->process->argv == NULL || c->process->argv[0] == NULL))
    return hull_make_error (err, EINVAL, "VM: a process without a command");
  if (c->process && c->n_ports > VM_MAX_PORTS - VM_AGENT_PORTS)
    return hull_make_error (err, EINVAL, "VM: %u channel ports and the agent's %d, at most %d", c->n_ports,
                            VM_AGENT_PORTS, VM_MAX_PORTS);
  if (c->n_cpus < 1 || c->n_cpus > VM_MAX_CPUS)
    return hull_make_error (err, EINVAL, "VM: %u vCPUs asked for, hull allows 1 to %d", c->n_cpus,
                            VM_MAX_CPUS);
  if (c->mem_size < VM_MEM_MIN || c->mem_size > VM_MEM_MAX || c->mem_size % (1ULL << 20))
    return hull_make_error (err, EINVAL,
                            "VM: memory size %" PRIu64 " bytes: must be whole MiB, %llu MiB to %llu GiB",
                            c->mem_size, VM_MEM_MIN >> 20, VM_MEM_MAX >> 30);
  if (c->hugepages && c->mem_size % VM_HUGEPAGE_SIZE)
    return hull_make_error_code (
        err, EINVAL, "VM: memory size %" PRIu64 " MiB: hugepages need whole 2 MiB pages", c->mem_size >> 20);
  if ((c->kernel == NULL) == (c->raw == NULL))
    return hull_make_error (err, EINVAL, "VM: give either a kernel or a raw image");
  return 0;
}

static struct vm *
vm_alloc (const struct vm_config *cfg)
{
  struct vm *vm = xmalloc0 (sizeof (*vm));
  vm->cfg = *cfg;
  vm->cfg.kernel = cfg->kernel ? xstrdup (cfg->kernel) : NULL;
  vm->cfg.initrd = cfg->initrd ? xstrdup (cfg->initrd) : NULL;
  vm->cfg.cmdline = cfg->cmdline ? xstrdup (cfg->cmdline) : NULL;
  vm->cfg.serial_log = cfg->serial_log ? xstrdup (cfg->serial_log) : NULL;
  vm->cfg.dev_kvm = xstrdup (cfg->dev_kvm ? cfg->dev_kvm : "/dev/kvm");
  struct vm_port *ports = xmalloc0 ((cfg->n_ports + VM_AGENT_PORTS + 1) * sizeof (*ports));
  for (unsigned i = 0; i < cfg->n_ports; i++)
    ports[i] = (struct vm_port){ .name = xstrdup (cfg->ports[i].name),
                                 .in_fd = cfg->ports[i].in_fd,
                                 .out_fd = cfg->ports[i].out_fd };
  if (cfg->process)
    {
      /* hull.ctl's fds are the agent's socketpair (vm_agent_init). */
      const struct vm_process *p = cfg->process;
      struct vm_port *a = &ports[cfg->n_ports];
      a[0] = (struct vm_port){ .name = xstrdup (VM_AGENT_PORT_CTL), .in_fd = -1, .out_fd = -1 };
      a[1] = (struct vm_port){ .name = xstrdup (VM_AGENT_PORT_STDIN), .in_fd = p->stdin_fd, .out_fd = -1 };
      a[2] = (struct vm_port){ .name = xstrdup (VM_AGENT_PORT_STDOUT), .in_fd = -1, .out_fd = p->stdout_fd };
      a[3] = (struct vm_port){ .name = xstrdup (VM_AGENT_PORT_STDERR), .in_fd = -1, .out_fd = p->stderr_fd };
      vm->cfg.n_ports += VM_AGENT_PORTS;
    }
  vm->cfg.ports = ports;
  vm->created_ns = hull_now_ns ();
  vm->kvm_fd = vm->vm_fd = vm->epoll_fd = vm->stop_fd = vm->mem.fd = -1;
  pthread_mutex_init (&vm->stop_lock, NULL);
  return vm;
}

static int
vm_run_levels (struct vm *vm, const struct vm_level *levels, unsigned n, hull_error_t *err)
{
  vm->levels = levels;
  vm->n_levels = n;
  for (unsigned i = 0; i < n; i++)
    {
      /* A half-done level is undone too: every exit copes with it. */
      vm->levels_done++;
      if (levels[i].init (vm, err) < 0)
        {
          if (i > 0)
            hull_error_wrap (err, "create VM (%s)", levels[i].name);
          vm_destroy (vm);
          return -1;
        }
    }
  vm->cfg.raw = NULL; /* the caller's; used only while loading */
  return 0;
}

int
vm_create (const struct vm_config *cfg, struct vm **out, hull_error_t *err)
{
  if (vm_config_check (cfg, err) < 0)
    return -1;
  struct vm *vm = vm_alloc (cfg);
  if (vm_ports_check (&vm->cfg, err) < 0)
    {
      vm_destroy (vm);
      return -1;
    }
  if (vm_run_levels (vm, vm_levels, VM_N_LEVELS, err) < 0)
    return -1;
  vm->cfg.process = NULL; /* the caller's; used only while creating */
  *out = vm;
  return 0;
}

int
vm_create_devices_only (const struct vm_config *cfg, void *ram, size_t ram_size, struct vm **out,
                        hull_error_t *err)
{
  struct vm *vm = vm_alloc (cfg);
  if (vm_ports_check (&vm->cfg, err) < 0)
    {
      vm_destroy (vm);
      return -1;
    }
  vm->cfg.mem_size = ram_size;
  vm->test_ram = ram;
  if (vm_run_levels (vm, vm_test_levels, sizeof (vm_test_levels) / sizeof (vm_test_levels[0]), err) < 0)
    return -1;
  vm->cfg.process = NULL;
  *out = vm;
  return 0;
}

static int
vm_run_result (struct vm *vm, struct vm_stop_info *info, hull_error_t *err)
{
  pthread_mutex_lock (&vm->stop_lock);
  *info = vm->stop;
  hull_error_t e = steal_pointer (&vm->stop_err);
  pthread_mutex_unlock (&vm->stop_lock);
  vm_agent_collect (vm, info);
  if (info->reason != VM_STOP_ERROR)
    {
      hull_error_release (&e);
      return 0;
    }
  if (e == NULL)
    hull_make_error (&e, 0, "VM stopped on an error");
  if (err != NULL)
    *err = e;
  else
    hull_error_release (&e);
  return -1;
}

int
vm_run (struct vm *vm, struct vm_stop_info *info, hull_error_t *err)
{
  if (vm->levels != vm_levels || vm->levels_done != VM_N_LEVELS || vm_stopping (vm))
    return hull_make_error (err, EINVAL, "vm_run: the VM is not ready to run (already run?)");

  sigset_t stop_sigs, old;
  sigemptyset (&stop_sigs);
  sigaddset (&stop_sigs, SIGTERM);
  sigaddset (&stop_sigs, SIGINT);
  sigaddset (&stop_sigs, SIGHUP);
  pthread_sigmask (SIG_BLOCK, &stop_sigs, &old);
  int sfd = signalfd (-1, &stop_sigs, SFD_CLOEXEC | SFD_NONBLOCK);
  int ret = sfd < 0 ? hull_make_error (err, errno, "signalfd") : 0;
  if (ret == 0)
    ret = vm_loop_add (vm, sfd, EPOLLIN, loop_on_signal, &sfd, err);
  if (ret == 0)
    ret = vm_vcpus_start (vm, err);
  if (ret == 0)
    {
      loop_run (vm);
      vm_vcpus_stop (vm);
      /* The guest's last words (a process's final output, the agent's EXIT)
       * reach their readers, unless a stop signal says not to wait. */
      while (!vm->flush_abort && vm_console_output_pending (vm))
        vm_loop_poll (vm, 100);
      ret = vm_run_result (vm, info, err);
    }
  if (sfd >= 0)
    {
      vm_loop_del (vm, sfd);
      loop_reap (vm);
      close (sfd);
    }
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  return ret;
}

void
vm_destroy (struct vm *vm)
{
  if (vm == NULL)
    return;
  vm_levels_unwind (vm);
  hull_error_release (&vm->stop_err);
  pthread_mutex_destroy (&vm->stop_lock);
  free ((char *)vm->cfg.kernel);
  free ((char *)vm->cfg.initrd);
  free ((char *)vm->cfg.cmdline);
  free ((char *)vm->cfg.serial_log);
  free ((char *)vm->cfg.dev_kvm);
  for (unsigned i = 0; vm->cfg.ports && i < vm->cfg.n_ports; i++)
    free ((char *)vm->cfg.ports[i].name);
  free ((struct vm_port *)vm->cfg.ports);
  free (vm);
}
