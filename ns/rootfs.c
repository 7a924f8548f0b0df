/* ns/rootfs.c: the container's root file system, run in the container init
 * while it is in its new mount namespace — "/" propagation, the rootfs bind,
 * then (after the mounts of ns/mounts.c and the /dev of ns/dev.c) masked and
 * read-only paths, pivot_root and root.readonly.  Also the in-root path
 * resolution every other part of the rootfs setup relies on. */
#include "rootfs-internal.h"

#include <sys/stat.h>
#include <sys/syscall.h>

#define NS_MAX_SYMLINKS 40

/* ---- path resolution inside the rootfs ---------------------------------- */

/* The directories walked so far: fds[0] is the root, fds[i] was reached
 * through names[i].  ".." pops, so it can never climb above the root. */
struct walk
{
  int *fds;
  char **names;
  size_t n, cap;
};

static void
walk_push (struct walk *w, int fd, const char *name)
{
  if (w->n == w->cap)
    {
      w->cap = w->cap ? w->cap * 2 : 16;
      w->fds = xreallocarray (w->fds, w->cap, sizeof (*w->fds));
      w->names = xreallocarray (w->names, w->cap, sizeof (*w->names));
    }
  w->fds[w->n] = fd;
  w->names[w->n] = xstrdup (name);
  w->n++;
}

static void
walk_pop (struct walk *w)
{
  if (w->n <= 1)
    return;
  w->n--;
  if (w->fds[w->n] >= 0)
    close (w->fds[w->n]);
  free (w->names[w->n]);
}

static void
walk_release (struct walk *w)
{
  while (w->n > 1)
    walk_pop (w);
  if (w->n == 1)
    {
      if (w->fds[0] >= 0)
        close (w->fds[0]);
      free (w->names[0]);
    }
  free (w->fds);
  free (w->names);
}

static char *
walk_path (const struct walk *w)
{
  if (w->n <= 1)
    return xstrdup ("/");
  size_t len = 1;
  for (size_t i = 1; i < w->n; i++)
    len += strlen (w->names[i]) + 1;
  char *p = xmalloc (len), *q = p;
  for (size_t i = 1; i < w->n; i++)
    q += sprintf (q, "/%s", w->names[i]);
  return p;
}

/* Opens (creating it if asked) one component under the top of the walk,
 * without following it; *st says what it is. */
static int
walk_step (struct walk *w, const char *comp, enum ns_create create, struct stat *st, hull_error_t *err)
{
  int dir = w->fds[w->n - 1];
  for (int attempt = 0; attempt < 2; attempt++)
    {
      int fd = openat (dir, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0 && fstat (fd, st) == 0)
        return fd;
      if (fd >= 0)
        {
          int saved_errno = errno;
          close (fd);
          errno = saved_errno;
          break;
        }
      if (errno != ENOENT || create == NS_CREATE_NONE)
        break;
      /* A regular file made with mknodat is never opened, so nothing an
       * image left there (a device, a fifo) gets opened by accident. */
      int r = create == NS_CREATE_FILE ? mknodat (dir, comp, S_IFREG | 0644, 0) : mkdirat (dir, comp, 0755);
      if (r < 0 && errno != EEXIST)
        break;
    }
  int saved_errno = errno;
  cleanup_free char *at = walk_path (w);
  return hull_make_error (err, saved_errno, "`%s%s%s`", at, strcmp (at, "/") == 0 ? "" : "/", comp);
}

static char *
read_link_fd (int fd, hull_error_t *err)
{
  char buf[4096];
  ssize_t n = readlinkat (fd, "", buf, sizeof (buf));
  if (n < 0)
    return hull_make_error (err, errno, "readlink"), NULL;
  if ((size_t)n >= sizeof (buf))
    return hull_make_error (err, ENAMETOOLONG, "readlink"), NULL;
  return xstrndup (buf, n);
}

/* Follows the symlink `link` by splicing its target in front of the rest of
 * the path; absolute targets restart from the root. */
static int
walk_follow (struct walk *w, int link, char **rest, size_t *pos, hull_error_t *err)
{
  cleanup_free char *target = read_link_fd (link, err);
  if (target == NULL)
    return -1;
  if (target[0] == '/')
    while (w->n > 1)
      walk_pop (w);
  char *spliced = hull_fmt ("%s/%s", target, *rest + *pos);
  free (*rest);
  *rest = spliced;
  *pos = 0;
  return 0;
}

static int
walk_link_error (hull_error_t *err, struct walk *w, const char *comp, int status, const char *why)
{
  cleanup_free char *at = walk_path (w);
  return hull_make_error_code (err, status, "`%s%s%s` %s", at, strcmp (at, "/") == 0 ? "" : "/", comp, why);
}

/* What does not exist yet cannot be a symlink: when the walk stops on a
 * missing component, *resolved still says (lexically) where the path would
 * be, so callers can refuse a place before anything is created there. */
static int
walk_missing (struct walk *w, const char *comp, const char *rest, hull_error_t local, char **resolved,
              hull_error_t *err)
{
  if (resolved && local->status == ENOENT)
    {
      cleanup_free char *at = walk_path (w);
      cleanup_free char *full = hull_fmt ("%s/%s/%s", at, comp, rest);
      *resolved = ns_path_clean (full);
    }
  if (err)
    *err = local;
  else
    hull_error_release (&local);
  return -1;
}

int
ns_resolve_in_root (int root_fd, const char *path, enum ns_create create, unsigned flags, char **resolved,
                    hull_error_t *err)
{
  __attribute__ ((cleanup (walk_release))) struct walk w = { 0 };
  int root = openat (root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return hull_make_error (err, errno, "open the rootfs");
  walk_push (&w, root, "");
  cleanup_free char *rest = xstrdup (path);
  size_t pos = 0;
  int links = 0;
  for (;;)
    {
      pos += strspn (rest + pos, "/");
      if (rest[pos] == '\0')
        break;
      size_t len = strcspn (rest + pos, "/");
      cleanup_free char *comp = xstrndup (rest + pos, len);
      pos += len;
      bool last = rest[pos + strspn (rest + pos, "/")] == '\0';
      if (strcmp (comp, ".") == 0 || strcmp (comp, "..") == 0)
        {
          if (comp[1] == '.')
            walk_pop (&w);
          continue;
        }
      struct stat st;
      hull_error_t local = NULL;
      cleanup_close int fd = walk_step (
          &w, comp, last ? create : (create == NS_CREATE_NONE ? create : NS_CREATE_DIR), &st, &local);
      if (fd < 0)
        return walk_missing (&w, comp, rest + pos, local, resolved, err);
      if (S_ISLNK (st.st_mode))
        {
          if (last && (flags & NS_RESOLVE_NOFOLLOW_LAST))
            return walk_link_error (err, &w, comp, ELOOP, "is a symlink, refusing to use it");
          if (++links > NS_MAX_SYMLINKS)
            return walk_link_error (err, &w, comp, ELOOP, "has too many levels of symlinks");
          if (walk_follow (&w, fd, &rest, &pos, err) < 0)
            return -1;
          continue;
        }
      if (!last && !S_ISDIR (st.st_mode))
        return walk_link_error (err, &w, comp, ENOTDIR, "is not a directory");
      walk_push (&w, steal_fd (&fd), comp);
    }
  if (resolved)
    *resolved = walk_path (&w);
  return steal_fd (&w.fds[w.n - 1]);
}

char *
ns_path_clean (const char *path)
{
  size_t len = strlen (path);
  char *out = xmalloc (len + 2);
  size_t n = 0;
  const char *p = path;
  out[n++] = '/';
  while (*p)
    {
      p += strspn (p, "/");
      size_t l = strcspn (p, "/");
      if (l == 0 || (l == 1 && p[0] == '.'))
        ;
      else if (l == 2 && p[0] == '.' && p[1] == '.')
        {
          while (n > 1 && out[n - 1] != '/')
            n--;
          if (n > 1)
            n--;
        }
      else
        {
          if (n > 1)
            out[n++] = '/';
          memcpy (out + n, p, l);
          n += l;
        }
      p += l;
    }
  out[n] = '\0';
  return out;
}

bool
ns_in_user_namespace (void)
{
  cleanup_free char *map = NULL;
  if (hull_read_file_at (AT_FDCWD, "/proc/self/uid_map", 1 << 16, &map, NULL, NULL) < 0)
    return false;
  unsigned long inside, outside, count;
  int consumed = 0;
  if (sscanf (map, " %lu %lu %lu %n", &inside, &outside, &count, &consumed) != 3)
    return true;
  return !(inside == 0 && outside == 0 && count == 4294967295UL && map[consumed] == '\0');
}

/* ---- prepare ------------------------------------------------------------ */

static enum oci_propagation
root_propagation (const struct oci_config *c)
{
  return c->linux_ ? c->linux_->rootfs_propagation : OCI_PROPAGATION_UNSET;
}

static unsigned long
propagation_flag (enum oci_propagation p)
{
  switch (p)
    {
    case OCI_PROPAGATION_PRIVATE:
      return MS_PRIVATE;
    case OCI_PROPAGATION_SHARED:
      return MS_SHARED;
    case OCI_PROPAGATION_UNBINDABLE:
      return MS_UNBINDABLE;
    case OCI_PROPAGATION_SLAVE:
    case OCI_PROPAGATION_UNSET:
    default:
      return MS_SLAVE;
    }
}

/* pivot_root refuses a shared new root or a new root under a shared mount,
 * and a bind under a shared mount would propagate to the host: with
 * rootfsPropagation "shared", make the mount holding the rootfs private in
 * this namespace first, as runc does. */
static int
make_rootfs_mount_private (const char *rootfs, hull_error_t *err)
{
  cleanup_close int fd = open (rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return hull_make_error (err, errno, "open rootfs `%s`", rootfs);
  for (;;)
    {
      struct statx stx;
      if (statx (fd, "", AT_EMPTY_PATH, STATX_INO, &stx) < 0)
        return hull_make_error (err, errno, "statx rootfs `%s`", rootfs);
      if (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT)
        break;
      int parent = openat (fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (parent < 0)
        return hull_make_error (err, errno, "open the parent of rootfs `%s`", rootfs);
      close (fd);
      fd = parent;
    }
  struct mount_attr attr = { .propagation = MS_PRIVATE };
  if (mount_setattr (fd, "", AT_EMPTY_PATH, &attr, sizeof (attr)) < 0)
    return hull_make_error (err, errno, "make the mount holding rootfs `%s` private", rootfs);
  return 0;
}

/* Makes the rootfs a mount point of its own (pivot_root needs one) and
 * returns an O_PATH fd on that mount. */
static int
bind_rootfs (const char *rootfs, hull_error_t *err)
{
  cleanup_close int tree = open_tree (AT_FDCWD, rootfs, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (tree < 0)
    return hull_make_error (err, errno, "bind rootfs `%s`", rootfs);
  if (move_mount (tree, "", AT_FDCWD, rootfs, MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return hull_make_error (err, errno, "bind rootfs `%s` onto itself", rootfs);
  return steal_fd (&tree);
}

int
ns_rootfs_prepare (const struct oci_config *c, const char *rootfs, int *cgroup_tree, hull_error_t *err)
{
  if (ns_validate_mounts (c, err) < 0)
    return -1;
  enum oci_propagation prop = root_propagation (c);
  /* Until the container's "/" exists, only "shared" is kept as asked (for
   * bidirectional binds); everything else stays a slave of the host, as
   * with runc's default rslave.  The final value is set in finalize. */
  unsigned long flag = prop == OCI_PROPAGATION_SHARED || prop == OCI_PROPAGATION_PRIVATE
                           ? propagation_flag (prop)
                           : MS_SLAVE;
  if (mount (NULL, "/", NULL, MS_REC | flag, NULL) < 0)
    return hull_make_error (err, errno, "set the propagation of `/`");
  if (prop == OCI_PROPAGATION_SHARED && make_rootfs_mount_private (rootfs, err) < 0)
    return -1;
  cleanup_close int rootfs_fd = bind_rootfs (rootfs, err);
  if (rootfs_fd < 0)
    return -1;
  bool userns = ns_in_user_namespace ();
  if (ns_mounts_apply (c, rootfs_fd, userns, cgroup_tree, err) < 0)
    return -1;
  if (ns_mounts_need_dev_setup (c) && ns_dev_setup (c, rootfs_fd, userns, err) < 0)
    return -1;
  return steal_fd (&rootfs_fd);
}

/* ---- finalize ------------------------------------------------------------ */

/* Resolves a masked or read-only path; 0 with *fd == -1 when it does not
 * exist (both lists are best effort, as in runc). */
static int
resolve_optional (int rootfs_fd, const char *path, int *fd, hull_error_t *err)
{
  hull_error_t local = NULL;
  *fd = ns_resolve_in_root (rootfs_fd, path, NS_CREATE_NONE, 0, NULL, &local);
  if (*fd >= 0)
    return 0;
  if (local->status == ENOENT)
    {
      hull_error_release (&local);
      return 0;
    }
  if (err)
    *err = local;
  else
    hull_error_release (&local);
  return -1;
}

static int
readonly_path (int rootfs_fd, const char *path, hull_error_t *err)
{
  cleanup_close int fd = -1;
  if (resolve_optional (rootfs_fd, path, &fd, err) < 0)
    return hull_error_wrap (err, "read-only path `%s`", path);
  if (fd < 0)
    return 0;
  cleanup_close int tree = ns_bind_tree (fd, path, true, path, err);
  if (tree < 0)
    return -1;
  /* mount_setattr only adds flags, so the ones a user namespace locked
   * (nosuid, nodev ... of the source) are kept without a statfs dance. */
  const uint64_t ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
  if (ns_set_mount_attr (tree, ro, 0, true, path, err) < 0)
    return -1;
  return ns_attach_tree (tree, fd, path, path, err);
}

static int
mask_path (int rootfs_fd, const char *path, hull_error_t *err)
{
  cleanup_close int fd = -1;
  if (resolve_optional (rootfs_fd, path, &fd, err) < 0)
    return hull_error_wrap (err, "masked path `%s`", path);
  if (fd < 0)
    return 0;
  struct stat st;
  if (fstat (fd, &st) < 0)
    return hull_make_error (err, errno, "masked path `%s`: stat", path);
  cleanup_close int tree = -1;
  if (S_ISDIR (st.st_mode))
    tree = ns_fs_tree ("tmpfs", "tmpfs", MS_RDONLY, NULL,
                       MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, path,
                       err);
  else
    tree = ns_bind_tree (-1, "/dev/null", false, path, err);
  if (tree < 0)
    return -1;
  return ns_attach_tree (tree, fd, S_ISDIR (st.st_mode) ? "tmpfs" : "/dev/null", path, err);
}

/* Masked and read-only paths are done before pivot_root, still relative to
 * the rootfs fd: that is the same tree, and the host's /dev/null (not one
 * the image may have shipped) is still reachable to mask files with.
 * Read-only first, then masked, in runc's order. */
static int
protect_paths (const struct oci_linux *l, int rootfs_fd, hull_error_t *err)
{
  for (size_t i = 0; l && l->readonly_paths && l->readonly_paths[i]; i++)
    if (readonly_path (rootfs_fd, l->readonly_paths[i], err) < 0)
      return -1;
  for (size_t i = 0; l && l->masked_paths && l->masked_paths[i]; i++)
    if (mask_path (rootfs_fd, l->masked_paths[i], err) < 0)
      return -1;
  return 0;
}

static int
pivot_into (int rootfs_fd, hull_error_t *err)
{
  cleanup_close int oldroot = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (oldroot < 0)
    return hull_make_error (err, errno, "open `/`");
  if (fchdir (rootfs_fd) < 0)
    return hull_make_error (err, errno, "chdir to the rootfs");
  /* pivot_root(".", ".") stacks the old root on top of the new one, so no
   * put_old directory is needed inside the rootfs. */
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    return hull_make_error (err, errno, "pivot_root into the rootfs");
  if (fchdir (oldroot) < 0)
    return hull_make_error (err, errno, "chdir to the old root");
  /* A slave first, so that detaching it cannot propagate to the host. */
  if (mount (NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
    return hull_make_error (err, errno, "make the old root rslave");
  if (umount2 (".", MNT_DETACH) < 0)
    return hull_make_error (err, errno, "unmount the old root");
  if (chdir ("/") < 0)
    return hull_make_error (err, errno, "chdir `/`");
  return 0;
}

/* --no-pivot: move the rootfs over "/" and chroot, for hosts (ramfs
 * roots) where pivot_root cannot work.  Weaker: chroot can be escaped by a
 * process with CAP_SYS_CHROOT. */
static int
move_into (int rootfs_fd, bool root_shared, hull_error_t *err)
{
  /* Attaching on a shared "/" would propagate the rootfs to the host. */
  if (root_shared && mount (NULL, "/", NULL, MS_SLAVE, NULL) < 0)
    return hull_make_error (err, errno, "make `/` a slave");
  if (fchdir (rootfs_fd) < 0)
    return hull_make_error (err, errno, "chdir to the rootfs");
  if (mount (".", "/", NULL, MS_MOVE, NULL) < 0)
    return hull_make_error (err, errno, "move the rootfs to `/`");
  if (chroot (".") < 0)
    return hull_make_error (err, errno, "chroot into the rootfs");
  if (chdir ("/") < 0)
    return hull_make_error (err, errno, "chdir `/`");
  return 0;
}

int
ns_rootfs_finalize (const struct oci_config *c, int rootfs_fd, bool no_pivot, hull_error_t *err)
{
  enum oci_propagation prop = root_propagation (c);
  if (protect_paths (c->linux_, rootfs_fd, err) < 0)
    return -1;
  int ret
      = no_pivot ? move_into (rootfs_fd, prop == OCI_PROPAGATION_SHARED, err) : pivot_into (rootfs_fd, err);
  if (ret < 0)
    return ret;
  if (c->root && c->root->readonly)
    {
      cleanup_close int root = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (root < 0)
        return hull_make_error (err, errno, "open `/`");
      if (ns_set_mount_attr (root, MOUNT_ATTR_RDONLY, 0, false, "/", err) < 0)
        return hull_error_wrap (err, "root.readonly");
    }
  if (prop != OCI_PROPAGATION_UNSET && mount (NULL, "/", NULL, MS_REC | propagation_flag (prop), NULL) < 0)
    return hull_make_error (err, errno, "linux.rootfsPropagation: set the propagation of `/`");
  if (chdir ("/") < 0)
    return hull_make_error (err, errno, "chdir `/`");
  return 0;
}
