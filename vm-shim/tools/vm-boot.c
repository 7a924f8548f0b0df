/* vm-boot: boots a kernel (vmlinux or bzImage) with hull's VMM and nothing
 * else — no container, no agent — to try guests by hand and in the test
 * host VM.  The guest's serial console goes to stdout (or --log).
 *
 *   vm-boot [--cpus N] [--mem MiB] [--initrd FILE] [--cmdline ARGS]
 *           [--log FILE] [--timeout SECONDS] [--no-check]
 *           [--port NAME:[IN]:[OUT]]... KERNEL
 *
 * --port adds a port to the host/guest channel: the guest reads the file
 * IN from it and what the guest writes goes to the file OUT (created).
 *
 * Exit status: the byte the guest wrote to the exit port 0x501; 0 after a
 * guest reset or power-off; 124 on the timeout; 128+N on signal N; 1 when
 * the VMM failed (the message says why). */
#include "../vm.h"

#include <getopt.h>
#include <signal.h>

static void
usage (void)
{
  fprintf (stderr, "usage: vm-boot [--cpus N] [--mem MiB] [--initrd FILE] [--cmdline ARGS] [--log FILE]\n"
                   "               [--timeout SECONDS] [--no-check] [--port NAME:[IN]:[OUT]]... KERNEL\n");
  exit (2);
}

static uint64_t
arg_u64 (const char *opt, const char *s)
{
  uint64_t v;
  if (hull_parse_u64 (s, &v) < 0)
    {
      fprintf (stderr, "vm-boot: %s: not a number: `%s`\n", opt, s);
      exit (2);
    }
  return v;
}

static struct vm_port ports[VM_MAX_PORTS];

static int
open_or_die (const char *path, int flags)
{
  if (*path == '\0')
    return -1;
  int fd = open (path, flags | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      fprintf (stderr, "vm-boot: open `%s`: %s\n", path, strerror (errno));
      exit (1);
    }
  return fd;
}

/* NAME:IN:OUT, either file may be empty. */
static void
add_port (struct vm_config *cfg, char *spec)
{
  char *in = strchr (spec, ':');
  char *out = in ? strchr (in + 1, ':') : NULL;
  if (out == NULL || cfg->n_ports == VM_MAX_PORTS)
    usage ();
  *in++ = '\0';
  *out++ = '\0';
  ports[cfg->n_ports++] = (struct vm_port){ .name = spec,
                                            .in_fd = open_or_die (in, O_RDONLY),
                                            .out_fd = open_or_die (out, O_WRONLY | O_CREAT | O_TRUNC) };
  cfg->ports = ports;
}

static void
parse_args (int argc, char **argv, struct vm_config *cfg, bool *check)
{
  static const struct option opts[] = {
    { "cpus", required_argument, NULL, 'c' },
    { "mem", required_argument, NULL, 'm' },
    { "initrd", required_argument, NULL, 'i' },
    { "cmdline", required_argument, NULL, 'a' },
    { "log", required_argument, NULL, 'l' },
    { "timeout", required_argument, NULL, 't' },
    { "no-check", no_argument, NULL, 'n' },
    { "port", required_argument, NULL, 'p' },
    { NULL, 0, NULL, 0 },
  };
  for (int c; (c = getopt_long (argc, argv, "", opts, NULL)) != -1;)
    switch (c)
      {
      case 'c':
        cfg->n_cpus = (unsigned)arg_u64 ("--cpus", optarg);
        break;
      case 'm':
        cfg->mem_size = arg_u64 ("--mem", optarg) << 20;
        break;
      case 'i':
        cfg->initrd = optarg;
        break;
      case 'a':
        cfg->cmdline = optarg;
        break;
      case 'l':
        cfg->serial_log = optarg;
        break;
      case 't':
        cfg->timeout_ms = arg_u64 ("--timeout", optarg) * 1000;
        break;
      case 'n':
        *check = false;
        break;
      case 'p':
        add_port (cfg, optarg);
        break;
      default:
        usage ();
      }
  if (optind != argc - 1)
    usage ();
  cfg->kernel = argv[optind];
}

static int
exit_status (const struct vm_stop_info *info)
{
  switch (info->reason)
    {
    case VM_STOP_EXIT:
      return info->code;
    case VM_STOP_TIMEOUT:
      return 124;
    case VM_STOP_SIGNAL:
      return 128 + info->code;
    default:
      return 0;
    }
}

int
main (int argc, char **argv)
{
  struct vm_config cfg = { .n_cpus = 1, .mem_size = 256ULL << 20, .serial_log = "/dev/stdout" };
  bool check = true;
  parse_args (argc, argv, &cfg, &check);

  hull_error_t err = NULL;
  struct vm *vm = NULL;
  struct vm_stop_info info;
  if (check && vm_host_check (NULL, &err) < 0)
    goto fail;
  uint64_t t0 = hull_now_ns ();
  if (vm_create (&cfg, &vm, &err) < 0)
    goto fail;
  for (unsigned i = 0; i < cfg.n_ports; i++) /* the VM has its own copies */
    {
      if (ports[i].in_fd >= 0)
        close (ports[i].in_fd);
      if (ports[i].out_fd >= 0)
        close (ports[i].out_fd);
    }
  uint64_t t1 = hull_now_ns ();
  if (vm_run (vm, &info, &err) < 0)
    goto fail;
  uint64_t t2 = hull_now_ns ();
  vm_destroy (vm);
  fprintf (stderr, "vm-boot: guest stopped: %s (code %d); VM built in %.1f ms, ran %.1f ms\n",
           vm_stop_reason_name (info.reason), info.code, (t1 - t0) / 1e6, (t2 - t1) / 1e6);
  return exit_status (&info);

fail:
  vm_destroy (vm);
  fprintf (stderr, "vm-boot: %s\n", err->msg);
  hull_error_release (&err);
  return 1;
}
