/* vm-repeat KERNEL INITRD N: boots hull's guest N times in one process, each
 * running /bin/true through the agent, and checks that nothing stays
 * behind: after every vm_destroy, no mapping of guest memory (the memfd) or
 * of a vCPU's kvm_run page is left, and the fds and threads after the last
 * boot are those after the first (the sanitizer build's leak checker
 * covers the heap at exit; its own allocator maps memory as it goes, so
 * the count of all mappings would not say much).  Run in the test host VM
 * by tests/integration-vm. */
#include "../../vm-shim/vm.h"

#include <dirent.h>
#include <inttypes.h>
#include <sys/wait.h>

struct usage
{
  int fds, threads, maps;
};

static int
count_dir (const char *path)
{
  DIR *d = opendir (path);
  int n = 0;
  for (struct dirent *e; d && (e = readdir (d));)
    n += e->d_name[0] != '.';
  if (d)
    closedir (d);
  return n - (strcmp (path, "/proc/self/fd") == 0); /* opendir's own fd */
}

/* Mappings of a VM: guest RAM (memfd:hull-guest-ram...) and the vCPUs'
 * kvm_run pages (anon_inode:kvm-vcpu...). */
static int
count_vm_mappings (void)
{
  FILE *f = fopen ("/proc/self/maps", "re");
  char line[4096];
  int n = 0;
  while (f && fgets (line, sizeof (line), f))
    n += strstr (line, "memfd:") != NULL || strstr (line, "anon_inode:kvm") != NULL;
  if (f)
    fclose (f);
  return n;
}

static struct usage
measure (void)
{
  return (struct usage){ count_dir ("/proc/self/fd"), count_dir ("/proc/self/task"),
                         count_vm_mappings () };
}

/* The end of the guest's console of the boot that failed. */
static void
print_log_tail (const char *path)
{
  cleanup_free char *log = NULL;
  size_t len = 0;
  hull_error_t err = NULL;
  if (hull_read_file_at (AT_FDCWD, path, 64 << 20, &log, &len, &err) < 0)
    {
      hull_error_release (&err);
      return;
    }
  size_t start = len > 3000 ? len - 3000 : 0;
  fprintf (stderr, "vm-repeat: the guest's console (last %zu bytes):\n%s\n", len - start, log + start);
}

/* Each boot's guest console, kept only while vm-repeat runs. */
static char console_log[] = "/tmp/vm-repeat-console.XXXXXX";

static void
remove_log (void)
{
  unlink (console_log);
}

int
main (int argc, char **argv)
{
  uint64_t n;
  if (argc != 4 || hull_parse_u64 (argv[3], &n) < 0)
    {
      fprintf (stderr, "usage: vm-repeat KERNEL INITRD N\n");
      return 2;
    }
  char *true_argv[] = { "/bin/true", NULL };
  int log_fd = mkstemp (console_log);
  if (log_fd < 0)
    {
      perror ("vm-repeat: mkstemp");
      return 1;
    }
  close (log_fd);
  atexit (remove_log); /* on a failed boot too, once its tail is printed */
  struct vm_process p = { .argv = true_argv, .stdin_fd = -1, .stdout_fd = 1, .stderr_fd = 2 };
  struct vm_config cfg = {
    /* One vCPU: the two-vCPU hangs once seen here were the test host VM
     * freezing (docs/vmm.md, "Tests"); test_vm_run's --cpus 2 test covers SMP. */
    .n_cpus = 1, .mem_size = 128 << 20, .kernel = argv[1], .initrd = argv[2], .cmdline = "quiet", .process = &p,
    .serial_log = console_log,
    .timeout_ms = 240000, /* a boot that hangs is a failure, not a stuck suite */
  };
  struct usage before = { 0 };
  for (uint64_t i = 0; i < n; i++)
    {
      hull_error_t err = NULL;
      struct vm *vm = NULL;
      struct vm_stop_info info;
      if (truncate (console_log, 0) < 0)
        perror ("vm-repeat: truncate the console log");
      if (vm_create (&cfg, &vm, &err) < 0)
        {
          fprintf (stderr, "vm-repeat: boot %" PRIu64 ": %s\n", i + 1, err->msg);
          return 1;
        }
      /* The probe must see a live VM's mappings, or it proves nothing. */
      int live = count_vm_mappings ();
      if (live < 1 + (int)cfg.n_cpus)
        {
          fprintf (stderr, "vm-repeat: a live VM shows %d mappings in /proc/self/maps, expected %u\n", live,
                   1 + cfg.n_cpus);
          return 1;
        }
      if (vm_run (vm, &info, &err) < 0)
        {
          fprintf (stderr, "vm-repeat: boot %" PRIu64 ": %s\n", i + 1, err->msg);
          print_log_tail (console_log);
          return 1;
        }
      vm_destroy (vm);
      if (count_vm_mappings () != 0)
        {
          fprintf (stderr, "vm-repeat: boot %" PRIu64 ": guest memory or a kvm_run page is still mapped\n", i + 1);
          return 1;
        }
      if (!info.process_exited || !WIFEXITED (info.process_status) || WEXITSTATUS (info.process_status) != 0)
        {
          fprintf (stderr, "vm-repeat: boot %" PRIu64 ": /bin/true did not exit 0 (stop: %s)\n", i + 1,
                   vm_stop_reason_name (info.reason));
          print_log_tail (console_log);
          return 1;
        }
      /* The first boot sets up what a process keeps once (SIGPIPE ignored,
       * the signal handler for the vCPU kick, libc's buffers): compare
       * from there on. */
      if (i == 0)
        before = measure ();
    }
  struct usage after = measure ();
  printf ("vm-repeat: %" PRIu64 " boots; fds %d -> %d, threads %d -> %d, VM mappings %d -> %d\n", n, before.fds,
          after.fds, before.threads, after.threads, before.maps, after.maps);
  return before.fds == after.fds && after.threads == 1 && after.maps == 0 ? 0 : 1;
}
