/* ns/dev.c: the container's /dev, as runc builds it after the mounts — the
 * default devices and linux.devices (mknod, or a bind of the host node when
 * a user namespace forbids mknod), /dev/pts and /dev/shm, the /dev/ptmx
 * symlink into the container's devpts, and the /dev/fd, stdin, stdout,
 * stderr and core symlinks into /proc. */
#include "rootfs-internal.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

/* The devices every container gets (runtime-spec "Default Devices"). */
static const struct
{
  const char *path;
  unsigned major, minor;
} default_devices[] = {
  { "/dev/null", 1, 3 },   { "/dev/zero", 1, 5 },    { "/dev/full", 1, 7 },
  { "/dev/random", 1, 8 }, { "/dev/urandom", 1, 9 }, { "/dev/tty", 5, 0 },
};

/* Binds the host's node of the same path over an empty file: what runc does
 * where mknod is not allowed. */
static int
bind_device (int dir, const char *base, const char *path, hull_error_t *err)
{
  if (mknodat (dir, base, S_IFREG | 0644, 0) < 0 && errno != EEXIST)
    return hull_make_error (err, errno, "device `%s`: create the mount point", path);
  cleanup_close int target = openat (dir, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (target < 0 || fstat (target, &st) < 0)
    return hull_make_error (err, errno, "device `%s`: open the mount point", path);
  if (S_ISLNK (st.st_mode) || S_ISDIR (st.st_mode))
    return hull_make_error (err, EEXIST, "device `%s`: a %s is in the way", path,
                            S_ISDIR (st.st_mode) ? "directory" : "symlink");
  cleanup_close int tree = ns_bind_tree (-1, path, false, path, err);
  if (tree < 0)
    return hull_error_wrap (err, "device `%s` in a user namespace", path);
  return ns_attach_tree (tree, target, path, path, err);
}

static int
make_node (int dir, const char *base, const char *path, const struct oci_device *d, bool userns,
           hull_error_t *err)
{
  mode_t mode = d->file_mode.set ? (mode_t)(d->file_mode.v & 07777) : 0666;
  mode_t fmt = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
  /* A fifo is no device: mknod makes one even in a user namespace. */
  if (userns && fmt != S_IFIFO)
    return bind_device (dir, base, path, err);
  dev_t dev = fmt == S_IFIFO ? 0 : makedev (d->major, d->minor);
  if (mknodat (dir, base, fmt | mode, dev) < 0)
    {
      if (errno == EEXIST) /* as runc: a node already there is kept */
        return 0;
      if (errno == EPERM && fmt != S_IFIFO)
        return bind_device (dir, base, path, err);
      return hull_make_error (err, errno, "mknod `%s`", path);
    }
  uid_t uid = d->uid.set ? (uid_t)d->uid.v : 0;
  gid_t gid = d->gid.set ? (gid_t)d->gid.v : 0;
  if (fchownat (dir, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
    return hull_make_error (err, errno, "chown `%s` to %u:%u", path, (unsigned)uid, (unsigned)gid);
  /* mknod honoured the umask; the config's mode is meant exactly. */
  if (fchmodat (dir, base, mode, 0) < 0)
    return hull_make_error (err, errno, "chmod `%s` to %04o", path, (unsigned)mode);
  return 0;
}

static int
create_device (int rootfs_fd, const struct oci_device *d, bool userns, hull_error_t *err)
{
  cleanup_free char *path = ns_path_clean (d->path);
  char *slash = strrchr (path, '/');
  cleanup_free char *parent = slash == path ? xstrdup ("/") : xstrndup (path, slash - path);
  if (slash[1] == '\0')
    return hull_make_error (err, EINVAL, "device `%s`: not a file name", d->path);
  cleanup_close int dir = ns_resolve_in_root (rootfs_fd, parent, NS_CREATE_DIR, 0, NULL, err);
  if (dir < 0)
    return hull_error_wrap (err, "device `%s`", d->path);
  return make_node (dir, slash + 1, path, d, userns, err);
}

static bool
device_listed (const struct oci_linux *l, const char *path)
{
  for (size_t i = 0; l && i < l->n_devices; i++)
    {
      cleanup_free char *clean = ns_path_clean (l->devices[i].path);
      if (strcmp (clean, path) == 0)
        return true;
    }
  return false;
}

static int
create_devices (const struct oci_config *c, int rootfs_fd, bool userns, hull_error_t *err)
{
  const struct oci_linux *l = c->linux_;
  for (size_t i = 0; i < sizeof (default_devices) / sizeof (default_devices[0]); i++)
    {
      /* linux.devices may redefine a default one (its mode or owner). */
      if (device_listed (l, default_devices[i].path))
        continue;
      struct oci_device d = { .type = 'c',
                              .path = (char *)default_devices[i].path,
                              .major = default_devices[i].major,
                              .minor = default_devices[i].minor,
                              .file_mode = { true, 0666 } };
      if (create_device (rootfs_fd, &d, userns, err) < 0)
        return -1;
    }
  for (size_t i = 0; l && i < l->n_devices; i++)
    if (create_device (rootfs_fd, &l->devices[i], userns, err) < 0)
      return hull_error_wrap (err, "linux.devices[%zu]", i);
  return 0;
}

static int
create_links (int dev, hull_error_t *err)
{
  static const char *const links[][2] = {
    { "/proc/self/fd", "fd" },       { "/proc/self/fd/0", "stdin" }, { "/proc/self/fd/1", "stdout" },
    { "/proc/self/fd/2", "stderr" }, { "/proc/kcore", "core" },
  };
  for (size_t i = 0; i < sizeof (links) / sizeof (links[0]); i++)
    {
      /* As runc: /dev/core only where the kernel has /proc/kcore. */
      if (strcmp (links[i][1], "core") == 0 && access ("/proc/kcore", F_OK) < 0)
        continue;
      if (symlinkat (links[i][0], dev, links[i][1]) < 0 && errno != EEXIST)
        return hull_make_error (err, errno, "symlink `/dev/%s` -> `%s`", links[i][1], links[i][0]);
    }
  /* /dev/ptmx must open the container's own devpts instance. */
  if (unlinkat (dev, "ptmx", 0) < 0 && errno != ENOENT)
    return hull_make_error (err, errno, "remove `/dev/ptmx`");
  if (symlinkat ("pts/ptmx", dev, "ptmx") < 0)
    return hull_make_error (err, errno, "symlink `/dev/ptmx` -> `pts/ptmx`");
  return 0;
}

int
ns_dev_setup (const struct oci_config *c, int rootfs_fd, bool userns, hull_error_t *err)
{
  cleanup_close int dev = ns_resolve_in_root (rootfs_fd, "/dev", NS_CREATE_DIR, 0, NULL, err);
  if (dev < 0)
    return hull_error_wrap (err, "/dev");
  static const char *const dirs[] = { "pts", "shm" };
  for (size_t i = 0; i < 2; i++)
    if (mkdirat (dev, dirs[i], 0755) < 0 && errno != EEXIST)
      return hull_make_error (err, errno, "mkdir `/dev/%s`", dirs[i]);
  if (create_devices (c, rootfs_fd, userns, err) < 0)
    return -1;
  return create_links (dev, err);
}
