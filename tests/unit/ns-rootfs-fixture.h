/* Fixtures shared by the ns rootfs unit tests: a busybox bundle in a
 * temporary directory and oci_config structs built by hand (no parser). */
#ifndef HULL_TEST_NS_ROOTFS_FIXTURE_H
#define HULL_TEST_NS_ROOTFS_FIXTURE_H

#include "../../ns/rootfs-internal.h"

#include <sys/sendfile.h>
#include <sys/stat.h>

#define OPTS(...) ((char *[]){ __VA_ARGS__, NULL })

/* ---- the bundle ------------------------------------------------------------ */

struct env
{
  char base[64];     /* temporary directory on the host */
  char rootfs[128];  /* base/rootfs: busybox */
  char outside[128]; /* base/outside: must never receive anything */
  char data[128];    /* base/data: a host directory to bind */
};

static inline int
write_text (const char *path, const char *text)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -1;
  ssize_t r = hull_write_all (fd, text, strlen (text));
  close (fd);
  return r < 0 ? -1 : 0;
}

static inline int
copy_busybox (const char *dest)
{
  int in = open ("/bin/busybox", O_RDONLY | O_CLOEXEC);
  int out = open (dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
  struct stat st;
  int ret = in < 0 || out < 0 || fstat (in, &st) < 0 ? -1 : 0;
  for (off_t off = 0; ret == 0 && off < st.st_size;)
    if (sendfile (out, in, &off, st.st_size - off) <= 0)
      ret = -1;
  if (in >= 0)
    close (in);
  if (out >= 0)
    close (out);
  return ret;
}

static inline int
env_setup (struct env *e)
{
  snprintf (e->base, sizeof (e->base), "/tmp/hull-rootfs-XXXXXX");
  if (mkdtemp (e->base) == NULL)
    return -1;
  snprintf (e->rootfs, sizeof (e->rootfs), "%s/rootfs", e->base);
  snprintf (e->outside, sizeof (e->outside), "%s/outside", e->base);
  snprintf (e->data, sizeof (e->data), "%s/data", e->base);
  char p[256];
  int r = mkdir (e->rootfs, 0755) | mkdir (e->outside, 0755) | mkdir (e->data, 0755);
  snprintf (p, sizeof (p), "%s/bin", e->rootfs);
  r |= mkdir (p, 0755);
  snprintf (p, sizeof (p), "%s/bin/busybox", e->rootfs);
  r |= copy_busybox (p);
  snprintf (p, sizeof (p), "%s/bin/sh", e->rootfs);
  r |= symlink ("busybox", p);
  snprintf (p, sizeof (p), "%s/tmp", e->rootfs);
  r |= mkdir (p, 01777);
  snprintf (p, sizeof (p), "%s/host-marker", e->base);
  r |= write_text (p, "host\n");
  snprintf (p, sizeof (p), "%s/hello", e->data);
  r |= write_text (p, "hello\n");
  return r ? -1 : 0;
}

static inline void
env_cleanup (struct env *e)
{
  hull_error_t err = NULL;
  if (hull_rm_rf_at (AT_FDCWD, e->base, &err) < 0)
    {
      fprintf (stderr, "  cleanup: %s\n", err->msg);
      hull_error_release (&err);
    }
}

/* rootfs-relative helper for the host side of a test */
static inline const char *
in_rootfs (const struct env *e, const char *rel, char buf[256])
{
  snprintf (buf, 256, "%s/%s", e->rootfs, rel);
  return buf;
}

/* ---- hand-made configs ----------------------------------------------------------- */

struct cfg
{
  struct oci_config c;
  struct oci_linux l;
  struct oci_root root;
  struct oci_mount m[24];
  struct oci_device d[8];
};

static inline void
cfg_init (struct cfg *f)
{
  memset (f, 0, sizeof (*f));
  f->c.oci_version = "1.0.2";
  f->c.root = &f->root;
  f->root.path = "rootfs";
  f->c.linux_ = &f->l;
  f->c.mounts = f->m;
  f->l.devices = f->d;
}

static inline struct oci_mount *
cfg_mount (struct cfg *f, const char *dest, const char *type, const char *source, char **opts)
{
  struct oci_mount *m = &f->m[f->c.n_mounts++];
  m->destination = (char *)dest;
  m->type = (char *)type;
  m->source = (char *)source;
  m->options = opts;
  return m;
}

static inline struct oci_device *
cfg_device (struct cfg *f, char type, const char *path, int64_t major, int64_t minor)
{
  struct oci_device *d = &f->d[f->l.n_devices++];
  d->type = type;
  d->path = (char *)path;
  d->major = major;
  d->minor = minor;
  return d;
}

/* runc's `spec` defaults (mounts, masked and read-only paths). */
static inline void
cfg_runc_defaults (struct cfg *f, bool userns)
{
  static char *dev[] = { "nosuid", "strictatime", "mode=755", "size=65536k", NULL };
  static char *pts[] = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5", NULL };
  static char *pts_userns[] = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", NULL };
  static char *shm[] = { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL };
  static char *mq[] = { "nosuid", "noexec", "nodev", NULL };
  static char *sys[] = { "nosuid", "noexec", "nodev", "ro", NULL };
  static char *cg[] = { "nosuid", "noexec", "nodev", "relatime", "ro", NULL };
  static char *masked[] = { "/proc/acpi",
                            "/proc/asound",
                            "/proc/kcore",
                            "/proc/keys",
                            "/proc/latency_stats",
                            "/proc/timer_list",
                            "/proc/timer_stats",
                            "/proc/sched_debug",
                            "/proc/scsi",
                            "/sys/firmware",
                            NULL };
  static char *ro[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL };
  cfg_mount (f, "/proc", "proc", "proc", NULL);
  cfg_mount (f, "/dev", "tmpfs", "tmpfs", dev);
  cfg_mount (f, "/dev/pts", "devpts", "devpts", userns ? pts_userns : pts);
  cfg_mount (f, "/dev/shm", "tmpfs", "shm", shm);
  cfg_mount (f, "/dev/mqueue", "mqueue", "mqueue", mq);
  cfg_mount (f, "/sys", "sysfs", "sysfs", sys);
  cfg_mount (f, "/sys/fs/cgroup", "cgroup", "cgroup", cg);
  f->l.masked_paths = masked;
  f->l.readonly_paths = ro;
}

#endif
