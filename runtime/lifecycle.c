/* create, start and delete: the container lifecycle on top of ns/ and
 * cgroups/.  A failed create undoes everything it did, in reverse. */
#include "runtime.h"
#include "../cgroups/cgroups.h"
#include "../ns/ns.h"
#include "../image/image.h"

#include <poll.h>
#include <strings.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#define CONFIG_COPY "config.json"
#define EXEC_FIFO "exec.fifo"

/* What the spawn callbacks need: the container (for the hooks' state) and
 * its config. */
struct create_ctx
{
  struct hull_container *c;
  const struct oci_config *config;
};

static int
run_hooks_with_state (struct create_ctx *cc, enum oci_hook_kind kind, enum oci_status status, pid_t pid,
                      hull_error_t *err)
{
  if (cc->config->hooks[kind].n == 0)
    return 0;
  cc->c->state->pid = pid;
  cleanup_free char *json = hull_state_json (cc->c, status, false);
  return hull_run_hooks (&cc->config->hooks[kind], kind, json, err);
}

static int
on_namespaces_ready (void *data, pid_t pid, hull_error_t *err)
{
  struct create_ctx *cc = data;
  if (run_hooks_with_state (cc, OCI_HOOK_PRESTART, OCI_STATUS_CREATING, pid, err) < 0)
    return -1;
  return run_hooks_with_state (cc, OCI_HOOK_CREATE_RUNTIME, OCI_STATUS_CREATING, pid, err);
}

static int
on_child_stage (void *data, enum ns_child_stage stage, pid_t host_pid, hull_error_t *err)
{
  struct create_ctx *cc = data;
  if (stage == NS_STAGE_CREATE_CONTAINER)
    return run_hooks_with_state (cc, OCI_HOOK_CREATE_CONTAINER, OCI_STATUS_CREATING, host_pid, err);
  return run_hooks_with_state (cc, OCI_HOOK_START_CONTAINER, OCI_STATUS_CREATED, host_pid, err);
}

static char *
rfc3339_now (void)
{
  char buf[64];
  hull_format_time (buf, sizeof (buf));
  return xstrdup (buf);
}

int
hull_connect_console_socket (const char *path, hull_error_t *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen (path) >= sizeof (addr.sun_path))
    return hull_make_error (err, ENAMETOOLONG, "--console-socket `%s`", path);
  strcpy (addr.sun_path, path);
  cleanup_close int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return hull_make_error (err, errno, "socket");
  if (connect (fd, (struct sockaddr *) &addr, sizeof (addr)) < 0)
    return hull_make_error (err, errno, "connect to --console-socket `%s`", path);
  return steal_fd (&fd);
}

/* Everything that can be checked before the first change to the system. */
struct create_plan
{
  char *bundle, *rootfs, *cgroup_path;
  char *config_json;
  size_t config_len;
  struct oci_config *config;
  int console_fd;
  int console_peer; /* our end of the internal console socketpair, or -1 */
};

static void
create_plan_release (struct create_plan *p)
{
  free (p->bundle);
  free (p->rootfs);
  free (p->cgroup_path);
  free (p->config_json);
  oci_config_free (p->config);
  if (p->console_fd >= 0)
    close (p->console_fd);
  if (p->console_peer >= 0)
    close (p->console_peer);
}

static int
resolve_rootfs (struct create_plan *p, hull_error_t *err)
{
  const char *root = p->config->root->path;
  cleanup_free char *joined = root[0] == '/' ? xstrdup (root) : hull_fmt ("%s/%s", p->bundle, root);
  p->rootfs = realpath (joined, NULL);
  if (p->rootfs == NULL)
    return hull_make_error (err, errno, "root.path `%s`", joined);
  struct stat st;
  if (stat (p->rootfs, &st) < 0 || !S_ISDIR (st.st_mode))
    return hull_make_error (err, ENOTDIR, "root.path `%s`", p->rootfs);
  return 0;
}

static int
plan_create (const struct hull_create_opts *o, struct create_plan *p, hull_error_t *err)
{
  p->console_fd = p->console_peer = -1;
  p->bundle = realpath (o->bundle ? o->bundle : ".", NULL);
  if (p->bundle == NULL)
    return hull_make_error (err, errno, "bundle `%s`", o->bundle ? o->bundle : ".");
  cleanup_close int bfd = open (p->bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (bfd < 0)
    return hull_make_error (err, errno, "open bundle `%s`", p->bundle);
  if (hull_read_file_at (bfd, "config.json", 16 << 20, &p->config_json, &p->config_len, err) < 0)
    return hull_error_wrap (err, "bundle `%s`", p->bundle);
  p->config = oci_config_parse (p->config_json, p->config_len, "config.json", err);
  if (p->config == NULL)
    return -1;
  if (ns_validate_config (p->config, err) < 0)
    return hull_error_wrap (err, "config.json");
  struct hull_conf conf;
  if (hull_conf_load (&conf, err) < 0)
    return -1;
  const struct oci_resources *r = &p->config->linux_->resources;
  if (cg_validate_resources (r, err) < 0 || cg_check_resources (r, conf.limits_warn_only, err) < 0)
    return hull_error_wrap (err, "config.json");
  if (resolve_rootfs (p, err) < 0)
    return -1;
  bool has_console = o->console_socket || o->console_socket_fd >= 0;
  if (p->config->process->terminal && !has_console && o->foreground)
    {
      int sv[2];
      if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return hull_make_error (err, errno, "socketpair for the console");
      p->console_peer = sv[0];
      p->console_fd = sv[1];
      return cg_resolve_path (p->config->linux_->cgroups_path, o->id, &p->cgroup_path, err);
    }
  if (p->config->process->terminal && !has_console)
    return hull_make_error (err, 0, "process.terminal is true: --console-socket is required to receive the pty");
  if (!p->config->process->terminal && has_console)
    return hull_make_error (err, 0, "--console-socket given but process.terminal is false");
  if (cg_resolve_path (p->config->linux_->cgroups_path, o->id, &p->cgroup_path, err) < 0)
    return -1;
  if (o->console_socket_fd >= 0)
    p->console_fd = dup (o->console_socket_fd);
  else if (o->console_socket && (p->console_fd = hull_connect_console_socket (o->console_socket, err)) < 0)
    return -1;
  return 0;
}

static void
fill_initial_state (struct hull_container *c, const struct create_plan *p)
{
  struct oci_state *s = c->state = xmalloc0 (sizeof (*s));
  s->oci_version = xstrdup (p->config->oci_version);
  s->id = xstrdup (c->id);
  s->status = OCI_STATUS_CREATING;
  s->bundle = xstrdup (p->bundle);
  s->rootfs = xstrdup (p->rootfs);
  s->created = rfc3339_now ();
  /* The owner is left to `list` (runc's `state` prints it empty too): a
   * passwd lookup here cost every create about 60 us and 15 system calls. */
  s->cgroup_path = xstrdup (p->cgroup_path);
  s->isolation = xstrdup ("container");
  s->isolation_source = xstrdup ("default");
  s->poststart_hooks = (oci_bool){ true, p->config->hooks[OCI_HOOK_POSTSTART].n > 0 };
  s->poststop_hooks = (oci_bool){ true, p->config->hooks[OCI_HOOK_POSTSTOP].n > 0 };
  const struct oci_kvs *a = &p->config->annotations;
  s->annotations.n = a->n;
  s->annotations.v = xmalloc0 ((a->n ? a->n : 1) * sizeof (struct oci_kv));
  for (size_t i = 0; i < a->n; i++)
    s->annotations.v[i] = (struct oci_kv){ xstrdup (a->v[i].key), xstrdup (a->v[i].value) };
}

int
hull_write_pid_file (const char *path, pid_t pid, hull_error_t *err)
{
  cleanup_free char *dir = xstrdup (path);
  char *slash = strrchr (dir, '/');
  const char *name = slash ? slash + 1 : dir;
  if (slash)
    *slash = '\0';
  cleanup_close int dfd = open (slash ? (dir[0] ? dir : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return hull_make_error (err, errno, "--pid-file `%s`: open its directory", path);
  char buf[32];
  int n = snprintf (buf, sizeof (buf), "%d", pid);
  if (hull_write_file_atomic (dfd, name, buf, n, 0644, err) < 0)
    return hull_error_wrap (err, "--pid-file `%s`", path);
  return 0;
}

static int
spawn_init (struct hull_context *ctx, const struct hull_create_opts *o, struct create_plan *p,
            struct hull_container *c, int cgroup_fd, pid_t *pid, hull_error_t *err)
{
  (void) ctx;
  if (mkfifoat (c->dir_fd, EXEC_FIFO, 0600) < 0)
    return hull_make_error (err, errno, "create the exec fifo");
  cleanup_close int fifo = openat (c->dir_fd, EXEC_FIFO, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fifo < 0)
    return hull_make_error (err, errno, "open the exec fifo");
  struct create_ctx cc = { .c = c, .config = p->config };
  struct ns_spawn_opts so = {
    .config = p->config,
    .rootfs = p->rootfs,
    .exec_fifo_fd = fifo,
    .console_socket_fd = p->console_fd,
    .preserve_fds = o->preserve_fds,
    .cgroup_fd = cgroup_fd,
    .no_pivot = o->no_pivot,
    .no_new_keyring = o->no_new_keyring,
    .on_namespaces_ready = on_namespaces_ready,
    .on_child_stage = on_child_stage,
    .data = &cc,
    .seccomp_state = c->state,
  };
  return ns_spawn_container (&so, pid, err);
}

/* Limits and the device program, before the init runs anything of the
 * user's.  As runc, every device of linux.devices is allowed on top of the
 * config's rules (cg_apply_devices adds the default allow list). */
static int
apply_cgroup (struct hull_context *ctx, const struct create_plan *p, int cgroup_fd, hull_error_t *err)
{
  const struct oci_linux *l = p->config->linux_;
  const struct oci_resources *r = &l->resources;
  if (cg_apply_resources (p->cgroup_path, r, err) < 0)
    return hull_error_wrap (err, "config.json");
  size_t n = r->n_devices + l->n_devices;
  cleanup_free struct oci_device_cgroup *rules = xmalloc0 ((n ? n : 1) * sizeof (*rules));
  if (r->n_devices)
    memcpy (rules, r->devices, r->n_devices * sizeof (*rules));
  n = r->n_devices;
  for (size_t i = 0; i < l->n_devices; i++)
    {
      const struct oci_device *d = &l->devices[i];
      if (d->type == 'p')
        continue; /* fifos are not subject to the device cgroup */
      rules[n++] = (struct oci_device_cgroup){ .allow = true, .type = d->type == 'u' ? 'c' : d->type,
                                               .major = { true, d->major }, .minor = { true, d->minor },
                                               .access = (char *) "rwm" };
    }
  /* Rootless, a device program cannot be attached (it needs CAP_BPF and
   * CAP_SYS_ADMIN on the host) and would add nothing: a user namespace
   * cannot make device nodes, only bind the ones its user may open.  runc
   * ignores this error in rootless mode too. */
  hull_error_t local = NULL;
  if (cg_apply_devices (cgroup_fd, rules, n, &local) == 0)
    return 0;
  if (ctx->rootless && (local->status == EPERM || local->status == EACCES))
    {
      hull_debug ("rootless: no device cgroup: %s", local->msg);
      hull_error_release (&local);
      return 0;
    }
  *err = local;
  return hull_error_wrap (err, "linux.resources.devices");
}

/* The first field of r a cgroup must enforce (devices aside), or NULL. */
static int
first_limit (const struct oci_resources *r, const char **field, hull_error_t *err)
{
  struct cg_plan plan = { 0 };
  if (cg_plan_resources (r, &plan, err) < 0)
    return -1;
  *field = plan.n > 0 ? plan.w[0].field : NULL;
  cg_plan_release (&plan);
  return 0;
}

/* Rootless, as runc's cgroup v2 manager: when the user may not create the
 * cgroup, the container runs without one if nothing needs it (no
 * linux.cgroupsPath, no limit); otherwise create fails, saying why.
 * *fd is -1 and the state has no cgroup path when skipped. */
static int
create_cgroup (struct hull_context *ctx, struct create_plan *p, struct hull_container *c, bool *created,
               int *fd, hull_error_t *err)
{
  hull_error_t local = NULL;
  *fd = cg_create (p->cgroup_path, created, &local);
  if (*fd >= 0)
    return 0;
  int status = local->status;
  if (!ctx->rootless || (status != EACCES && status != EPERM && status != EROFS))
    {
      *err = local;
      return -1;
    }
  const struct oci_linux *l = p->config->linux_;
  const char *limit = NULL;
  if (first_limit (&l->resources, &limit, err) < 0)
    {
      hull_error_release (&local);
      return -1;
    }
  if (l->cgroups_path || limit)
    {
      int ret = hull_make_error_code (
          err, status,
          "rootless: %s needs a cgroup, but %s (delegate a cgroup to this user, or "
          "drop %s)",
          limit ? limit : "linux.cgroupsPath", local->msg, limit ? "the limits" : "linux.cgroupsPath");
      hull_error_release (&local);
      return ret;
    }
  hull_debug ("rootless: running without a cgroup: %s", local->msg);
  hull_error_release (&local);
  free (steal_pointer (&c->state->cgroup_path));
  free (steal_pointer (&p->cgroup_path));
  return 0;
}

int
hull_create_container (struct hull_context *ctx, const struct hull_create_opts *o, pid_t *pid_out,
                       int *console_master, hull_error_t *err)
{
  int master = -1;
  struct create_plan p = { .console_fd = -1, .console_peer = -1 };
  cleanup_container struct hull_container *c = NULL;
  int ret = -1;
  bool cgroup_created = false;
  int cgroup_fd = -1;
  pid_t pid = 0;

  if (plan_create (o, &p, err) < 0 || hull_container_new (ctx, o->id, &c, err) < 0)
    goto out;
  fill_initial_state (c, &p);
  if (hull_write_file_atomic (c->dir_fd, CONFIG_COPY, p.config_json, p.config_len, 0600, err) < 0
      || hull_container_save (c, err) < 0)
    goto undo_state;
  /* run --image: delete removes the bundle image/ made (img_container_release). */
  if (o->image && img_container_record (c->dir_fd, p.bundle, err) < 0)
    goto undo_state;
  if (create_cgroup (ctx, &p, c, &cgroup_created, &cgroup_fd, err) < 0)
    goto undo_state;
  if (cgroup_fd >= 0 && apply_cgroup (ctx, &p, cgroup_fd, err) < 0)
    goto undo_cgroup;
  if (spawn_init (ctx, o, &p, c, cgroup_fd, &pid, err) < 0)
    goto undo_cgroup;
  c->state->pid = pid;
  c->state->init_start_time = hull_proc_start_time (pid);
  c->state->status = OCI_STATUS_CREATED;
  if (hull_container_save (c, err) < 0 || (o->pid_file && hull_write_pid_file (o->pid_file, pid, err) < 0))
    goto undo_init;
  if (p.console_peer >= 0)
    {
      /* Our copy of the child's end must go, or recv would never see EOF. */
      close (steal_fd (&p.console_fd));
      if ((master = ns_recv_fd (p.console_peer, err)) < 0)
        goto undo_init;
    }
  if (console_master)
    *console_master = master;
  else if (master >= 0)
    close (master);
  *pid_out = pid;
  ret = 0;
  goto out;

undo_init:
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
undo_cgroup:
  if (cgroup_created)
    {
      hull_error_t ignored = NULL;
      cg_kill_all (p.cgroup_path, SIGKILL, &ignored);
      hull_error_release (&ignored);
      cg_destroy (p.cgroup_path, &ignored);
      hull_error_release (&ignored);
    }
undo_state:
  {
    hull_error_t ignored = NULL;
    hull_container_remove (ctx, c, &ignored);
    hull_error_release (&ignored);
  }
out:
  if (cgroup_fd >= 0)
    close (cgroup_fd);
  create_plan_release (&p);
  return ret;
}

/* Whether the saved config must be read for hooks of this kind: parsing it
 * is about 50 us, so not when the state says there are none. */
static bool
may_have_hooks (oci_bool noted)
{
  return !noted.set || noted.v;
}

struct oci_config *
hull_container_config (struct hull_container *c, hull_error_t *err)
{
  cleanup_free char *json = NULL;
  size_t len = 0;
  if (hull_read_file_at (c->dir_fd, CONFIG_COPY, 16 << 20, &json, &len, err) < 0)
    {
      hull_error_wrap (err, "container `%s`", c->id);
      return NULL;
    }
  return oci_config_parse (json, len, "config.json (saved)", err);
}

static const char *
status_name (enum oci_status s)
{
  return oci_status_names[s];
}

int
hull_start_container (struct hull_context *ctx, const char *id, hull_error_t *err)
{
  cleanup_container struct hull_container *c = NULL;
  if (hull_container_load (ctx, id, true, &c, err) < 0)
    return -1;
  enum oci_status st = hull_container_status (c);
  if (st != OCI_STATUS_CREATED)
    return hull_make_error (err, 0, "cannot start container `%s`: it is %s, not created", id, status_name (st));
  struct oci_config *config = NULL;
  if (may_have_hooks (c->state->poststart_hooks) && (config = hull_container_config (c, err)) == NULL)
    return -1;
  int fd = openat (c->dir_fd, EXEC_FIFO, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    {
      int saved_errno = errno;
      oci_config_free (config);
      if (saved_errno == ENXIO)
        return hull_make_error (err, 0, "cannot start container `%s`: its init is no longer waiting", id);
      return hull_make_error (err, saved_errno, "open the exec fifo of `%s`", id);
    }
  ssize_t w = write (fd, "0", 1);
  int saved_errno = errno;
  close (fd);
  unlinkat (c->dir_fd, EXEC_FIFO, 0);
  if (w != 1)
    {
      oci_config_free (config);
      return hull_make_error (err, saved_errno, "release the init of `%s`", id);
    }
  /* state.json is not rewritten: the status is computed (the fifo is gone),
   * and a new inode costs up to 0.4 ms on ext4. */
  if (config && config->hooks[OCI_HOOK_POSTSTART].n)
    {
      cleanup_free char *json = hull_state_json (c, OCI_STATUS_RUNNING, false);
      hull_run_hooks (&config->hooks[OCI_HOOK_POSTSTART], OCI_HOOK_POSTSTART, json, err);
    }
  oci_config_free (config);
  return 0;
}

/* Waits (up to ~10 s) for a process that is not our child to exit. */
static int
wait_for_exit (pid_t pid, uint64_t start_time, hull_error_t *err)
{
  int pidfd = syscall (SYS_pidfd_open, pid, 0);
  if (pidfd < 0)
    return errno == ESRCH ? 0 : hull_make_error (err, errno, "pidfd_open %d", pid);
  /* The pid may have been reused between the status check and here. */
  if (hull_proc_start_time (pid) != start_time)
    {
      close (pidfd);
      return 0;
    }
  struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
  int r;
  do
    r = poll (&pfd, 1, 10000);
  while (r < 0 && errno == EINTR);
  close (pidfd);
  if (r == 0)
    return hull_make_error (err, ETIMEDOUT, "wait for pid %d to exit", pid);
  return 0;
}

/* Kills what is left of the container and waits for its init to go. */
static int
kill_container (struct hull_container *c, hull_error_t *err)
{
  struct oci_state *s = c->state;
  if (s->cgroup_path)
    {
      hull_error_t ignored = NULL;
      if (cg_kill_all (s->cgroup_path, SIGKILL, &ignored) < 0)
        hull_error_release (&ignored);
    }
  uint64_t start = s->pid > 0 ? hull_proc_start_time (s->pid) : 0;
  if (start == 0 || start != s->init_start_time)
    return 0;
  if (kill (s->pid, SIGKILL) < 0 && errno != ESRCH)
    return hull_make_error (err, errno, "kill the init (pid %d) of `%s`", s->pid, c->id);
  return wait_for_exit (s->pid, start, err);
}

int
hull_delete_container (struct hull_context *ctx, const char *id, bool force, hull_error_t *err)
{
  cleanup_container struct hull_container *c = NULL;
  if (hull_container_load (ctx, id, true, &c, err) < 0)
    return -1;
  enum oci_status st = hull_container_status (c);
  if ((st == OCI_STATUS_RUNNING || st == OCI_STATUS_PAUSED) && !force)
    return hull_make_error (err, 0, "cannot delete container `%s` that is %s (use --force)", id, status_name (st));
  /* A created container is killed without --force, as runc does. */
  if (st != OCI_STATUS_STOPPED && kill_container (c, err) < 0)
    return -1;
  if (c->state->cgroup_path && cg_destroy (c->state->cgroup_path, err) < 0)
    return -1;
  struct oci_config *config = NULL;
  if (may_have_hooks (c->state->poststop_hooks) && (config = hull_container_config (c, err)) == NULL)
    hull_error_release (err); /* delete must work even with a damaged copy */
  else if (config)
    {
      if (config->hooks[OCI_HOOK_POSTSTOP].n)
        {
          cleanup_free char *json = hull_state_json (c, OCI_STATUS_STOPPED, false);
          hull_run_hooks (&config->hooks[OCI_HOOK_POSTSTOP], OCI_HOOK_POSTSTOP, json, err);
        }
      oci_config_free (config);
    }
  /* A `run --image` bundle: unmount and remove it (image/). */
  if (img_container_release (c->dir_fd, err) < 0)
    return -1;
  return hull_container_remove (ctx, c, err);
}

int
hull_parse_signal (const char *s, int *sig, hull_error_t *err)
{
  int64_t n;
  if (hull_parse_i64 (s, &n) == 0)
    {
      if (n <= 0 || n > SIGRTMAX)
        return hull_make_error (err, 0, "invalid signal number %s", s);
      *sig = (int) n;
      return 0;
    }
  const char *name = hull_str_has_prefix (s, "SIG") ? s + 3 : s;
  for (int i = 1; i < SIGRTMIN; i++)
    {
      const char *abbrev = sigabbrev_np (i);
      if (abbrev && strcasecmp (abbrev, name) == 0)
        {
          *sig = i;
          return 0;
        }
    }
  if (strncasecmp (name, "RTMIN", 5) == 0 || strncasecmp (name, "RTMAX", 5) == 0)
    {
      int64_t off = 0;
      if (name[5] != '\0' && hull_parse_i64 (name + 5, &off) < 0)
        return hull_make_error (err, 0, "unknown signal `%s`", s);
      int v = (strncasecmp (name, "RTMIN", 5) == 0 ? SIGRTMIN : SIGRTMAX) + (int) off;
      if (v < SIGRTMIN || v > SIGRTMAX)
        return hull_make_error (err, 0, "signal `%s` is out of range", s);
      *sig = v;
      return 0;
    }
  return hull_make_error (err, 0, "unknown signal `%s`", s);
}
