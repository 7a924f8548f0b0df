/* Reading a file of an image through its layers without mounting them, as
 * overlayfs would see it: the topmost layer holding a name decides its
 * type; directories merge downwards until an opaque one; a 0:0 character
 * device (whiteout) hides what is below; symlinks are resolved inside the
 * image (absolute targets from its root), at most 40.  Each layer is only
 * ever opened beneath its own directory fd. */
#include "image-internal.h"

#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define MAX_HOPS 40
#define RESOLVE_LAYER (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

enum kind
{
  K_NONE,
  K_DIR,
  K_OTHER
};

/* What layer fd holds at prefix/name: stat into st. */
static enum kind
probe (int fd, const char *prefix, const char *name, struct stat *st, bool *opaque)
{
  cleanup_close int pfd
      = *prefix ? hull_openat2 (fd, prefix, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_LAYER) : dup (fd);
  if (pfd < 0 || fstatat (pfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
    return K_NONE;
  if (S_ISCHR (st->st_mode) && st->st_rdev == makedev (0, 0))
    return K_OTHER; /* a whiteout: the caller stops here */
  if (!S_ISDIR (st->st_mode))
    return K_OTHER;
  *opaque = false;
  cleanup_close int dfd = openat (pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  char v = 0;
  if (dfd >= 0 && fgetxattr (dfd, "trusted.overlay.opaque", &v, 1) == 1 && v == 'y')
    *opaque = true;
  return K_DIR;
}

struct walk
{
  const int *fds;
  size_t n;
  bool *active; /* layers whose directory at the current prefix merges */
};

/* Looks name up below prefix.  Returns the layer index of a non-directory
 * (in *st), -1 with *is_dir for a directory (active updated), or -2. */
static long
step (struct walk *w, const char *prefix, const char *name, struct stat *st, bool *is_dir)
{
  bool found_dir = false;
  cleanup_free bool *next = xmalloc0 (w->n * sizeof (bool));
  *is_dir = false;
  for (size_t i = 0; i < w->n; i++)
    {
      if (!w->active[i])
        continue;
      bool opaque = false;
      struct stat s;
      enum kind k = probe (w->fds[i], prefix, name, &s, &opaque);
      if (k == K_NONE)
        continue;
      if (k == K_OTHER)
        {
          if (found_dir)
            break; /* a non-directory below a directory is hidden */
          bool whiteout = S_ISCHR (s.st_mode) && s.st_rdev == makedev (0, 0);
          if (whiteout)
            return -2;
          *st = s;
          return (long)i;
        }
      found_dir = true;
      next[i] = true;
      if (opaque)
        break;
    }
  if (!found_dir)
    return -2;
  memcpy (w->active, next, w->n * sizeof (bool));
  *is_dir = true;
  return -1;
}

static char *
read_link (int fd, const char *prefix, const char *name)
{
  cleanup_close int pfd
      = *prefix ? hull_openat2 (fd, prefix, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_LAYER) : dup (fd);
  char buf[4096];
  ssize_t n = pfd < 0 ? -1 : readlinkat (pfd, name, buf, sizeof (buf) - 1);
  if (n < 0)
    return NULL;
  buf[n] = '\0';
  return xstrdup (buf);
}

/* One pass over path; returns an fd, -1 on error, or -2 with *restart set
 * to the path to resolve next (after a symlink). */
static int
walk_once (struct walk *w, const char *path, bool allow_dir, char **restart, hull_error_t *err)
{
  cleanup_free char *copy = xstrdup (path);
  cleanup_free char *prefix = xstrdup ("");
  for (size_t i = 0; i < w->n; i++)
    w->active[i] = true;
  char *save = NULL;
  for (char *c = strtok_r (copy, "/", &save); c; c = strtok_r (NULL, "/", &save))
    {
      const char *rest = save && *save ? save : NULL;
      if (strcmp (c, ".") == 0)
        continue;
      if (strcmp (c, "..") == 0)
        {
          char *slash = strrchr (prefix, '/');
          *(slash ? slash : prefix) = '\0';
          *restart = hull_fmt ("/%s/%s", prefix, rest ? rest : "");
          return -2;
        }
      struct stat st;
      bool is_dir;
      long layer = step (w, prefix, c, &st, &is_dir);
      if (layer == -2)
        return hull_make_error_code (err, ENOENT, "`%s` does not exist in the image", path);
      if (layer >= 0 && S_ISLNK (st.st_mode))
        {
          cleanup_free char *target = read_link (w->fds[layer], prefix, c);
          if (target == NULL)
            return hull_make_error (err, errno, "read the symlink `%s/%s` in the image", prefix, c);
          if (target[0] == '/')
            *restart = hull_fmt ("%s/%s", target, rest ? rest : "");
          else
            *restart = hull_fmt ("/%s/%s/%s", prefix, target, rest ? rest : "");
          return -2;
        }
      char *np = *prefix ? hull_fmt ("%s/%s", prefix, c) : xstrdup (c);
      free (prefix);
      prefix = np;
      if (layer >= 0)
        {
          if (rest)
            return hull_make_error_code (err, ENOTDIR, "`%s`: `%s` is not a directory in the image", path,
                                         prefix);
          int fd = hull_openat2 (w->fds[layer], prefix, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0, RESOLVE_LAYER);
          if (fd < 0)
            return hull_make_error (err, errno, "open `%s` in the image", path);
          return fd;
        }
    }
  for (size_t i = 0; allow_dir && i < w->n; i++)
    if (w->active[i])
      {
        int fd = *prefix
                     ? hull_openat2 (w->fds[i], prefix, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_LAYER)
                     : dup (w->fds[i]);
        if (fd < 0)
          return hull_make_error (err, errno, "open `%s` in the image", path);
        return fd;
      }
  return hull_make_error_code (err, EISDIR, "`%s` is a directory in the image", path);
}

static int
union_open (const int *layer_fds, size_t n, const char *path, bool allow_dir, hull_error_t *err)
{
  if (n == 0)
    return hull_make_error_code (err, ENOENT, "`%s`: the image has no layers", path);
  cleanup_free bool *active = xmalloc0 (n * sizeof (bool));
  struct walk w = { layer_fds, n, active };
  cleanup_free char *cur = xstrdup (path);
  for (int hops = 0; hops <= MAX_HOPS; hops++)
    {
      char *next = NULL;
      int r = walk_once (&w, cur, allow_dir, &next, err);
      if (r != -2)
        return r;
      free (cur);
      cur = next;
    }
  return hull_make_error_code (err, ELOOP, "`%s`: too many levels of symlinks in the image", path);
}

int
img_union_open (const int *layer_fds, size_t n, const char *path, hull_error_t *err)
{
  return union_open (layer_fds, n, path, false, err);
}

int
img_union_open_any (const int *layer_fds, size_t n, const char *path, hull_error_t *err)
{
  return union_open (layer_fds, n, path, true, err);
}
