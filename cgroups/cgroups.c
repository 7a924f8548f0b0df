/* Placement, process listing, kill-all and removal of a container cgroup. */
#include "cgroups-internal.h"

#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>

int
cg_mount_point (const char **path, bool *hybrid, hull_error_t *err)
{
  static const char *cached;
  static bool cached_hybrid;
  struct statfs sfs;
  if (cached == NULL)
    {
      if (statfs ("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
        cached = "/sys/fs/cgroup";
      else if (statfs ("/sys/fs/cgroup/unified", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
        cached = "/sys/fs/cgroup/unified", cached_hybrid = true;
      else
        return hull_make_error (err, ENOENT,
                                "no cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified "
                                "(hull needs cgroup v2; cgroup v1-only hosts are not supported)");
    }
  *path = cached;
  if (hybrid)
    *hybrid = cached_hybrid;
  return 0;
}

static bool
has_dotdot (const char *p)
{
  for (const char *s = p; (s = strstr (s, "..")); s += 2)
    if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
      return true;
  return false;
}

/* hull's own cgroup in the unified hierarchy ("0::/path" in /proc/self/cgroup). */
static int
own_cgroup (char **out, hull_error_t *err)
{
  cleanup_free char *buf = NULL;
  if (hull_read_file_at (AT_FDCWD, "/proc/self/cgroup", 1 << 20, &buf, NULL, err) < 0)
    return -1;
  for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL)
    {
      nl = strchr (line, '\n');
      if (nl)
        *nl = '\0';
      if (hull_str_has_prefix (line, "0::"))
        {
          *out = xstrdup (line + 3);
          return 0;
        }
    }
  return hull_make_error (err, ENOENT, "/proc/self/cgroup: no cgroup2 entry");
}

static char *
join_clean (const char *a, const char *b)
{
  char *r = hull_fmt ("%s/%s", a, b);
  /* Collapse "//" runs and a trailing "/". */
  char *w = r;
  for (char *s = r; *s; s++)
    if (!(s[0] == '/' && (s[1] == '/' || (s[1] == '\0' && w != r))))
      *w++ = *s;
  *w = '\0';
  if (*r == '\0')
    strcpy (r, "/");
  return r;
}

int
cg_resolve_path (const char *cgroups_path, const char *id, char **out, hull_error_t *err)
{
  if (cgroups_path && has_dotdot (cgroups_path))
    return hull_make_error (err, 0, "linux.cgroupsPath: `%s` must not contain `..`", cgroups_path);
  if (cgroups_path && strchr (cgroups_path, ':'))
    return hull_make_error (err, 0,
                            "linux.cgroupsPath: `%s` is a systemd slice:prefix:name path, but the systemd "
                            "cgroup driver is not supported yet",
                            cgroups_path);
  if (cgroups_path && cgroups_path[0] == '/')
    {
      *out = join_clean ("", cgroups_path);
      return 0;
    }
  cleanup_free char *own = NULL;
  if (own_cgroup (&own, err) < 0)
    return -1;
  /* As runc: under the parent of hull's own cgroup.  Its own one most
   * probably holds processes (hull's caller), and cgroup v2 lets only a
   * cgroup without processes delegate controllers to its children. */
  char *slash = strrchr (own, '/');
  if (slash)
    *slash = '\0';
  *out = join_clean (own, cgroups_path && *cgroups_path ? cgroups_path : id);
  return 0;
}

int
cg_create (const char *path, bool *created, hull_error_t *err)
{
  const char *mnt;
  if (cg_mount_point (&mnt, NULL, err) < 0)
    return -1;
  cleanup_close int root = open (mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return hull_make_error (err, errno, "open `%s`", mnt);
  *created = false;
  cleanup_free char *copy = xstrdup (path);
  cleanup_close int cur = steal_fd (&root);
  char *save = NULL;
  for (char *comp = strtok_r (copy, "/", &save); comp; comp = strtok_r (NULL, "/", &save))
    {
      bool last = save == NULL || *save == '\0';
      if (mkdirat (cur, comp, 0755) == 0)
        *created = last;
      else if (errno != EEXIST)
        return hull_make_error (err, errno, "create cgroup `%s%s`", mnt, path);
      int next = openat (cur, comp, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0)
        return hull_make_error (err, errno, "open cgroup `%s` in `%s%s`", comp, mnt, path);
      close (cur);
      cur = next;
    }
  return steal_fd (&cur);
}

int
cg_pids (const char *path, pid_t **pids, size_t *n, hull_error_t *err)
{
  cleanup_free char *dir = cg_abs_path (path, err);
  cleanup_free char *procs = dir ? hull_fmt ("%s/cgroup.procs", dir) : NULL;
  cleanup_free char *buf = NULL;
  if (procs == NULL || hull_read_file_at (AT_FDCWD, procs, 64 << 20, &buf, NULL, err) < 0)
    return -1;
  *n = 0;
  *pids = NULL;
  for (char *save = NULL, *tok = strtok_r (buf, "\n", &save); tok; tok = strtok_r (NULL, "\n", &save))
    {
      *pids = xreallocarray (*pids, *n + 1, sizeof (pid_t));
      (*pids)[(*n)++] = atoi (tok);
    }
  return 0;
}

int
cg_kill_all (const char *path, int sig, hull_error_t *err)
{
  cleanup_free char *dir = cg_abs_path (path, err);
  if (dir == NULL)
    return -1;
  if (sig == SIGKILL)
    {
      cleanup_free char *kill_file = hull_fmt ("%s/cgroup.kill", dir);
      hull_error_t ignored = NULL;
      if (hull_write_file_at (AT_FDCWD, kill_file, "1", 1, &ignored) == 0)
        return 0;
      hull_error_release (&ignored); /* before 5.14: no cgroup.kill */
    }
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  if (cg_pids (path, &pids, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (kill (pids[i], sig) < 0 && errno != ESRCH)
      return hull_make_error (err, errno, "kill pid %d", pids[i]);
  return 0;
}

int
cg_destroy (const char *path, hull_error_t *err)
{
  cleanup_free char *dir = cg_abs_path (path, err);
  if (dir == NULL)
    return -1;
  /* The init may still be exiting (zombies keep a cgroup busy until reaped
   * by their parent): retry for up to ~2 s. */
  for (int i = 0; i < 200; i++)
    {
      if (rmdir (dir) == 0 || errno == ENOENT)
        return 0;
      if (errno != EBUSY)
        return hull_make_error (err, errno, "remove cgroup `%s`", dir);
      struct timespec ts = { 0, 10 * 1000 * 1000 };
      nanosleep (&ts, NULL);
    }
  return hull_make_error (err, EBUSY, "remove cgroup `%s`", dir);
}
