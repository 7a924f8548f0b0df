/* hull exec [options] ID [COMMAND ARGS...]: runs another process in a
 * container, with runc's options.  The process starts from the container's
 * own process settings (env, user, cwd, capabilities, rlimits, seccomp...)
 * or from --process FILE, and the flags override them. */
#include "runtime.h"
#include "../cgroups/cgroups.h"
#include "../ns/ns.h"

#include <getopt.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

struct exec_opts
{
  const char *process_file, *console_socket, *pid_file, *cwd, *user, *apparmor, *label;
  char **env, **caps, **gids;
  bool tty, detach, no_new_privs, ignore_paused;
  int preserve_fds;
};

static void
exec_opts_release (struct exec_opts *e)
{
  strv_free (e->env);
  strv_free (e->caps);
  strv_free (e->gids);
}

enum { OPT_CONSOLE_SOCKET = 256, OPT_PID_FILE, OPT_CWD, OPT_APPARMOR, OPT_LABEL, OPT_NNP, OPT_PRESERVE_FDS,
       OPT_IGNORE_PAUSED, OPT_CGROUP };

static const char exec_options_help[]
    = "  -p, --process FILE      the process.json to run (as `process` in config.json)\n"
      "  -t, --tty               allocate a pty\n"
      "  --console-socket PATH   AF_UNIX socket that receives the pty master\n"
      "  -d, --detach            do not wait for the process\n"
      "  --pid-file FILE         write the process's pid to FILE\n"
      "  -e, --env NAME=VALUE    set an environment variable (repeatable)\n"
      "  --cwd DIR               working directory in the container\n"
      "  -u, --user UID[:GID]    user (numeric ids)\n"
      "  -g, --additional-gids G additional group id (repeatable)\n"
      "  -c, --cap CAP           add a capability (repeatable)\n"
      "  --no-new-privs          set no_new_privs\n"
      "  --apparmor PROFILE      AppArmor profile\n"
      "  --process-label LABEL   SELinux label\n"
      "  --preserve-fds N        pass N extra fds (3 .. 3+N-1)\n"
      "  --ignore-paused         exec even in a paused container\n";

static int
parse_exec_opts (const struct hull_cmd_help *h, int argc, char **argv, struct exec_opts *e, hull_error_t *err)
{
  static const struct option opts[] = {
    { "process", required_argument, NULL, 'p' },   { "tty", no_argument, NULL, 't' },
    { "console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET },
    { "detach", no_argument, NULL, 'd' },          { "pid-file", required_argument, NULL, OPT_PID_FILE },
    { "env", required_argument, NULL, 'e' },       { "cwd", required_argument, NULL, OPT_CWD },
    { "user", required_argument, NULL, 'u' },      { "additional-gids", required_argument, NULL, 'g' },
    { "cap", required_argument, NULL, 'c' },       { "no-new-privs", no_argument, NULL, OPT_NNP },
    { "apparmor", required_argument, NULL, OPT_APPARMOR },
    { "process-label", required_argument, NULL, OPT_LABEL },
    { "preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS },
    { "ignore-paused", no_argument, NULL, OPT_IGNORE_PAUSED },
    { "cgroup", required_argument, NULL, OPT_CGROUP }, { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int c;
  uint64_t n;
  while ((c = getopt_long (argc, argv, "+p:tde:u:g:c:h", opts, NULL)) != -1)
    switch (c)
      {
      case 'p': e->process_file = optarg; break;
      case 't': e->tty = true; break;
      case OPT_CONSOLE_SOCKET: e->console_socket = optarg; break;
      case 'd': e->detach = true; break;
      case OPT_PID_FILE: e->pid_file = optarg; break;
      case 'e': strv_append (&e->env, optarg); break;
      case OPT_CWD: e->cwd = optarg; break;
      case 'u': e->user = optarg; break;
      case 'g': strv_append (&e->gids, optarg); break;
      case 'c': strv_append (&e->caps, optarg); break;
      case OPT_NNP: e->no_new_privs = true; break;
      case OPT_APPARMOR: e->apparmor = optarg; break;
      case OPT_LABEL: e->label = optarg; break;
      case OPT_IGNORE_PAUSED: e->ignore_paused = true; break;
      case OPT_CGROUP:
        return hull_make_error (err, 0, "exec: --cgroup is not supported: the process joins the container's cgroup");
      case OPT_PRESERVE_FDS:
        if (hull_parse_u64 (optarg, &n) < 0 || n > 1024)
          return hull_make_error (err, 0, "exec: --preserve-fds `%s` is not a number between 0 and 1024", optarg);
        e->preserve_fds = (int) n;
        break;
      case 'h': return hull_print_help (h);
      default: return hull_make_error (err, 0, "exec: unknown option `%s` (see `hull exec --help`)", argv[optind - 1]);
      }
  if (optind >= argc)
    return hull_expect_args (h, argc, argv, optind, 1, err);
  if (e->process_file == NULL && optind + 1 >= argc)
    return hull_make_error (err, 0, "exec: give a command to run, or --process FILE");
  if (e->process_file && optind + 1 < argc)
    return hull_make_error (err, 0, "exec: --process and a command cannot be used together");
  return 0;
}

static int
parse_id (const char *s, const char *what, uint32_t *out, hull_error_t *err)
{
  uint64_t v;
  if (hull_parse_u64 (s, &v) < 0 || v >= UINT32_MAX)
    return hull_make_error (err, 0, "exec: %s `%s` is not a numeric id", what, s);
  *out = (uint32_t) v;
  return 0;
}

/* Replaces NAME=... in env, or appends it. */
static void
env_set (char ***env, const char *entry)
{
  size_t klen = strcspn (entry, "=");
  for (size_t i = 0; *env && (*env)[i]; i++)
    if (strncmp ((*env)[i], entry, klen) == 0 && (*env)[i][klen] == '=')
      {
        free ((*env)[i]);
        (*env)[i] = xstrdup (entry);
        return;
      }
  strv_append (env, entry);
}

static int
apply_user (struct oci_process *p, const struct exec_opts *e, hull_error_t *err)
{
  if (e->user)
    {
      cleanup_free char *copy = xstrdup (e->user);
      char *colon = strchr (copy, ':');
      if (colon)
        *colon = '\0';
      if (parse_id (copy, "--user", &p->user.uid, err) < 0
          || (colon && parse_id (colon + 1, "--user group", &p->user.gid, err) < 0))
        return -1;
    }
  size_t n = strv_len (e->gids);
  if (n == 0)
    return 0;
  free (p->user.additional_gids);
  p->user.additional_gids = xmalloc0 (n * sizeof (uint32_t));
  p->user.n_additional_gids = n;
  for (size_t i = 0; i < n; i++)
    if (parse_id (e->gids[i], "--additional-gids", &p->user.additional_gids[i], err) < 0)
      return -1;
  return 0;
}

static void
add_caps (struct oci_process *p, char **caps)
{
  if (caps == NULL)
    return;
  if (p->capabilities == NULL)
    p->capabilities = xmalloc0 (sizeof (*p->capabilities));
  char ***sets[] = { &p->capabilities->bounding, &p->capabilities->effective, &p->capabilities->permitted };
  for (size_t s = 0; s < sizeof (sets) / sizeof (sets[0]); s++)
    for (size_t i = 0; caps[i]; i++)
      strv_append (sets[s], caps[i]);
}

/* The process to run: --process FILE, or the container's with overrides. */
static struct oci_process *
build_process (const struct oci_config *config, const struct exec_opts *e, char **cmd, hull_error_t *err)
{
  struct oci_process *p;
  if (e->process_file)
    {
      cleanup_free char *json = NULL;
      size_t len;
      if (hull_read_file_at (AT_FDCWD, e->process_file, 16 << 20, &json, &len, err) < 0)
        return NULL;
      if ((p = oci_process_parse (json, len, e->process_file, err)) == NULL)
        return NULL;
    }
  else
    {
      p = oci_process_dup (config->process);
      strv_free (p->args);
      p->args = strv_dup (cmd);
      p->terminal = e->tty;
    }
  for (size_t i = 0; e->env && e->env[i]; i++)
    env_set (&p->env, e->env[i]);
  if (e->cwd)
    free (p->cwd), p->cwd = xstrdup (e->cwd);
  if (e->no_new_privs)
    p->no_new_privileges = true;
  if (e->apparmor)
    free (p->apparmor_profile), p->apparmor_profile = xstrdup (e->apparmor);
  if (e->label)
    free (p->selinux_label), p->selinux_label = xstrdup (e->label);
  add_caps (p, e->caps);
  if (apply_user (p, e, err) < 0)
    {
      oci_process_free (p);
      return NULL;
    }
  return p;
}

static int
open_cgroup (const struct oci_state *s, hull_error_t *err)
{
  return s->cgroup_path ? cg_open_dir (s->cgroup_path, err) : -1;
}

/* The console: the caller's --console-socket, or (foreground -t) a
 * socketpair whose other end we keep to receive the master. */
static int
open_console (const struct exec_opts *e, int *peer, hull_error_t *err)
{
  *peer = -1;
  if (!e->tty)
    return e->console_socket ? hull_make_error (err, 0, "exec: --console-socket needs --tty") : -1;
  if (e->console_socket)
    return hull_connect_console_socket (e->console_socket, err);
  if (e->detach)
    return hull_make_error (err, 0, "exec: --tty with --detach needs --console-socket to receive the pty");
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return hull_make_error (err, errno, "socketpair for the console");
  *peer = sv[0];
  return sv[1];
}

struct exec_ctx
{
  struct oci_config *config;
  struct oci_process *process;
  int console_fd, console_peer, cgroup_fd, master;
};

static void
exec_ctx_release (struct exec_ctx *x)
{
  oci_config_free (x->config);
  oci_process_free (x->process);
  int *fds[] = { &x->console_fd, &x->console_peer, &x->cgroup_fd, &x->master };
  for (size_t i = 0; i < sizeof (fds) / sizeof (fds[0]); i++)
    if (*fds[i] >= 0)
      close (*fds[i]);
}

/* Checks the container and prepares everything the spawn needs. */
static int
prepare_exec (struct hull_container *c, const struct exec_opts *e, char **cmd, struct exec_ctx *x,
              hull_error_t *err)
{
  enum oci_status st = hull_container_status (c);
  if (st == OCI_STATUS_STOPPED || st == OCI_STATUS_CREATING)
    return hull_make_error (err, 0, "cannot exec in container `%s`: it is %s", c->id, oci_status_names[st]);
  if (st == OCI_STATUS_PAUSED && !e->ignore_paused)
    return hull_make_error (err, 0, "cannot exec in container `%s`: it is paused (use --ignore-paused)", c->id);
  if ((x->config = hull_container_config (c, err)) == NULL)
    return -1;
  if ((x->process = build_process (x->config, e, cmd, err)) == NULL)
    return -1;
  if (e->tty)
    x->process->terminal = true; /* -t overrides the process file's, as runc */
  struct exec_opts eff = *e;
  eff.tty = x->process->terminal;
  x->console_fd = open_console (&eff, &x->console_peer, err);
  if (x->console_fd < 0 && *err)
    return -1;
  x->cgroup_fd = open_cgroup (c->state, err);
  return x->cgroup_fd < 0 && *err ? -1 : 0;
}

int
hull_cmd_exec (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help = {
    "exec", "[options] CONTAINER_ID [COMMAND [ARGS...]]",
    "Runs a process in the container, in its namespaces and cgroup, with its process settings\n"
    "(overridden by the options).  Without --detach, waits and exits with the process's status.",
    exec_options_help,
  };
  struct exec_opts e = { 0 };
  struct exec_ctx x = { .console_fd = -1, .console_peer = -1, .cgroup_fd = -1, .master = -1 };
  struct hull_fg fg = { .sigfd = -1 };
  cleanup_container struct hull_container *c = NULL;
  int ret = parse_exec_opts (&help, argc, argv, &e, err);
  if (ret != 0)
    {
      exec_opts_release (&e);
      return ret < 0 ? -1 : 0;
    }
  const char *id = argv[optind];
  ret = -1;
  pid_t pid;
  if (hull_container_load (ctx, id, true, &c, err) < 0 || prepare_exec (c, &e, argv + optind + 1, &x, err) < 0)
    goto out;
  if (!e.detach && hull_fg_prepare (&fg, err) < 0)
    goto out;
  struct ns_exec_opts so = { .init_pid = c->state->pid, .config = x.config, .process = x.process,
                             .cgroup_fd = x.cgroup_fd, .console_socket_fd = x.console_fd,
                             .preserve_fds = e.preserve_fds, .seccomp_state = c->state };
  if (ns_exec_spawn (&so, &pid, err) < 0)
    goto out;
  if (x.console_peer >= 0)
    close (steal_fd (&x.console_fd));
  if ((x.console_peer >= 0 && (x.master = ns_recv_fd (x.console_peer, err)) < 0)
      || (e.pid_file && hull_write_pid_file (e.pid_file, pid, err) < 0))
    {
      /* Nobody could wait for or talk to it: don't leave it behind. */
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
      goto out;
    }
  hull_container_free (steal_pointer (&c)); /* drop the lock while the process runs */
  ret = e.detach ? 0 : hull_fg_wait (&fg, pid, x.master);
out:
  if (fg.sigfd >= 0)
    hull_fg_release (&fg);
  exec_ctx_release (&x);
  exec_opts_release (&e);
  return ret;
}
