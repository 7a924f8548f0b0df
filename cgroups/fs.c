/* Reading and writing cgroup files, controller lookups and warnings. */
#include "cgroups-internal.h"

#include <stdarg.h>

static cg_warn_fn warn_fn;

void
cg_set_warn_fn (cg_warn_fn fn)
{
  warn_fn = fn;
}

void
cg_warn (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  cleanup_free char *msg = NULL;
  if (vasprintf (&msg, fmt, ap) < 0)
    abort ();
  va_end (ap);
  if (warn_fn)
    warn_fn (msg);
  else
    fprintf (stderr, "WARN: %s\n", msg);
}

char *
cg_abs_path (const char *path, hull_error_t *err)
{
  const char *mnt;
  if (cg_mount_point (&mnt, NULL, err) < 0)
    return NULL;
  return hull_fmt ("%s%s", mnt, path);
}

int
cg_open_dir (const char *path, hull_error_t *err)
{
  cleanup_free char *dir = cg_abs_path (path, err);
  if (dir == NULL)
    return -1;
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return hull_make_error (err, errno, "open cgroup `%s`", dir);
  return fd;
}

int
cg_read_at (int dirfd, const char *file, char **out, hull_error_t *err)
{
  return hull_read_file_at (dirfd, file, CG_FILE_MAX, out, NULL, err);
}

int
cg_write_at (int dirfd, const char *file, const char *value)
{
  cleanup_close int fd = openat (dirfd, file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return -1;
  size_t len = strlen (value);
  /* One write(2): the kernel parses each write as a whole value. */
  ssize_t r;
  do
    r = write (fd, value, len);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return -1;
  if ((size_t)r != len)
    {
      errno = EIO;
      return -1;
    }
  return 0;
}

int
cg_read_u64_at (int dirfd, const char *file, uint64_t *out, hull_error_t *err)
{
  cleanup_free char *buf = NULL;
  if (cg_read_at (dirfd, file, &buf, err) < 0)
    return -1;
  buf[strcspn (buf, "\n")] = '\0';
  if (strcmp (buf, "max") == 0)
    {
      *out = UINT64_MAX;
      return 0;
    }
  if (hull_parse_u64 (buf, out) < 0)
    return hull_make_error (err, 0, "`%s`: expected a number or `max`, got `%.32s`", file, buf);
  return 0;
}

int
cg_keyed_u64 (const char *buf, const char *key, uint64_t *out)
{
  size_t klen = strlen (key);
  for (const char *line = buf; line && *line; line = strchr (line, '\n'), line = line ? line + 1 : NULL)
    {
      if (strncmp (line, key, klen) != 0 || line[klen] != ' ')
        continue;
      char num[32];
      size_t n = strcspn (line + klen + 1, "\n");
      if (n == 0 || n >= sizeof (num))
        return -1;
      memcpy (num, line + klen + 1, n);
      num[n] = '\0';
      if (strcmp (num, "max") == 0)
        {
          *out = UINT64_MAX;
          return 0;
        }
      return hull_parse_u64 (num, out);
    }
  return -1;
}

bool
cg_word_in (const char *list, const char *word)
{
  size_t wlen = strlen (word);
  for (const char *p = list; *p;)
    {
      p += strspn (p, " \n");
      size_t n = strcspn (p, " \n");
      if (n == wlen && strncmp (p, word, n) == 0)
        return true;
      p += n;
    }
  return false;
}

bool
cg_controller_available (const char *name)
{
  const char *mnt;
  hull_error_t err = NULL;
  cleanup_free char *buf = NULL;
  cleanup_free char *path = NULL;
  if (cg_mount_point (&mnt, NULL, &err) == 0)
    {
      path = hull_fmt ("%s/cgroup.controllers", mnt);
      if (cg_read_at (AT_FDCWD, path, &buf, &err) == 0)
        return cg_word_in (buf, name);
    }
  hull_error_release (&err);
  return false;
}
