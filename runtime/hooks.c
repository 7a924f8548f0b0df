/* OCI hooks: each runs with the container state on stdin, its own env and
 * args, and is killed when its timeout expires. */
#include "runtime.h"

#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* fork with a pidfd.  clone3 may be refused with ENOSYS: a seccomp profile
 * answers it so (Docker's default does, to make libc fall back to clone),
 * and startContainer hooks run under the container's filter. */
static pid_t
fork_with_pidfd (int *pidfd)
{
  struct clone_args args = { .flags = CLONE_PIDFD, .pidfd = (uint64_t) (uintptr_t) pidfd, .exit_signal = SIGCHLD };
  pid_t pid = syscall (SYS_clone3, &args, sizeof (args));
  if (pid >= 0 || errno != ENOSYS)
    return pid;
  pid = fork ();
  if (pid > 0 && (*pidfd = syscall (SYS_pidfd_open, pid, 0)) < 0)
    {
      int saved_errno = errno;
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
      errno = saved_errno;
      return -1;
    }
  return pid;
}

static pid_t
spawn_hook (const struct oci_hook *h, int stdin_fd, int *pidfd)
{
  static char *const empty_env[] = { NULL };
  pid_t pid = fork_with_pidfd (pidfd);
  if (pid != 0)
    return pid;
  dup2 (stdin_fd, STDIN_FILENO);
  /* The hook's stdout must not mix into the container's output stream. */
  dup2 (STDERR_FILENO, STDOUT_FILENO);
  char *const default_args[] = { h->path, NULL };
  sigset_t none;
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  execve (h->path, h->args && h->args[0] ? h->args : default_args, h->env ? h->env : empty_env);
  dprintf (STDERR_FILENO, "hull: exec hook `%s`: %s\n", h->path, strerror (errno));
  _exit (127);
}

/* Waits for the hook, killing it when the timeout (seconds, 0 = none) runs out. */
static int
wait_hook (pid_t pid, int pidfd, int64_t timeout, int *status)
{
  uint64_t deadline = timeout > 0 ? hull_now_ns () + (uint64_t) timeout * 1000000000ull : 0;
  for (;;)
    {
      int ms = -1;
      if (deadline)
        {
          uint64_t now = hull_now_ns ();
          ms = now >= deadline ? 0 : (int) ((deadline - now) / 1000000) + 1;
        }
      struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
      int r = poll (&pfd, 1, ms);
      if (r < 0 && errno == EINTR)
        continue;
      if (r == 0)
        {
          kill (pid, SIGKILL);
          waitpid (pid, status, 0);
          return 1; /* timed out */
        }
      if (waitpid (pid, status, 0) == pid)
        return 0;
      if (errno != EINTR)
        return -1;
    }
}

static int
run_one_hook (const struct oci_hook *h, const char *what, const char *state_json, hull_error_t *err)
{
  /* A pipe would block a hook that doesn't read stdin once the state is
   * larger than the pipe buffer; a memfd has no such limit. */
  cleanup_close int in = memfd_create ("hook-state", MFD_CLOEXEC);
  if (in < 0)
    return hull_make_error (err, errno, "%s: memfd_create", what);
  if (hull_write_all (in, state_json, strlen (state_json)) < 0 || lseek (in, 0, SEEK_SET) < 0)
    return hull_make_error (err, errno, "%s: write the state for the hook", what);
  cleanup_close int pidfd = -1;
  pid_t pid = spawn_hook (h, in, &pidfd);
  if (pid < 0)
    return hull_make_error (err, errno, "%s: spawn `%s`", what, h->path);
  int status = 0;
  int r = wait_hook (pid, pidfd, h->timeout.set ? h->timeout.v : 0, &status);
  if (r < 0)
    return hull_make_error (err, errno, "%s: wait for `%s`", what, h->path);
  if (r == 1)
    return hull_make_error (err, ETIMEDOUT, "%s: `%s` did not finish within its timeout of %llds", what, h->path,
                            (long long) h->timeout.v);
  if (WIFSIGNALED (status))
    return hull_make_error (err, 0, "%s: `%s` was killed by signal %d", what, h->path, WTERMSIG (status));
  if (WEXITSTATUS (status) != 0)
    return hull_make_error (err, 0, "%s: `%s` exited with status %d", what, h->path, WEXITSTATUS (status));
  return 0;
}

int
hull_run_hooks (const struct oci_hooks_list *hooks, enum oci_hook_kind kind, const char *state_json,
                hull_error_t *err)
{
  for (size_t i = 0; i < hooks->n; i++)
    {
      char what[64];
      snprintf (what, sizeof (what), "hooks.%s[%zu]", oci_hook_kind_names[kind], i);
      hull_debug ("running %s: %s", what, hooks->v[i].path);
      if (kind == OCI_HOOK_POSTSTART || kind == OCI_HOOK_POSTSTOP)
        {
          hull_error_t hook_err = NULL;
          if (run_one_hook (&hooks->v[i], what, state_json, &hook_err) < 0)
            hull_warn ("%s", hook_err->msg);
          hull_error_release (&hook_err);
        }
      else if (run_one_hook (&hooks->v[i], what, state_json, err) < 0)
        return -1;
    }
  return 0;
}
