/* Foreground processes (`run`, `exec` without --detach): signals forwarded
 * through a signalfd, the pty relayed in raw mode, and the exit status
 * turned into ours (128+N for signal N).  We are a subreaper so orphans of
 * the container come to us and are reaped. */
#include "runtime.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>

static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGCONT, SIGWINCH };

struct relay
{
  pid_t pid;
  int master; /* pty master, or -1 */
  int sigfd;
  bool stdin_open;
  bool exited;
  int status;
};

int
hull_fg_prepare (struct hull_fg *fg, hull_error_t *err)
{
  sigset_t mask;
  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  for (size_t i = 0; i < sizeof (forwarded) / sizeof (forwarded[0]); i++)
    sigaddset (&mask, forwarded[i]);
  /* Blocked before the process exists, so no exit and no signal is missed. */
  sigprocmask (SIG_BLOCK, &mask, &fg->old_mask);
  prctl (PR_SET_CHILD_SUBREAPER, 1);
  fg->sigfd = signalfd (-1, &mask, SFD_CLOEXEC);
  if (fg->sigfd < 0)
    {
      sigprocmask (SIG_SETMASK, &fg->old_mask, NULL);
      return hull_make_error (err, errno, "signalfd");
    }
  return 0;
}

void
hull_fg_release (struct hull_fg *fg)
{
  if (fg->sigfd >= 0)
    close (fg->sigfd);
  fg->sigfd = -1;
  sigprocmask (SIG_SETMASK, &fg->old_mask, NULL);
}

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
handle_signal (struct relay *l)
{
  struct signalfd_siginfo si;
  if (read (l->sigfd, &si, sizeof (si)) != sizeof (si))
    return;
  if (si.ssi_signo == SIGCHLD)
    {
      int status;
      pid_t p;
      while ((p = waitpid (-1, &status, WNOHANG)) > 0)
        if (p == l->pid)
          l->exited = true, l->status = status;
      return;
    }
  if (si.ssi_signo == SIGWINCH)
    copy_winsize (l->master);
  else
    kill (l->pid, (int) si.ssi_signo);
}

static void
relay_until_exit (struct relay *l)
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

int
hull_fg_wait (struct hull_fg *fg, pid_t pid, int master)
{
  struct relay l = { .pid = pid, .master = master, .sigfd = fg->sigfd, .stdin_open = true };
  struct termios saved;
  bool raw = master >= 0 && isatty (STDIN_FILENO) && tcgetattr (STDIN_FILENO, &saved) == 0;
  if (raw)
    {
      struct termios t = saved;
      cfmakeraw (&t);
      tcsetattr (STDIN_FILENO, TCSANOW, &t);
      copy_winsize (master);
    }
  relay_until_exit (&l);
  if (raw)
    tcsetattr (STDIN_FILENO, TCSANOW, &saved);
  if (WIFSIGNALED (l.status))
    return 128 + WTERMSIG (l.status);
  return WEXITSTATUS (l.status);
}
