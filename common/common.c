/* Error type, allocation, cleanup helpers and fd-relative file helpers. */
#include "common.h"

#include <dirent.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

static int
error_vset (hull_error_t *err, int status, const char *fmt, va_list ap)
{
  char *msg = NULL;
  if (vasprintf (&msg, fmt, ap) < 0)
    abort ();
  if (err == NULL)
    {
      free (msg);
      return -1;
    }
  if (*err != NULL)
    hull_error_release (err);
  *err = xmalloc0 (sizeof (**err));
  (*err)->status = status;
  if (status != 0)
    {
      char *full = hull_fmt ("%s: %s", msg, strerror (status));
      free (msg);
      msg = full;
    }
  (*err)->msg = msg;
  return -1;
}

int
hull_make_error (hull_error_t *err, int status, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  error_vset (err, status, fmt, ap);
  va_end (ap);
  return -1;
}

int
hull_make_error_code (hull_error_t *err, int status, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  error_vset (err, 0, fmt, ap);
  va_end (ap);
  if (err && *err)
    (*err)->status = status;
  return -1;
}

int
hull_error_wrap (hull_error_t *err, const char *fmt, ...)
{
  cleanup_free char *prefix = NULL;
  va_list ap;
  if (err == NULL || *err == NULL)
    return -1;
  va_start (ap, fmt);
  if (vasprintf (&prefix, fmt, ap) < 0)
    abort ();
  va_end (ap);
  char *msg = hull_fmt ("%s: %s", prefix, (*err)->msg);
  free ((*err)->msg);
  (*err)->msg = msg;
  return -1;
}

void
hull_error_release (hull_error_t *err)
{
  if (err == NULL || *err == NULL)
    return;
  free ((*err)->msg);
  free (*err);
  *err = NULL;
}

static void *
oom_check (void *p)
{
  if (p == NULL)
    {
      fputs ("hull: out of memory\n", stderr);
      abort ();
    }
  return p;
}

void *xmalloc (size_t size) { return oom_check (malloc (size ? size : 1)); }
void *xmalloc0 (size_t size) { return oom_check (calloc (1, size ? size : 1)); }
void *xrealloc (void *ptr, size_t size) { return oom_check (realloc (ptr, size ? size : 1)); }
void *
xreallocarray (void *ptr, size_t n, size_t size)
{
  return oom_check (reallocarray (ptr, n ? n : 1, size ? size : 1));
}
char *xstrdup (const char *s) { return s ? oom_check (strdup (s)) : NULL; }
/* s need not be NUL-terminated within n bytes (JSON tokens are not). */
char *
xstrndup (const char *s, size_t n)
{
  size_t len = strnlen (s, n);
  char *r = xmalloc (len + 1);
  memcpy (r, s, len);
  r[len] = '\0';
  return r;
}

int
xasprintf (char **out, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  int r = vasprintf (out, fmt, ap);
  va_end (ap);
  if (r < 0)
    oom_check (NULL);
  return r;
}

char *
hull_fmt (const char *fmt, ...)
{
  char *out;
  va_list ap;
  va_start (ap, fmt);
  if (vasprintf (&out, fmt, ap) < 0)
    oom_check (NULL);
  va_end (ap);
  return out;
}

void hull_cleanup_freep (void *p) { free (*(void **) p); }
void
hull_cleanup_closep (int *fd)
{
  if (*fd >= 0)
    {
      int saved_errno = errno;
      close (*fd);
      errno = saved_errno;
    }
}
void
hull_cleanup_fclosep (FILE **f)
{
  if (*f)
    fclose (*f);
}
void hull_cleanup_strvp (char ***v) { strv_free (*v); }

size_t
strv_len (char *const *v)
{
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

char **
strv_dup (char *const *v)
{
  if (v == NULL)
    return NULL;
  size_t n = strv_len (v);
  char **r = xmalloc0 ((n + 1) * sizeof (char *));
  for (size_t i = 0; i < n; i++)
    r[i] = xstrdup (v[i]);
  return r;
}

void
strv_free (char **v)
{
  for (size_t i = 0; v && v[i]; i++)
    free (v[i]);
  free (v);
}

void
strv_append (char ***v, const char *s)
{
  size_t n = strv_len (*v);
  *v = xreallocarray (*v, n + 2, sizeof (char *));
  (*v)[n] = xstrdup (s);
  (*v)[n + 1] = NULL;
}

ssize_t
hull_write_all (int fd, const void *buf, size_t len)
{
  const char *p = buf;
  size_t done = 0;
  while (done < len)
    {
      ssize_t r = write (fd, p + done, len - done);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return -1;
      done += r;
    }
  return done;
}

ssize_t
hull_read_all (int fd, void *buf, size_t len)
{
  char *p = buf;
  size_t done = 0;
  while (done < len)
    {
      ssize_t r = read (fd, p + done, len - done);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return -1;
      if (r == 0)
        break;
      done += r;
    }
  return done;
}

int
hull_read_fd_all (int fd, const char *name, size_t max_size, char **out, size_t *len, hull_error_t *err)
{
  size_t cap = 4096, n = 0;
  cleanup_free char *buf = xmalloc (cap + 1);
  for (;;)
    {
      if (n == cap)
        {
          if (cap >= max_size)
            return hull_make_error (err, EFBIG, "read `%s`: larger than %zu bytes", name, max_size);
          cap = cap * 2 > max_size ? max_size : cap * 2;
          buf = xrealloc (buf, cap + 1);
        }
      ssize_t r = read (fd, buf + n, cap - n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return hull_make_error (err, errno, "read `%s`", name);
      if (r == 0)
        break;
      n += r;
    }
  buf[n] = '\0';
  if (len)
    *len = n;
  *out = steal_pointer (&buf);
  return 0;
}

int
hull_read_file_at (int dirfd, const char *path, size_t max_size, char **out, size_t *len, hull_error_t *err)
{
  cleanup_close int fd = openat (dirfd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return hull_make_error (err, errno, "open `%s`", path);
  return hull_read_fd_all (fd, path, max_size, out, len, err);
}

int
hull_write_file_at (int dirfd, const char *path, const char *data, size_t len, hull_error_t *err)
{
  cleanup_close int fd = openat (dirfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return hull_make_error (err, errno, "open `%s`", path);
  if (hull_write_all (fd, data, len) < 0)
    return hull_make_error (err, errno, "write `%s`", path);
  return 0;
}

int
hull_write_file_atomic (int dirfd, const char *name, const char *data, size_t len, mode_t mode,
                        hull_error_t *err)
{
  cleanup_free char *tmp = hull_fmt (".%s.tmp", name);
  cleanup_close int fd = openat (dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    return hull_make_error (err, errno, "create `%s`", tmp);
  if (hull_write_all (fd, data, len) < 0)
    {
      int saved_errno = errno;
      unlinkat (dirfd, tmp, 0);
      return hull_make_error (err, saved_errno, "write `%s`", tmp);
    }
  if (renameat (dirfd, tmp, dirfd, name) < 0)
    {
      int saved_errno = errno;
      unlinkat (dirfd, tmp, 0);
      return hull_make_error (err, saved_errno, "rename `%s` to `%s`", tmp, name);
    }
  return 0;
}

int
hull_openat2 (int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve)
{
  struct open_how how = { .flags = (uint64_t) flags, .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
                          .resolve = resolve };
  int fd;
  do
    fd = syscall (SYS_openat2, dirfd, path, &how, sizeof (how));
  while (fd < 0 && errno == EAGAIN);
  return fd;
}

int
hull_open_in_root (int root_fd, const char *path, int flags, mode_t mode, hull_error_t *err)
{
  int fd = hull_openat2 (root_fd, path, flags | O_CLOEXEC, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  if (fd < 0)
    return hull_make_error (err, errno, "open `%s` in the rootfs", path);
  return fd;
}

static int
rm_rf_fd (int dfd, dev_t dev, hull_error_t *err)
{
  DIR *d = fdopendir (dfd);
  if (d == NULL)
    {
      close (dfd);
      return hull_make_error (err, errno, "fdopendir");
    }
  struct dirent *de;
  int ret = 0;
  while ((de = readdir (d)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      struct stat st;
      if (fstatat (dirfd (d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;
      if (S_ISDIR (st.st_mode))
        {
          if (st.st_dev != dev)
            {
              ret = hull_make_error (err, EBUSY, "remove `%s`: a mount point", de->d_name);
              break;
            }
          int sub = openat (dirfd (d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (sub < 0 || rm_rf_fd (sub, dev, err) < 0)
            {
              ret = sub < 0 ? hull_make_error (err, errno, "open `%s`", de->d_name) : -1;
              break;
            }
          if (unlinkat (dirfd (d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
            {
              ret = hull_make_error (err, errno, "rmdir `%s`", de->d_name);
              break;
            }
        }
      else if (unlinkat (dirfd (d), de->d_name, 0) < 0 && errno != ENOENT)
        {
          ret = hull_make_error (err, errno, "unlink `%s`", de->d_name);
          break;
        }
    }
  closedir (d);
  return ret;
}

int
hull_rm_rf_at (int dirfd, const char *name, hull_error_t *err)
{
  struct stat st;
  if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : hull_make_error (err, errno, "stat `%s`", name);
  if (!S_ISDIR (st.st_mode))
    {
      if (unlinkat (dirfd, name, 0) < 0 && errno != ENOENT)
        return hull_make_error (err, errno, "unlink `%s`", name);
      return 0;
    }
  int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return hull_make_error (err, errno, "open `%s`", name);
  if (rm_rf_fd (fd, st.st_dev, err) < 0)
    return hull_error_wrap (err, "remove `%s`", name);
  if (unlinkat (dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return hull_make_error (err, errno, "rmdir `%s`", name);
  return 0;
}

const char *
hull_proc_fd_path (int fd, char buf[HULL_PROC_FD_PATH_MAX])
{
  snprintf (buf, HULL_PROC_FD_PATH_MAX, "/proc/self/fd/%d", fd);
  return buf;
}

int
hull_parse_u64 (const char *s, uint64_t *out)
{
  if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
    return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull (s, &end, 10);
  if (errno || *end)
    return -1;
  *out = v;
  return 0;
}

int
hull_parse_i64 (const char *s, int64_t *out)
{
  if (s == NULL || *s == '\0')
    return -1;
  char *end;
  errno = 0;
  long long v = strtoll (s, &end, 10);
  if (errno || *end)
    return -1;
  *out = v;
  return 0;
}

bool
hull_str_has_prefix (const char *s, const char *prefix)
{
  return strncmp (s, prefix, strlen (prefix)) == 0;
}

uint64_t
hull_now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000ull + ts.tv_nsec;
}
