/* The runtime config.json of a container made from an image, as umoci's
 * `unpack` and podman make it (image-spec conversion.md): `hull spec`'s
 * default with terminal false and a writable root, then Entrypoint+Cmd,
 * Env, WorkingDir, User resolved through the image's own /etc/passwd and
 * /etc/group (read through the layer fds, never by host path), and Labels
 * plus the image's os/architecture/author/created as annotations. */
#include "image-internal.h"

#define MAX_DB (4u << 20)
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static void
kv_add (struct oci_kvs *kvs, const char *k, const char *v)
{
  for (size_t i = 0; i < kvs->n; i++)
    if (strcmp (kvs->v[i].key, k) == 0)
      {
        free (kvs->v[i].value);
        kvs->v[i].value = xstrdup (v);
        return;
      }
  kvs->v = xreallocarray (kvs->v, kvs->n + 1, sizeof (*kvs->v));
  kvs->v[kvs->n].key = xstrdup (k);
  kvs->v[kvs->n].value = xstrdup (v);
  kvs->n++;
}

/* The image's /etc/passwd or /etc/group, NULL when it has none. */
static int
read_db (const int *fds, size_t n, const char *path, char **out, hull_error_t *err)
{
  *out = NULL;
  cleanup_close int fd = img_union_open (fds, n, path, err);
  if (fd < 0)
    {
      if (*err && ((*err)->status == ENOENT || (*err)->status == ENOTDIR))
        {
          hull_error_release (err);
          return 0;
        }
      return -1;
    }
  cleanup_free char *buf = xmalloc (MAX_DB + 1);
  ssize_t len = hull_read_all (fd, buf, MAX_DB + 1);
  if (len < 0)
    return hull_make_error (err, errno, "read the image's %s", path);
  if (len > (ssize_t)MAX_DB)
    return hull_make_error (err, EFBIG, "the image's %s is larger than %u bytes", path, MAX_DB);
  buf[len] = '\0';
  *out = steal_pointer (&buf);
  return 0;
}

/* Splits a colon-separated line into at most max fields. */
static size_t
fields (char *line, char **f, size_t max)
{
  size_t k = 0;
  f[k++] = line;
  for (char *p = line; *p && k < max; p++)
    if (*p == ':')
      {
        *p = '\0';
        f[k++] = p + 1;
      }
  return k;
}

static bool
parse_id (const char *s, uint32_t *out)
{
  uint64_t v;
  if (hull_parse_u64 (s, &v) < 0 || v >= UINT32_MAX)
    return false;
  *out = (uint32_t)v;
  return true;
}

/* Finds a passwd entry by name (or by uid when by_uid). */
static bool
find_passwd (const char *db, const char *name, bool by_uid, uint32_t uid, char **user_name, uint32_t *uid_out,
             uint32_t *gid_out)
{
  if (db == NULL)
    return false;
  cleanup_free char *copy = xstrdup (db);
  char *save = NULL;
  for (char *l = strtok_r (copy, "\n", &save); l; l = strtok_r (NULL, "\n", &save))
    {
      char *f[7];
      uint32_t u, g;
      if (l[0] == '#' || fields (l, f, 7) < 4 || !parse_id (f[2], &u) || !parse_id (f[3], &g))
        continue;
      if (by_uid ? u == uid : strcmp (f[0], name) == 0)
        {
          *user_name = xstrdup (f[0]);
          *uid_out = u;
          *gid_out = g;
          return true;
        }
    }
  return false;
}

/* The gid of group `name`; with user set, also collects its memberships. */
static bool
scan_groups (const char *db, const char *name, uint32_t *gid, const char *user, uint32_t **extra,
             size_t *n_extra)
{
  bool found = false;
  if (db == NULL)
    return false;
  cleanup_free char *copy = xstrdup (db);
  char *save = NULL;
  for (char *l = strtok_r (copy, "\n", &save); l; l = strtok_r (NULL, "\n", &save))
    {
      char *f[4];
      uint32_t g;
      size_t nf = l[0] == '#' ? 0 : fields (l, f, 4);
      if (nf < 3 || !parse_id (f[2], &g))
        continue;
      if (name && !found && strcmp (f[0], name) == 0)
        *gid = g, found = true;
      if (user == NULL || nf < 4)
        continue;
      char *msave = NULL;
      for (char *m = strtok_r (f[3], ",", &msave); m; m = strtok_r (NULL, ",", &msave))
        if (strcmp (m, user) == 0)
          {
            *extra = xreallocarray (*extra, *n_extra + 1, sizeof (uint32_t));
            (*extra)[(*n_extra)++] = g;
          }
    }
  return found;
}

static int
resolve_user (const char *spec, const int *fds, size_t n, struct oci_user *u, hull_error_t *err)
{
  u->uid = u->gid = 0;
  if (spec == NULL || *spec == '\0')
    return 0;
  cleanup_free char *copy = xstrdup (spec);
  char *group = strchr (copy, ':');
  if (group)
    *group++ = '\0';
  cleanup_free char *passwd = NULL, *groups = NULL, *name = NULL;
  if (read_db (fds, n, "/etc/passwd", &passwd, err) < 0 || read_db (fds, n, "/etc/group", &groups, err) < 0)
    return -1;
  uint32_t uid = 0, gid = 0;
  bool numeric = parse_id (copy, &uid);
  if (!find_passwd (passwd, copy, numeric, uid, &name, &uid, &gid))
    {
      if (!numeric)
        return hull_make_error (err, 0, "image config: User `%s`: no such user in the image's /etc/passwd",
                                spec);
      gid = 0; /* as runc: a uid without a passwd entry gets gid 0 */
    }
  if (group && *group && !parse_id (group, &gid) && !scan_groups (groups, group, &gid, NULL, NULL, NULL))
    return hull_make_error (err, 0, "image config: User `%s`: no such group in the image's /etc/group", spec);
  u->uid = uid;
  u->gid = gid;
  if (name)
    scan_groups (groups, NULL, NULL, name, &u->additional_gids, &u->n_additional_gids);
  return 0;
}

static void
set_process (struct oci_process *p, yajl_val c)
{
  cleanup_strv char **entry = img_json_strv (img_json_get (c, "Entrypoint"));
  cleanup_strv char **cmd = img_json_strv (img_json_get (c, "Cmd"));
  if (strv_len (entry) + strv_len (cmd) > 0)
    {
      strv_free (p->args);
      p->args = strv_dup (entry);
      for (size_t i = 0; cmd[i]; i++)
        strv_append (&p->args, cmd[i]);
    }
  yajl_val env = img_json_get (c, "Env");
  if (env && YAJL_IS_ARRAY (env))
    {
      char **v = img_json_strv (env);
      bool has_path = false;
      for (size_t i = 0; v[i]; i++)
        has_path |= hull_str_has_prefix (v[i], "PATH=");
      if (!has_path)
        {
          char **w = xmalloc0 (sizeof (char *));
          strv_append (&w, DEFAULT_PATH);
          for (size_t i = 0; v[i]; i++)
            strv_append (&w, v[i]);
          strv_free (v);
          v = w;
        }
      strv_free (p->env);
      p->env = v;
    }
  const char *wd = img_json_str (c, "WorkingDir");
  if (wd && *wd)
    {
      free (p->cwd);
      p->cwd = wd[0] == '/' ? xstrdup (wd) : hull_fmt ("/%s", wd);
    }
}

static void
set_annotations (struct oci_kvs *a, yajl_val top, yajl_val c)
{
  yajl_val labels = img_json_get (c, "Labels");
  for (size_t i = 0; labels && YAJL_IS_OBJECT (labels) && i < labels->u.object.len; i++)
    if (YAJL_IS_STRING (labels->u.object.values[i]))
      kv_add (a, labels->u.object.keys[i], IMG_STR (labels->u.object.values[i]));
  static const char *const top_keys[][2] = {
    { "os", "org.opencontainers.image.os" },
    { "architecture", "org.opencontainers.image.architecture" },
    { "author", "org.opencontainers.image.author" },
    { "created", "org.opencontainers.image.created" },
  };
  for (size_t i = 0; i < sizeof (top_keys) / sizeof (top_keys[0]); i++)
    if (img_json_str (top, top_keys[i][0]))
      kv_add (a, top_keys[i][1], img_json_str (top, top_keys[i][0]));
  if (img_json_str (c, "StopSignal"))
    kv_add (a, "org.opencontainers.image.stopSignal", img_json_str (c, "StopSignal"));
  yajl_val ports = img_json_get (c, "ExposedPorts");
  if (ports && YAJL_IS_OBJECT (ports) && ports->u.object.len)
    {
      cleanup_free char *joined = xstrdup ("");
      for (size_t i = 0; i < ports->u.object.len; i++)
        {
          char *n = hull_fmt ("%s%s%s", joined, i ? "," : "", ports->u.object.keys[i]);
          free (joined);
          joined = n;
        }
      kv_add (a, "org.opencontainers.image.exposedPorts", joined);
    }
}

struct oci_config *
img_runtime_config (const char *config_json, size_t len, const int *layer_fds, size_t n, hull_error_t *err)
{
  cleanup_json yajl_val top = NULL;
  if (img_json_parse (config_json, len, "image config", &top, err) < 0)
    return NULL;
  yajl_val c = img_json_get (top, "config");
  struct oci_config *cfg = oci_config_default (false, 0, 0);
  cfg->process->terminal = false;
  cfg->root->readonly = false; /* the upper layer is the container's own */
  set_process (cfg->process, c);
  struct oci_user *u = &cfg->process->user;
  free (u->additional_gids);
  u->additional_gids = NULL;
  u->n_additional_gids = 0;
  if (resolve_user (img_json_str (c, "User"), layer_fds, n, u, err) < 0)
    {
      oci_config_free (cfg);
      return NULL;
    }
  set_annotations (&cfg->annotations, top, c);
  return cfg;
}
