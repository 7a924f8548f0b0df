/* Import sources: an OCI layout directory, or a tar (an OCI layout or a
 * docker-archive) read with libarchive.  Members are found by their
 * normalised name; in a directory they are opened with openat2
 * (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), never by a joined host path.  A
 * tar is opened once; each blob reader has its own libarchive object
 * reading it with pread, so layers can be read by several threads, and
 * skips other members with a seek when the tar is not compressed. */
#include "image-internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <linux/openat2.h>
#include <sys/stat.h>

#define TAR_BUF (256 * 1024)

struct img_source
{
  char *path;
  int dirfd; /* layout directory, or -1 */
  int fd;    /* tar, or -1 */
  off_t size;
  char **names; /* the tar's regular files */
  uint64_t *sizes;
  size_t n_names;
};

struct img_blob
{
  int fd;            /* directory source */
  struct archive *a; /* tar source */
  int tar_fd;
  off_t off, size;
  char *buf;
};

static la_ssize_t
tar_read (struct archive *a, void *cd, const void **buf)
{
  struct img_blob *b = cd;
  ssize_t n;
  do
    n = pread (b->tar_fd, b->buf, TAR_BUF, b->off);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      archive_set_error (a, errno, "read: %s", strerror (errno));
      return -1;
    }
  b->off += n;
  *buf = b->buf;
  return n;
}

static la_int64_t
tar_skip (struct archive *a, void *cd, la_int64_t request)
{
  (void)a;
  struct img_blob *b = cd;
  la_int64_t avail = b->size - b->off;
  la_int64_t n = request < avail ? request : avail;
  if (n < 0)
    n = 0;
  b->off += n;
  return n;
}

static struct img_blob *
tar_reader_new (struct img_source *s, hull_error_t *err)
{
  struct img_blob *b = xmalloc0 (sizeof (*b));
  b->fd = -1;
  b->tar_fd = s->fd;
  b->size = s->size;
  b->buf = xmalloc (TAR_BUF);
  b->a = archive_read_new ();
  if (b->a == NULL)
    abort ();
  archive_read_support_format_tar (b->a);
  archive_read_support_filter_gzip (b->a);
  archive_read_support_filter_zstd (b->a);
  archive_read_support_filter_xz (b->a);
  archive_read_support_filter_bzip2 (b->a);
  archive_read_set_callback_data (b->a, b);
  archive_read_set_read_callback (b->a, tar_read);
  archive_read_set_skip_callback (b->a, tar_skip);
  if (archive_read_open1 (b->a) != ARCHIVE_OK)
    {
      hull_make_error (err, 0, "`%s`: not a tar archive: %s", s->path,
                       archive_error_string (b->a) ? archive_error_string (b->a) : "unknown format");
      img_blob_close (b);
      return NULL;
    }
  return b;
}

void
img_blob_close (struct img_blob *b)
{
  if (b == NULL)
    return;
  if (b->fd >= 0)
    close (b->fd);
  if (b->a)
    archive_read_free (b->a);
  free (b->buf);
  free (b);
}

ssize_t
img_blob_read (void *blob, void *buf, size_t len)
{
  struct img_blob *b = blob;
  if (b->fd >= 0)
    return read (b->fd, buf, len);
  la_ssize_t n = archive_read_data (b->a, buf, len);
  if (n < 0)
    {
      errno = archive_errno (b->a) > 0 ? archive_errno (b->a) : EIO;
      return -1;
    }
  return n;
}

/* With want NULL, lists the regular members into s->names; otherwise stops
 * at the member named want (returns 1, *size_out set) or returns 0. */
static int
tar_scan (struct img_source *s, struct img_blob *b, const char *want, uint64_t *size_out, hull_error_t *err)
{
  struct archive_entry *e;
  size_t count = 0;
  for (;;)
    {
      int r = archive_read_next_header (b->a, &e);
      if (r == ARCHIVE_EOF)
        break;
      if (r < ARCHIVE_WARN)
        return hull_make_error (err, 0, "`%s`: corrupt tar: %s", s->path,
                                archive_error_string (b->a) ? archive_error_string (b->a)
                                                            : "unreadable header");
      if (++count > 1000000)
        return hull_make_error (err, 0, "`%s`: more than a million members", s->path);
      const char *raw = archive_entry_pathname (e);
      cleanup_free char *name = NULL;
      const char *why;
      if (raw == NULL || archive_entry_filetype (e) != AE_IFREG || archive_entry_hardlink (e)
          || img_normalize_name (raw, &name, &why) < 0)
        continue;
      if (want == NULL)
        {
          s->names = xreallocarray (s->names, s->n_names + 1, sizeof (char *));
          s->sizes = xreallocarray (s->sizes, s->n_names + 1, sizeof (uint64_t));
          s->sizes[s->n_names] = archive_entry_size (e) < 0 ? 0 : (uint64_t) archive_entry_size (e);
          s->names[s->n_names++] = steal_pointer (&name);
        }
      else if (strcmp (name, want) == 0)
        {
          *size_out = archive_entry_size (e) < 0 ? 0 : (uint64_t)archive_entry_size (e);
          return 1;
        }
    }
  return 0;
}

int
img_source_open (const char *path, struct img_source **out, hull_error_t *err)
{
  struct img_source *s = xmalloc0 (sizeof (*s));
  s->path = xstrdup (path);
  s->dirfd = s->fd = -1;
  struct stat st;
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat (fd, &st) < 0)
    {
      hull_make_error (err, errno, "image source `%s`", path);
      goto fail;
    }
  if (S_ISDIR (st.st_mode))
    s->dirfd = fd;
  else if (S_ISREG (st.st_mode))
    {
      s->fd = fd;
      s->size = st.st_size;
      struct img_blob *b = tar_reader_new (s, err);
      if (b == NULL)
        goto fail;
      int r = tar_scan (s, b, NULL, NULL, err);
      img_blob_close (b);
      if (r < 0)
        goto fail;
    }
  else
    {
      close (fd);
      hull_make_error (err, 0, "image source `%s`: not a directory or a file", path);
      goto fail;
    }
  *out = s;
  return 0;
fail:
  img_source_free (s);
  return -1;
}

void
img_source_free (struct img_source *s)
{
  if (s == NULL)
    return;
  if (s->dirfd >= 0)
    close (s->dirfd);
  if (s->fd >= 0)
    close (s->fd);
  for (size_t i = 0; i < s->n_names; i++)
    free (s->names[i]);
  free (s->names);
  free (s->sizes);
  free (s->path);
  free (s);
}

const char *
img_source_path (struct img_source *s)
{
  return s->path;
}

bool
img_source_has (struct img_source *s, const char *name)
{
  if (s->dirfd >= 0)
    {
      int fd = hull_openat2 (s->dirfd, name, O_PATH | O_CLOEXEC, 0,
                             RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
      if (fd < 0)
        return false;
      close (fd);
      return true;
    }
  for (size_t i = 0; i < s->n_names; i++)
    if (strcmp (s->names[i], name) == 0)
      return true;
  return false;
}

int64_t
img_source_size (struct img_source *s, const char *name)
{
  if (s->dirfd >= 0)
    {
      struct stat st;
      int fd = hull_openat2 (s->dirfd, name, O_PATH | O_CLOEXEC, 0,
                             RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
      int r = fd < 0 ? -1 : fstat (fd, &st);
      if (fd >= 0)
        close (fd);
      return r < 0 ? -1 : (int64_t) st.st_size;
    }
  cleanup_free char *norm = NULL;
  const char *why;
  if (img_normalize_name (name, &norm, &why) < 0)
    return -1;
  for (size_t i = 0; i < s->n_names; i++)
    if (strcmp (s->names[i], norm) == 0)
      return (int64_t) s->sizes[i];
  return -1;
}

int
img_source_open_blob (struct img_source *s, const char *name, struct img_blob **out, uint64_t *size_out,
                      hull_error_t *err)
{
  cleanup_free char *norm = NULL;
  const char *why;
  if (img_normalize_name (name, &norm, &why) < 0)
    return hull_make_error (err, 0, "`%s`: member `%.200s` refused: %s", s->path, name, why);
  if (*norm == '\0')
    return hull_make_error (err, 0, "`%s`: an empty member name", s->path);
  if (s->dirfd >= 0)
    {
      int fd = hull_openat2 (s->dirfd, norm, O_RDONLY | O_CLOEXEC, 0,
                             RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
      struct stat st;
      if (fd < 0 || fstat (fd, &st) < 0)
        {
          int saved_errno = errno;
          if (fd >= 0)
            close (fd);
          return hull_make_error (err, saved_errno, "`%s`: open `%s`", s->path, norm);
        }
      if (!S_ISREG (st.st_mode))
        {
          close (fd);
          return hull_make_error (err, 0, "`%s`: `%s` is not a regular file", s->path, norm);
        }
      struct img_blob *b = xmalloc0 (sizeof (*b));
      b->fd = fd;
      *size_out = st.st_size;
      *out = b;
      return 0;
    }
  struct img_blob *b = tar_reader_new (s, err);
  if (b == NULL)
    return -1;
  int r = tar_scan (s, b, norm, size_out, err);
  if (r <= 0)
    {
      img_blob_close (b);
      return r < 0 ? -1 : hull_make_error_code (err, ENOENT, "`%s`: no member `%s`", s->path, norm);
    }
  *out = b;
  return 0;
}

int
img_source_read (struct img_source *s, const char *name, size_t max, char **buf, size_t *len,
                 hull_error_t *err)
{
  struct img_blob *b = NULL;
  uint64_t size;
  if (img_source_open_blob (s, name, &b, &size, err) < 0)
    return -1;
  if (size > max)
    {
      img_blob_close (b);
      return hull_make_error (err, EFBIG, "`%s`: `%s` is larger than %zu bytes", s->path, name, max);
    }
  char *data = xmalloc (size + 1);
  size_t n = 0;
  while (n <= size)
    {
      ssize_t r = img_blob_read (b, data + n, size + 1 - n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          int saved_errno = errno;
          free (data);
          img_blob_close (b);
          return hull_make_error (err, saved_errno, "`%s`: read `%s`", s->path, name);
        }
      if (r == 0)
        break;
      n += r;
    }
  img_blob_close (b);
  if (n > size)
    {
      free (data);
      return hull_make_error (err, EFBIG, "`%s`: `%s` grew while being read", s->path, name);
    }
  data[n] = '\0';
  *buf = data;
  *len = n;
  return 0;
}

char *
img_blob_name (const char *digest)
{
  return hull_fmt ("blobs/sha256/%s", digest + 7);
}

int
img_source_read_verified (struct img_source *s, const char *digest, int64_t size, const char *what,
                          char **buf, size_t *len, hull_error_t *err)
{
  if (img_digest_check (digest, what, err) < 0)
    return -1;
  if (size > IMG_JSON_MAX)
    return hull_make_error (err, EFBIG, "%s %s: %lld bytes is too large for a JSON document", what, digest,
                            (long long)size);
  cleanup_free char *name = img_blob_name (digest);
  cleanup_free char *data = NULL;
  size_t n;
  if (img_source_read (s, name, IMG_JSON_MAX, &data, &n, err) < 0)
    return hull_error_wrap (err, "%s", what);
  char got[IMG_DIGEST_LEN];
  img_sha256_buf (data, n, got);
  if (strcmp (got, digest) != 0)
    return hull_make_error (err, 0, "%s: digest mismatch: expected %s, got %s", what, digest, got);
  if (size >= 0 && (uint64_t)size != n)
    return hull_make_error (err, 0, "%s %s: size mismatch: expected %lld bytes, got %zu", what, digest,
                            (long long)size, n);
  *buf = steal_pointer (&data);
  *len = n;
  return 0;
}
