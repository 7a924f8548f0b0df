/* The store: directories, locks, staging, image records, lookup, list,
 * removal and garbage collection.  Nothing under layers/ or images/ is
 * written in place: see docs/images.md, "Atomicity". */
#include "image-internal.h"

#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

const char *
img_root_choose (const char *conf_root)
{
  const char *env = getenv ("HULL_IMAGE_ROOT");
  if (env && *env)
    return env;
  return conf_root && *conf_root ? conf_root : IMG_DEFAULT_ROOT;
}

static int
mkdir_p (const char *path, hull_error_t *err)
{
  cleanup_free char *copy = xstrdup (path);
  for (char *p = copy + 1; *p; p++)
    if (*p == '/')
      {
        *p = '\0';
        if (mkdir (copy, 0755) < 0 && errno != EEXIST)
          return hull_make_error (err, errno, "create `%s`", copy);
        *p = '/';
      }
  if (mkdir (copy, 0700) < 0 && errno != EEXIST)
    return hull_make_error (err, errno, "create `%s`", copy);
  return 0;
}

static int
open_subdir (int root_fd, const char *name, hull_error_t *err)
{
  if (mkdirat (root_fd, name, 0700) < 0 && errno != EEXIST)
    return hull_make_error (err, errno, "image store: create `%s`", name);
  int fd = openat (root_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return hull_make_error (err, errno, "image store: open `%s`", name);
  return fd;
}

static int
open_lock (int root_fd, const char *name, hull_error_t *err)
{
  int fd = openat (root_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return hull_make_error (err, errno, "image store: open `%s`", name);
  return fd;
}

int
img_store_open (const char *root, struct img_store **out, hull_error_t *err)
{
  if (root[0] != '/')
    return hull_make_error (err, 0, "image store `%s`: must be an absolute path", root);
  if (mkdir_p (root, err) < 0)
    return -1;
  struct img_store *s = xmalloc0 (sizeof (*s));
  s->root = xstrdup (root);
  s->layers_fd = s->images_fd = s->bundles_fd = s->tmp_fd = s->gc_lock_fd = s->commit_lock_fd = -1;
  s->root_fd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (s->root_fd < 0)
    {
      hull_make_error (err, errno, "image store `%s`", root);
      img_store_free (s);
      return -1;
    }
  if ((s->layers_fd = open_subdir (s->root_fd, "layers", err)) < 0
      || (s->images_fd = open_subdir (s->root_fd, "images", err)) < 0
      || (s->bundles_fd = open_subdir (s->root_fd, "bundles", err)) < 0
      || (s->tmp_fd = open_subdir (s->root_fd, "tmp", err)) < 0
      || (s->gc_lock_fd = open_lock (s->root_fd, "gc.lock", err)) < 0
      || (s->commit_lock_fd = open_lock (s->root_fd, "commit.lock", err)) < 0)
    {
      hull_error_wrap (err, "`%s`", root);
      img_store_free (s);
      return -1;
    }
  *out = s;
  return 0;
}

void
img_store_free (struct img_store *s)
{
  if (s == NULL)
    return;
  int *fds[] = { &s->root_fd, &s->layers_fd,  &s->images_fd,     &s->bundles_fd,
                 &s->tmp_fd,  &s->gc_lock_fd, &s->commit_lock_fd };
  for (size_t i = 0; i < sizeof (fds) / sizeof (fds[0]); i++)
    if (*fds[i] >= 0)
      close (*fds[i]);
  free (s->root);
  free (s);
}

void
img_store_freep (struct img_store **s)
{
  img_store_free (*s);
}

int
img_store_lock (struct img_store *s, int fd, int op, hull_error_t *err)
{
  while (flock (fd, op) < 0)
    if (errno != EINTR)
      return hull_make_error (err, errno, "image store `%s`: lock", s->root);
  return 0;
}

void
img_store_unlock (int fd)
{
  flock (fd, LOCK_UN);
}

int
img_store_staging (struct img_store *s, const char *prefix, char **name_out, hull_error_t *err)
{
  cleanup_free char *hex = img_random_hex (8);
  cleanup_free char *name = hull_fmt ("%s-%s", prefix, hex);
  if (mkdirat (s->tmp_fd, name, 0700) < 0)
    return hull_make_error (err, errno, "image store: create `tmp/%s`", name);
  int fd = openat (s->tmp_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || flock (fd, LOCK_EX | LOCK_NB) < 0)
    {
      int saved_errno = errno;
      if (fd >= 0)
        close (fd);
      return hull_make_error (err, saved_errno, "image store: open `tmp/%s`", name);
    }
  *name_out = steal_pointer (&name);
  return fd;
}

void
img_store_clean_staging (struct img_store *s, size_t *count)
{
  int fd = dup (s->tmp_fd);
  DIR *d = fd < 0 ? NULL : fdopendir (fd);
  if (d == NULL)
    {
      if (fd >= 0)
        close (fd);
      return;
    }
  rewinddir (d);
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      if (de->d_name[0] == '.')
        continue;
      cleanup_close int efd = openat (s->tmp_fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      /* A live import keeps its staging directory flocked. */
      if (efd >= 0 && flock (efd, LOCK_EX | LOCK_NB) < 0)
        continue;
      hull_error_t ignored = NULL;
      if (hull_rm_rf_at (s->tmp_fd, de->d_name, &ignored) == 0 && count)
        (*count)++;
      hull_error_release (&ignored);
    }
  closedir (d);
}

int
img_store_remove_dir (struct img_store *s, int dirfd, const char *name, hull_error_t *err)
{
  /* Out of sight first: a crash half-way must not leave a partial layer
   * under its trusted name. */
  cleanup_free char *hex = img_random_hex (8);
  cleanup_free char *gone = hull_fmt ("rm-%s", hex);
  /* Flocked like a staging directory, so that a concurrent clean-up of
   * tmp/ leaves it to us. */
  cleanup_close int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : hull_make_error (err, errno, "image store: open `%s`", name);
  if (flock (fd, LOCK_EX) < 0)
    return hull_make_error (err, errno, "image store: lock `%s`", name);
  if (renameat (dirfd, name, s->tmp_fd, gone) < 0)
    return errno == ENOENT ? 0 : hull_make_error (err, errno, "image store: move `%s` away", name);
  return hull_rm_rf_at (s->tmp_fd, gone, err);
}

int
img_fsync_dir (int dirfd, const char *what, hull_error_t *err)
{
  if (fsync (dirfd) < 0)
    return hull_make_error (err, errno, "fsync `%s`", what);
  return 0;
}

int
img_write_durable (int dirfd, const char *name, const char *data, size_t len, hull_error_t *err)
{
  cleanup_free char *tmp = hull_fmt (".%s.tmp", name);
  cleanup_close int fd = openat (dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return hull_make_error (err, errno, "create `%s`", tmp);
  if (hull_write_all (fd, data, len) < 0 || fsync (fd) < 0 || renameat (dirfd, tmp, dirfd, name) < 0)
    {
      int saved_errno = errno;
      unlinkat (dirfd, tmp, 0);
      return hull_make_error (err, saved_errno, "write `%s`", name);
    }
  return 0;
}

char *
img_now_rfc3339 (void)
{
  struct timespec ts;
  struct tm tm;
  char buf[64];
  clock_gettime (CLOCK_REALTIME, &ts);
  gmtime_r (&ts.tv_sec, &tm);
  size_t n = strftime (buf, sizeof (buf), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (buf + n, sizeof (buf) - n, ".%09ldZ", ts.tv_nsec);
  return xstrdup (buf);
}

/* ---- image records ----------------------------------------------------------- */

void
img_image_free (struct img_image *im)
{
  if (im == NULL)
    return;
  free (im->id);
  strv_free (im->names);
  for (size_t i = 0; i < im->n_layers; i++)
    {
      free (im->diff_ids[i]);
      free (im->keys[i]);
    }
  free (im->diff_ids);
  free (im->keys);
  free (im->manifest_digest);
  free (im->imported);
  free (im->config_json);
  free (im);
}

void
img_image_freep (struct img_image **im)
{
  img_image_free (*im);
}

char *
img_image_record_json (const struct img_image *im)
{
  yajl_gen g = img_gen_new (true);
  yajl_gen_map_open (g);
  img_gen_kv (g, "id", im->id);
  img_gen_strv (g, "names", im->names, strv_len (im->names));
  img_gen_str (g, "layers");
  yajl_gen_array_open (g);
  for (size_t i = 0; i < im->n_layers; i++)
    {
      yajl_gen_map_open (g);
      img_gen_kv (g, "diff_id", im->diff_ids[i]);
      img_gen_kv (g, "key", im->keys[i]);
      yajl_gen_map_close (g);
    }
  yajl_gen_array_close (g);
  img_gen_kv (g, "manifest", im->manifest_digest);
  img_gen_kv (g, "imported", im->imported);
  img_gen_str (g, "size");
  yajl_gen_integer (g, (long long)im->size);
  yajl_gen_map_close (g);
  return img_gen_finish (g, NULL);
}

static void
gen_summary (yajl_gen g, const struct img_image *im)
{
  img_gen_kv (g, "id", im->id);
  img_gen_strv (g, "names", im->names, strv_len (im->names));
  img_gen_kv (g, "manifest", im->manifest_digest);
  img_gen_kv (g, "imported", im->imported);
  img_gen_str (g, "size");
  yajl_gen_integer (g, (long long)im->size);
  img_gen_strv (g, "diff_ids", im->diff_ids, im->n_layers);
}

char *
img_image_list_json (struct img_image *const *v, size_t n)
{
  yajl_gen g = img_gen_new (false);
  yajl_gen_array_open (g);
  for (size_t i = 0; i < n; i++)
    {
      yajl_gen_map_open (g);
      gen_summary (g, v[i]);
      yajl_gen_map_close (g);
    }
  yajl_gen_array_close (g);
  return img_gen_finish (g, NULL);
}

char *
img_image_inspect_json (const struct img_image *im)
{
  yajl_gen g = img_gen_new (true);
  yajl_gen_map_open (g);
  gen_summary (g, im);
  img_gen_strv (g, "layer_keys", im->keys, im->n_layers);
  cleanup_json yajl_val cfg = NULL;
  hull_error_t ignored = NULL;
  img_gen_str (g, "config");
  if (img_json_parse (im->config_json, im->config_len, "config", &cfg, &ignored) == 0)
    img_gen_value (g, cfg);
  else
    yajl_gen_null (g);
  hull_error_release (&ignored);
  yajl_gen_map_close (g);
  return img_gen_finish (g, NULL);
}

static int
parse_record (struct img_image *im, yajl_val v, const char *doc, hull_error_t *err)
{
  yajl_val names = img_json_get (v, "names"), layers = img_json_get (v, "layers");
  if (names == NULL || !YAJL_IS_ARRAY (names) || layers == NULL || !YAJL_IS_ARRAY (layers))
    return hull_make_error (err, 0, "%s: damaged record", doc);
  im->names = xmalloc0 (sizeof (char *));
  for (size_t i = 0; i < names->u.array.len; i++)
    if (YAJL_IS_STRING (names->u.array.values[i]))
      strv_append (&im->names, IMG_STR (names->u.array.values[i]));
  im->n_layers = layers->u.array.len;
  im->diff_ids = xmalloc0 ((im->n_layers + 1) * sizeof (char *));
  im->keys = xmalloc0 ((im->n_layers + 1) * sizeof (char *));
  for (size_t i = 0; i < im->n_layers; i++)
    {
      const char *d = img_json_str (layers->u.array.values[i], "diff_id");
      const char *k = img_json_str (layers->u.array.values[i], "key");
      if (!img_digest_valid (d) || k == NULL || !img_hex64_valid (k))
        return hull_make_error (err, 0, "%s: damaged record: layers[%zu]", doc, i);
      im->diff_ids[i] = xstrdup (d);
      im->keys[i] = xstrdup (k);
    }
  im->manifest_digest = xstrdup (img_json_str (v, "manifest"));
  im->imported = xstrdup (img_json_str (v, "imported"));
  yajl_val size = img_json_get (v, "size");
  im->size = size && YAJL_IS_INTEGER (size) && YAJL_GET_INTEGER (size) > 0 ? YAJL_GET_INTEGER (size) : 0;
  return 0;
}

int
img_image_load (struct img_store *s, const char *id, struct img_image **out, hull_error_t *err)
{
  if (!img_hex64_valid (id))
    return hull_make_error (err, 0, "image store: `%.80s` is not an image id", id);
  cleanup_close int dfd = openat (s->images_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0)
    return hull_make_error (err, errno, "image %.12s", id);
  cleanup_free char *buf = NULL;
  size_t len;
  cleanup_json yajl_val v = NULL;
  cleanup_image struct img_image *im = xmalloc0 (sizeof (*im));
  im->id = xstrdup (id);
  cleanup_free char *doc = hull_fmt ("images/%s/image.json", id);
  if (hull_read_file_at (dfd, "image.json", IMG_JSON_MAX, &buf, &len, err) < 0
      || img_json_parse (buf, len, doc, &v, err) < 0 || parse_record (im, v, doc, err) < 0
      || hull_read_file_at (dfd, "config.json", IMG_JSON_MAX, &im->config_json, &im->config_len, err) < 0)
    return -1;
  *out = steal_pointer (&im);
  return 0;
}

static int
cmp_imported (const void *a, const void *b)
{
  const struct img_image *x = *(struct img_image *const *)a, *y = *(struct img_image *const *)b;
  int c = strcmp (x->imported ? x->imported : "", y->imported ? y->imported : "");
  return c ? c : strcmp (x->id, y->id);
}

void
img_image_list_free (struct img_image **v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    img_image_free (v[i]);
  free (v);
}

int
img_image_list (struct img_store *s, struct img_image ***out, size_t *n, hull_error_t *err)
{
  int fd = dup (s->images_fd);
  DIR *d = fd < 0 ? NULL : fdopendir (fd);
  if (d == NULL)
    {
      if (fd >= 0)
        close (fd);
      return hull_make_error (err, errno, "image store: list images");
    }
  rewinddir (d);
  struct img_image **v = NULL;
  size_t count = 0;
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      if (!img_hex64_valid (de->d_name))
        continue;
      struct img_image *im = NULL;
      hull_error_t ignored = NULL;
      if (img_image_load (s, de->d_name, &im, &ignored) < 0)
        {
          hull_error_release (&ignored); /* removed meanwhile */
          continue;
        }
      v = xreallocarray (v, count + 1, sizeof (*v));
      v[count++] = im;
    }
  closedir (d);
  if (count)
    qsort (v, count, sizeof (*v), cmp_imported);
  *out = v;
  *n = count;
  return 0;
}

int
img_image_lookup (struct img_store *s, const char *ref, struct img_image **out, hull_error_t *err)
{
  struct img_image **v = NULL;
  size_t n = 0, hits = 0, pick = 0;
  if (img_image_list (s, &v, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; v[i]->names[j]; j++)
      if (strcmp (v[i]->names[j], ref) == 0)
        {
          *out = steal_pointer (&v[i]);
          img_image_list_free (v, n);
          return 0;
        }
  const char *hex = hull_str_has_prefix (ref, "sha256:") ? ref + 7 : ref;
  size_t hl = strlen (hex);
  bool is_hex = hl >= 4 && hl <= 64 && strspn (hex, "0123456789abcdef") == hl;
  for (size_t i = 0; is_hex && i < n; i++)
    if (strncmp (v[i]->id, hex, hl) == 0)
      hits++, pick = i;
  if (hits == 1)
    *out = steal_pointer (&v[pick]);
  img_image_list_free (v, n);
  if (hits == 1)
    return 0;
  if (hits > 1)
    return hull_make_error (err, 0, "image `%s`: the id prefix is ambiguous (%zu images)", ref, hits);
  return hull_make_error_code (err, ENOENT, "image `%s`: no such image (see `hull image list`)", ref);
}

int
img_open_layers (struct img_store *s, const struct img_image *im, int **fds, hull_error_t *err)
{
  int *v = xmalloc ((im->n_layers + 1) * sizeof (int));
  for (size_t i = 0; i < im->n_layers; i++)
    {
      /* top first: overlayfs's lowerdir order */
      const char *key = im->keys[im->n_layers - 1 - i];
      v[i] = openat (s->layers_fd, key, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (v[i] < 0)
        {
          int saved_errno = errno;
          img_close_layers (v, i);
          return hull_make_error (err, saved_errno, "image %.12s: layer %s", im->id, key);
        }
    }
  *fds = v;
  return 0;
}

void
img_close_layers (int *fds, size_t n)
{
  for (size_t i = 0; fds && i < n; i++)
    close (fds[i]);
  free (fds);
}

/* ---- removal and garbage collection -------------------------------------- */

static bool
strv_has (char **v, size_t n, const char *s)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (v[i], s) == 0)
      return true;
  return false;
}

int
img_store_gc (struct img_store *s, size_t *removed, hull_error_t *err)
{
  struct img_image **v = NULL;
  size_t n = 0, n_keys = 0;
  cleanup_strv char **keys = NULL;
  if (img_image_list (s, &v, &n, err) < 0)
    return -1;
  if (img_bundles_keys (s, &keys, &n_keys, NULL, err) < 0)
    {
      img_image_list_free (v, n);
      return -1;
    }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < v[i]->n_layers; j++)
      if (!strv_has (keys, n_keys, v[i]->keys[j]))
        {
          strv_append (&keys, v[i]->keys[j]);
          n_keys++;
        }
  img_image_list_free (v, n);
  int fd = dup (s->layers_fd);
  DIR *d = fd < 0 ? NULL : fdopendir (fd);
  if (d == NULL)
    {
      if (fd >= 0)
        close (fd);
      return hull_make_error (err, errno, "image store: list layers");
    }
  rewinddir (d);
  struct dirent *de;
  int ret = 0;
  while ((de = readdir (d)) != NULL)
    {
      if (de->d_name[0] == '.' || strv_has (keys, n_keys, de->d_name))
        continue;
      if ((ret = img_store_remove_dir (s, s->layers_fd, de->d_name, err)) < 0)
        break;
      if (removed)
        (*removed)++;
    }
  closedir (d);
  if (ret == 0)
    ret = img_fsync_dir (s->layers_fd, "layers", err);
  return ret;
}

int
img_image_remove (struct img_store *s, const char *ref, hull_error_t *err)
{
  if (img_store_lock (s, s->gc_lock_fd, LOCK_EX, err) < 0)
    return -1;
  cleanup_image struct img_image *im = NULL;
  int ret = img_image_lookup (s, ref, &im, err);
  if (ret == 0)
    ret = img_store_remove_dir (s, s->images_fd, im->id, err);
  if (ret == 0)
    ret = img_fsync_dir (s->images_fd, "images", err);
  if (ret == 0)
    ret = img_store_gc (s, NULL, err);
  img_store_clean_staging (s, NULL);
  img_store_unlock (s->gc_lock_fd);
  return ret;
}

int
img_prune (struct img_store *s, struct img_prune_report *r, hull_error_t *err)
{
  memset (r, 0, sizeof (*r));
  if (img_store_lock (s, s->gc_lock_fd, LOCK_EX, err) < 0)
    return -1;
  cleanup_strv char **keys = NULL;
  size_t n = 0;
  int ret = img_bundles_keys (s, &keys, &n, &r->bundles, err);
  if (ret == 0)
    ret = img_store_gc (s, &r->layers, err);
  img_store_clean_staging (s, &r->staging);
  img_store_unlock (s->gc_lock_fd);
  return ret;
}
