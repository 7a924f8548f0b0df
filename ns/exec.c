/* Running another process in an existing container (`hull exec`).
 *
 * The runtime joins the container's pid and time namespaces itself (setns on
 * those only changes what its children get), then clones the child straight
 * into the container's cgroup.  The child joins the user namespace first,
 * then the others, the mount namespace last (which also moves its root and
 * cwd to the container's root), and sets up the process as the init did.
 * It reports a setup error over a SOCK_SEQPACKET socket; a successful execve
 * closes the socket (CLOEXEC), which the runtime sees as EOF.
 *
 * Rootless, the runtime has no right to join a pid namespace owned by the
 * container's user namespace.  The child then joins the user namespace
 * first, the pid and time namespaces next, and clones the process with
 * CLONE_PARENT (so the runtime still is its parent and can wait for it),
 * reports its pid and exits. */
#include "ns-internal.h"

#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const char *const proc_ns_names[OCI_NS_TYPES] = {
  [OCI_NS_PID] = "pid",  [OCI_NS_NETWORK] = "net", [OCI_NS_MOUNT] = "mnt",       [OCI_NS_IPC] = "ipc",
  [OCI_NS_UTS] = "uts",  [OCI_NS_USER] = "user",   [OCI_NS_CGROUP] = "cgroup", [OCI_NS_TIME] = "time",
};

struct exec_ns
{
  int fds[OCI_NS_TYPES]; /* -1 when the container does not have that namespace */
};

static void
exec_ns_close (struct exec_ns *ns)
{
  for (int t = 0; t < OCI_NS_TYPES; t++)
    if (ns->fds[t] >= 0)
      close (ns->fds[t]);
}

/* Opens /proc/INIT/ns/X for every namespace type in the container's config.
 * Namespaces not listed are the host's, shared with us. */
static int
exec_ns_open (const struct ns_exec_opts *o, struct exec_ns *ns, hull_error_t *err)
{
  const struct oci_linux *l = o->config->linux_;
  for (int t = 0; t < OCI_NS_TYPES; t++)
    ns->fds[t] = -1;
  for (size_t i = 0; l && i < l->n_namespaces; i++)
    {
      enum oci_ns_type t = l->namespaces[i].type;
      char path[64];
      snprintf (path, sizeof (path), "/proc/%d/ns/%s", o->init_pid, proc_ns_names[t]);
      ns->fds[t] = open (path, O_RDONLY | O_CLOEXEC);
      if (ns->fds[t] < 0)
        {
          int saved_errno = errno;
          exec_ns_close (ns);
          return hull_make_error (err, saved_errno, "open the container's %s namespace `%s`",
                                  oci_ns_type_names[t], path);
        }
    }
  return 0;
}

static int
join (struct exec_ns *ns, enum oci_ns_type t, hull_error_t *err)
{
  if (ns->fds[t] < 0)
    return 0;
  if (setns (ns->fds[t], oci_ns_clone_flag (t)) < 0)
    return hull_make_error (err, errno, "join the container's %s namespace", oci_ns_type_names[t]);
  return 0;
}

/* Our pid as the host sees it: /proc is still the host's here. */
static pid_t
host_pid (void)
{
  char buf[32];
  ssize_t n = readlink ("/proc/self", buf, sizeof (buf) - 1);
  if (n <= 0)
    return getpid ();
  buf[n] = '\0';
  return atoi (buf);
}

/* What the child reports: a setup error, or (rootless path) the pid of
 * the process it cloned. */
enum exec_msg_type
{
  EXEC_MSG_ERROR = 1,
  EXEC_MSG_PID,
};

struct exec_msg
{
  int type;
  int pid;
  char text[4000];
};

__attribute__ ((noreturn)) static void
child_report (int sync_fd, hull_error_t *err)
{
  struct exec_msg m = { .type = EXEC_MSG_ERROR };
  snprintf (m.text, sizeof (m.text), "%s", *err ? (*err)->msg : "exec failed");
  send (sync_fd, &m, offsetof (struct exec_msg, text) + strlen (m.text) + 1, MSG_NOSIGNAL);
  _exit (127);
}

/* ns->fds[OCI_NS_USER] is -1 once the user namespace is joined (rootless
 * path): joining it again would fail with EINVAL. */
static int
child_setup (const struct ns_exec_opts *o, struct exec_ns *ns, hull_error_t *err)
{
  static const enum oci_ns_type order[]
      = { OCI_NS_USER, OCI_NS_IPC, OCI_NS_UTS, OCI_NS_NETWORK, OCI_NS_CGROUP, OCI_NS_MOUNT };
  const struct oci_process *p = o->process;
  struct ns_seccomp *sc = NULL;
  /* The container's filter applies to exec'd processes too; its listener
   * path is on the host, so connect before joining the mount namespace. */
  if (ns_seccomp_prepare (o->config, o->seccomp_state, host_pid (), &sc, err) < 0)
    return -1;
  for (size_t i = 0; i < sizeof (order) / sizeof (order[0]); i++)
    if (join (ns, order[i], err) < 0)
      return -1;
  if (p->terminal && ns_console_setup (p, o->console_socket_fd, false, err) < 0)
    return -1;
  if (ns_apply_rlimits (p, err) < 0 || ns_apparmor_apply (p, err) < 0)
    return -1;
  bool userns = oci_config_namespace (o->config, OCI_NS_USER) != NULL;
  if (ns_seccomp_load_early (sc, p, err) < 0 || ns_apply_user_and_caps (p, userns, err) < 0)
    return -1;
  if (ns_check_executable (p, err) < 0)
    return -1;
  return ns_exec_process_seccomp (p, o->preserve_fds, sc, err);
}

__attribute__ ((noreturn)) static void
exec_child (const struct ns_exec_opts *o, struct exec_ns *ns, int sync_fd)
{
  hull_error_t err = NULL;
  sigset_t none;
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  /* CVE-2019-5736: see init_prepare_namespaces in spawn.c. */
  if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
    hull_make_error (&err, errno, "prctl PR_SET_DUMPABLE");
  else
    child_setup (o, ns, &err);
  child_report (sync_fd, &err);
}

/* Rootless path, first child: user, pid and time namespaces, then the
 * process itself as our sibling (CLONE_PARENT: the runtime's child). */
__attribute__ ((noreturn)) static void
exec_first_child (const struct ns_exec_opts *o, struct exec_ns *ns, int sync_fd)
{
  hull_error_t err = NULL;
  if (join (ns, OCI_NS_USER, &err) < 0 || join (ns, OCI_NS_PID, &err) < 0 || join (ns, OCI_NS_TIME, &err) < 0)
    child_report (sync_fd, &err);
  close (steal_fd (&ns->fds[OCI_NS_USER]));
  struct clone_args args = { .flags = CLONE_PARENT };
  pid_t pid = syscall (SYS_clone3, &args, sizeof (args));
  if (pid < 0)
    {
      hull_make_error (&err, errno, "clone the exec process in the container's pid namespace");
      child_report (sync_fd, &err);
    }
  if (pid == 0)
    exec_child (o, ns, sync_fd);
  struct exec_msg m = { .type = EXEC_MSG_PID, .pid = pid };
  send (sync_fd, &m, offsetof (struct exec_msg, text), MSG_NOSIGNAL);
  _exit (0);
}

static int
restore_own (struct exec_ns *own, hull_error_t *err)
{
  int ret = 0;
  for (int t = 0; t < OCI_NS_TYPES; t++)
    if (own->fds[t] >= 0 && setns (own->fds[t], oci_ns_clone_flag (t)) < 0)
      ret = hull_make_error (err, errno, "return to our own %s namespace", oci_ns_type_names[t]);
  return ret;
}

static pid_t
clone_into_cgroup (int cgroup_fd)
{
  struct clone_args args = { .exit_signal = SIGCHLD };
  if (cgroup_fd >= 0)
    {
      args.flags = CLONE_INTO_CGROUP;
      args.cgroup = (uint64_t) cgroup_fd;
    }
  return syscall (SYS_clone3, &args, sizeof (args));
}

/* Waits for EOF (the child exec'd) or its error message.  On the rootless
 * path (want_pid), *pid is the first child until it reports the process's
 * pid; the first child is then reaped and *pid becomes the process.  The
 * process's error may overtake that report: it is kept until the pid is
 * known, so the failed process is reaped too. */
static int
wait_for_exec (int sync_fd, pid_t *pid, bool want_pid, hull_error_t *err)
{
  char error[sizeof (((struct exec_msg *)0)->text)] = "";
  for (;;)
    {
      struct exec_msg m;
      ssize_t r;
      do
        r = recv (sync_fd, &m, sizeof (m) - 1, 0);
      while (r < 0 && errno == EINTR);
      if (r > 0 && (size_t)r >= offsetof (struct exec_msg, text) && m.type == EXEC_MSG_PID)
        {
          waitpid (*pid, NULL, 0);
          *pid = m.pid;
          want_pid = false;
          if (error[0] == '\0')
            continue;
        }
      else if (r > 0 && (size_t)r > offsetof (struct exec_msg, text) && m.type == EXEC_MSG_ERROR)
        {
          ((char *)&m)[r] = '\0';
          snprintf (error, sizeof (error), "%s", m.text);
          if (want_pid)
            continue;
        }
      else if (r == 0 && error[0] == '\0')
        return 0;
      else if (r != 0)
        {
          int saved_errno = r < 0 ? errno : EPROTO;
          waitpid (*pid, NULL, 0);
          return hull_make_error (err, saved_errno, "sync with the exec'd process");
        }
      waitpid (*pid, NULL, 0);
      return hull_make_error (err, 0, "%s", error[0] ? error : "exec failed");
    }
}

/* Whether the runtime must let a child join the user namespace before the
 * pid namespace: only root outside may join the pid namespace directly. */
static bool
exec_needs_userns_first (const struct exec_ns *ns)
{
  return ns->fds[OCI_NS_USER] >= 0 && geteuid () != 0;
}

int
ns_exec_spawn (const struct ns_exec_opts *o, pid_t *pid_out, hull_error_t *err)
{
  struct exec_ns ns;
  if (ns_validate_apparmor (o->process, err) < 0 || exec_ns_open (o, &ns, err) < 0)
    return -1;
  /* pid and time namespaces apply to our children only: join them here,
   * and go back to ours right after the clone, so that nothing else we fork
   * (LeakSanitizer's tracer at exit, hooks) lands in the container.  The
   * rootless path leaves that to its first child and never moves. */
  int ret = -1;
  int sv[2] = { -1, -1 };
  bool two_step = exec_needs_userns_first (&ns);
  struct exec_ns own = { .fds = { [0 ... OCI_NS_TYPES - 1] = -1 } };
  if (!two_step)
    {
      own.fds[OCI_NS_PID] = open ("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
      own.fds[OCI_NS_TIME] = open ("/proc/self/ns/time", O_RDONLY | O_CLOEXEC);
      if (own.fds[OCI_NS_PID] < 0)
        {
          hull_make_error (err, errno, "open /proc/self/ns/pid");
          goto out;
        }
      if (join (&ns, OCI_NS_PID, err) < 0 || join (&ns, OCI_NS_TIME, err) < 0)
        goto out;
    }
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    {
      hull_make_error (err, errno, "socketpair");
      goto out;
    }
  pid_t pid = clone_into_cgroup (o->cgroup_fd);
  if (pid < 0 && o->cgroup_fd >= 0)
    pid = clone_into_cgroup (-1); /* the cgroup may be gone (init exiting) */
  if (pid < 0)
    {
      hull_make_error (err, errno, "clone the exec process");
      goto out;
    }
  if (pid == 0)
    {
      close (sv[0]);
      if (two_step)
        exec_first_child (o, &ns, sv[1]);
      exec_child (o, &ns, sv[1]);
    }
  close (sv[1]);
  sv[1] = -1;
  if (restore_own (&own, err) < 0)
    {
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
      goto out;
    }
  if (wait_for_exec (sv[0], &pid, two_step, err) < 0)
    goto out;
  *pid_out = pid;
  ret = 0;
out:
  for (int i = 0; i < 2; i++)
    if (sv[i] >= 0)
      close (sv[i]);
  if (own.fds[OCI_NS_PID] >= 0 && ret < 0)
    restore_own (&own, NULL);
  exec_ns_close (&own);
  exec_ns_close (&ns);
  return ret;
}
