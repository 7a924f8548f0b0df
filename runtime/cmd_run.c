/* hull run [create options] [--detach] ID: create + start, then (in the
 * foreground) relay the terminal, forward signals, wait, delete, and exit
 * with the container's status. */
#include "runtime.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>

static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGCONT, SIGWINCH };

struct run_loop
{
  pid_t init;
  int master;     /* pty master, or -1 */
  int sigfd;
  bool stdin_open;
  bool exited;
  int status;
};

static void
copy_winsize (int master)
{
  struct winsize ws;
  if (master >= 0 && ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
    ioctl (master, TIOCSWINSZ, &ws);
}

/* Copies what is readable from `from` to `to`; false on EOF or error. */
static bool
pump (int from, int to)
{
  char buf[8192];
  ssize_t r = read (from, buf, sizeof (buf));
  if (r < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (r <= 0)
    return false;
  return hull_write_all (to, buf, r) >= 0;
}

static void
handle_signal (struct run_loop *l)
{
  struct signalfd_siginfo si;
  if (read (l->sigfd, &si, sizeof (si)) != sizeof (si))
    return;
  if (si.ssi_signo == SIGCHLD)
    {
      int status;
      pid_t p;
      /* We are a subreaper: orphans of the container come to us too. */
      while ((p = waitpid (-1, &status, WNOHANG)) > 0)
        if (p == l->init)
          l->exited = true, l->status = status;
      return;
    }
  if (si.ssi_signo == SIGWINCH)
    copy_winsize (l->master);
  else
    kill (l->init, (int) si.ssi_signo);
}

static void
relay_until_exit (struct run_loop *l)
{
  while (!l->exited)
    {
      struct pollfd pfd[3] = { { .fd = l->sigfd, .events = POLLIN },
                               { .fd = l->master, .events = POLLIN },
                               { .fd = l->stdin_open && l->master >= 0 ? STDIN_FILENO : -1, .events = POLLIN } };
      if (poll (pfd, 3, -1) < 0 && errno != EINTR)
        break;
      if (pfd[0].revents & POLLIN)
        handle_signal (l);
      if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR) && !pump (l->master, STDOUT_FILENO))
        l->master = -1; /* the slave side is gone: keep waiting for the exit */
      if (pfd[2].revents & (POLLIN | POLLHUP) && !pump (STDIN_FILENO, l->master))
        l->stdin_open = false;
    }
  /* What the process wrote just before exiting. */
  while (l->master >= 0)
    {
      struct pollfd pfd = { .fd = l->master, .events = POLLIN };
      if (poll (&pfd, 1, 0) <= 0 || !pump (l->master, STDOUT_FILENO))
        break;
    }
}

static int
exit_code (int status)
{
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return WEXITSTATUS (status);
}

static int
run_foreground (struct hull_context *ctx, struct hull_create_opts *o, hull_error_t *err)
{
  sigset_t mask, old;
  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  for (size_t i = 0; i < sizeof (forwarded) / sizeof (forwarded[0]); i++)
    sigaddset (&mask, forwarded[i]);
  /* Blocked before the init exists, so no exit and no signal is missed. */
  sigprocmask (SIG_BLOCK, &mask, &old);
  prctl (PR_SET_CHILD_SUBREAPER, 1);
  cleanup_close int sigfd = signalfd (-1, &mask, SFD_CLOEXEC);
  if (sigfd < 0)
    return hull_make_error (err, errno, "signalfd");
  struct run_loop l = { .sigfd = sigfd, .master = -1, .stdin_open = true };
  o->foreground = true;
  if (hull_create_container (ctx, o, &l.init, &l.master, err) < 0)
    return -1;
  struct termios saved;
  bool raw = l.master >= 0 && isatty (STDIN_FILENO) && tcgetattr (STDIN_FILENO, &saved) == 0;
  if (raw)
    {
      struct termios t = saved;
      cfmakeraw (&t);
      tcsetattr (STDIN_FILENO, TCSANOW, &t);
      copy_winsize (l.master);
    }
  int ret = hull_start_container (ctx, o->id, err);
  if (ret == 0)
    relay_until_exit (&l);
  if (raw)
    tcsetattr (STDIN_FILENO, TCSANOW, &saved);
  if (l.master >= 0)
    close (l.master);
  hull_error_t del_err = NULL;
  if (hull_delete_container (ctx, o->id, true, &del_err) < 0)
    {
      if (ret == 0)
        *err = steal_pointer (&del_err), ret = -1;
      hull_error_release (&del_err);
    }
  sigprocmask (SIG_SETMASK, &old, NULL);
  return ret < 0 ? -1 : exit_code (l.status);
}

int
hull_cmd_run (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  static char options[1024];
  static const struct hull_cmd_help help = {
    "run", "[options] CONTAINER_ID",
    "Creates and starts a container.  In the foreground, waits for it, deletes it and exits with its\n"
    "status (128+N when killed by signal N).",
    options,
  };
  snprintf (options, sizeof (options), "%s  -d, --detach            return once started (like create + start)\n",
            hull_create_options_help);
  struct hull_create_opts o;
  bool detach = false;
  int r = hull_parse_create_opts (&help, argc, argv, true, &o, &detach, err);
  if (r != 0)
    return r < 0 ? -1 : 0;
  if (!detach)
    return run_foreground (ctx, &o, err);
  pid_t pid;
  if (hull_create_container (ctx, &o, &pid, NULL, err) < 0)
    return -1;
  if (hull_start_container (ctx, o.id, err) < 0)
    {
      hull_error_t ignored = NULL;
      hull_delete_container (ctx, o.id, true, &ignored);
      hull_error_release (&ignored);
      return -1;
    }
  return 0;
}
