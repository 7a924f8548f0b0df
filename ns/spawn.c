/* Spawning the container init.
 *
 * The parent (hull create/run) clones the init into its new namespaces and
 * cgroup.  Joining namespaces by path, or a new time namespace, needs one more
 * step: a first child joins/unshares and then forks the init, because
 * setns(pid) and unshare(CLONE_NEWTIME) only affect the children of the caller.
 *
 * Parent and child talk over a SOCK_SEQPACKET pair (struct sync_msg):
 *   child  -> WANT_IDMAP   parent writes uid_map/gid_map   -> IDMAP_DONE
 *   child  -> INIT_PID     (two-step path: the init's pid; first child exits)
 *   init   -> NS_READY     parent: oom_score_adj, createRuntime hooks -> CONTINUE(host pid)
 *   init   -> READY        init is fully set up and blocks on the exec fifo
 *   any    -> ERROR        status + message, turned into a hull error by the parent
 * EOF on the socket means the other side died; the child then just exits. */
#include "rootfs-internal.h"

#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <time.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#define KEYCTL_JOIN_SESSION_KEYRING 1

enum sync_type
{
  SYNC_WANT_IDMAP = 1,
  SYNC_IDMAP_DONE,
  SYNC_INIT_PID,
  SYNC_NS_READY,
  SYNC_CONTINUE,
  SYNC_READY,
  SYNC_ERROR,
};

struct sync_msg
{
  int type;
  int value;
  int status;
  char msg[4000];
};

static int
sync_send (int fd, int type, int value)
{
  struct sync_msg m = { .type = type, .value = value };
  return send (fd, &m, offsetof (struct sync_msg, msg), MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* Returns the message type, 0 on EOF, -1 on error. */
static int
sync_recv (int fd, struct sync_msg *m)
{
  ssize_t r;
  do
    r = recv (fd, m, sizeof (*m) - 1, 0);
  while (r < 0 && errno == EINTR);
  if (r <= 0)
    return r == 0 ? 0 : -1;
  ((char *) m)[r] = '\0';
  if ((size_t) r < offsetof (struct sync_msg, msg))
    return -1;
  return m->type;
}

/* Child side: report the error to the parent and exit. */
__attribute__ ((noreturn)) static void
child_fail (int sync_fd, hull_error_t *err)
{
  struct sync_msg m = { .type = SYNC_ERROR };
  if (err && *err)
    {
      m.status = (*err)->status;
      snprintf (m.msg, sizeof (m.msg), "%s", (*err)->msg);
    }
  else
    snprintf (m.msg, sizeof (m.msg), "container init failed");
  send (sync_fd, &m, offsetof (struct sync_msg, msg) + strlen (m.msg) + 1, MSG_NOSIGNAL);
  _exit (EXIT_FAILURE);
}

/* Child side: wait for one specific message from the parent. */
static int
child_wait (int sync_fd, int type, int *value, hull_error_t *err)
{
  struct sync_msg m;
  int r = sync_recv (sync_fd, &m);
  if (r == 0)
    _exit (EXIT_FAILURE); /* the parent is gone: nobody to set us up for */
  if (r != type)
    return hull_make_error (err, EPROTO, "sync: expected message %d, got %d", type, r);
  if (value)
    *value = m.value;
  return 0;
}

struct spawn_plan
{
  int new_flags;     /* CLONE_NEW* to create */
  bool two_step;     /* needs a first child that forks the init */
  bool new_user;
  const struct oci_namespace *joins[OCI_NS_TYPES];
  size_t n_joins;
};

static void
plan_namespaces (const struct oci_config *c, struct spawn_plan *plan)
{
  memset (plan, 0, sizeof (*plan));
  const struct oci_linux *l = c->linux_;
  for (size_t i = 0; l && i < l->n_namespaces; i++)
    {
      const struct oci_namespace *ns = &l->namespaces[i];
      if (ns->path)
        plan->joins[plan->n_joins++] = ns;
      else
        plan->new_flags |= oci_ns_clone_flag (ns->type);
    }
  plan->new_user = (plan->new_flags & CLONE_NEWUSER) != 0;
  /* setns(pid) and unshare(NEWTIME) act on children only; joins must
   * happen before the new namespaces are made (they are owned by the
   * user namespace of their creator). */
  plan->two_step = plan->n_joins > 0 || (plan->new_flags & CLONE_NEWTIME);
}

/* The user namespace must be joined first: the other namespaces are owned by
 * it, and the mount namespace last, since it changes what paths mean. */
static int
join_rank (enum oci_ns_type t)
{
  return t == OCI_NS_USER ? 0 : t == OCI_NS_MOUNT ? 2 : 1;
}

static int
join_namespaces (const struct spawn_plan *plan, hull_error_t *err)
{
  for (int rank = 0; rank <= 2; rank++)
    for (size_t i = 0; i < plan->n_joins; i++)
      {
        const struct oci_namespace *ns = plan->joins[i];
        if (join_rank (ns->type) != rank)
          continue;
        cleanup_close int fd = open (ns->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
          return hull_make_error (err, errno, "open %s namespace `%s`", oci_ns_type_names[ns->type], ns->path);
        if (setns (fd, oci_ns_clone_flag (ns->type)) < 0)
          return hull_make_error (err, errno, "join %s namespace `%s`", oci_ns_type_names[ns->type], ns->path);
      }
  return 0;
}

static int
write_time_offsets (const struct oci_linux *l, hull_error_t *err)
{
  char buf[128];
  int n = 0;
  if (l->has_time_monotonic)
    n += snprintf (buf + n, sizeof (buf) - n, "monotonic %lld %u\n", (long long) l->time_monotonic.secs,
                   l->time_monotonic.nanosecs);
  if (l->has_time_boottime)
    n += snprintf (buf + n, sizeof (buf) - n, "boottime %lld %u\n", (long long) l->time_boottime.secs,
                   l->time_boottime.nanosecs);
  if (n == 0)
    return 0;
  /* One write per line: the kernel parses a single offset per write. */
  for (char *line = buf, *nl; (nl = strchr (line, '\n')); line = nl + 1)
    if (hull_write_file_at (AT_FDCWD, "/proc/self/timens_offsets", line, nl - line + 1, err) < 0)
      return hull_error_wrap (err, "linux.timeOffsets");
  return 0;
}

/* Right after the id maps are written we are still the unmapped host uid
 * (the overflow id) inside the new user namespace: become its root so files
 * created while building the rootfs are owned by a mapped id. */
static int
become_userns_root (hull_error_t *err)
{
  if (setresgid (0, 0, 0) < 0)
    return hull_make_error (err, errno, "setresgid(0) in the new user namespace (is gid 0 mapped?)");
  if (setresuid (0, 0, 0) < 0)
    return hull_make_error (err, errno, "setresuid(0) in the new user namespace (is uid 0 mapped?)");
  /* The host's supplementary groups are meaningless here; setgroups may be
   * denied (unprivileged maps), which is fine. */
  if (setgroups (0, NULL) < 0 && errno != EPERM)
    return hull_make_error (err, errno, "setgroups in the new user namespace");
  return 0;
}

/* Asks the parent for the id maps and waits for them. */
static int
child_request_idmap (int sync_fd, hull_error_t *err)
{
  if (sync_send (sync_fd, SYNC_WANT_IDMAP, 0) < 0)
    return hull_make_error (err, errno, "sync: request id maps");
  if (child_wait (sync_fd, SYNC_IDMAP_DONE, NULL, err) < 0)
    return -1;
  return become_userns_root (err);
}

struct child_ctx
{
  const struct ns_spawn_opts *opts;
  const struct spawn_plan *plan;
  int sync_fd;
  int cgroup_tree; /* for the cgroup mount (cgroup_tree_for), or -1 */
  struct ns_seccomp *seccomp;
};

static int init_setup_and_exec (struct child_ctx *ctx, hull_error_t *err);

/* Two-step path, first child: join, unshare, fork the init, report its pid. */
__attribute__ ((noreturn)) static void
first_child (struct child_ctx *ctx)
{
  hull_error_t err = NULL;
  const struct spawn_plan *plan = ctx->plan;
  if (join_namespaces (plan, &err) < 0)
    child_fail (ctx->sync_fd, &err);
  if (plan->new_flags && unshare (plan->new_flags) < 0)
    {
      hull_make_error (&err, errno, "unshare namespaces (flags 0x%x)", plan->new_flags);
      child_fail (ctx->sync_fd, &err);
    }
  if (plan->new_user && child_request_idmap (ctx->sync_fd, &err) < 0)
    child_fail (ctx->sync_fd, &err);
  if ((plan->new_flags & CLONE_NEWTIME) && write_time_offsets (ctx->opts->config->linux_, &err) < 0)
    child_fail (ctx->sync_fd, &err);
  pid_t pid = fork ();
  if (pid < 0)
    {
      hull_make_error (&err, errno, "fork the container init");
      child_fail (ctx->sync_fd, &err);
    }
  if (pid == 0)
    {
      if (init_setup_and_exec (ctx, &err) < 0)
        child_fail (ctx->sync_fd, &err);
      _exit (EXIT_FAILURE);
    }
  sync_send (ctx->sync_fd, SYNC_INIT_PID, pid);
  _exit (EXIT_SUCCESS);
}

/* Waits on the exec fifo until `start` writes to it. */
static int
wait_for_start (int fifo_fd, hull_error_t *err)
{
  for (;;)
    {
      struct pollfd pfd = { .fd = fifo_fd, .events = POLLIN };
      if (poll (&pfd, 1, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          return hull_make_error (err, errno, "wait for start");
        }
      char c;
      ssize_t r = read (fifo_fd, &c, 1);
      if (r == 1)
        return 0;
      if (r < 0 && errno != EAGAIN && errno != EINTR)
        return hull_make_error (err, errno, "read exec fifo");
      /* r == 0: a writer came and went without writing; keep waiting. */
      if (r == 0)
        {
          struct timespec ts = { 0, 1000000 };
          nanosleep (&ts, NULL);
        }
    }
}

static int
init_prepare_namespaces (struct child_ctx *ctx, pid_t *host_pid, hull_error_t *err)
{
  const struct oci_config *c = ctx->opts->config;
  int value = 0;
  /* CVE-2019-5736: until execve, /proc/self/exe is the hull binary.  A
   * non-dumpable process's /proc/PID/exe cannot be opened by anything in
   * the container (ptrace access check against the host's user namespace),
   * so it cannot be held and rewritten later.  execve of the workload makes
   * the process dumpable again. */
  if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
    return hull_make_error (err, errno, "prctl PR_SET_DUMPABLE");
  if (!ctx->opts->no_new_keyring && syscall (SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0
      && errno != ENOSYS)
    return hull_make_error (err, errno, "join a new session keyring");
  if (oci_config_namespace (c, OCI_NS_NETWORK) && ns_loopback_up (err) < 0)
    return -1;
  if (sync_send (ctx->sync_fd, SYNC_NS_READY, 0) < 0)
    return hull_make_error (err, errno, "sync: namespaces ready");
  if (child_wait (ctx->sync_fd, SYNC_CONTINUE, &value, err) < 0)
    return -1;
  *host_pid = value;
  return 0;
}

/* As runc: a missing process.cwd is created (inside the rootfs).  Not
 * through /proc: its fd links (/proc/self/fd/N, CVE-2024-21626) name the
 * runtime's own files, and following them would make directories in the
 * rootfs after the runtime's host paths. */
static int
make_cwd (int rootfs_fd, const char *cwd, hull_error_t *err)
{
  cleanup_free char *clean = ns_path_clean (cwd);
  bool in_proc = strcmp (clean, "/proc") == 0 || hull_str_has_prefix (clean, "/proc/");
  int fd = ns_resolve_in_root (rootfs_fd, cwd, in_proc ? NS_CREATE_NONE : NS_CREATE_DIR, 0, NULL, err);
  if (fd < 0)
    return in_proc ? hull_error_wrap (err, "process.cwd `%s` (under /proc, so never created)", cwd)
                   : hull_error_wrap (err, "process.cwd");
  close (fd);
  return 0;
}

static int
init_build_rootfs (struct child_ctx *ctx, pid_t host_pid, hull_error_t *err)
{
  const struct ns_spawn_opts *o = ctx->opts;
  cleanup_close int rootfs_fd = ns_rootfs_prepare (o->config, o->rootfs, &ctx->cgroup_tree, err);
  if (ctx->cgroup_tree >= 0)
    close (ctx->cgroup_tree); /* not taken: no cgroup mount used it */
  ctx->cgroup_tree = -1;
  if (rootfs_fd < 0)
    return -1;
  if (make_cwd (rootfs_fd, o->config->process->cwd, err) < 0)
    return -1;
  if (o->on_child_stage && o->on_child_stage (o->data, NS_STAGE_CREATE_CONTAINER, host_pid, err) < 0)
    return -1;
  if (ns_set_hostname (o->config, err) < 0)
    return -1;
  /* Before finalize: it makes /proc/sys read-only (runc's default
   * readonlyPaths).  /proc/sys/net and the ipc sysctls follow the writer's
   * namespaces, which are already the container's. */
  if (ns_apply_sysctl (o->config, err) < 0)
    return -1;
  /* The seccomp listener is a host path: connect before pivot_root. */
  if (ns_seccomp_prepare (o->config, o->seccomp_state, host_pid, &ctx->seccomp, err) < 0)
    return -1;
  return ns_rootfs_finalize (o->config, rootfs_fd, o->no_pivot, err);
}

/* Everything the init does in its namespaces, up to execve. */
static int
init_setup_and_exec (struct child_ctx *ctx, hull_error_t *err)
{
  const struct ns_spawn_opts *o = ctx->opts;
  const struct oci_process *p = o->config->process;
  pid_t host_pid = 0;

  if (init_prepare_namespaces (ctx, &host_pid, err) < 0 || init_build_rootfs (ctx, host_pid, err) < 0)
    return -1;
  if (setsid () < 0)
    return hull_make_error (err, errno, "setsid");
  if (p->terminal && ns_console_setup (p, o->console_socket_fd, true, err) < 0)
    return -1;
  if (o->console_socket_fd >= 0)
    close (o->console_socket_fd);
  if (ns_apply_rlimits (p, err) < 0 || ns_apply_personality (o->config, err) < 0)
    return -1;
  /* Before ready, so that a profile that is not loaded fails create;
   * and before no_new_privs and the user switch, as runc's init does. */
  if (ns_apparmor_apply (p, err) < 0)
    return -1;
  if (ns_seccomp_load_early (ctx->seccomp, p, err) < 0
      || ns_apply_user_and_caps (p, ctx->plan->new_user, err) < 0)
    return -1;
  if (ns_check_executable (p, err) < 0)
    return -1;
  if (sync_send (ctx->sync_fd, SYNC_READY, 0) < 0)
    return hull_make_error (err, errno, "sync: ready");
  close (ctx->sync_fd);
  ctx->sync_fd = STDERR_FILENO; /* from here on, errors go to the container's stderr */
  if (o->exec_fifo_fd >= 0 && wait_for_start (o->exec_fifo_fd, err) < 0)
    return -1;
  if (o->on_child_stage && o->on_child_stage (o->data, NS_STAGE_START_CONTAINER, host_pid, err) < 0)
    return -1;
  return ns_exec_process_seccomp (p, o->preserve_fds, ctx->seccomp, err);
}

static int
cmp_int (const void *a, const void *b)
{
  return *(const int *) a - *(const int *) b;
}

/* The child inherits every fd of the runtime (the state directory with its
 * flock, the log...).  Keep only stdio, the preserved fds and the ones the
 * init needs; CVE-2024-21626 came from one fd too many. */
static void
close_inherited_fds (const struct child_ctx *ctx)
{
  int first = 3 + (ctx->opts->preserve_fds > 0 ? ctx->opts->preserve_fds : 0);
  int keep[5] = {
    ctx->sync_fd, ctx->opts->exec_fifo_fd, ctx->opts->console_socket_fd, ctx->cgroup_tree, INT32_MAX,
  };
  qsort (keep, 4, sizeof (int), cmp_int);
  for (int i = 0; i < 5; i++)
    {
      if (keep[i] < first)
        continue;
      if (keep[i] > first)
        syscall (SYS_close_range, first, keep[i] - 1, 0);
      first = keep[i] == INT32_MAX ? keep[i] : keep[i] + 1;
    }
}

/* Fast path: the cloned child already is the init. */
__attribute__ ((noreturn)) static void
init_child (struct child_ctx *ctx)
{
  hull_error_t err = NULL;
  if (ctx->plan->new_user && child_request_idmap (ctx->sync_fd, &err) < 0)
    child_fail (ctx->sync_fd, &err);
  if (init_setup_and_exec (ctx, &err) < 0)
    {
      if (ctx->sync_fd == STDERR_FILENO)
        {
          dprintf (STDERR_FILENO, "hull: %s\n", err ? err->msg : "exec failed");
          _exit (127);
        }
      child_fail (ctx->sync_fd, &err);
    }
  _exit (EXIT_FAILURE);
}

static pid_t
clone_child (int flags, int cgroup_fd, bool *into_cgroup)
{
  struct clone_args args = { .flags = (uint64_t) flags, .exit_signal = SIGCHLD };
  if (cgroup_fd >= 0)
    {
      args.flags |= CLONE_INTO_CGROUP;
      args.cgroup = (uint64_t) cgroup_fd;
    }
  pid_t pid = syscall (SYS_clone3, &args, sizeof (args));
  if (pid < 0 && cgroup_fd >= 0 && (errno == EINVAL || errno == E2BIG || errno == EOPNOTSUPP))
    {
      /* An old kernel or a cgroup the kernel refuses to clone into: the
       * caller moves the child through cgroup.procs instead. */
      args.flags &= ~(uint64_t) CLONE_INTO_CGROUP;
      args.cgroup = 0;
      pid = syscall (SYS_clone3, &args, sizeof (args));
      *into_cgroup = false;
      return pid;
    }
  *into_cgroup = cgroup_fd >= 0;
  return pid;
}

static int
move_to_cgroup (int cgroup_fd, pid_t pid, hull_error_t *err)
{
  char buf[32];
  int n = snprintf (buf, sizeof (buf), "%d", pid);
  if (hull_write_file_at (cgroup_fd, "cgroup.procs", buf, n, err) < 0)
    return hull_error_wrap (err, "move the container init into its cgroup");
  return 0;
}

static int
write_oom_score_adj (const struct oci_process *p, pid_t pid, hull_error_t *err)
{
  if (!p->oom_score_adj.set)
    return 0;
  char path[64], buf[32];
  snprintf (path, sizeof (path), "/proc/%d/oom_score_adj", pid);
  int n = snprintf (buf, sizeof (buf), "%lld", (long long) p->oom_score_adj.v);
  if (hull_write_file_at (AT_FDCWD, path, buf, n, err) < 0)
    return hull_error_wrap (err, "process.oomScoreAdj");
  return 0;
}

struct parent_state
{
  pid_t cloned, init;
  bool cloned_reaped;
};

static int
parent_handle (const struct ns_spawn_opts *o, int sync_fd, struct sync_msg *m, struct parent_state *st,
               hull_error_t *err)
{
  switch (m->type)
    {
    case SYNC_WANT_IDMAP:
      if (ns_write_id_maps (st->cloned, o->config->linux_, err) < 0)
        return -1;
      return sync_send (sync_fd, SYNC_IDMAP_DONE, 0) < 0 ? hull_make_error (err, errno, "sync: id maps") : 0;
    case SYNC_INIT_PID:
      st->init = m->value;
      waitpid (st->cloned, NULL, 0);
      st->cloned_reaped = true;
      return 0;
    case SYNC_NS_READY:
      if (write_oom_score_adj (o->config->process, st->init, err) < 0)
        return -1;
      if (o->on_namespaces_ready && o->on_namespaces_ready (o->data, st->init, err) < 0)
        return -1;
      return sync_send (sync_fd, SYNC_CONTINUE, st->init) < 0 ? hull_make_error (err, errno, "sync: continue")
                                                              : 0;
    case SYNC_ERROR:
      /* The message already carries strerror(status). */
      return hull_make_error_code (err, m->status, "%s", m->msg);
    default:
      return hull_make_error (err, EPROTO, "sync: unexpected message %d from the container init", m->type);
    }
}

static int
describe_death (pid_t pid, hull_error_t *err)
{
  int status = 0;
  if (waitpid (pid, &status, 0) == pid)
    {
      if (WIFSIGNALED (status))
        return hull_make_error (err, 0, "container init was killed by signal %d during setup", WTERMSIG (status));
      return hull_make_error (err, 0, "container init exited with status %d during setup", WEXITSTATUS (status));
    }
  return hull_make_error (err, 0, "container init died during setup");
}

static int
parent_sync (const struct ns_spawn_opts *o, int sync_fd, struct parent_state *st, hull_error_t *err)
{
  for (;;)
    {
      struct sync_msg m;
      int r = sync_recv (sync_fd, &m);
      if (r < 0)
        return hull_make_error (err, errno ? errno : EPROTO, "sync with the container init");
      if (r == 0)
        return describe_death (st->init > 0 ? st->init : st->cloned, err);
      if (r == SYNC_READY)
        return 0;
      if (parent_handle (o, sync_fd, &m, st, err) < 0)
        return -1;
    }
}

static void
kill_and_reap (struct parent_state *st)
{
  if (st->init > 0)
    {
      kill (st->init, SIGKILL);
      waitpid (st->init, NULL, 0);
    }
  if (!st->cloned_reaped && st->cloned > 0)
    {
      kill (st->cloned, SIGKILL);
      waitpid (st->cloned, NULL, 0);
    }
}

static bool
has_cgroup_mount (const struct oci_config *c)
{
  for (size_t i = 0; i < c->n_mounts; i++)
    if (c->mounts[i].type
        && (strcmp (c->mounts[i].type, "cgroup") == 0 || strcmp (c->mounts[i].type, "cgroup2") == 0))
      return true;
  return false;
}

/* The directory a new cgroup2 mount in the container would show, cloned
 * here (open_tree refuses a mount of another mount namespace, so not in the
 * init) for the init to attach (ns/mounts.c).  -1 when there is no cgroup
 * mount, the container joins a cgroup namespace, or the clone is refused
 * (rootless): the init then mounts a new cgroup2. */
static int
cgroup_tree_for (const struct ns_spawn_opts *o, const struct spawn_plan *plan)
{
  if (o->cgroup_fd < 0 || !has_cgroup_mount (o->config))
    return -1;
  for (size_t i = 0; i < plan->n_joins; i++)
    if (plan->joins[i]->type == OCI_NS_CGROUP)
      return -1;
  return ns_cgroup_tree (o->cgroup_fd, (plan->new_flags & CLONE_NEWCGROUP) != 0);
}

int
ns_spawn_container (const struct ns_spawn_opts *o, pid_t *pid_out, hull_error_t *err)
{
  struct spawn_plan plan;
  int sv[2];
  plan_namespaces (o->config, &plan);
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return hull_make_error (err, errno, "socketpair");
  cleanup_close int parent_fd = sv[0];
  int child_fd = sv[1];
  /* The init of a two-step spawn is reparented to us when the first child
   * exits; being a subreaper lets us reap it on failure and wait for it in
   * `run`. */
  if (plan.two_step)
    prctl (PR_SET_CHILD_SUBREAPER, 1);

  cleanup_close int cgroup_tree = cgroup_tree_for (o, &plan);
  bool into_cgroup = false;
  pid_t pid = clone_child (plan.two_step ? 0 : plan.new_flags, o->cgroup_fd, &into_cgroup);
  if (pid < 0)
    {
      close (child_fd);
      return hull_make_error (err, errno, "clone the container init (namespace flags 0x%x)", plan.new_flags);
    }
  if (pid == 0)
    {
      struct child_ctx ctx = { .opts = o, .plan = &plan, .sync_fd = child_fd, .cgroup_tree = cgroup_tree };
      sigset_t none;
      close_inherited_fds (&ctx);
      /* The runtime may block signals (run forwards them through a
       * signalfd); the mask would survive execve. */
      sigemptyset (&none);
      sigprocmask (SIG_SETMASK, &none, NULL);
      if (plan.two_step)
        first_child (&ctx);
      init_child (&ctx);
    }
  close (child_fd);
  struct parent_state st = { .cloned = pid, .init = plan.two_step ? 0 : pid };
  if ((!into_cgroup && o->cgroup_fd >= 0 && move_to_cgroup (o->cgroup_fd, pid, err) < 0)
      || parent_sync (o, parent_fd, &st, err) < 0)
    {
      kill_and_reap (&st);
      return -1;
    }
  *pid_out = st.init;
  return 0;
}
