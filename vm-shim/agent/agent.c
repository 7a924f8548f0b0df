/* hull-agent: PID 1 of hull's guest (docs/vmm.md, "The guest agent").
 *
 * A static binary at /init in the initramfs.  It mounts /proc, /sys and
 * /dev, finds the channel's ports by name, says HELLO on hull.ctl, and waits
 * for a RUN.  The process it starts gets the ports hull.stdin, hull.stdout
 * and hull.stderr as its fds 0, 1 and 2; the agent forwards SIGNAL messages
 * to it, reaps every orphan (it is init), reports the process's wait status
 * in an EXIT message, on which the host stops the VM (the agent reboots
 * the guest if the host does not).
 *
 * What the agent itself prints goes to /dev/console, the VMM's serial log,
 * never to the workload's streams.  The agent must not exit: a dying PID 1
 * panics the kernel.  On a fatal error it reports ERROR when it can, then
 * reboots. */
#include "../agent-proto.h"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define PORT_WAIT_MS 10000
#define EXIT_GRACE_MS 10000

enum
{
  PORT_CTL,
  PORT_STDIN,
  PORT_STDOUT,
  PORT_STDERR,
  N_PORTS
};
static const char *const port_names[N_PORTS] = {
  [PORT_CTL] = VM_AGENT_PORT_CTL,
  [PORT_STDIN] = VM_AGENT_PORT_STDIN,
  [PORT_STDOUT] = VM_AGENT_PORT_STDOUT,
  [PORT_STDERR] = VM_AGENT_PORT_STDERR,
};

static int ctl_fd = -1;

static void
say (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  fputs ("hull-agent: ", stderr);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
}

static void
send_msg (struct vm_agent_buf *b)
{
  if (ctl_fd >= 0 && hull_write_all (ctl_fd, b->data, b->len) < 0)
    say ("write to %s: %s", VM_AGENT_PORT_CTL, strerror (errno));
  free (b->data);
  b->data = NULL;
}

static void __attribute__ ((noreturn))
power_off (void)
{
  sync ();
  /* With reboot=k on the command line this is the i8042 reset line: the
   * VMM sees the guest stop.  reboot() only returns on failure. */
  reboot (RB_AUTOBOOT);
  say ("reboot: %s", strerror (errno));
  for (;;)
    pause ();
}

/* Reports a fatal error to the host and stops the guest. */
static void __attribute__ ((noreturn))
fatal (hull_error_t *err)
{
  say ("%s", (*err)->msg);
  struct vm_agent_buf b;
  vm_agent_msg_build (&b, VM_AGENT_ERROR, (*err)->msg, (uint32_t)strlen ((*err)->msg));
  send_msg (&b);
  hull_error_release (err);
  power_off ();
}

static int
mount_one (const char *type, const char *dir, unsigned long flags, const char *data, hull_error_t *err)
{
  if (mkdir (dir, 0755) < 0 && errno != EEXIST)
    return hull_make_error (err, errno, "mkdir %s", dir);
  if (mount (type, dir, type, flags, data) < 0)
    return hull_make_error (err, errno, "mount %s on %s", type, dir);
  return 0;
}

static int
mount_filesystems (hull_error_t *err)
{
  const unsigned long nodev = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (mount_one ("devtmpfs", "/dev", MS_NOSUID | MS_NOEXEC, "mode=0755", err) < 0
      || mount_one ("proc", "/proc", nodev, NULL, err) < 0 || mount_one ("sysfs", "/sys", nodev, NULL, err) < 0
      || mount_one ("devpts", "/dev/pts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620", err) < 0
      || mount_one ("tmpfs", "/dev/shm", MS_NOSUID | MS_NODEV, "mode=1777", err) < 0
      || mount_one ("tmpfs", "/tmp", MS_NOSUID | MS_NODEV, "mode=1777", err) < 0
      || mount_one ("tmpfs", "/run", MS_NOSUID | MS_NODEV, "mode=0755", err) < 0)
    return -1;
  return 0;
}

/* One pass over /sys/class/virtio-ports: fills the device paths of the
 * ports found by name.  Returns how many of the wanted ports are known. */
static int
scan_ports (char paths[N_PORTS][64])
{
  int found = 0;
  DIR *d = opendir ("/sys/class/virtio-ports");
  for (struct dirent *e; d && (e = readdir (d));)
    {
      if (strncmp (e->d_name, "vport", 5) != 0 || strlen (e->d_name) > 32)
        continue;
      char name_path[96], name[80] = "";
      snprintf (name_path, sizeof (name_path), "/sys/class/virtio-ports/%s/name", e->d_name);
      int fd = open (name_path, O_RDONLY | O_CLOEXEC);
      ssize_t n = fd >= 0 ? read (fd, name, sizeof (name) - 1) : -1;
      if (fd >= 0)
        close (fd);
      if (n <= 0)
        continue; /* the name arrives after the port */
      name[n] = '\0';
      name[strcspn (name, "\n")] = '\0';
      for (int i = 0; i < N_PORTS; i++)
        if (strcmp (name, port_names[i]) == 0)
          snprintf (paths[i], 64, "/dev/%s", e->d_name);
    }
  if (d)
    closedir (d);
  for (int i = 0; i < N_PORTS; i++)
    found += paths[i][0] != '\0';
  return found;
}

/* The ports are announced by the host after the driver is up; their names
 * and device nodes appear asynchronously.  Waits for all of them. */
static int
find_ports (char paths[N_PORTS][64], hull_error_t *err)
{
  memset (paths, 0, N_PORTS * 64);
  for (int waited = 0;; waited++)
    {
      if (scan_ports (paths) == N_PORTS)
        {
          bool nodes = true;
          for (int i = 0; i < N_PORTS; i++)
            nodes = nodes && access (paths[i], F_OK) == 0;
          if (nodes)
            return 0;
        }
      if (waited >= PORT_WAIT_MS)
        break;
      nanosleep (&(struct timespec){ .tv_nsec = 1000000 }, NULL);
    }
  for (int i = 0; i < N_PORTS; i++)
    if (paths[i][0] == '\0')
      return hull_make_error (err, 0, "channel port %s not found in /sys/class/virtio-ports after %d ms",
                              port_names[i], PORT_WAIT_MS);
  return hull_make_error (err, 0, "channel ports found but their /dev nodes did not appear");
}

/* Reads from the control port until one whole message is in buf; the
 * message's bytes are removed from buf by the caller (msg_consume). */
struct ctl_reader
{
  uint8_t *buf;
  size_t len, cap;
};

/* Returns 1 with *m filled, 0 at EOF, -1 on error.  Blocks. */
static int
ctl_read (struct ctl_reader *r, struct vm_agent_msg *m, size_t *size, hull_error_t *err)
{
  for (;;)
    {
      ssize_t got = vm_agent_msg_parse (r->buf, r->len, m, err);
      if (got < 0)
        return -1;
      if (got > 0)
        {
          *size = (size_t)got;
          return 1;
        }
      if (r->cap - r->len < 4096)
        {
          r->cap = r->cap ? 2 * r->cap : 65536;
          r->buf = xrealloc (r->buf, r->cap);
        }
      ssize_t n = read (ctl_fd, r->buf + r->len, r->cap - r->len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return hull_make_error (err, errno, "read %s", VM_AGENT_PORT_CTL);
      if (n == 0)
        return 0;
      r->len += (size_t)n;
    }
}

static void
ctl_consume (struct ctl_reader *r, size_t size)
{
  memmove (r->buf, r->buf + size, r->len - size);
  r->len -= size;
}

/* Whether r holds a whole message already (no read). */
static bool
ctl_has_msg (struct ctl_reader *r)
{
  struct vm_agent_msg m;
  hull_error_t err = NULL;
  ssize_t got = vm_agent_msg_parse (r->buf, r->len, &m, &err);
  hull_error_release (&err);
  return got != 0;
}

static const char *
env_get (char **env, const char *name)
{
  size_t n = strlen (name);
  for (; *env; env++)
    if (strncmp (*env, name, n) == 0 && (*env)[n] == '=')
      return *env + n + 1;
  return NULL;
}

/* execvpe with the PATH of the process's own environment (glibc's searches
 * the caller's).  Returns only on failure, with errno set. */
static void
exec_in_path (char **argv, char **env)
{
  if (strchr (argv[0], '/'))
    {
      execve (argv[0], argv, env);
      return;
    }
  const char *path = env_get (env, "PATH");
  cleanup_free char *dirs = xstrdup (path ? path : DEFAULT_PATH);
  int err = ENOENT;
  for (char *save = NULL, *dir = strtok_r (dirs, ":", &save); dir; dir = strtok_r (NULL, ":", &save))
    {
      cleanup_free char *full = hull_fmt ("%s/%s", dir, argv[0]);
      execve (full, argv, env);
      if (errno == EACCES)
        err = EACCES; /* as execvp: found but not runnable beats not found */
      else if (errno != ENOENT && errno != ENOTDIR)
        {
          err = errno;
          break;
        }
    }
  errno = err;
}

static void __attribute__ ((noreturn))
child (struct vm_agent_run *run, int stdio[3], const sigset_t *oldmask)
{
  setsid ();
  for (int i = 0; i < 3; i++)
    if (dup2 (stdio[i], i) < 0)
      _exit (126);
  for (int s = 1; s < NSIG; s++)
    signal (s, SIG_DFL);
  sigprocmask (SIG_SETMASK, oldmask, NULL);
  if (chdir (run->cwd) < 0)
    {
      dprintf (2, "hull-agent: chdir %s: %s\n", run->cwd, strerror (errno));
      _exit (126);
    }
  exec_in_path (run->argv, run->env);
  int e = errno;
  dprintf (2, "hull-agent: %s: %s\n", run->argv[0], strerror (e));
  _exit (e == ENOENT ? 127 : 126);
}

static int
open_stdio (char paths[N_PORTS][64], int stdio[3], hull_error_t *err)
{
  static const int port_of[3] = { PORT_STDIN, PORT_STDOUT, PORT_STDERR };
  for (int i = 0; i < 3; i++)
    {
      stdio[i] = open (paths[port_of[i]], (i == 0 ? O_RDONLY : O_WRONLY) | O_NOCTTY | O_CLOEXEC);
      if (stdio[i] < 0)
        return hull_make_error (err, errno, "open %s (%s)", paths[port_of[i]], port_names[port_of[i]]);
    }
  return 0;
}

/* Handles messages from the host while the process runs. */
static int
ctl_handle_running (struct vm_agent_msg *m, pid_t pid, hull_error_t *err)
{
  uint32_t sig;
  if (m->type != VM_AGENT_SIGNAL)
    return hull_make_error (err, 0, "unexpected %s while the process runs", vm_agent_msg_name (m->type));
  if (vm_agent_u32_decode (m, &sig, err) < 0)
    return -1;
  if (sig == 0 || sig >= (uint32_t)NSIG)
    return hull_make_error (err, 0, "SIGNAL %" PRIu32 ": not a signal", sig);
  if (kill (pid, (int)sig) < 0 && errno != ESRCH)
    say ("kill %d %" PRIu32 ": %s", (int)pid, sig, strerror (errno));
  return 0;
}

/* Runs the process to its end; returns its wait status. */
static int
supervise (struct ctl_reader *r, pid_t pid, int sfd, hull_error_t *err)
{
  bool ctl_open = true;
  for (;;)
    {
      struct pollfd p[2] = { { .fd = sfd, .events = POLLIN }, { .fd = ctl_open ? ctl_fd : -1, .events = POLLIN } };
      if (!ctl_has_msg (r) && poll (p, 2, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          return hull_make_error (err, errno, "poll");
        }
      if (p[0].revents)
        {
          struct signalfd_siginfo si;
          while (read (sfd, &si, sizeof (si)) == sizeof (si))
            ;
          int status;
          for (pid_t w; (w = waitpid (-1, &status, WNOHANG)) > 0;)
            if (w == pid)
              return status;
        }
      if (ctl_open && (ctl_has_msg (r) || p[1].revents))
        {
          struct vm_agent_msg m;
          size_t size;
          int got = ctl_read (r, &m, &size, err);
          if (got < 0)
            return -1;
          if (got == 0)
            {
              ctl_open = false; /* the host went away; the process runs on */
              continue;
            }
          int ret = ctl_handle_running (&m, pid, err);
          ctl_consume (r, size);
          if (ret < 0)
            return -1;
        }
    }
}

int
main (void)
{
  hull_error_t err = NULL;
  if (getpid () != 1)
    {
      fprintf (stderr, "hull-agent: runs as PID 1 of hull's guest, not by hand\n");
      return 2;
    }
  umask (022);
  if (mount_filesystems (&err) < 0)
    fatal (&err);

  char paths[N_PORTS][64];
  if (find_ports (paths, &err) < 0)
    fatal (&err);
  ctl_fd = open (paths[PORT_CTL], O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (ctl_fd < 0)
    {
      hull_make_error (&err, errno, "open %s (%s)", paths[PORT_CTL], VM_AGENT_PORT_CTL);
      fatal (&err);
    }

  sigset_t chld, oldmask;
  sigemptyset (&chld);
  sigaddset (&chld, SIGCHLD);
  sigprocmask (SIG_BLOCK, &chld, &oldmask);
  int sfd = signalfd (-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0)
    {
      hull_make_error (&err, errno, "signalfd");
      fatal (&err);
    }

  struct vm_agent_buf b;
  vm_agent_msg_build_u32 (&b, VM_AGENT_HELLO, VM_AGENT_PROTO_VERSION);
  send_msg (&b);

  struct ctl_reader r = { 0 };
  struct vm_agent_msg m;
  size_t size;
  int got = ctl_read (&r, &m, &size, &err);
  if (got == 0)
    hull_make_error (&err, 0, "%s closed before a RUN", VM_AGENT_PORT_CTL);
  if (got <= 0)
    fatal (&err);
  struct vm_agent_run run;
  if (m.type != VM_AGENT_RUN)
    hull_make_error (&err, 0, "expected RUN, got %s", vm_agent_msg_name (m.type));
  if (err || vm_agent_run_decode (&m, &run, &err) < 0)
    fatal (&err);
  ctl_consume (&r, size);

  int stdio[3] = { -1, -1, -1 };
  if (open_stdio (paths, stdio, &err) < 0)
    fatal (&err);
  pid_t pid = fork ();
  if (pid < 0)
    {
      hull_make_error (&err, errno, "fork");
      fatal (&err);
    }
  if (pid == 0)
    child (&run, stdio, &oldmask);
  for (int i = 0; i < 3; i++)
    close (stdio[i]); /* the process's end of a stream is the host's EOF */
  vm_agent_run_release (&run);
  vm_agent_msg_build_u32 (&b, VM_AGENT_STARTED, (uint32_t)pid);
  send_msg (&b);

  int status = supervise (&r, pid, sfd, &err);
  if (status < 0)
    fatal (&err);
  vm_agent_msg_build_u32 (&b, VM_AGENT_EXIT, (uint32_t)status);
  send_msg (&b);
  /* The host stops the VM when it reads the EXIT.  Rebooting at once could
   * beat it: a guest that resets its devices on the way down would take
   * the EXIT (and the process's last output) with them.  So the reboot is
   * the fallback, for a host that does not act. */
  nanosleep (&(struct timespec){ .tv_sec = EXIT_GRACE_MS / 1000 }, NULL);
  power_off ();
}
