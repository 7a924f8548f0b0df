/* The layer stream: blob bytes -> sha256 (digest) -> libarchive's raw
 * format with the gzip/zstd filters (decompression) -> sha256 (diff-id) ->
 * libarchive's tar reader -> image/entry.c.  Two archive objects chained by
 * read callbacks, so both digests cover every byte, including what follows
 * the tar's end marker.  archive_write_disk is not used: it resolves paths
 * by name. */
#include "image-internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#define STREAM_BUF (256 * 1024)
#define DEFAULT_MAX_ENTRIES 1000000ull
#define DEFAULT_MAX_BYTES (64ull << 30)

static uint64_t
env_limit (const char *name, uint64_t def)
{
  uint64_t v;
  const char *s = getenv (name);
  if (s && hull_parse_u64 (s, &v) == 0 && v < def)
    return v;
  return def;
}

void
img_limits_default (struct img_limits *l)
{
  l->max_entries = env_limit ("HULL_IMAGE_MAX_ENTRIES", DEFAULT_MAX_ENTRIES);
  l->max_bytes = env_limit ("HULL_IMAGE_MAX_BYTES", DEFAULT_MAX_BYTES);
}

void
img_unpack_result_release (struct img_unpack_result *r)
{
  for (size_t i = 0; i < r->n_fixups; i++)
    {
      free (r->fixups[i].name);
      free (r->fixups[i].target);
    }
  free (r->fixups);
  r->fixups = NULL;
  r->n_fixups = 0;
  for (size_t i = 0; i < r->n_implicit; i++)
    free (r->implicit[i]);
  free (r->implicit);
  r->implicit = NULL;
  r->n_implicit = 0;
}

struct stream
{
  img_read_fn read_fn;
  void *data;
  const struct img_unpack_opts *o;
  struct archive *outer;
  struct img_sha256 blob_h, tar_h;
  uint64_t blob_size, tar_size;
  char *rbuf;
};

static la_ssize_t
outer_read (struct archive *a, void *cd, const void **buf)
{
  struct stream *s = cd;
  if (s->o->cancel && __atomic_load_n (s->o->cancel, __ATOMIC_RELAXED))
    {
      archive_set_error (a, ECANCELED, "cancelled");
      return -1;
    }
  ssize_t n;
  do
    n = s->read_fn (s->data, s->rbuf, STREAM_BUF);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      archive_set_error (a, errno, "read the blob: %s", strerror (errno));
      return -1;
    }
  img_sha256_update (&s->blob_h, s->rbuf, n);
  s->blob_size += n;
  if (s->o->progress)
    __atomic_add_fetch (s->o->progress, (uint64_t)n, __ATOMIC_RELAXED);
  *buf = s->rbuf;
  return n;
}

/* The decompressed bytes, straight from the filter's buffer. */
static la_ssize_t
inner_read (struct archive *a, void *cd, const void **buf)
{
  struct stream *s = cd;
  size_t size = 0;
  la_int64_t off;
  int r = archive_read_data_block (s->outer, buf, &size, &off);
  if (r == ARCHIVE_EOF)
    return 0;
  if (r < ARCHIVE_OK)
    {
      int e = archive_errno (s->outer);
      archive_set_error (a, e > 0 ? e : EIO, "%s",
                         archive_error_string (s->outer) ? archive_error_string (s->outer) : "corrupt data");
      return -1;
    }
  img_sha256_update (&s->tar_h, *buf, size);
  s->tar_size += size;
  return (la_ssize_t)size;
}

static int
archive_fail (const struct img_unpack_opts *o, struct archive *a, const char *doing, hull_error_t *err)
{
  const char *msg = archive_error_string (a);
  int e = archive_errno (a);
  if (e == ECANCELED)
    return hull_make_error (err, ECANCELED, "%s: cancelled", o->what);
  return hull_make_error (err, 0, "%s: %s: %s", o->what, doing, msg ? msg : "corrupt or truncated archive");
}

static int
open_outer (struct stream *s, hull_error_t *err)
{
  struct archive_entry *e;
  s->outer = archive_read_new ();
  if (s->outer == NULL)
    abort ();
  archive_read_support_filter_gzip (s->outer);
  archive_read_support_filter_zstd (s->outer);
  archive_read_support_format_raw (s->outer);
  if (archive_read_open (s->outer, s, NULL, outer_read, NULL) != ARCHIVE_OK)
    return archive_fail (s->o, s->outer, "open (gzip, zstd or plain tar expected)", err);
  int r = archive_read_next_header (s->outer, &e);
  if (r == ARCHIVE_EOF)
    return hull_make_error (err, 0, "%s: the blob is empty", s->o->what);
  if (r < ARCHIVE_WARN)
    return archive_fail (s->o, s->outer, "decompress", err);
  return 0;
}

static int
unpack_entries (struct stream *s, struct archive *in, struct img_unpacker *u, hull_error_t *err)
{
  struct archive_entry *e;
  for (;;)
    {
      int r = archive_read_next_header (in, &e);
      if (r == ARCHIVE_EOF)
        return 0;
      if (r < ARCHIVE_WARN)
        return archive_fail (s->o, in, "read the tar", err);
      if (++u->res->entries > s->o->limits.max_entries)
        return hull_make_error (err, 0, "%s: refused: more than %llu entries (tar bomb?)", s->o->what,
                                (unsigned long long)s->o->limits.max_entries);
      if (img_entry_apply (u, in, e, err) < 0)
        return -1;
    }
}

/* Hashes whatever follows the tar's end marker, then the blob's tail. */
static int
drain (struct stream *s, struct archive *in, hull_error_t *err)
{
  const void *buf;
  la_ssize_t n;
  while ((n = inner_read (in, s, &buf)) > 0)
    ;
  if (n < 0)
    return archive_fail (s->o, in, "decompress", err);
  ssize_t r;
  while ((r = s->read_fn (s->data, s->rbuf, STREAM_BUF)) > 0)
    {
      img_sha256_update (&s->blob_h, s->rbuf, r);
      s->blob_size += r;
    }
  if (r < 0)
    return hull_make_error (err, errno, "%s: read the blob", s->o->what);
  return 0;
}

int
img_unpack_layer (int dirfd, img_read_fn read_fn, void *data, const struct img_unpack_opts *o,
                  struct img_unpack_result *res, hull_error_t *err)
{
  struct stream s = { .read_fn = read_fn, .data = data, .o = o };
  struct img_unpacker u;
  struct archive *in = NULL;
  int ret = -1;
  memset (res, 0, sizeof (*res));
  s.rbuf = xmalloc (STREAM_BUF);
  img_sha256_init (&s.blob_h);
  img_sha256_init (&s.tar_h);
  img_unpacker_init (&u, dirfd, o, res);
  if (open_outer (&s, err) < 0)
    goto out;
  in = archive_read_new ();
  if (in == NULL)
    abort ();
  archive_read_support_format_tar (in);
  if (archive_read_open (in, &s, NULL, inner_read, NULL) != ARCHIVE_OK)
    {
      archive_fail (o, in, "read the tar", err);
      goto out;
    }
  if (unpack_entries (&s, in, &u, err) < 0 || img_unpacker_finish (&u, err) < 0 || drain (&s, in, err) < 0)
    goto out;
  img_sha256_final (&s.blob_h, res->digest);
  img_sha256_final (&s.tar_h, res->diff_id);
  res->blob_size = s.blob_size;
  res->tar_size = s.tar_size;
  ret = 0;
out:
  if (ret < 0)
    img_unpack_result_release (res);
  img_unpacker_release (&u);
  if (in)
    archive_read_free (in);
  if (s.outer)
    archive_read_free (s.outer);
  free (s.rbuf);
  return ret;
}

/* ---- hardlinks into lower layers ------------------------------------------
 * Linked to the lower layer's file when possible, else copied. */

static int
copy_xattrs (int from, int to, hull_error_t *err)
{
  char names[65536];
  ssize_t n = flistxattr (from, names, sizeof (names));
  if (n < 0)
    return errno == ENOTSUP ? 0 : hull_make_error (err, errno, "list xattrs");
  cleanup_free char *val = xmalloc (65536);
  for (char *k = names; k < names + n; k += strlen (k) + 1)
    {
      if (hull_str_has_prefix (k, "trusted.overlay."))
        continue;
      ssize_t vl = fgetxattr (from, k, val, 65536);
      if (vl >= 0 && fsetxattr (to, k, val, vl, 0) < 0 && errno != ENOTSUP)
        return hull_make_error (err, errno, "copy xattr `%s`", k);
    }
  return 0;
}

static int
copy_from_lower (int dirfd, const struct img_hardlink_fixup *f, const int *lower, size_t n, hull_error_t *err)
{
  cleanup_free char *abs = hull_fmt ("/%s", f->target);
  cleanup_close int src = img_union_open (lower, n, abs, err);
  if (src < 0)
    return hull_error_wrap (err, "hardlink `%s` -> `%s`: not in this layer nor below", f->name, f->target);
  struct stat st;
  if (fstat (src, &st) < 0 || !S_ISREG (st.st_mode))
    return hull_make_error (err, 0, "hardlink `%s` -> `%s`: the target below is not a regular file", f->name,
                            f->target);
  cleanup_free char *copy = xstrdup (f->name);
  char *slash = strrchr (copy, '/');
  const char *base = slash ? slash + 1 : copy;
  if (slash)
    *slash = '\0';
  cleanup_close int pfd = slash ? hull_openat2 (dirfd, copy, O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                                                RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
                                : dup (dirfd);
  if (pfd < 0)
    return hull_make_error (err, errno, "hardlink `%s`: open its directory", f->name);
  if (faccessat (pfd, base, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return 0; /* a later entry of the layer took the name */
  /* A real hardlink to the lower layer's inode (same file system, as root):
   * the merged view then matches a flattened unpack, link count included.
   * Layers are never written, so sharing the inode is safe. */
  if (linkat (src, "", pfd, base, AT_EMPTY_PATH) == 0)
    return 0;
  cleanup_close int dst = openat (pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (dst < 0)
    return hull_make_error (err, errno, "hardlink `%s`: create the copy", f->name);
  for (off_t left = st.st_size; left > 0;)
    {
      ssize_t c = copy_file_range (src, NULL, dst, NULL, left, 0);
      if (c <= 0)
        return hull_make_error (err, c < 0 ? errno : EIO, "hardlink `%s`: copy `%s`", f->name, f->target);
      left -= c;
    }
  struct timespec ts[2] = { st.st_atim, st.st_mtim };
  if (fchown (dst, st.st_uid, st.st_gid) < 0 || fchmod (dst, st.st_mode & 07777) < 0
      || copy_xattrs (src, dst, err) < 0 || futimens (dst, ts) < 0)
    return (err && *err) ? -1 : hull_make_error (err, errno, "hardlink `%s`: metadata", f->name);
  return 0;
}

/* An implicit directory takes what the same directory has below. */
static int
implicit_from_lower (int dirfd, const char *path, const int *lower, size_t n, hull_error_t *err)
{
  cleanup_free char *abs = hull_fmt ("/%s", path);
  cleanup_close int src = img_union_open_any (lower, n, abs, err);
  struct stat st;
  if (src < 0 || fstat (src, &st) < 0 || !S_ISDIR (st.st_mode))
    {
      hull_error_release (err);
      return 0; /* nothing below: it keeps 0755 root */
    }
  cleanup_close int dst = *path ? hull_openat2 (dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0,
                                                RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
                                : dup (dirfd);
  if (dst < 0)
    return 0; /* replaced by a later entry */
  struct timespec ts[2] = { st.st_atim, st.st_mtim };
  if (fchown (dst, st.st_uid, st.st_gid) < 0 || fchmod (dst, st.st_mode & 07777) < 0
      || futimens (dst, ts) < 0)
    return hull_make_error (err, errno, "directory `%s`: take the lower layers' metadata", path);
  return 0;
}

int
img_unpack_fixup (int dirfd, const struct img_unpack_result *res, const int *lower_fds, size_t n_lower,
                  hull_error_t *err)
{
  for (size_t i = 0; i < res->n_fixups; i++)
    if (copy_from_lower (dirfd, &res->fixups[i], lower_fds, n_lower, err) < 0)
      return -1;
  /* Deepest first, so a parent's mtime is set after its children's changes. */
  for (size_t i = res->n_implicit; i-- > 0;)
    if (implicit_from_lower (dirfd, res->implicit[i], lower_fds, n_lower, err) < 0)
      return -1;
  return 0;
}
