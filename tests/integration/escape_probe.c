/* escape_probe: the system calls test_escapes.py tries from inside a
 * container, where busybox has no applet for them.  Built static (the test
 * rootfs has no libc) by the test itself.  Each command prints one line
 * per attempt: "NAME ok" or "NAME errno ENAME", and exits 0, so that the
 * test asserts on what the kernel answered, not on a shell's status.
 *
 *   escape_probe rawsock            socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
 *   escape_probe ptrace PID         PTRACE_SEIZE PID, then open /proc/PID/mem
 *   escape_probe openw PATH         open(PATH, O_WRONLY), nothing written
 *   escape_probe read PATH          open + read up to 64 bytes: "read N"
 *   escape_probe race DIR A B       renameat2(A, B, RENAME_EXCHANGE) in DIR,
 *                                   in a loop until killed (runs on the host) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static int
report (const char *what, int ok)
{
  if (ok)
    printf ("%s ok\n", what);
  else
    printf ("%s errno %s\n", what, strerrorname_np (errno) ? strerrorname_np (errno) : "?");
  return 0;
}

static int
cmd_rawsock (void)
{
  int fd = socket (AF_INET, SOCK_RAW, IPPROTO_ICMP);
  return report ("rawsock", fd >= 0);
}

/* PTRACE_SEIZE does not stop the tracee; our exit detaches it. */
static int
cmd_ptrace (const char *pid_s)
{
  pid_t pid = atoi (pid_s);
  report ("ptrace", ptrace (PTRACE_SEIZE, pid, NULL, NULL) == 0);
  char path[64];
  snprintf (path, sizeof (path), "/proc/%d/mem", pid);
  return report ("mem", open (path, O_RDONLY | O_CLOEXEC) >= 0);
}

static int
cmd_openw (const char *path)
{
  return report ("openw", open (path, O_WRONLY | O_CLOEXEC) >= 0);
}

static int
cmd_read (const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return report ("read", 0);
  char buf[64];
  ssize_t n = read (fd, buf, sizeof (buf));
  if (n < 0)
    return report ("read", 0);
  printf ("read %zd\n", n);
  return 0;
}

static int
cmd_race (const char *dir, const char *a, const char *b)
{
  int dfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    {
      perror (dir);
      return 1;
    }
  for (;;)
    if (syscall (SYS_renameat2, dfd, a, dfd, b, RENAME_EXCHANGE) < 0 && errno != EBUSY)
      {
        perror ("renameat2");
        return 1;
      }
}

int
main (int argc, char **argv)
{
  setvbuf (stdout, NULL, _IONBF, 0);
  if (argc == 2 && strcmp (argv[1], "rawsock") == 0)
    return cmd_rawsock ();
  if (argc == 3 && strcmp (argv[1], "ptrace") == 0)
    return cmd_ptrace (argv[2]);
  if (argc == 3 && strcmp (argv[1], "openw") == 0)
    return cmd_openw (argv[2]);
  if (argc == 3 && strcmp (argv[1], "read") == 0)
    return cmd_read (argv[2]);
  if (argc == 5 && strcmp (argv[1], "race") == 0)
    return cmd_race (argv[2], argv[3], argv[4]);
  fprintf (stderr, "usage: escape_probe rawsock | ptrace PID | openw PATH | read PATH | race DIR A B\n");
  return 2;
}
