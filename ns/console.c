/* The container's console: a pty made in the container's devpts, whose
 * master goes to the caller over --console-socket exactly as runc sends it,
 * and whose slave becomes the controlling terminal and stdio. */
#include "ns-internal.h"

#include <linux/mount.h>
#include <sys/syscall.h>

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* runc's utils.MaxNameLen: receivers read the name into a buffer this big. */
#define FD_NAME_MAX 4096
/* Room to receive (and then close) a few unexpected extra fds. */
#define RECV_FDS_MAX 8

int
ns_send_fd (int sock, int fd, const char *name, hull_error_t *err)
{
  /* runc's utils.SendFd: the payload is the name, one fd in SCM_RIGHTS.  A
   * stream socket drops ancillary data sent without payload, hence the
   * NUL byte when there is no name. */
  const char *data = name && name[0] ? name : "";
  size_t len = strlen (data);
  if (len >= FD_NAME_MAX)
    return hull_make_error (err, ENAMETOOLONG, "send fd %d: name of %zu bytes", fd, len);
  union
  {
    struct cmsghdr h;
    char buf[CMSG_SPACE (sizeof (int))];
  } u;
  memset (&u, 0, sizeof (u));
  struct iovec iov = { .iov_base = (void *)(len ? data : "\0"), .iov_len = len ? len : 1 };
  struct msghdr msg
      = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof (u.buf) };
  struct cmsghdr *cm = CMSG_FIRSTHDR (&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cm), &fd, sizeof (int));
  ssize_t r;
  do
    r = sendmsg (sock, &msg, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return hull_make_error (err, errno, "send fd `%s` over socket %d", data, sock);
  return 0;
}

/* Takes the first fd of an SCM_RIGHTS message and closes any other. */
static int
take_fds (struct msghdr *msg)
{
  int fd = -1;
  for (struct cmsghdr *cm = CMSG_FIRSTHDR (msg); cm; cm = CMSG_NXTHDR (msg, cm))
    {
      if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
        continue;
      size_t n = (cm->cmsg_len - CMSG_LEN (0)) / sizeof (int);
      for (size_t i = 0; i < n; i++)
        {
          int got;
          memcpy (&got, CMSG_DATA (cm) + i * sizeof (int), sizeof (int));
          if (fd < 0)
            fd = got;
          else
            close (got);
        }
    }
  return fd;
}

int
ns_recv_fd (int sock, hull_error_t *err)
{
  char data[FD_NAME_MAX];
  union
  {
    struct cmsghdr h;
    char buf[CMSG_SPACE (sizeof (int) * RECV_FDS_MAX)];
  } u;
  memset (&u, 0, sizeof (u));
  struct iovec iov = { .iov_base = data, .iov_len = sizeof (data) };
  struct msghdr msg
      = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof (u.buf) };
  ssize_t r;
  do
    r = recvmsg (sock, &msg, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return hull_make_error (err, errno, "receive an fd on socket %d", sock);
  int fd = take_fds (&msg);
  if (msg.msg_flags & MSG_CTRUNC)
    {
      if (fd >= 0)
        close (fd);
      return hull_make_error (err, 0, "receive an fd on socket %d: control data truncated", sock);
    }
  if (fd < 0)
    return hull_make_error (err, 0, "receive an fd on socket %d: %s", sock,
                            r == 0 ? "the peer closed the socket" : "the message carried no fd");
  return fd;
}

/* TIOCGPTPEER opens the slave through the master, so a path swapped under
 * /dev/pts cannot give us another file; kernels before 4.13 lack it. */
static int
open_pty_peer (int master, const char *name, hull_error_t *err)
{
  int fd = ioctl (master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0 && (errno == EINVAL || errno == ENOTTY))
    fd = open (name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    return hull_make_error (err, errno, "open the pty slave `%s`", name);
  return fd;
}

static int
make_controlling_tty (int slave, hull_error_t *err)
{
  /* The caller may already have made us a session leader (runc's init does
   * setsid first); a second setsid then fails with EPERM, which is fine. */
  if (setsid () < 0 && getsid (0) != getpid ())
    return hull_make_error (err, errno, "setsid");
  if (ioctl (slave, TIOCSCTTY, 0) < 0)
    return hull_make_error (err, errno, "make the pty the controlling terminal (TIOCSCTTY)");
  for (int i = 0; i <= 2; i++)
    if (dup2 (slave, i) < 0)
      return hull_make_error (err, errno, "dup2 the pty slave onto fd %d", i);
  return 0;
}

/* Bind-mounts the pty slave onto /dev/console, as runc does for the init,
 * with the new mount API so no path under /proc is needed. */
static int
bind_dev_console (int slave, hull_error_t *err)
{
  cleanup_close int target = openat (AT_FDCWD, "/dev/console", O_CREAT | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (target < 0)
    return hull_make_error (err, errno, "create `/dev/console`");
  cleanup_close int tree = syscall (SYS_open_tree, slave, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
  if (tree < 0)
    return hull_make_error (err, errno, "open_tree on the pty slave");
  if (syscall (SYS_move_mount, tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return hull_make_error (err, errno, "bind the pty onto `/dev/console`");
  return 0;
}

int
ns_console_setup (const struct oci_process *p, int console_socket_fd, bool dev_console, hull_error_t *err)
{
  /* After pivot_root: /dev/ptmx -> pts/ptmx is the container's devpts, so
   * the pty is numbered and owned there. */
  cleanup_close int master = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0)
    return hull_make_error (err, errno, "open `/dev/ptmx`");
  int unlock = 0;
  if (ioctl (master, TIOCSPTLCK, &unlock) < 0)
    return hull_make_error (err, errno, "unlock the pty (TIOCSPTLCK)");
  unsigned int n;
  if (ioctl (master, TIOCGPTN, &n) < 0)
    return hull_make_error (err, errno, "get the pty number (TIOCGPTN)");
  char name[32];
  snprintf (name, sizeof (name), "/dev/pts/%u", n);
  cleanup_close int slave = open_pty_peer (master, name, err);
  if (slave < 0)
    return -1;
  if (p->has_console_size)
    {
      struct winsize ws = { .ws_row = p->console_height, .ws_col = p->console_width };
      if (ioctl (master, TIOCSWINSZ, &ws) < 0)
        return hull_make_error (err, errno, "set the console size to %ux%u", p->console_width,
                                p->console_height);
    }
  if (dev_console && bind_dev_console (slave, err) < 0)
    return -1;
  if (ns_send_fd (console_socket_fd, master, name, err) < 0)
    return hull_error_wrap (err, "console socket");
  if (make_controlling_tty (slave, err) < 0)
    return -1;
  if (slave <= 2)
    steal_fd (&slave); /* it is one of stdio now */
  return 0;
}
