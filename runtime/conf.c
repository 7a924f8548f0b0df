/* /etc/hull/hull.conf: host-wide defaults, as `key = value` lines ('#'
 * comments).  HULL_CONFIG names another file (tests use it).  Unknown keys
 * and bad values are errors naming the file and line: a typo must not
 * silently change how containers are isolated. */
#include "runtime.h"

#define HULL_CONF_DEFAULT "/etc/hull/hull.conf"

static char *
trim (char *s)
{
  while (*s == ' ' || *s == '\t')
    s++;
  char *e = s + strlen (s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
    *--e = '\0';
  return s;
}

static int
set_key (struct hull_conf *conf, const char *file, int line, const char *key, const char *value,
         hull_error_t *err)
{
  if (strcmp (key, "unenforceable_limits") == 0)
    {
      if (strcmp (value, "error") != 0 && strcmp (value, "warn") != 0)
        return hull_make_error (err, 0, "%s:%d: unenforceable_limits: `%s` is not `error` or `warn`", file, line,
                                value);
      conf->limits_warn_only = strcmp (value, "warn") == 0;
      return 0;
    }
  if (strcmp (key, "image_root") == 0)
    {
      if (value[0] != '/' || strlen (value) >= sizeof (conf->image_root))
        return hull_make_error (err, 0, "%s:%d: image_root: `%s` is not an absolute path", file, line, value);
      strcpy (conf->image_root, value);
      return 0;
    }
  return hull_make_error (err, 0, "%s:%d: unknown setting `%s`", file, line, key);
}

int
hull_conf_load (struct hull_conf *conf, hull_error_t *err)
{
  const char *file = getenv ("HULL_CONFIG");
  bool explicit = file && *file;
  if (!explicit)
    file = HULL_CONF_DEFAULT;
  memset (conf, 0, sizeof (*conf));
  cleanup_free char *buf = NULL;
  if (hull_read_file_at (AT_FDCWD, file, 1 << 20, &buf, NULL, err) < 0)
    {
      if (!explicit && (*err)->status == ENOENT)
        {
          hull_error_release (err);
          return 0; /* no file: the defaults */
        }
      return -1;
    }
  int line = 0;
  /* strsep, not strtok: empty lines must still count for the line numbers. */
  for (char *rest = buf, *l; (l = strsep (&rest, "\n")) != NULL;)
    {
      line++;
      char *hash = strchr (l, '#');
      if (hash)
        *hash = '\0';
      char *s = trim (l);
      if (*s == '\0')
        continue;
      char *eq = strchr (s, '=');
      if (eq == NULL)
        return hull_make_error (err, 0, "%s:%d: expected `key = value`", file, line);
      *eq = '\0';
      if (set_key (conf, file, line, trim (s), trim (eq + 1), err) < 0)
        return -1;
    }
  return 0;
}
