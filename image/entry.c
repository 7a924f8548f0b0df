/* One tar entry at a time, created relative to the layer's directory fd.
 * Parents are opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS),
 * the entry itself with the *at calls on its last component, so nothing in
 * the tar (names, earlier symlinks, hardlink targets, whiteouts) can reach
 * outside the layer.  See docs/images.md, "Unpacking a layer safely". */
#include "image-internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define MAX_XATTRS 64
#define MAX_XATTR_SIZE 65536
#define RESOLVE_LAYER (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)
#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_MARKER ".wh..wh..opq"

char *
img_quote (const char *s)
{
  size_t n = strnlen (s, 200);
  char *q = xmalloc (n + 4);
  for (size_t i = 0; i < n; i++)
    q[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
  strcpy (q + n, s[n] ? "..." : "");
  return q;
}

int
img_normalize_name (const char *in, char **out, const char **why)
{
  size_t len = strlen (in);
  if (len >= PATH_MAX)
    return *why = "the name is longer than PATH_MAX", -1;
  if (in[0] == '/')
    return *why = "an absolute name", -1;
  char *o = xmalloc (len + 1);
  size_t n = 0;
  for (const char *p = in; *p;)
    {
      while (*p == '/')
        p++;
      if (*p == '\0')
        break;
      const char *e = strchrnul (p, '/');
      size_t cl = e - p;
      if (!(cl == 1 && p[0] == '.'))
        {
          if (cl == 2 && p[0] == '.' && p[1] == '.')
            {
              free (o);
              return *why = "a `..` component would leave the layer", -1;
            }
          if (n)
            o[n++] = '/';
          memcpy (o + n, p, cl);
          n += cl;
        }
      p = e;
    }
  o[n] = '\0';
  *out = o;
  return 0;
}

static int fail (struct img_unpacker *u, hull_error_t *err, int status, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));
static int
fail (struct img_unpacker *u, hull_error_t *err, int status, const char *fmt, ...)
{
  cleanup_free char *msg = NULL;
  va_list ap;
  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) < 0)
    abort ();
  va_end (ap);
  return hull_make_error (err, status, "%s: entry `%s`: %s", u->o->what ? u->o->what : "layer",
                          u->entry ? u->entry : "", msg);
}

void
img_unpacker_init (struct img_unpacker *u, int root_fd, const struct img_unpack_opts *o,
                   struct img_unpack_result *res)
{
  memset (u, 0, sizeof (*u));
  u->root_fd = root_fd;
  u->o = o;
  u->res = res;
  u->cached_fd = -1;
}

static void
drop_cache (struct img_unpacker *u)
{
  if (u->cached_fd >= 0)
    close (u->cached_fd);
  u->cached_fd = -1;
  free (u->cached_parent);
  u->cached_parent = NULL;
}

void
img_unpacker_release (struct img_unpacker *u)
{
  drop_cache (u);
  for (size_t i = 0; i < u->n_dirs; i++)
    free (u->dirs[i].path);
  free (u->dirs);
  free (u->entry);
  u->dirs = NULL;
  u->entry = NULL;
  u->n_dirs = 0;
}

static int
parent_error (struct img_unpacker *u, const char *parent, int e, hull_error_t *err)
{
  if (e == ELOOP)
    return fail (u, err, 0,
                 "refused: a component of `%s` is a symlink (entries are never written through one)", parent);
  if (e == EXDEV)
    return fail (u, err, 0, "refused: `%s` would leave the layer", parent);
  if (e == ENOTDIR)
    return fail (u, err, 0, "refused: a component of `%s` is not a directory", parent);
  return fail (u, err, e, "open parent directory `%s`", parent);
}

/* Remembers a directory the tar implied (the first len bytes of path). */
static void
add_implicit (struct img_unpacker *u, const char *path, size_t len)
{
  struct img_unpack_result *r = u->res;
  r->implicit = xreallocarray (r->implicit, r->n_implicit + 1, sizeof (char *));
  r->implicit[r->n_implicit++] = xstrndup (path, len);
}

static void
drop_implicit (struct img_unpacker *u, const char *full)
{
  struct img_unpack_result *r = u->res;
  for (size_t i = 0; i < r->n_implicit; i++)
    if (strcmp (r->implicit[i], full) == 0)
      {
        free (r->implicit[i]);
        r->implicit[i] = r->implicit[--r->n_implicit];
        return;
      }
}

/* Opens (making missing components 0755) the directory `parent` beneath
 * the layer, one component at a time, never through a symlink. */
static int
make_parents (struct img_unpacker *u, const char *parent, hull_error_t *err)
{
  cleanup_free char *copy = xstrdup (parent);
  int dfd = -1;
  char *save = NULL;
  for (char *c = strtok_r (copy, "/", &save); c; c = strtok_r (NULL, "/", &save))
    {
      int base = dfd < 0 ? u->root_fd : dfd;
      int nfd = hull_openat2 (base, c, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_LAYER);
      if (nfd < 0 && errno == ENOENT)
        {
          int mr = mkdirat (base, c, 0755);
          if (mr == 0)
            add_implicit (u, parent, (size_t)(c - copy) + strlen (c));
          if (mr < 0 && errno != EEXIST)
            {
              int saved_errno = errno;
              if (dfd >= 0)
                close (dfd);
              return fail (u, err, saved_errno, "create parent directory `%s`", parent);
            }
          nfd = hull_openat2 (base, c, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_LAYER);
          if (mr == 0 && nfd >= 0)
            fchmod (nfd, 0755); /* whatever the umask */
        }
      int saved_errno = errno;
      if (dfd >= 0)
        close (dfd);
      if (nfd < 0)
        return parent_error (u, parent, saved_errno, err);
      dfd = nfd;
    }
  return dfd;
}

/* The parent's fd, owned by the cache (do not close). */
static int
open_parent (struct img_unpacker *u, const char *parent, bool create, hull_error_t *err)
{
  if (*parent == '\0')
    return u->root_fd;
  if (u->cached_parent && strcmp (u->cached_parent, parent) == 0)
    return u->cached_fd;
  int fd = hull_openat2 (u->root_fd, parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_LAYER);
  if (fd < 0 && errno == ENOENT && create)
    fd = make_parents (u, parent, err);
  else if (fd < 0)
    return parent_error (u, parent, errno, err);
  if (fd < 0)
    return -1;
  drop_cache (u);
  u->cached_parent = xstrdup (parent);
  u->cached_fd = fd;
  return fd;
}

/* Splits "a/b/c" into "a/b" and "c" in place; "c" gives "" and "c". */
static const char *
split_name (char *name, const char **base)
{
  char *slash = strrchr (name, '/');
  if (slash == NULL)
    {
      *base = name;
      return "";
    }
  *slash = '\0';
  *base = slash + 1;
  return name;
}

/* Removes what an earlier entry left at pfd/base (tar: a later entry
 * replaces it).  A directory is kept when the new entry is one too. */
static int
clear_existing (struct img_unpacker *u, int pfd, const char *full, const char *base, bool keep_dir,
                bool *kept, hull_error_t *err)
{
  struct stat st;
  if (fstatat (pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : fail (u, err, errno, "stat");
  if (S_ISDIR (st.st_mode))
    {
      if (keep_dir)
        {
          *kept = true;
          return 0;
        }
      size_t fl = strlen (full);
      if (u->cached_parent && strncmp (u->cached_parent, full, fl) == 0
          && (u->cached_parent[fl] == '\0' || u->cached_parent[fl] == '/'))
        drop_cache (u);
      if (hull_rm_rf_at (pfd, base, err) < 0)
        return hull_error_wrap (err, "%s: entry `%s`: replace", u->o->what, u->entry);
      return 0;
    }
  if (unlinkat (pfd, base, 0) < 0 && errno != ENOENT)
    return fail (u, err, errno, "replace");
  return 0;
}

static int
set_xattrs (struct img_unpacker *u, int fd, int pfd, const char *base, struct archive_entry *e,
            hull_error_t *err)
{
  int count = archive_entry_xattr_reset (e);
  if (count == 0)
    return 0;
  if (count > MAX_XATTRS)
    return fail (u, err, 0, "refused: %d xattrs (at most %d)", count, MAX_XATTRS);
  const char *k;
  const void *v;
  size_t sz;
  while (archive_entry_xattr_next (e, &k, &v, &sz) == ARCHIVE_OK)
    {
      if (k == NULL || *k == '\0')
        return fail (u, err, 0, "refused: an xattr without a name");
      if (sz > MAX_XATTR_SIZE)
        return fail (u, err, 0, "refused: xattr `%.100s` of %zu bytes (at most %d)", k, sz, MAX_XATTR_SIZE);
      if (hull_str_has_prefix (k, "trusted.overlay."))
        return fail (u, err, 0, "refused: xattr `%.100s` would forge overlayfs's own metadata", k);
      int r;
      if (fd >= 0)
        r = fsetxattr (fd, k, v, sz, 0);
      else
        {
          char buf[HULL_PROC_FD_PATH_MAX];
          cleanup_free char *path = hull_fmt ("%s/%s", hull_proc_fd_path (pfd, buf), base);
          r = lsetxattr (path, k, v, sz, 0);
        }
      if (r < 0 && errno != ENOTSUP && errno != EOPNOTSUPP)
        return fail (u, err, errno, "set xattr `%.100s`", k);
    }
  return 0;
}

static void
entry_times (struct archive_entry *e, struct timespec ts[2])
{
  ts[1].tv_sec = archive_entry_mtime (e);
  ts[1].tv_nsec = archive_entry_mtime_nsec (e);
  if (archive_entry_atime_is_set (e))
    {
      ts[0].tv_sec = archive_entry_atime (e);
      ts[0].tv_nsec = archive_entry_atime_nsec (e);
    }
  else
    ts[0] = ts[1];
  for (int i = 0; i < 2; i++)
    if (ts[i].tv_nsec < 0 || ts[i].tv_nsec > 999999999)
      ts[i].tv_nsec = 0;
}

static int
entry_owner (struct img_unpacker *u, struct archive_entry *e, uid_t *uid, gid_t *gid, hull_error_t *err)
{
  la_int64_t a = archive_entry_uid (e), b = archive_entry_gid (e);
  if (a < 0 || a >= UINT32_MAX || b < 0 || b >= UINT32_MAX)
    return fail (u, err, 0, "refused: owner %lld:%lld is out of range", (long long)a, (long long)b);
  *uid = (uid_t)a;
  *gid = (gid_t)b;
  return 0;
}

/* Owner, then mode (chown clears setuid), then xattrs on an open fd. */
static int
set_meta_fd (struct img_unpacker *u, int fd, struct archive_entry *e, hull_error_t *err)
{
  uid_t uid;
  gid_t gid;
  if (entry_owner (u, e, &uid, &gid, err) < 0)
    return -1;
  if (fchown (fd, uid, gid) < 0)
    return fail (u, err, errno, "chown %u:%u", uid, gid);
  if (fchmod (fd, archive_entry_perm (e) & 07777) < 0)
    return fail (u, err, errno, "chmod");
  return set_xattrs (u, fd, -1, NULL, e, err);
}

/* For what cannot be opened (symlinks, devices, fifos): by name on the
 * parent fd, never following. */
static int
set_meta_at (struct img_unpacker *u, int pfd, const char *base, struct archive_entry *e, bool is_link,
             hull_error_t *err)
{
  uid_t uid;
  gid_t gid;
  if (entry_owner (u, e, &uid, &gid, err) < 0)
    return -1;
  if (fchownat (pfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
    return fail (u, err, errno, "chown %u:%u", uid, gid);
  /* The node was made by us a moment ago in a directory only we write. */
  if (!is_link && fchmodat (pfd, base, archive_entry_perm (e) & 07777, 0) < 0)
    return fail (u, err, errno, "chmod");
  if (set_xattrs (u, -1, pfd, base, e, err) < 0)
    return -1;
  struct timespec ts[2];
  entry_times (e, ts);
  if (utimensat (pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
    return fail (u, err, errno, "set times");
  return 0;
}

static int
write_data (struct img_unpacker *u, int fd, struct archive *a, struct archive_entry *e, hull_error_t *err)
{
  const void *buf;
  size_t size;
  la_int64_t off, end = 0;
  int r;
  while ((r = archive_read_data_block (a, &buf, &size, &off)) == ARCHIVE_OK)
    {
      const char *p = buf;
      while (size > 0)
        {
          ssize_t w = pwrite (fd, p, size, off);
          if (w < 0 && errno == EINTR)
            continue;
          if (w < 0)
            return fail (u, err, errno, "write");
          p += w;
          off += w;
          size -= w;
        }
      if (off > end)
        end = off;
    }
  if (r != ARCHIVE_EOF)
    return fail (u, err, archive_errno (a) > 0 ? archive_errno (a) : 0, "read data: %s",
                 archive_error_string (a) ? archive_error_string (a) : "corrupt archive");
  /* A sparse file's trailing hole. */
  if (archive_entry_size_is_set (e) && archive_entry_size (e) > end
      && ftruncate (fd, archive_entry_size (e)) < 0)
    return fail (u, err, errno, "truncate");
  return 0;
}

static int
make_file (struct img_unpacker *u, int pfd, const char *full, const char *base, struct archive *a,
           struct archive_entry *e, hull_error_t *err)
{
  la_int64_t size = archive_entry_size (e);
  if (size < 0)
    return fail (u, err, 0, "refused: negative size");
  if ((uint64_t)size > u->o->limits.max_bytes - u->res->bytes)
    return fail (u, err, EFBIG, "refused: the layer's files would exceed %llu bytes (tar bomb?)",
                 (unsigned long long)u->o->limits.max_bytes);
  u->res->bytes += size;
  cleanup_close int fd = openat (pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST)
    {
      bool kept = false;
      if (clear_existing (u, pfd, full, base, false, &kept, err) < 0)
        return -1;
      fd = openat (pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
  if (fd < 0)
    return fail (u, err, errno, "create");
  if (write_data (u, fd, a, e, err) < 0 || set_meta_fd (u, fd, e, err) < 0)
    return -1;
  /* Start the writeback now, so the import's one syncfs has little left to
   * wait for (I/O overlaps the unpacking, as dpkg does). */
  if (size > 0)
    sync_file_range (fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  struct timespec ts[2];
  entry_times (e, ts);
  if (futimens (fd, ts) < 0)
    return fail (u, err, errno, "set times");
  return 0;
}

static int
defer_dir_times (struct img_unpacker *u, const char *full, struct archive_entry *e)
{
  if (u->n_dirs == u->cap_dirs)
    {
      u->cap_dirs = u->cap_dirs ? u->cap_dirs * 2 : 256;
      u->dirs = xreallocarray (u->dirs, u->cap_dirs, sizeof (*u->dirs));
    }
  u->dirs[u->n_dirs].path = xstrdup (full);
  entry_times (e, u->dirs[u->n_dirs].ts);
  u->n_dirs++;
  return 0;
}

static int
make_dir (struct img_unpacker *u, int pfd, const char *full, const char *base, struct archive_entry *e,
          hull_error_t *err)
{
  cleanup_close int fd = -1;
  if (u->res->n_implicit)
    drop_implicit (u, full);
  if (*full == '\0')
    {
      fd = dup (u->root_fd); /* "./": the layer's root itself */
      u->root_seen = true;
    }
  else
    {
      int r = mkdirat (pfd, base, 0700);
      if (r < 0 && errno == EEXIST)
        {
          bool kept = false;
          if (clear_existing (u, pfd, full, base, true, &kept, err) < 0)
            return -1;
          if (!kept && mkdirat (pfd, base, 0700) < 0)
            return fail (u, err, errno, "mkdir");
        }
      else if (r < 0)
        return fail (u, err, errno, "mkdir");
      fd = openat (pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
  if (fd < 0)
    return fail (u, err, errno, "open the directory");
  if (set_meta_fd (u, fd, e, err) < 0)
    return -1;
  return defer_dir_times (u, full, e);
}

static int
make_symlink (struct img_unpacker *u, int pfd, const char *full, const char *base, struct archive_entry *e,
              hull_error_t *err)
{
  const char *target = archive_entry_symlink (e);
  if (target == NULL)
    target = archive_entry_symlink_utf8 (e);
  if (target == NULL || *target == '\0')
    return fail (u, err, 0, "refused: a symlink without a target");
  if (strlen (target) >= PATH_MAX)
    return fail (u, err, 0, "refused: a symlink target longer than PATH_MAX");
  int r = symlinkat (target, pfd, base);
  if (r < 0 && errno == EEXIST)
    {
      bool kept = false;
      if (clear_existing (u, pfd, full, base, false, &kept, err) < 0)
        return -1;
      if (symlinkat (target, pfd, base) < 0)
        return fail (u, err, errno, "symlink");
    }
  else if (r < 0)
    return fail (u, err, errno, "symlink");
  return set_meta_at (u, pfd, base, e, true, err);
}

static int
make_node (struct img_unpacker *u, int pfd, const char *full, const char *base, struct archive_entry *e,
           mode_t type, hull_error_t *err)
{
  dev_t dev = type == S_IFIFO ? 0 : makedev (archive_entry_rdevmajor (e), archive_entry_rdevminor (e));
  int r = mknodat (pfd, base, type | 0600, dev);
  if (r < 0 && errno == EEXIST)
    {
      bool kept = false;
      if (clear_existing (u, pfd, full, base, false, &kept, err) < 0)
        return -1;
      if (mknodat (pfd, base, type | 0600, dev) < 0)
        return fail (u, err, errno, "mknod");
    }
  else if (r < 0)
    return fail (u, err, errno, "mknod");
  return set_meta_at (u, pfd, base, e, false, err);
}

static void
add_fixup (struct img_unpacker *u, const char *name, const char *target)
{
  struct img_unpack_result *r = u->res;
  r->fixups = xreallocarray (r->fixups, r->n_fixups + 1, sizeof (*r->fixups));
  r->fixups[r->n_fixups].name = xstrdup (name);
  r->fixups[r->n_fixups].target = xstrdup (target);
  r->n_fixups++;
}

static bool
is_whiteout_node (const struct stat *st)
{
  return S_ISCHR (st->st_mode) && st->st_rdev == makedev (0, 0);
}

static int
make_hardlink (struct img_unpacker *u, int pfd, const char *full, const char *base, const char *link,
               hull_error_t *err)
{
  cleanup_free char *target = NULL;
  const char *why = NULL;
  if (img_normalize_name (link, &target, &why) < 0)
    return fail (u, err, 0, "refused: hardlink target: %s", why);
  if (*target == '\0')
    return fail (u, err, 0, "refused: a hardlink to the layer's root");
  if (strcmp (target, full) == 0)
    return 0;
  cleanup_free char *tcopy = xstrdup (target);
  const char *tbase;
  const char *tparent = split_name (tcopy, &tbase);
  int tpfd = *tparent ? hull_openat2 (u->root_fd, tparent, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_LAYER)
                      : dup (u->root_fd);
  if (tpfd < 0 && errno != ENOENT)
    return parent_error (u, tparent, errno, err);
  cleanup_close int tpfd_c = tpfd;
  struct stat st;
  if (tpfd < 0 || fstatat (tpfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      /* Not in this layer: the image spec lets it name a lower layer's file. */
      add_fixup (u, full, target);
      return 0;
    }
  if (S_ISDIR (st.st_mode))
    return fail (u, err, 0, "refused: a hardlink to the directory `%s`", target);
  if (is_whiteout_node (&st))
    return fail (u, err, 0, "refused: a hardlink to the whiteout `%s`", target);
  int r = linkat (tpfd, tbase, pfd, base, 0);
  if (r < 0 && errno == EEXIST)
    {
      struct stat cur;
      if (fstatat (pfd, base, &cur, AT_SYMLINK_NOFOLLOW) == 0 && cur.st_ino == st.st_ino
          && cur.st_dev == st.st_dev)
        return 0;
      bool kept = false;
      if (clear_existing (u, pfd, full, base, false, &kept, err) < 0)
        return -1;
      if (linkat (tpfd, tbase, pfd, base, 0) < 0)
        return fail (u, err, errno, "link to `%s`", target);
    }
  else if (r < 0)
    return fail (u, err, errno, "link to `%s`", target);
  return 0;
}

/* .wh.NAME -> a 0:0 character device NAME; .wh..wh..opq -> the opaque
 * xattr on the directory.  Both only on pfd, which is inside the layer. */
static int
make_whiteout (struct img_unpacker *u, int pfd, const char *base, hull_error_t *err)
{
  if (strcmp (base, OPAQUE_MARKER) == 0)
    {
      if (fsetxattr (pfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
        return fail (u, err, errno, "mark the directory opaque");
      return 0;
    }
  if (hull_str_has_prefix (base, ".wh..wh."))
    return 0; /* aufs internals (.wh..wh.plnk ...): meaningless here */
  const char *name = base + strlen (WHITEOUT_PREFIX);
  if (*name == '\0' || strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
    return fail (u, err, 0, "refused: a whiteout of `%s`", *name ? name : "(nothing)");
  struct stat st;
  if (fstatat (pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
    return 0; /* this layer's own entry stays: whiteouts hide lower layers only */
  if (mknodat (pfd, name, S_IFCHR, makedev (0, 0)) < 0)
    return fail (u, err, errno, "create the whiteout `%s`", name);
  return 0;
}

int
img_entry_apply (struct img_unpacker *u, struct archive *a, struct archive_entry *e, hull_error_t *err)
{
  const char *raw = archive_entry_pathname (e);
  if (raw == NULL)
    raw = archive_entry_pathname_utf8 (e);
  free (u->entry);
  u->entry = img_quote (raw ? raw : "");
  if (raw == NULL)
    return fail (u, err, 0, "refused: an entry without a usable name");
  cleanup_free char *full = NULL;
  const char *why = NULL;
  if (img_normalize_name (raw, &full, &why) < 0)
    return fail (u, err, 0, "refused: %s", why);
  cleanup_free char *copy = xstrdup (full);
  const char *base;
  const char *parent = split_name (copy, &base);
  mode_t type = archive_entry_filetype (e);
  const char *link = archive_entry_hardlink (e);
  bool whiteout = hull_str_has_prefix (base, WHITEOUT_PREFIX);
  if (*full == '\0' && (link || type != AE_IFDIR))
    return fail (u, err, 0, "refused: the layer's root must be a directory");
  if (type == AE_IFSOCK)
    return 0; /* sockets are not archived content (docker skips them too) */
  int pfd = open_parent (u, parent, true, err);
  if (pfd < 0)
    return -1;
  if (whiteout)
    return make_whiteout (u, pfd, base, err);
  if (link)
    return make_hardlink (u, pfd, full, base, link, err);
  switch (type)
    {
    case AE_IFREG:
      return make_file (u, pfd, full, base, a, e, err);
    case AE_IFDIR:
      return make_dir (u, pfd, full, base, e, err);
    case AE_IFLNK:
      return make_symlink (u, pfd, full, base, e, err);
    case AE_IFCHR:
      return make_node (u, pfd, full, base, e, S_IFCHR, err);
    case AE_IFBLK:
      return make_node (u, pfd, full, base, e, S_IFBLK, err);
    case AE_IFIFO:
      return make_node (u, pfd, full, base, e, S_IFIFO, err);
    default:
      return fail (u, err, 0, "refused: unknown entry type 0%o", (unsigned)type);
    }
}

int
img_unpacker_finish (struct img_unpacker *u, hull_error_t *err)
{
  drop_cache (u);
  if (!u->root_seen)
    {
      /* Not described: deterministic (the epoch, as umoci leaves it) unless
       * a lower layer has it (fixup). */
      struct timespec epoch[2] = { { 0, 0 }, { 0, 0 } };
      add_implicit (u, "", 0);
      if (futimens (u->root_fd, epoch) < 0)
        return hull_make_error (err, errno, "%s: set the root's times", u->o->what);
    }
  for (size_t i = 0; i < u->n_dirs; i++)
    {
      const char *p = u->dirs[i].path;
      int fd = *p ? hull_openat2 (u->root_fd, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_LAYER)
                  : dup (u->root_fd);
      if (fd < 0)
        continue; /* replaced by a later entry */
      int r = futimens (fd, u->dirs[i].ts);
      int saved_errno = errno;
      close (fd);
      if (r < 0)
        return hull_make_error (err, saved_errno, "%s: set the times of `%s`", u->o->what, p);
    }
  return 0;
}
