/* Bundles: DIR/config.json from the image, DIR/rootfs an overlay mount of
 * the image's layers (lowerdir, top first) with a private upper layer kept
 * in the store (bundles/ID/upper, work).  bundles/ID/bundle.json records
 * the bundle's path and layers, so the garbage collection keeps those
 * layers while the bundle lives.  `run --image` bundles live inside the
 * store (bundles/ID/bundle) and are removed by `delete` through
 * img_container_release. */
#include "image-internal.h"

#include <dirent.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>

#define RECORD "bundle.json"
#define STATE_RECORD "image-bundle"

struct bundle_rec
{
  char *path, *image;
  char **keys;
  bool owned; /* the store made the bundle directory */
};

static void
rec_release (struct bundle_rec *r)
{
  free (r->path);
  free (r->image);
  strv_free (r->keys);
  memset (r, 0, sizeof (*r));
}

static int
rec_load (struct img_store *s, const char *bid, struct bundle_rec *r, hull_error_t *err)
{
  cleanup_close int dfd = openat (s->bundles_fd, bid, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_free char *buf = NULL;
  size_t len;
  cleanup_json yajl_val v = NULL;
  cleanup_free char *doc = hull_fmt ("bundles/%s/%s", bid, RECORD);
  memset (r, 0, sizeof (*r));
  if (dfd < 0)
    return hull_make_error (err, errno, "image store: bundle %s", bid);
  if (hull_read_file_at (dfd, RECORD, IMG_JSON_MAX, &buf, &len, err) < 0
      || img_json_parse (buf, len, doc, &v, err) < 0)
    return -1;
  const char *path = img_json_str (v, "bundle");
  if (path == NULL || path[0] != '/')
    return hull_make_error (err, 0, "%s: damaged record", doc);
  r->path = xstrdup (path);
  r->image = xstrdup (img_json_str (v, "image"));
  r->keys = img_json_strv (img_json_get (v, "layers"));
  yajl_val owned = img_json_get (v, "owned");
  r->owned = owned && YAJL_IS_TRUE (owned);
  return 0;
}

static int
rec_save (int bfd, const char *path, const struct img_image *im, bool owned, const char *owner,
          hull_error_t *err)
{
  yajl_gen g = img_gen_new (true);
  yajl_gen_map_open (g);
  img_gen_kv (g, "bundle", path);
  img_gen_kv (g, "image", im->id);
  img_gen_strv (g, "layers", im->keys, im->n_layers);
  img_gen_str (g, "owned");
  yajl_gen_bool (g, owned);
  img_gen_kv (g, "owner", owner);
  yajl_gen_map_close (g);
  size_t len;
  cleanup_free char *json = img_gen_finish (g, &len);
  return img_write_durable (bfd, RECORD, json, len, err);
}

int
img_bundles_keys (struct img_store *s, char ***keys, size_t *count, size_t *pruned, hull_error_t *err)
{
  int fd = dup (s->bundles_fd);
  DIR *d = fd < 0 ? NULL : fdopendir (fd);
  if (d == NULL)
    {
      if (fd >= 0)
        close (fd);
      return hull_make_error (err, errno, "image store: list bundles");
    }
  rewinddir (d);
  *keys = xmalloc0 (sizeof (char *));
  *count = 0;
  struct dirent *de;
  int ret = 0;
  while ((de = readdir (d)) != NULL && ret == 0)
    {
      if (de->d_name[0] == '.')
        continue;
      struct bundle_rec r;
      hull_error_t e = NULL;
      int lr = rec_load (s, de->d_name, &r, &e);
      hull_error_release (&e);
      struct stat st;
      /* Stale: a bundle whose directory is gone, or a record never completed
       * (pruning runs under gc.lock, so no creation is under way). */
      if (pruned && (lr < 0 || stat (r.path, &st) < 0))
        {
          if ((ret = img_store_remove_dir (s, s->bundles_fd, de->d_name, err)) == 0)
            (*pruned)++;
        }
      else
        for (size_t i = 0; lr == 0 && r.keys[i]; i++)
          {
            strv_append (keys, r.keys[i]);
            (*count)++;
          }
      rec_release (&r);
    }
  closedir (d);
  return ret;
}

/* ---- the overlay mount ------------------------------------------------------ */

/* mount(2) with paths relative to the store: a page of options fits about
 * 50 layers.  For kernels without fsconfig's `lowerdir+` (before 6.8). */
static int
mount_legacy (struct img_store *s, const struct img_image *im, const char *bid, int target_fd,
              hull_error_t *err)
{
  cleanup_free char *data = xstrdup ("lowerdir=");
  for (size_t i = im->n_layers; i-- > 0;)
    {
      char *n = hull_fmt ("%s%slayers/%s", data, i + 1 == im->n_layers ? "" : ":", im->keys[i]);
      free (data);
      data = n;
    }
  char *n = hull_fmt ("%s,upperdir=bundles/%s/upper,workdir=bundles/%s/work", data, bid, bid);
  free (data);
  data = n;
  if (strlen (data) >= 4096)
    return hull_make_error (err, E2BIG,
                            "image %.12s: %zu layers do not fit in overlayfs's mount options on this "
                            "kernel (6.8 or later lifts this)",
                            im->id, im->n_layers);
  cleanup_close int cwd = open (".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cwd < 0 || fchdir (s->root_fd) < 0)
    return hull_make_error (err, errno, "change to the image store");
  char buf[HULL_PROC_FD_PATH_MAX];
  int r = mount ("overlay", hull_proc_fd_path (target_fd, buf), "overlay", 0, data);
  int saved_errno = errno;
  if (fchdir (cwd) < 0)
    abort (); /* the caller's cwd must not silently change */
  if (r < 0)
    return hull_make_error (err, saved_errno, "mount the overlay of image %.12s", im->id);
  return 0;
}

static int
mount_overlay (struct img_store *s, const struct img_image *im, const char *bid, int target_fd,
               hull_error_t *err)
{
  cleanup_close int fsfd = fsopen ("overlay", FSOPEN_CLOEXEC);
  if (fsfd < 0)
    return hull_make_error (err, errno, "fsopen overlay (is the overlay module loaded?)");
  for (size_t i = im->n_layers; i-- > 0;)
    {
      cleanup_free char *p = hull_fmt ("%s/layers/%s", s->root, im->keys[i]);
      if (fsconfig (fsfd, FSCONFIG_SET_STRING, "lowerdir+", p, 0) < 0)
        {
          if (errno == EINVAL && i + 1 == im->n_layers)
            return mount_legacy (s, im, bid, target_fd, err);
          return hull_make_error (err, errno, "overlay: lowerdir `%s`", p);
        }
    }
  cleanup_free char *up = hull_fmt ("%s/bundles/%s/upper", s->root, bid);
  cleanup_free char *work = hull_fmt ("%s/bundles/%s/work", s->root, bid);
  if (fsconfig (fsfd, FSCONFIG_SET_STRING, "upperdir", up, 0) < 0
      || fsconfig (fsfd, FSCONFIG_SET_STRING, "workdir", work, 0) < 0)
    return hull_make_error (err, errno, "overlay: upperdir `%s`", up);
  if (fsconfig (fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return hull_make_error (err, errno, "create the overlay of image %.12s", im->id);
  cleanup_close int mfd = fsmount (fsfd, FSMOUNT_CLOEXEC, 0);
  if (mfd < 0)
    return hull_make_error (err, errno, "fsmount the overlay");
  if (move_mount (mfd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return hull_make_error (err, errno, "attach the overlay");
  return 0;
}

/* ---- making and removing bundles ------------------------------------------ */

/* The merged root takes the upper layer's attributes: give it the top
 * layer's, as umoci's unpack leaves the rootfs. */
static int
prepare_upper (int bfd, int top_fd, hull_error_t *err)
{
  struct stat st;
  if (mkdirat (bfd, "upper", 0755) < 0 || mkdirat (bfd, "work", 0700) < 0)
    return hull_make_error (err, errno, "create the upper layer");
  cleanup_close int up = openat (bfd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (up < 0 || fstat (top_fd, &st) < 0)
    return hull_make_error (err, errno, "open the upper layer");
  struct timespec ts[2] = { st.st_atim, st.st_mtim };
  if (fchown (up, st.st_uid, st.st_gid) < 0 || fchmod (up, st.st_mode & 07777) < 0 || futimens (up, ts) < 0)
    return hull_make_error (err, errno, "set up the upper layer");
  return 0;
}

static int
dir_is_empty (int dfd)
{
  int fd = dup (dfd);
  DIR *d = fd < 0 ? NULL : fdopendir (fd);
  if (d == NULL)
    {
      if (fd >= 0)
        close (fd);
      return -1;
    }
  struct dirent *de;
  int empty = 1;
  while ((de = readdir (d)) != NULL)
    if (strcmp (de->d_name, ".") && strcmp (de->d_name, ".."))
      empty = 0;
  closedir (d);
  return empty;
}

/* Opens (making it) the bundle directory; *path_out gets its real path. */
static int
open_bundle_dir (struct img_store *s, int bfd, const char *bid, const char *dir, char **path_out,
                 hull_error_t *err)
{
  if (dir == NULL)
    {
      if (mkdirat (bfd, "bundle", 0700) < 0)
        return hull_make_error (err, errno, "create the bundle");
      *path_out = hull_fmt ("%s/bundles/%s/bundle", s->root, bid);
      return openat (bfd, "bundle", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
  /* 0700, as umoci makes bundles: the rootfs holds the image's setuid files. */
  if (mkdir (dir, 0700) < 0 && errno != EEXIST)
    return hull_make_error (err, errno, "create the bundle directory `%s`", dir);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return hull_make_error (err, errno, "bundle directory `%s`", dir);
  if (dir_is_empty (fd) != 1)
    {
      close (fd);
      return hull_make_error (err, ENOTEMPTY, "bundle directory `%s`", dir);
    }
  *path_out = realpath (dir, NULL);
  if (*path_out == NULL)
    {
      int saved_errno = errno;
      close (fd);
      return hull_make_error (err, saved_errno, "bundle directory `%s`", dir);
    }
  return fd;
}

static int
write_config (int dirfd, const struct img_image *im, const int *fds, hull_error_t *err)
{
  struct oci_config *cfg = img_runtime_config (im->config_json, im->config_len, fds, im->n_layers, err);
  if (cfg == NULL)
    return hull_error_wrap (err, "image %.12s", im->id);
  cleanup_free char *json = oci_config_to_json (cfg, true);
  oci_config_free (cfg);
  return hull_write_file_atomic (dirfd, "config.json", json, strlen (json), 0644, err);
}

static int
umount_rootfs (const char *path, hull_error_t *err)
{
  cleanup_free char *rootfs = hull_fmt ("%s/rootfs", path);
  if (umount2 (rootfs, UMOUNT_NOFOLLOW) == 0 || errno == EINVAL || errno == ENOENT)
    return 0;
  if (errno == EBUSY && umount2 (rootfs, UMOUNT_NOFOLLOW | MNT_DETACH) == 0)
    return 0;
  return hull_make_error (err, errno, "unmount `%s`", rootfs);
}

/* Undoes a bundle: unmount, config.json and rootfs/, the directory when the
 * store made it or it is empty, then the record. */
static int
teardown (struct img_store *s, const char *bid, const struct bundle_rec *r, hull_error_t *err)
{
  if (r && r->path)
    {
      if (umount_rootfs (r->path, err) < 0)
        return -1;
      cleanup_close int dfd = open (r->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd >= 0)
        {
          unlinkat (dfd, "config.json", 0);
          unlinkat (dfd, "rootfs", AT_REMOVEDIR);
        }
      if (!r->owned)
        rmdir (r->path); /* only when empty: the user's own files stay */
    }
  return img_store_remove_dir (s, s->bundles_fd, bid, err);
}

static int
bundle_make (struct img_store *s, const struct img_image *im, const int *fds, const char *dir,
             const char *owner, char **path_out, hull_error_t *err)
{
  cleanup_free char *bid = img_random_hex (8);
  if (mkdirat (s->bundles_fd, bid, 0700) < 0)
    return hull_make_error (err, errno, "image store: create bundle %s", bid);
  struct bundle_rec r = { .owned = dir == NULL };
  cleanup_close int bfd = openat (s->bundles_fd, bid, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_close int dfd = -1, target = -1;
  int ret = bfd < 0 ? hull_make_error (err, errno, "image store: open bundle %s", bid) : 0;
  if (ret == 0)
    ret = prepare_upper (bfd, fds[0], err);
  if (ret == 0 && (dfd = open_bundle_dir (s, bfd, bid, dir, &r.path, err)) < 0)
    ret = -1;
  if (ret == 0)
    ret = rec_save (bfd, r.path, im, r.owned, owner, err);
  if (ret == 0 && (ret = img_fsync_dir (s->bundles_fd, "bundles", err)) == 0
      && mkdirat (dfd, "rootfs", 0755) < 0)
    ret = hull_make_error (err, errno, "create `%s/rootfs`", r.path);
  if (ret == 0 && (target = openat (dfd, "rootfs", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
    ret = hull_make_error (err, errno, "open `%s/rootfs`", r.path);
  if (ret == 0)
    ret = write_config (dfd, im, fds, err);
  if (ret == 0)
    ret = mount_overlay (s, im, bid, target, err);
  if (ret < 0)
    {
      hull_error_t ignored = NULL;
      teardown (s, bid, &r, &ignored);
      hull_error_release (&ignored);
    }
  else if (path_out)
    *path_out = steal_pointer (&r.path);
  rec_release (&r);
  return ret;
}

static int
bundle_create (struct img_store *s, const char *ref, const char *dir, const char *owner, char **path_out,
               hull_error_t *err)
{
  if (img_store_lock (s, s->gc_lock_fd, LOCK_SH, err) < 0)
    return -1;
  cleanup_image struct img_image *im = NULL;
  int *fds = NULL;
  int ret = img_image_lookup (s, ref, &im, err);
  if (ret == 0)
    ret = img_open_layers (s, im, &fds, err);
  if (ret == 0)
    ret = bundle_make (s, im, fds, dir, owner, path_out, err);
  if (fds)
    img_close_layers (fds, im->n_layers);
  img_store_unlock (s->gc_lock_fd);
  return ret;
}

int
img_bundle_create (struct img_store *s, const char *ref, const char *dir, hull_error_t *err)
{
  return bundle_create (s, ref, dir, NULL, NULL, err);
}

int
img_bundle_create_for (struct img_store *s, const char *ref, const char *owner, char **dir_out,
                       hull_error_t *err)
{
  return bundle_create (s, ref, NULL, owner, dir_out, err);
}

static int
find_bundle (struct img_store *s, const char *path, char **bid_out, struct bundle_rec *out, hull_error_t *err)
{
  int fd = dup (s->bundles_fd);
  DIR *d = fd < 0 ? NULL : fdopendir (fd);
  if (d == NULL)
    {
      if (fd >= 0)
        close (fd);
      return hull_make_error (err, errno, "image store: list bundles");
    }
  rewinddir (d);
  struct dirent *de;
  int found = 0;
  while (!found && (de = readdir (d)) != NULL)
    {
      hull_error_t e = NULL;
      if (de->d_name[0] == '.' || rec_load (s, de->d_name, out, &e) < 0)
        {
          hull_error_release (&e);
          continue;
        }
      if (strcmp (out->path, path) == 0)
        {
          *bid_out = xstrdup (de->d_name);
          found = 1;
        }
      else
        rec_release (out);
    }
  closedir (d);
  if (!found)
    return hull_make_error_code (err, ENOENT, "`%s` is not a bundle made by `hull image bundle`", path);
  return 0;
}

int
img_bundle_remove (struct img_store *s, const char *dir, hull_error_t *err)
{
  cleanup_free char *path = realpath (dir, NULL);
  if (path == NULL)
    return hull_make_error (err, errno, "bundle `%s`", dir);
  cleanup_free char *bid = NULL;
  struct bundle_rec r;
  if (find_bundle (s, path, &bid, &r, err) < 0)
    return -1;
  int ret = teardown (s, bid, &r, err);
  rec_release (&r);
  if (ret < 0 || img_store_lock (s, s->gc_lock_fd, LOCK_EX, err) < 0)
    return -1;
  ret = img_store_gc (s, NULL, err);
  img_store_unlock (s->gc_lock_fd);
  return ret;
}

/* ---- the lifecycle's hook -------------------------------------------------------- */

int
img_container_record (int state_dirfd, const char *bundle, hull_error_t *err)
{
  return hull_write_file_atomic (state_dirfd, STATE_RECORD, bundle, strlen (bundle), 0600, err);
}

int
img_container_release (int state_dirfd, hull_error_t *err)
{
  cleanup_free char *path = NULL;
  if (hull_read_file_at (state_dirfd, STATE_RECORD, 4096, &path, NULL, err) < 0)
    {
      if ((*err)->status != ENOENT)
        return -1;
      hull_error_release (err);
      return 0;
    }
  /* STORE/bundles/ID/bundle, as img_bundle_create_for made it. */
  char *tail = strstr (path, "/bundles/");
  size_t tl = tail ? strlen (tail) : 0;
  if (tail == NULL || tl != strlen ("/bundles/") + 16 + strlen ("/bundle")
      || strcmp (tail + tl - 7, "/bundle") != 0)
    return hull_make_error (err, 0, "`%s`: not a bundle made by `run --image`", path);
  cleanup_free char *bid = xstrndup (tail + 9, 16);
  cleanup_free char *root = xstrndup (path, tail - path);
  cleanup_store struct img_store *s = NULL;
  struct bundle_rec r;
  if (img_store_open (root, &s, err) < 0)
    return -1;
  if (rec_load (s, bid, &r, err) == 0)
    {
      int ret = strcmp (r.path, path) == 0 ? teardown (s, bid, &r, err) : 0;
      rec_release (&r);
      if (ret < 0)
        return -1;
      if (img_store_lock (s, s->gc_lock_fd, LOCK_EX, err) < 0)
        return -1;
      ret = img_store_gc (s, NULL, err);
      img_store_unlock (s->gc_lock_fd);
      if (ret < 0)
        return -1;
    }
  else if ((*err)->status != ENOENT)
    return -1;
  else
    hull_error_release (err);
  unlinkat (state_dirfd, STATE_RECORD, 0);
  return 0;
}
