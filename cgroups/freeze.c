/* The cgroup v2 freezer: cgroup.freeze, and cgroup.events to learn when the
 * kernel has actually stopped (or restarted) every task. */
#include "cgroups-internal.h"

#include <poll.h>

#define FREEZE_TIMEOUT_MS 10000

static int
read_frozen (int events_fd, bool *frozen, hull_error_t *err)
{
  char buf[256];
  ssize_t n = pread (events_fd, buf, sizeof (buf) - 1, 0);
  if (n < 0)
    return hull_make_error (err, errno, "read `cgroup.events`");
  buf[n] = '\0';
  uint64_t v;
  if (cg_keyed_u64 (buf, "frozen", &v) < 0)
    return hull_make_error (err, EOPNOTSUPP,
                            "`cgroup.events` has no `frozen` key (the freezer needs Linux 5.2)");
  *frozen = v == 1;
  return 0;
}

/* cgroup.events raises POLLPRI (as a kernfs notification) on each change;
 * the file is re-read after every wake-up, so a missed edge only costs a
 * poll period. */
static int
wait_state (int events_fd, bool want, hull_error_t *err)
{
  uint64_t deadline = hull_now_ns () + (uint64_t)FREEZE_TIMEOUT_MS * 1000000;
  for (;;)
    {
      bool frozen;
      if (read_frozen (events_fd, &frozen, err) < 0)
        return -1;
      if (frozen == want)
        return 0;
      uint64_t now = hull_now_ns ();
      if (now >= deadline)
        return 1;
      uint64_t left_ms = (deadline - now) / 1000000;
      struct pollfd pfd = { .fd = events_fd, .events = POLLPRI };
      /* Wake at least every 100 ms anyway: a bounded retry loop does not
       * depend on the notification arriving. */
      if (poll (&pfd, 1, left_ms > 100 ? 100 : (int)left_ms + 1) < 0 && errno != EINTR)
        return hull_make_error (err, errno, "poll `cgroup.events`");
    }
}

int
cg_freeze (const char *path, bool frozen, hull_error_t *err)
{
  cleanup_free char *dir = cg_abs_path (path, err);
  cleanup_close int dirfd = dir ? open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if (dir == NULL)
    return -1;
  if (dirfd < 0)
    return hull_make_error (err, errno, "open cgroup `%s`", dir);
  cleanup_close int events = openat (dirfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
  if (events < 0)
    return hull_make_error (err, errno, "open `%s/cgroup.events`", dir);
  if (cg_write_at (dirfd, "cgroup.freeze", frozen ? "1" : "0") < 0)
    return hull_make_error (err, errno, "%s cgroup: write `%s/cgroup.freeze`%s", frozen ? "freeze" : "thaw",
                            dir, errno == ENOENT ? " (the freezer needs Linux 5.2)" : "");
  int ret = wait_state (events, frozen, err);
  if (ret <= 0)
    return ret;
  if (frozen)
    {
      /* Do not leave the container half frozen: some of its tasks may be
       * stuck (in uninterruptible sleep, say) and the rest already stopped. */
      cg_write_at (dirfd, "cgroup.freeze", "0");
    }
  return hull_make_error (err, ETIMEDOUT,
                          "%s cgroup `%s`: cgroup.events did not report `frozen %d` within %d s%s",
                          frozen ? "freeze" : "thaw", dir, frozen ? 1 : 0, FREEZE_TIMEOUT_MS / 1000,
                          frozen ? " (thawed it again)" : "");
}

int
cg_is_frozen (const char *path, bool *frozen, hull_error_t *err)
{
  cleanup_free char *dir = cg_abs_path (path, err);
  if (dir == NULL)
    return -1;
  cleanup_free char *file = hull_fmt ("%s/cgroup.events", dir);
  cleanup_close int fd = open (file, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return hull_make_error (err, errno, "open `%s`", file);
  return read_frozen (fd, frozen, err);
}
