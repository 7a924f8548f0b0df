/* hull kill [--all] ID [SIGNAL]  (default SIGTERM, by name or number) */
#include "runtime.h"
#include "../cgroups/cgroups.h"

#include <getopt.h>
#include <signal.h>
#include <sys/syscall.h>

/* Signals the init through a pidfd checked against the recorded start
 * time, so a reused pid never gets the signal. */
static int
signal_init (struct hull_container *c, int sig, hull_error_t *err)
{
  pid_t pid = c->state->pid;
  int pidfd = syscall (SYS_pidfd_open, pid, 0);
  if (pidfd < 0)
    return hull_make_error (err, errno == ESRCH ? 0 : errno, "container `%s`: container not running", c->id);
  int ret = 0;
  if (hull_proc_start_time (pid) != c->state->init_start_time)
    ret = hull_make_error (err, 0, "container `%s`: container not running", c->id);
  else if (syscall (SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
    ret = hull_make_error (err, errno, "send signal %d to the init (pid %d) of `%s`", sig, pid, c->id);
  close (pidfd);
  return ret;
}

int
hull_cmd_kill (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help = {
    "kill", "[--all] CONTAINER_ID [SIGNAL]",
    "Sends SIGNAL (default SIGTERM; a name like KILL or SIGKILL, or a number) to the container's init.",
    "  -a, --all               signal every process of the container (its cgroup)\n",
  };
  static const struct option opts[]
      = { { "all", no_argument, NULL, 'a' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
  bool all = false;
  int c;
  while ((c = getopt_long (argc, argv, "+ah", opts, NULL)) != -1)
    switch (c)
      {
      case 'a': all = true; break;
      case 'h': hull_print_help (&help); return 0;
      default: return hull_make_error (err, 0, "kill: unknown option `%s`", argv[optind - 1]);
      }
  int n = argc - optind;
  if (n < 1 || n > 2)
    return hull_expect_args (&help, argc, argv, optind, n < 1 ? 1 : 2, err);
  int sig = SIGTERM;
  if (n == 2 && hull_parse_signal (argv[optind + 1], &sig, err) < 0)
    return -1;
  cleanup_container struct hull_container *ct = NULL;
  if (hull_container_load (ctx, argv[optind], true, &ct, err) < 0)
    return -1;
  enum oci_status st = hull_container_status (ct);
  /* "container not running" is runc's wording, and containerd's shim
   * matches it to treat the kill of an exited task as done. */
  if (st == OCI_STATUS_STOPPED || st == OCI_STATUS_CREATING)
    return hull_make_error (err, 0, "container `%s` is %s: container not running", ct->id, oci_status_names[st]);
  if (all && ct->state->cgroup_path)
    return cg_kill_all (ct->state->cgroup_path, sig, err) < 0 ? -1 : 0;
  /* Rootless without a cgroup nothing lists the processes; SIGKILL of the
   * init still takes its whole pid namespace down. */
  if (all && sig != SIGKILL)
    hull_warn ("container `%s` has no cgroup (rootless): --all sends signal %d to the init only", ct->id,
               sig);
  return signal_init (ct, sig, err) < 0 ? -1 : 0;
}
