/* hull vm-run [options] -- CMD [ARG...]: boots hull's guest with its own
 * VMM (vm-shim/), has the guest agent run CMD with this process's stdin,
 * stdout and stderr, and exits with CMD's status (128+N when signal N
 * killed it).  SIGTERM, SIGINT and SIGHUP are forwarded to CMD.  The step
 * before VM isolation in the container lifecycle; docs/vmm.md. */
#include "runtime.h"
#include "../vm-shim/vm.h"

#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <sys/wait.h>

#define VM_RUN_DEFAULT_MEM_MIB 128
#define VM_RUN_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const struct hull_cmd_help help = {
  "vm-run", "[options] -- COMMAND [ARG...]",
  "Boots hull's guest kernel with hull's VMM and runs COMMAND (from the guest's initramfs) with\n"
  "this terminal's stdin, stdout and stderr; exits with COMMAND's exit status (128+N after signal N).\n"
  "SIGTERM, SIGINT and SIGHUP are forwarded to COMMAND.  Needs /dev/kvm with hardware virtualization.",
  "  --cpus N                vCPUs (default 1)\n"
  "  --memory MIB            guest memory in MiB (default 128)\n"
  "  --hugepages             guest memory from the host's 2 MiB hugetlb pool (vm.nr_hugepages),\n"
  "                          reserved at start: fewer page faults, a faster boot\n"
  "  -e, --env NAME=VALUE    environment of COMMAND (repeatable; PATH and HOME are set by default)\n"
  "  --cwd DIR               working directory of COMMAND in the guest (default /)\n"
  "  --kernel FILE           the guest kernel (vmlinux or bzImage; default: hull's guest, see docs/vmm.md)\n"
  "  --initrd FILE           the initramfs with hull's agent as /init (default: hull's)\n"
  "  --console-log FILE      append the guest's serial console (kernel messages, the agent's own)\n"
  "  --cmdline ARGS          more kernel command line\n"
  "  --timings               print to stderr when the agent was ready and when COMMAND ended\n",
};

/* Where a default guest file is: next to hull (the build tree: build/guest/)
 * or in the install's library directory (PREFIX/lib/hull/guest/). */
static int
find_guest_file (const char *name, char **out, hull_error_t *err)
{
  char exe[4096];
  ssize_t n = readlink ("/proc/self/exe", exe, sizeof (exe) - 1);
  if (n < 0)
    return hull_make_error (err, errno, "vm-run: readlink /proc/self/exe");
  exe[n] = '\0';
  const char *dir = dirname (exe);
  cleanup_free char *beside = hull_fmt ("%s/guest/%s", dir, name);
  cleanup_free char *installed = hull_fmt ("%s/../lib/hull/guest/%s", dir, name);
  if (access (beside, R_OK) == 0)
    *out = steal_pointer (&beside);
  else if (access (installed, R_OK) == 0)
    *out = steal_pointer (&installed);
  else
    return hull_make_error_code (err, ENOENT,
                            "vm-run: no guest %s at `%s` or `%s`: build it with `make guest` (and `make install`), "
                            "or give --%s",
                            name, beside, installed, strcmp (name, "vmlinux") == 0 ? "kernel" : "initrd");
  return 0;
}

static int
parse_count (const char *opt, const char *s, uint64_t max, uint64_t *out, hull_error_t *err)
{
  if (hull_parse_u64 (s, out) < 0 || *out == 0 || *out > max)
    return hull_make_error_code (err, EINVAL, "vm-run: %s: `%s` is not a number from 1 to %" PRIu64, opt, s, max);
  return 0;
}

/* Sets NAME=VALUE in env, replacing an earlier NAME. */
static void
env_set (char ***env, const char *kv)
{
  size_t name_len = strcspn (kv, "=");
  for (char **e = *env; e && *e; e++)
    if (strncmp (*e, kv, name_len) == 0 && (*e)[name_len] == '=')
      {
        free (*e);
        *e = xstrdup (kv);
        return;
      }
  strv_append (env, kv);
}

static int
run_status (const struct vm_stop_info *info, const struct vm_config *cfg)
{
  if (info->process_exited)
    {
      int st = info->process_status;
      return WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st);
    }
  if (info->reason == VM_STOP_SIGNAL)
    return 128 + info->code; /* before the command started */
  fprintf (stderr, "hull vm-run: the guest stopped (%s) before the command ended%s%s\n",
           vm_stop_reason_name (info->reason), cfg->serial_log ? "; its console is in " : "; see --console-log",
           cfg->serial_log ? cfg->serial_log : "");
  return 125;
}

int
hull_cmd_vm_run (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  static const struct option opts[] = { { "cpus", required_argument, NULL, 'c' },
                                        { "memory", required_argument, NULL, 'm' },
                                        { "env", required_argument, NULL, 'e' },
                                        { "cwd", required_argument, NULL, 'w' },
                                        { "kernel", required_argument, NULL, 'k' },
                                        { "initrd", required_argument, NULL, 'i' },
                                        { "console-log", required_argument, NULL, 'l' },
                                        { "cmdline", required_argument, NULL, 'C' },
                                        { "timings", no_argument, NULL, 't' },
                                        { "hugepages", no_argument, NULL, 'H' },
                                        { "help", no_argument, NULL, 'h' },
                                        { NULL, 0, NULL, 0 } };
  uint64_t cpus = 1, mem_mib = VM_RUN_DEFAULT_MEM_MIB;
  const char *cwd = "/", *cmdline = NULL;
  cleanup_free char *kernel = NULL, *initrd = NULL, *console_log = NULL;
  cleanup_strv char **env = NULL;
  bool timings = false, hugepages = false;
  (void)ctx;
  strv_append (&env, VM_RUN_PATH);
  strv_append (&env, "HOME=/root");
  int c;
  while ((c = getopt_long (argc, argv, "+e:h", opts, NULL)) != -1)
    switch (c)
      {
      case 'c':
        if (parse_count ("--cpus", optarg, VM_MAX_CPUS, &cpus, err) < 0)
          return -1;
        break;
      case 'm':
        if (parse_count ("--memory", optarg, VM_MEM_MAX >> 20, &mem_mib, err) < 0)
          return -1;
        if (mem_mib < (VM_MEM_MIN >> 20) + 30)
          return hull_make_error_code (err, EINVAL, "vm-run: --memory %" PRIu64 ": the guest needs at least %llu MiB",
                                  mem_mib, (VM_MEM_MIN >> 20) + 30);
        break;
      case 'e':
        if (strchr (optarg, '=') == NULL || optarg[0] == '=')
          return hull_make_error_code (err, EINVAL, "vm-run: --env `%s`: expected NAME=VALUE", optarg);
        env_set (&env, optarg);
        break;
      case 'w':
        if (optarg[0] != '/')
          return hull_make_error_code (err, EINVAL, "vm-run: --cwd `%s`: not an absolute path", optarg);
        cwd = optarg;
        break;
      case 'k': free (kernel); kernel = xstrdup (optarg); break;
      case 'i': free (initrd); initrd = xstrdup (optarg); break;
      case 'l': free (console_log); console_log = xstrdup (optarg); break;
      case 'C': cmdline = optarg; break;
      case 't': timings = true; break;
      case 'H': hugepages = true; break;
      case 'h': hull_print_help (&help); return 0;
      default: return hull_make_error (err, 0, "vm-run: unknown option `%s`", argv[optind - 1]);
      }
  if (optind >= argc)
    return hull_make_error (err, 0, "vm-run: no command (usage: hull %s %s)", help.name, help.usage);
  /* First whether this host can run a guest at all: that is the answer a
   * user of a host without usable KVM needs, whatever else is missing. */
  if (vm_host_check (NULL, err) < 0)
    return hull_error_wrap (err, "vm-run");
  if ((kernel == NULL && find_guest_file ("vmlinux", &kernel, err) < 0)
      || (initrd == NULL && find_guest_file ("initramfs.cpio", &initrd, err) < 0))
    return -1;

  /* Quiet unless someone reads the console: every byte on the UART is a
   * VM exit. */
  cleanup_free char *args = hull_fmt ("%s%s", console_log ? "" : "quiet ", cmdline ? cmdline : "");
  struct vm_process process = {
    .argv = argv + optind, .env = env, .cwd = cwd, .stdin_fd = 0, .stdout_fd = 1, .stderr_fd = 2,
  };
  struct vm_config cfg = {
    .n_cpus = (unsigned)cpus,
    .mem_size = mem_mib << 20,
    .hugepages = hugepages,
    .kernel = kernel,
    .initrd = initrd,
    .cmdline = args,
    .serial_log = console_log,
    .process = &process,
  };
  uint64_t t0 = hull_now_ns ();
  struct vm *vm = NULL;
  if (vm_create (&cfg, &vm, err) < 0)
    return hull_error_wrap (err, "vm-run");
  uint64_t t_created = hull_now_ns () - t0;
  struct vm_stop_info info;
  int ret = vm_run (vm, &info, err);
  vm_destroy (vm);
  if (ret < 0)
    return hull_error_wrap (err, "vm-run");
  if (timings)
    fprintf (stderr,
             "hull vm-run: agent ready %.1f ms, command ended %.1f ms, total %.1f ms (VM built in %.1f ms)\n",
             (double)info.agent_ready_ns / 1e6, (double)info.process_exit_ns / 1e6,
             (double)(hull_now_ns () - t0) / 1e6, (double)t_created / 1e6);
  return run_status (&info, &cfg);
}
