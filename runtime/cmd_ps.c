/* hull ps [--format table|json] ID [-- PS_ARGS...]: the container's
 * processes, from its cgroup.  Table mode runs the host's ps (default -ef)
 * and keeps the rows whose PID is in the container, as runc does. */
#include "runtime.h"
#include "../cgroups/cgroups.h"

#include <getopt.h>
#include <sys/wait.h>

static bool
pid_in (pid_t pid, const pid_t *pids, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (pids[i] == pid)
      return true;
  return false;
}

/* Index of the PID column in ps's header line, or -1. */
static int
pid_column (const char *header)
{
  cleanup_free char *copy = xstrdup (header);
  int col = 0;
  for (char *save = NULL, *tok = strtok_r (copy, " \t", &save); tok; tok = strtok_r (NULL, " \t", &save), col++)
    if (strcmp (tok, "PID") == 0)
      return col;
  return -1;
}

static pid_t
field_pid (const char *line, int col)
{
  cleanup_free char *copy = xstrdup (line);
  int i = 0;
  for (char *save = NULL, *tok = strtok_r (copy, " \t", &save); tok; tok = strtok_r (NULL, " \t", &save), i++)
    if (i == col)
      return atoi (tok);
  return -1;
}

static int
run_ps (char **ps_args, int n_args, char **out, hull_error_t *err)
{
  int fds[2];
  if (pipe2 (fds, O_CLOEXEC) < 0)
    return hull_make_error (err, errno, "pipe");
  char **argv = xmalloc0 ((n_args + 2) * sizeof (char *));
  argv[0] = "ps";
  for (int i = 0; i < n_args; i++)
    argv[i + 1] = ps_args[i];
  pid_t pid = fork ();
  if (pid == 0)
    {
      dup2 (fds[1], STDOUT_FILENO);
      execvp ("ps", argv);
      dprintf (STDERR_FILENO, "hull: exec ps: %s\n", strerror (errno));
      _exit (127);
    }
  free (argv);
  close (fds[1]);
  int ret = pid < 0 ? hull_make_error (err, errno, "fork ps") : 0;
  if (ret == 0)
    {
      ret = hull_read_fd_all (fds[0], "ps output", 64 << 20, out, NULL, err);
      int status;
      waitpid (pid, &status, 0);
      if (ret == 0 && (!WIFEXITED (status) || WEXITSTATUS (status) != 0))
        ret = hull_make_error (err, 0, "ps exited with status %d", WIFEXITED (status) ? WEXITSTATUS (status) : -1);
    }
  close (fds[0]);
  return ret;
}

static int
print_table (char **ps_args, int n_args, const pid_t *pids, size_t n, hull_error_t *err)
{
  static char *default_args[] = { "-ef" };
  cleanup_free char *out = NULL;
  if (run_ps (n_args ? ps_args : default_args, n_args ? n_args : 1, &out, err) < 0)
    return -1;
  char *save = NULL;
  char *header = strtok_r (out, "\n", &save);
  int col = header ? pid_column (header) : -1;
  if (col < 0)
    return hull_make_error (err, 0, "ps: no PID column in its output (give ps arguments that print one)");
  printf ("%s\n", header);
  for (char *line = strtok_r (NULL, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    if (pid_in (field_pid (line, col), pids, n))
      printf ("%s\n", line);
  return 0;
}

int
hull_cmd_ps (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help = {
    "ps", "[--format table|json] CONTAINER_ID [-- PS_ARGUMENTS...]",
    "Lists the processes of a container (its cgroup).  In table mode the host's `ps` (default `-ef`)\n"
    "is run with PS_ARGUMENTS and only the container's rows are kept.",
    "  -f, --format table|json output format (json: an array of pids)\n",
  };
  static const struct option opts[]
      = { { "format", required_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
  bool json = false;
  int c;
  while ((c = getopt_long (argc, argv, "+f:h", opts, NULL)) != -1)
    switch (c)
      {
      case 'f':
        if (strcmp (optarg, "json") != 0 && strcmp (optarg, "table") != 0)
          return hull_make_error (err, 0, "ps: --format `%s` is not `table` or `json`", optarg);
        json = strcmp (optarg, "json") == 0;
        break;
      case 'h': hull_print_help (&help); return 0;
      default: return hull_make_error (err, 0, "ps: unknown option `%s`", argv[optind - 1]);
      }
  if (optind >= argc)
    return hull_expect_args (&help, argc, argv, optind, 1, err);
  const char *id = argv[optind++];
  if (optind < argc && strcmp (argv[optind], "--") == 0)
    optind++;
  if (json && optind < argc)
    return hull_make_error (err, 0, "ps: ps arguments cannot be used with --format json");
  cleanup_container struct hull_container *ct = NULL;
  if (hull_container_load (ctx, id, false, &ct, err) < 0)
    return -1;
  if (ct->state->cgroup_path == NULL)
    return hull_make_error (err, 0,
                            "ps: container `%s` has no cgroup (a rootless container without a "
                            "writable cgroup)",
                            id);
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  if (cg_pids (ct->state->cgroup_path, &pids, &n, err) < 0)
    return -1;
  if (!json)
    return print_table (argv + optind, argc - optind, pids, n, err) < 0 ? -1 : 0;
  printf ("[");
  for (size_t i = 0; i < n; i++)
    printf ("%s%d", i ? "," : "", pids[i]);
  printf ("]\n");
  return 0;
}
