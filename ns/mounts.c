/* ns/mounts.c: config.mounts.  Each entry is first turned into a typed plan
 * (kind, flags, propagation, fs data) — which is all ns_validate_mounts
 * needs — then performed: the destination is resolved inside the rootfs,
 * the mount is built detached (fsopen/fsmount for file systems, open_tree
 * for binds), its flags are set with mount_setattr, and it is attached with
 * move_mount onto the resolved fd. */
#include "rootfs-internal.h"

#include <dirent.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

/* ---- options ------------------------------------------------------------- */

enum opt_kind
{
  OPT_ATTR,        /* per-mount flag (MOUNT_ATTR_*), ms = superblock flag too */
  OPT_ATIME,       /* one of the atime modes */
  OPT_RATTR,       /* recursive per-mount flag ("rro") */
  OPT_RATIME,      /* recursive atime mode */
  OPT_SB,          /* superblock flag (sync, dirsync, mand, lazytime) */
  OPT_PROPAGATION, /* ms = MS_SHARED... | MS_REC */
  OPT_BIND,        /* ms = MS_REC for rbind */
  OPT_REMOUNT,
  OPT_COPYUP,
  OPT_IGNORE,
  OPT_UNSUPPORTED,
};

struct opt_def
{
  const char *name;
  enum opt_kind kind;
  uint64_t attr;
  unsigned long ms;
  bool clear;
};

/* clang-format off */
#define A(name, attr, ms, clear) { name, OPT_ATTR, MOUNT_ATTR_##attr, ms, clear }
#define R(name, attr, clear) { name, OPT_RATTR, MOUNT_ATTR_##attr, 0, clear }
static const struct opt_def opt_defs[] = {
  A ("ro", RDONLY, MS_RDONLY, false), A ("rw", RDONLY, MS_RDONLY, true),
  A ("nosuid", NOSUID, 0, false), A ("suid", NOSUID, 0, true),
  A ("nodev", NODEV, 0, false), A ("dev", NODEV, 0, true),
  A ("noexec", NOEXEC, 0, false), A ("exec", NOEXEC, 0, true),
  A ("nodiratime", NODIRATIME, 0, false), A ("diratime", NODIRATIME, 0, true),
  A ("nosymfollow", NOSYMFOLLOW, 0, false), A ("symfollow", NOSYMFOLLOW, 0, true),
  R ("rro", RDONLY, false), R ("rrw", RDONLY, true),
  R ("rnosuid", NOSUID, false), R ("rsuid", NOSUID, true),
  R ("rnodev", NODEV, false), R ("rdev", NODEV, true),
  R ("rnoexec", NOEXEC, false), R ("rexec", NOEXEC, true),
  R ("rnodiratime", NODIRATIME, false), R ("rdiratime", NODIRATIME, true),
  R ("rnosymfollow", NOSYMFOLLOW, false), R ("rsymfollow", NOSYMFOLLOW, true),
  /* "atime"/"norelatime"/"nostrictatime" mean "not the other mode" in
   * mount(8); the kernel's default for that is relatime. */
  { "noatime", OPT_ATIME, MOUNT_ATTR_NOATIME }, { "atime", OPT_ATIME, MOUNT_ATTR_RELATIME },
  { "relatime", OPT_ATIME, MOUNT_ATTR_RELATIME }, { "norelatime", OPT_ATIME, MOUNT_ATTR_STRICTATIME },
  { "strictatime", OPT_ATIME, MOUNT_ATTR_STRICTATIME }, { "nostrictatime", OPT_ATIME, MOUNT_ATTR_RELATIME },
  { "rnoatime", OPT_RATIME, MOUNT_ATTR_NOATIME }, { "ratime", OPT_RATIME, MOUNT_ATTR_RELATIME },
  { "rrelatime", OPT_RATIME, MOUNT_ATTR_RELATIME }, { "rnorelatime", OPT_RATIME, MOUNT_ATTR_STRICTATIME },
  { "rstrictatime", OPT_RATIME, MOUNT_ATTR_STRICTATIME }, { "rnostrictatime", OPT_RATIME, MOUNT_ATTR_RELATIME },
  { "sync", OPT_SB, 0, MS_SYNCHRONOUS, false }, { "async", OPT_SB, 0, MS_SYNCHRONOUS, true },
  { "dirsync", OPT_SB, 0, MS_DIRSYNC, false },
  { "mand", OPT_SB, 0, MS_MANDLOCK, false }, { "nomand", OPT_SB, 0, MS_MANDLOCK, true },
  { "lazytime", OPT_SB, 0, MS_LAZYTIME, false }, { "nolazytime", OPT_SB, 0, MS_LAZYTIME, true },
  { "private", OPT_PROPAGATION, 0, MS_PRIVATE }, { "rprivate", OPT_PROPAGATION, 0, MS_PRIVATE | MS_REC },
  { "shared", OPT_PROPAGATION, 0, MS_SHARED }, { "rshared", OPT_PROPAGATION, 0, MS_SHARED | MS_REC },
  { "slave", OPT_PROPAGATION, 0, MS_SLAVE }, { "rslave", OPT_PROPAGATION, 0, MS_SLAVE | MS_REC },
  { "unbindable", OPT_PROPAGATION, 0, MS_UNBINDABLE },
  { "runbindable", OPT_PROPAGATION, 0, MS_UNBINDABLE | MS_REC },
  { "bind", OPT_BIND, 0, 0 }, { "rbind", OPT_BIND, 0, MS_REC },
  { "remount", OPT_REMOUNT }, { "tmpcopyup", OPT_COPYUP },
  /* silent/loud only change kernel logging; defaults is a no-op. */
  { "silent", OPT_IGNORE }, { "loud", OPT_IGNORE }, { "defaults", OPT_IGNORE }, { "notmpcopyup", OPT_IGNORE },
  { "idmap", OPT_UNSUPPORTED }, { "ridmap", OPT_UNSUPPORTED },
};
#undef A
#undef R
/* clang-format on */

static const struct opt_def *
opt_lookup (const char *name)
{
  for (size_t i = 0; i < sizeof (opt_defs) / sizeof (opt_defs[0]); i++)
    if (strcmp (opt_defs[i].name, name) == 0)
      return &opt_defs[i];
  return NULL;
}

static void
attr_flag (struct mount_attr *a, uint64_t flag, bool clear)
{
  if (clear)
    a->attr_clr |= flag, a->attr_set &= ~flag;
  else
    a->attr_set |= flag, a->attr_clr &= ~flag;
}

static void
attr_atime (struct mount_attr *a, uint64_t mode)
{
  a->attr_clr |= MOUNT_ATTR__ATIME;
  a->attr_set = (a->attr_set & ~(uint64_t)MOUNT_ATTR__ATIME) | mode;
}

/* ---- plans ---------------------------------------------------------------- */

enum mount_kind
{
  MOUNT_FS,      /* a new file system instance */
  MOUNT_BIND,    /* bind or rbind of a host path */
  MOUNT_REMOUNT, /* new flags for the mount already at the destination */
};

struct mount_plan
{
  enum mount_kind kind;
  const char *fstype; /* MOUNT_FS: what fsopen gets ("cgroup" becomes "cgroup2") */
  bool recursive;     /* rbind */
  bool copyup;        /* tmpcopyup: the tmpfs starts with a copy of what it covers */
  unsigned long sb_flags;
  struct mount_attr attr;     /* top mount: ro, nosuid... */
  struct mount_attr rattr;    /* whole tree: rro, rnosuid... */
  unsigned long *propagation; /* MS_SHARED... | MS_REC, in the order given */
  size_t n_propagation;
  char **data;    /* options the kernel gets as fs data */
  size_t data_at; /* index of the first of them, for errors */
  size_t copyup_at;
};

static void
plan_release (struct mount_plan *p)
{
  free (p->propagation);
  strv_free (p->data);
}
#define cleanup_plan __attribute__ ((cleanup (plan_release)))

static int
plan_option (struct mount_plan *p, const char *o, size_t i, size_t j, bool *bind, bool *remount,
             hull_error_t *err)
{
  if (*o == '\0')
    return hull_make_error (err, 0, "mounts[%zu].options[%zu]: empty option", i, j);
  const struct opt_def *d = opt_lookup (o);
  if (d == NULL)
    {
      /* mount(8) keeps "x-*" options for userspace; never pass them on. */
      if (!hull_str_has_prefix (o, "x-"))
        {
          if (p->data == NULL)
            p->data_at = j;
          strv_append (&p->data, o);
        }
      return 0;
    }
  switch (d->kind)
    {
    case OPT_ATTR:
      attr_flag (&p->attr, d->attr, d->clear);
      p->sb_flags = d->clear ? p->sb_flags & ~d->ms : p->sb_flags | d->ms;
      break;
    case OPT_ATIME:
      attr_atime (&p->attr, d->attr);
      break;
    case OPT_RATTR:
      attr_flag (&p->rattr, d->attr, d->clear);
      break;
    case OPT_RATIME:
      attr_atime (&p->rattr, d->attr);
      break;
    case OPT_SB:
      p->sb_flags = d->clear ? p->sb_flags & ~d->ms : p->sb_flags | d->ms;
      break;
    case OPT_PROPAGATION:
      p->propagation[p->n_propagation++] = d->ms;
      break;
    case OPT_BIND:
      *bind = true;
      p->recursive = p->recursive || (d->ms & MS_REC);
      break;
    case OPT_REMOUNT:
      *remount = true;
      break;
    case OPT_COPYUP:
      p->copyup = true;
      p->copyup_at = j;
      break;
    case OPT_IGNORE:
      break;
    case OPT_UNSUPPORTED:
      return hull_make_error (err, 0, "mounts[%zu].options[%zu]: `%s`: id-mapped mounts are not supported", i,
                              j, o);
    }
  return 0;
}

static int
plan_kind (const struct oci_mount *m, size_t i, struct mount_plan *p, bool bind, bool remount,
           hull_error_t *err)
{
  const char *type = m->type && *m->type ? m->type : NULL;
  if (remount)
    p->kind = MOUNT_REMOUNT;
  else if (bind || (type && strcmp (type, "bind") == 0))
    p->kind = MOUNT_BIND;
  else if (type == NULL || strcmp (type, "none") == 0)
    return hull_make_error (err, 0, "mounts[%zu].type: required unless options contain bind or rbind", i);
  else
    p->kind = MOUNT_FS;
  if (p->kind == MOUNT_BIND && (m->source == NULL || *m->source == '\0'))
    return hull_make_error (err, 0, "mounts[%zu].source: required for a bind mount", i);
  if (p->kind == MOUNT_BIND && p->data)
    return hull_make_error (err, 0, "mounts[%zu].options[%zu]: unknown option `%s` for a bind mount", i,
                            p->data_at, p->data[0]);
  if (p->kind == MOUNT_FS)
    {
      /* cgroup v2 only: a "cgroup" mount gets cgroup2, and v1 controller
       * names in its data mean nothing there. */
      p->fstype = strcmp (type, "cgroup") == 0 ? "cgroup2" : type;
      if (strcmp (type, "cgroup") == 0)
        strv_free (steal_pointer (&p->data));
    }
  if (p->copyup && (p->kind != MOUNT_FS || strcmp (p->fstype, "tmpfs") != 0))
    return hull_make_error (err, 0, "mounts[%zu].options[%zu]: tmpcopyup needs a tmpfs mount", i,
                            p->copyup_at);
  return 0;
}

static int
plan_mount (const struct oci_mount *m, size_t i, struct mount_plan *p, hull_error_t *err)
{
  if (m->destination == NULL || *m->destination == '\0')
    return hull_make_error (err, 0, "mounts[%zu].destination: required", i);
  if (m->destination[0] != '/')
    return hull_make_error (err, 0, "mounts[%zu].destination: must be absolute, got `%s`", i, m->destination);
  cleanup_free char *clean = ns_path_clean (m->destination);
  if (strcmp (clean, "/") == 0)
    return hull_make_error (err, 0, "mounts[%zu].destination: cannot mount over the rootfs itself", i);
  if (m->n_uid_mappings || m->n_gid_mappings)
    return hull_make_error (err, 0, "mounts[%zu].%s: id-mapped mounts are not supported", i,
                            m->n_uid_mappings ? "uidMappings" : "gidMappings");
  size_t n = strv_len (m->options);
  p->propagation = xmalloc0 ((n + 1) * sizeof (*p->propagation));
  bool bind = false, remount = false;
  for (size_t j = 0; j < n; j++)
    if (plan_option (p, m->options[j], i, j, &bind, &remount, err) < 0)
      return -1;
  return plan_kind (m, i, p, bind, remount, err);
}

/* ---- validation ------------------------------------------------------------ */

static int
validate_paths (char *const *paths, const char *name, hull_error_t *err)
{
  for (size_t j = 0; paths && paths[j]; j++)
    if (paths[j][0] != '/')
      return hull_make_error (err, 0, "linux.%s[%zu]: must be absolute, got `%s`", name, j, paths[j]);
  return 0;
}

static int
validate_device (const struct oci_device *d, size_t i, hull_error_t *err)
{
  if (d->path == NULL || *d->path == '\0')
    return hull_make_error (err, 0, "linux.devices[%zu].path: required", i);
  if (d->path[0] != '/')
    return hull_make_error (err, 0, "linux.devices[%zu].path: must be absolute, got `%s`", i, d->path);
  cleanup_free char *clean = ns_path_clean (d->path);
  if (strcmp (clean, "/") == 0)
    return hull_make_error (err, 0, "linux.devices[%zu].path: must name a file, got `%s`", i, d->path);
  if (d->type == '\0' || strchr ("cbup", d->type) == NULL)
    return hull_make_error (err, 0, "linux.devices[%zu].type: must be one of c, b, u, p", i);
  if (d->type != 'p' && (d->major < 0 || d->minor < 0 || d->major > 0xfff || d->minor > 0xfffff))
    return hull_make_error (err, 0, "linux.devices[%zu]: device number %" PRId64 ":%" PRId64 " out of range",
                            i, d->major, d->minor);
  return 0;
}

int
ns_validate_mounts (const struct oci_config *c, hull_error_t *err)
{
  for (size_t i = 0; i < c->n_mounts; i++)
    {
      cleanup_plan struct mount_plan p = { 0 };
      if (plan_mount (&c->mounts[i], i, &p, err) < 0)
        return -1;
    }
  const struct oci_linux *l = c->linux_;
  if (l == NULL)
    return 0;
  for (size_t i = 0; i < l->n_devices; i++)
    if (validate_device (&l->devices[i], i, err) < 0)
      return -1;
  if (validate_paths (l->masked_paths, "maskedPaths", err) < 0)
    return -1;
  return validate_paths (l->readonly_paths, "readonlyPaths", err);
}

bool
ns_mounts_need_dev_setup (const struct oci_config *c)
{
  for (size_t i = 0; i < c->n_mounts; i++)
    {
      cleanup_plan struct mount_plan p = { 0 };
      if (plan_mount (&c->mounts[i], i, &p, NULL) < 0 || p.kind != MOUNT_BIND)
        continue;
      cleanup_free char *clean = ns_path_clean (c->mounts[i].destination);
      if (strcmp (clean, "/dev") == 0)
        return false;
    }
  return true;
}

/* ---- building mounts ------------------------------------------------------ */

/* The fs context's log ("e tmpfs: Bad value for 'size'") says far more
 * than EINVAL; keep its last error line. */
static int
fs_error (hull_error_t *err, int fsfd, const char *fstype, const char *dest)
{
  int saved_errno = errno;
  char kmsg[512] = "", line[512];
  ssize_t n;
  while (fsfd >= 0 && (n = read (fsfd, line, sizeof (line) - 1)) > 0)
    {
      line[n] = '\0';
      line[strcspn (line, "\n")] = '\0';
      if (line[0] == 'e' && line[1] == ' ')
        snprintf (kmsg, sizeof (kmsg), "%s", line + 2);
    }
  if (kmsg[0] == '\0')
    return hull_make_error (err, saved_errno, "mount `%s` on `%s`", fstype, dest);
  return hull_make_error_code (err, saved_errno, "mount `%s` on `%s`: %s (%s)", fstype, dest,
                               strerror (saved_errno), kmsg);
}

/* Splits fs data on commas, except inside double quotes (SELinux contexts
 * such as context="a:b:c:s0:c1,c2"). */
static void
split_fs_data (const char *s, char ***out)
{
  bool quoted = false;
  const char *start = s;
  for (const char *p = s;; p++)
    {
      if (*p == '"')
        quoted = !quoted;
      if (*p == '\0' || (*p == ',' && !quoted))
        {
          if (p > start)
            {
              cleanup_free char *item = xstrndup (start, p - start);
              strv_append (out, item);
            }
          if (*p == '\0')
            return;
          start = p + 1;
        }
    }
}

static int
fs_config (int fsfd, unsigned long sb_flags, char *const *data, const char *fstype, const char *dest,
           hull_error_t *err)
{
  static const struct
  {
    unsigned long ms;
    const char *name;
  } sb_names[] = {
    { MS_RDONLY, "ro" },     { MS_SYNCHRONOUS, "sync" },  { MS_DIRSYNC, "dirsync" },
    { MS_MANDLOCK, "mand" }, { MS_LAZYTIME, "lazytime" },
  };
  for (size_t i = 0; i < sizeof (sb_names) / sizeof (sb_names[0]); i++)
    if ((sb_flags & sb_names[i].ms) && fsconfig (fsfd, FSCONFIG_SET_FLAG, sb_names[i].name, NULL, 0) < 0)
      return fs_error (err, fsfd, fstype, dest);
  cleanup_strv char **params = NULL;
  for (size_t i = 0; data && data[i]; i++)
    split_fs_data (data[i], &params);
  for (size_t i = 0; params && params[i]; i++)
    {
      char *eq = strchr (params[i], '=');
      int r;
      if (eq)
        {
          cleanup_free char *key = xstrndup (params[i], eq - params[i]);
          r = fsconfig (fsfd, FSCONFIG_SET_STRING, key, eq + 1, 0);
        }
      else
        r = fsconfig (fsfd, FSCONFIG_SET_FLAG, params[i], NULL, 0);
      if (r < 0)
        return fs_error (err, fsfd, fstype, dest);
    }
  return 0;
}

int
ns_fs_tree (const char *fstype, const char *source, unsigned long sb_flags, char *const *data, uint64_t attrs,
            const char *dest, hull_error_t *err)
{
  cleanup_close int fsfd = fsopen (fstype, FSOPEN_CLOEXEC);
  if (fsfd < 0)
    return hull_make_error (err, errno, "mount `%s` on `%s`: file system type `%s`", fstype, dest, fstype);
  if (fsconfig (fsfd, FSCONFIG_SET_STRING, "source", source ? source : fstype, 0) < 0)
    return fs_error (err, fsfd, fstype, dest);
  if (fs_config (fsfd, sb_flags, data, fstype, dest, err) < 0)
    return -1;
  if (fsconfig (fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return fs_error (err, fsfd, fstype, dest);
  int tree = fsmount (fsfd, FSMOUNT_CLOEXEC, (unsigned)attrs);
  if (tree < 0)
    return fs_error (err, fsfd, fstype, dest);
  return tree;
}

int
ns_bind_tree (int fd, const char *path, bool recursive, const char *dest, hull_error_t *err)
{
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
  int tree = fd >= 0 ? open_tree (fd, "", flags | AT_EMPTY_PATH) : open_tree (AT_FDCWD, path, flags);
  if (tree < 0)
    return hull_make_error (err, errno, "bind `%s` on `%s`", path, dest);
  return tree;
}

int
ns_attach_tree (int tree_fd, int target_fd, const char *what, const char *dest, hull_error_t *err)
{
  if (move_mount (tree_fd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return hull_make_error (err, errno, "mount `%s` on `%s`", what, dest);
  return 0;
}

int
ns_set_mount_attr (int fd, uint64_t set, uint64_t clr, bool recursive, const char *dest, hull_error_t *err)
{
  if (set == 0 && clr == 0)
    return 0;
  struct mount_attr a = { .attr_set = set, .attr_clr = clr };
  if (mount_setattr (fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof (a)) == 0)
    return 0;
  if (errno == EPERM && clr)
    return hull_make_error (
        err, errno, "set the flags of `%s` (a flag locked by a user namespace cannot be cleared)", dest);
  return hull_make_error (err, errno, "set the flags of `%s`", dest);
}

static int
set_propagation (int fd, const struct mount_plan *p, const char *dest, hull_error_t *err)
{
  for (size_t i = 0; i < p->n_propagation; i++)
    {
      struct mount_attr a = { .propagation = p->propagation[i] & ~(unsigned long)MS_REC };
      unsigned flags = AT_EMPTY_PATH | ((p->propagation[i] & MS_REC) ? AT_RECURSIVE : 0);
      if (mount_setattr (fd, "", flags, &a, sizeof (a)) < 0)
        return hull_make_error (err, errno, "set the propagation of `%s`", dest);
    }
  return 0;
}

/* ---- tmpcopyup ------------------------------------------------------------ */

static int copy_dir (int src, int dst, dev_t dev, int depth, const char *dest, hull_error_t *err);

static int
copy_file (int src, int dst, const char *name, const char *dest, hull_error_t *err)
{
  cleanup_close int in = openat (src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0)
    return hull_make_error (err, errno, "tmpcopyup of `%s`: open `%s`", dest, name);
  cleanup_close int out = openat (dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0)
    return hull_make_error (err, errno, "tmpcopyup of `%s`: create `%s`", dest, name);
  char buf[65536];
  ssize_t n;
  while ((n = read (in, buf, sizeof (buf))) > 0)
    if (hull_write_all (out, buf, n) < 0)
      return hull_make_error (err, errno, "tmpcopyup of `%s`: write `%s`", dest, name);
  if (n < 0)
    return hull_make_error (err, errno, "tmpcopyup of `%s`: read `%s`", dest, name);
  return 0;
}

static int
copy_entry (int src, int dst, const char *name, dev_t dev, int depth, const char *dest, hull_error_t *err)
{
  struct stat st;
  if (fstatat (src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return hull_make_error (err, errno, "tmpcopyup of `%s`: stat `%s`", dest, name);
  int r = 0;
  if (S_ISDIR (st.st_mode))
    {
      r = mkdirat (dst, name, 0700);
      /* Stay on the file system being covered, as the mount hides nothing else. */
      if (r == 0 && st.st_dev == dev)
        {
          cleanup_close int s = openat (src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          cleanup_close int d = openat (dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (s < 0 || d < 0)
            return hull_make_error (err, errno, "tmpcopyup of `%s`: open `%s`", dest, name);
          if (copy_dir (s, d, dev, depth + 1, dest, err) < 0)
            return -1;
        }
    }
  else if (S_ISREG (st.st_mode))
    {
      if (copy_file (src, dst, name, dest, err) < 0)
        return -1;
    }
  else if (S_ISLNK (st.st_mode))
    {
      char target[4096];
      ssize_t n = readlinkat (src, name, target, sizeof (target) - 1);
      if (n >= 0)
        target[n] = '\0';
      r = n < 0 ? -1 : symlinkat (target, dst, name);
    }
  else
    r = mknodat (dst, name, st.st_mode, st.st_rdev);
  if (r < 0)
    return hull_make_error (err, errno, "tmpcopyup of `%s`: copy `%s`", dest, name);
  /* An owner a user namespace does not map cannot be kept: the copy then
   * stays root's, which is all such a process could do. */
  if (fchownat (dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EINVAL
      && errno != EPERM)
    return hull_make_error (err, errno, "tmpcopyup of `%s`: chown `%s`", dest, name);
  if (!S_ISLNK (st.st_mode) && fchmodat (dst, name, st.st_mode & 07777, 0) < 0)
    return hull_make_error (err, errno, "tmpcopyup of `%s`: chmod `%s`", dest, name);
  return 0;
}

static int
copy_dir (int src, int dst, dev_t dev, int depth, const char *dest, hull_error_t *err)
{
  if (depth > 128)
    return hull_make_error (err, ELOOP, "tmpcopyup of `%s`: directories nested too deep", dest);
  int fd = openat (src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd < 0 ? NULL : fdopendir (fd);
  if (d == NULL)
    {
      int saved_errno = errno;
      if (fd >= 0)
        close (fd);
      return hull_make_error (err, saved_errno, "tmpcopyup of `%s`: read directory", dest);
    }
  struct dirent *de;
  int ret = 0;
  while (ret == 0 && (de = readdir (d)) != NULL)
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
      ret = copy_entry (dirfd (d), dst, de->d_name, dev, depth, dest, err);
  closedir (d);
  return ret;
}

/* runc's tmpcopyup: the new tmpfs starts with a copy of the directory it
 * covers.  The copy goes into the still detached mount, so nothing is ever
 * visible half-copied. */
static int
copy_up (int dst, int tree, const char *dest, hull_error_t *err)
{
  cleanup_close int src = openat (dst, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_close int to = openat (tree, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct stat st;
  if (src < 0 || to < 0 || fstat (src, &st) < 0)
    return hull_make_error (err, errno, "tmpcopyup of `%s`", dest);
  return copy_dir (src, to, st.st_dev, 0, dest, err);
}

/* ---- performing a mount ------------------------------------------------- */

/* runc's checkProcMount: nothing may be mounted inside /proc (it would
 * hide or fake kernel interfaces, CVE-2019-16884) except the files lxcfs
 * emulates; on /proc itself only proc, or a bind of a procfs. */
static const char *const proc_allowed[] = {
  "/proc/cpuinfo",
  "/proc/diskstats",
  "/proc/meminfo",
  "/proc/stat",
  "/proc/swaps",
  "/proc/uptime",
  "/proc/loadavg",
  "/proc/slabinfo",
  "/proc/net/dev",
  "/proc/sys/kernel/ns_last_pid",
  "/proc/sys/crypto/fips_enabled",
};

static bool
is_proc_or_sysfs (const struct mount_plan *p)
{
  return p->kind == MOUNT_FS && (strcmp (p->fstype, "proc") == 0 || strcmp (p->fstype, "sysfs") == 0);
}

/* Where a mount may go, by its canonical path inside the rootfs. */
static int
check_place (const struct mount_plan *p, int src, const char *resolved, const char *dest, hull_error_t *err)
{
  if (p->kind == MOUNT_REMOUNT)
    return 0;
  if (strcmp (resolved, "/proc") == 0)
    {
      struct statfs sfs;
      if (p->kind == MOUNT_BIND && (fstatfs (src, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC))
        return hull_make_error (err, 0, "mount destination `%s`: only a procfs can be bound on /proc", dest);
      return 0;
    }
  if (!hull_str_has_prefix (resolved, "/proc/"))
    return 0;
  for (size_t i = 0; i < sizeof (proc_allowed) / sizeof (proc_allowed[0]); i++)
    if (strcmp (resolved, proc_allowed[i]) == 0)
      return 0;
  return hull_make_error (err, 0, "mount destination `%s`: `%s` is inside /proc, refusing to mount there",
                          dest, resolved);
}

/* Resolves (and creates) the destination: the place is checked before
 * anything is created, and again on what was actually resolved. */
static int
resolve_destination (const struct mount_plan *p, int rootfs_fd, const char *dest, int src,
                     enum ns_create create, hull_error_t *err)
{
  unsigned flags = is_proc_or_sysfs (p) ? NS_RESOLVE_NOFOLLOW_LAST : 0;
  cleanup_free char *resolved = NULL;
  hull_error_t local = NULL;
  cleanup_close int dst = ns_resolve_in_root (rootfs_fd, dest, NS_CREATE_NONE, flags, &resolved, &local);
  if (dst < 0 && local->status == ENOENT && create != NS_CREATE_NONE)
    {
      hull_error_release (&local);
      if (check_place (p, src, resolved, dest, err) < 0)
        return -1;
      free (steal_pointer (&resolved));
      dst = ns_resolve_in_root (rootfs_fd, dest, create, flags, &resolved, &local);
    }
  if (dst < 0)
    {
      if (err)
        *err = steal_pointer (&local);
      hull_error_release (&local);
      return hull_error_wrap (err, "mount destination `%s`", dest);
    }
  struct stat st;
  if (fstat (dst, &st) < 0)
    return hull_make_error (err, errno, "mount destination `%s`: stat", dest);
  if (is_proc_or_sysfs (p) && !S_ISDIR (st.st_mode))
    return hull_make_error (err, ENOTDIR, "mount `%s` on `%s`: only on a real directory", p->fstype, dest);
  if (check_place (p, src, resolved, dest, err) < 0)
    return -1;
  return steal_fd (&dst);
}

/* The initial cgroup namespace, as /proc/PID/ns/cgroup names it
 * (PROC_CGROUP_INIT_INO); the root of a cgroup2 hierarchy is inode 1. */
#define CGROUPNS_INIT_INO 0xEFFFFFFBU
#define CGROUP2_ROOT_INO 1

static bool
in_init_cgroupns (void)
{
  struct stat st;
  return stat ("/proc/self/ns/cgroup", &st) == 0 && st.st_ino == CGROUPNS_INIT_INO;
}

/* Walks up from cgroup_fd to the hierarchy's root within the same mount. */
static int
cgroup2_root (int cgroup_fd)
{
  struct stat st;
  if (fstat (cgroup_fd, &st) < 0)
    return -1;
  dev_t dev = st.st_dev;
  cleanup_close int cur = fcntl (cgroup_fd, F_DUPFD_CLOEXEC, 0);
  for (int depth = 0; cur >= 0 && depth < 256; depth++)
    {
      if (fstat (cur, &st) < 0 || st.st_dev != dev)
        return -1;
      if (st.st_ino == CGROUP2_ROOT_INO)
        return steal_fd (&cur);
      int up = openat (cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
      close (cur);
      cur = up;
    }
  return -1;
}

int
ns_cgroup_tree (int cgroup_fd, bool own_cgroupns)
{
  const unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH;
  struct statfs sfs;
  if (fstatfs (cgroup_fd, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC)
    return -1;
  if (own_cgroupns)
    return open_tree (cgroup_fd, "", flags);
  if (!in_init_cgroupns ())
    return -1;
  cleanup_close int root = cgroup2_root (cgroup_fd);
  return root < 0 ? -1 : open_tree (root, "", flags);
}

/* A bind standing in for a new file system instance gets that mount's
 * flags (ro, nosuid...; atime kept as it is unless asked).  Takes *tree. */
static int
stand_in_tree (int *tree, const struct mount_plan *p, const struct oci_mount *m, hull_error_t *err)
{
  cleanup_close int fd = steal_fd (tree);
  uint64_t keep_atime = p->attr.attr_clr & MOUNT_ATTR__ATIME;
  if (ns_set_mount_attr (fd, p->attr.attr_set, keep_atime, false, m->destination, err) < 0)
    return -1;
  return steal_fd (&fd);
}

/* A new cgroup2 mount shows the container its cgroup namespace's root: its
 * own cgroup directory, or with no namespace of its own the hierarchy's root.
 * The parent cloned that directory (ns_cgroup_tree) before the init was
 * made; attaching the clone costs microseconds where a new cgroup2 mount
 * waits for an RCU grace period (milliseconds), and unlike a new mount in
 * the initial cgroup namespace it does not reset the hierarchy's options
 * (nsdelegate, memory_recursiveprot) to the mount's.  Taken by the first
 * cgroup mount without options for the superblock (those would need a new
 * mount to mean anything). */
static bool
can_take_cgroup_tree (const struct mount_plan *p, const int *cgroup_tree)
{
  const unsigned long sb_only = MS_SYNCHRONOUS | MS_DIRSYNC | MS_MANDLOCK | MS_LAZYTIME;
  return cgroup_tree != NULL && *cgroup_tree >= 0 && strcmp (p->fstype, "cgroup2") == 0 && p->data == NULL
         && !(p->sb_flags & sb_only);
}

/* A new instance of the file system; in a user namespace that does not own
 * the network (cgroup) namespace the kernel refuses sysfs (cgroup2), and
 * runc then binds the host's instead. */
static int
fs_mount_tree (const struct oci_mount *m, const struct mount_plan *p, bool userns, int *cgroup_tree,
               hull_error_t *err)
{
  if (can_take_cgroup_tree (p, cgroup_tree))
    return stand_in_tree (cgroup_tree, p, m, err);
  hull_error_t local = NULL;
  int tree
      = ns_fs_tree (p->fstype, m->source, p->sb_flags, p->data, p->attr.attr_set, m->destination, &local);
  bool sysfs = strcmp (p->fstype, "sysfs") == 0, cgroup = strcmp (p->fstype, "cgroup2") == 0;
  if (tree >= 0 || !userns || local->status != EPERM || !(sysfs || cgroup))
    {
      if (err)
        *err = local;
      else
        hull_error_release (&local);
      return tree;
    }
  hull_error_release (&local);
  int bind = ns_bind_tree (-1, sysfs ? "/sys" : "/sys/fs/cgroup", true, m->destination, err);
  if (bind < 0)
    return -1;
  return stand_in_tree (&bind, p, m, err);
}

static int
build_tree (const struct oci_mount *m, const struct mount_plan *p, int src, int *dst, bool userns,
            int *cgroup_tree, hull_error_t *err)
{
  if (p->kind == MOUNT_FS)
    return fs_mount_tree (m, p, userns, cgroup_tree, err);
  cleanup_close int tree = -1;
  if (p->kind == MOUNT_REMOUNT)
    {
      struct statx stx;
      if (statx (*dst, "", AT_EMPTY_PATH, STATX_INO, &stx) < 0)
        return hull_make_error (err, errno, "remount `%s`: statx", m->destination);
      if (!(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
        return hull_make_error (err, EINVAL, "remount `%s`: not a mount point", m->destination);
      tree = steal_fd (dst);
    }
  else if ((tree = ns_bind_tree (src, m->source, p->recursive, m->destination, err)) < 0)
    return -1;
  /* mount_setattr keeps every flag it is not asked to change, so flags a
   * user namespace locked on the source (nosuid, nodev, ro...) stay set
   * instead of making the remount fail with EPERM. */
  if (ns_set_mount_attr (tree, p->attr.attr_set, p->attr.attr_clr, false, m->destination, err) < 0)
    return -1;
  return steal_fd (&tree);
}

static int
mount_one (const struct oci_mount *m, const struct mount_plan *p, int rootfs_fd, bool userns,
           int *cgroup_tree, hull_error_t *err)
{
  const char *dest = m->destination;
  cleanup_close int src = -1;
  enum ns_create create = p->kind == MOUNT_REMOUNT ? NS_CREATE_NONE : NS_CREATE_DIR;
  if (p->kind == MOUNT_BIND)
    {
      struct stat st;
      src = open (m->source, O_PATH | O_CLOEXEC);
      if (src < 0 || fstat (src, &st) < 0)
        return hull_make_error (err, errno, "bind source `%s` (for `%s`)", m->source, dest);
      if (!S_ISDIR (st.st_mode))
        create = NS_CREATE_FILE;
    }
  cleanup_close int dst = resolve_destination (p, rootfs_fd, dest, src, create, err);
  if (dst < 0)
    return -1;
  cleanup_close int tree = build_tree (m, p, src, &dst, userns, cgroup_tree, err);
  if (tree < 0)
    return -1;
  if (p->copyup && copy_up (dst, tree, dest, err) < 0)
    return -1;
  if (ns_set_mount_attr (tree, p->rattr.attr_set, p->rattr.attr_clr, true, dest, err) < 0)
    return -1;
  const char *what = p->kind == MOUNT_BIND ? m->source : p->fstype;
  if (p->kind != MOUNT_REMOUNT && ns_attach_tree (tree, dst, what, dest, err) < 0)
    return -1;
  return set_propagation (tree, p, dest, err);
}

int
ns_mounts_apply (const struct oci_config *c, int rootfs_fd, bool userns, int *cgroup_tree, hull_error_t *err)
{
  for (size_t i = 0; i < c->n_mounts; i++)
    {
      cleanup_plan struct mount_plan p = { 0 };
      if (plan_mount (&c->mounts[i], i, &p, err) < 0)
        return -1;
      if (mount_one (&c->mounts[i], &p, rootfs_fd, userns, cgroup_tree, err) < 0)
        return -1;
    }
  return 0;
}
