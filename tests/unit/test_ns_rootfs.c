/* Unit tests for ns/rootfs.c, ns/mounts.c and ns/dev.c.  Each test that
 * mounts anything forks a child that unshares a mount namespace, makes "/"
 * rprivate (so nothing can reach the host's mount table), then a pid
 * namespace (and, for some, a user namespace); its child is the container
 * init: it runs ns_rootfs_prepare + ns_rootfs_finalize on a busybox rootfs
 * built in a temporary directory and checks the result from inside,
 * reporting through its exit status.  Needs root. */
#include "unit.h"
#include "ns-rootfs-fixture.h"

#include <dirent.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202
#endif

/* ---- a checked block inside the container ---------------------------------- */

#define CC(cond)                                                                                             \
  do                                                                                                         \
    if (!(cond))                                                                                             \
      {                                                                                                      \
        int e_ = errno;                                                                                      \
        fprintf (stderr, "  %s:%d: in the container: %s (errno: %s)\n", __FILE__, __LINE__, #cond,           \
                 strerror (e_));                                                                             \
        return 1;                                                                                            \
      }                                                                                                      \
  while (0)

/* ---- running a container init ------------------------------------------------------ */

enum
{
  RUN_USERNS = 1, /* a user namespace mapping 0 to 0 only: mknod forbidden, host mounts locked */
};

typedef int (*child_fn) (const struct env *e, const struct cfg *f);

static int
write_proc (const char *path, const char *text)
{
  hull_error_t err = NULL;
  int r = hull_write_file_at (AT_FDCWD, path, text, strlen (text), &err);
  hull_error_release (&err);
  return r;
}

static int
enter_userns (void)
{
  if (unshare (CLONE_NEWUSER) < 0)
    return -1;
  if (write_proc ("/proc/self/uid_map", "0 0 1") < 0 || write_proc ("/proc/self/setgroups", "deny") < 0
      || write_proc ("/proc/self/gid_map", "0 0 1") < 0)
    return -1;
  return unshare (CLONE_NEWNS | CLONE_NEWIPC);
}

/* The middle process: private mount namespace, optional `pre` step as the
 * host's root, optional user namespace, pid namespace, then the init. */
static int
middle (const struct env *e, const struct cfg *f, child_fn pre, child_fn fn, int flags)
{
  if (unshare (CLONE_NEWNS) < 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return perror ("  unshare/rprivate"), 100;
  if (pre && pre (e, f) != 0)
    return 101;
  if ((flags & RUN_USERNS) && enter_userns () < 0)
    return perror ("  user namespace"), 102;
  if (unshare (CLONE_NEWPID) < 0)
    return perror ("  unshare pid"), 103;
  pid_t pid = fork ();
  if (pid < 0)
    return 104;
  if (pid == 0)
    _exit (fn (e, f));
  int status;
  if (waitpid (pid, &status, 0) < 0)
    return 105;
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

/* Whether a host mount point is one this test could leak onto: its own
 * directory, the escape targets the tests aim at (/tmp/evil*), or the
 * host's main mounts.  Other mounts come and go with whatever else runs on
 * the machine (other test suites, daemons) and are not ours to judge. */
static bool
watched_mount_point (const char *mp, const struct env *e)
{
  static const char *const host[] = { "/", "/proc", "/sys", "/dev", "/tmp", "/run" };
  if (hull_str_has_prefix (mp, e->base) || hull_str_has_prefix (mp, "/tmp/evil"))
    return true;
  for (size_t i = 0; i < sizeof (host) / sizeof (host[0]); i++)
    if (strcmp (mp, host[i]) == 0)
      return true;
  return false;
}

static char *
host_mountinfo (void)
{
  char *s = NULL;
  hull_read_file_at (AT_FDCWD, "/proc/self/mountinfo", 1 << 22, &s, NULL, NULL);
  return s;
}

/* The watched lines of the host's /proc/self/mountinfo. */
static char *
watched_mounts (const struct env *e)
{
  cleanup_free char *s = NULL;
  if (hull_read_file_at (AT_FDCWD, "/proc/self/mountinfo", 1 << 22, &s, NULL, NULL) < 0)
    return NULL;
  char *out = xstrdup ("");
  for (char *save = NULL, *line = strtok_r (s, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      char mp[4096];
      if (sscanf (line, "%*s %*s %*s %*s %4095s", mp) == 1 && watched_mount_point (mp, e))
        {
          char *next = hull_fmt ("%s%s\n", out, line);
          free (out);
          out = next;
        }
    }
  return out;
}

/* Runs fn as a container init; returns its exit status (0: all checks
 * passed) and fails it if the host's mount table changed at all. */
static int
run_container (const struct env *e, const struct cfg *f, child_fn pre, child_fn fn, int flags)
{
  cleanup_free char *before = watched_mounts (e);
  fflush (stdout);
  fflush (stderr);
  pid_t pid = fork ();
  if (pid < 0)
    return -1;
  if (pid == 0)
    _exit (middle (e, f, pre, fn, flags));
  int status;
  if (waitpid (pid, &status, 0) < 0)
    return -1;
  cleanup_free char *after = watched_mounts (e);
  if (before == NULL || after == NULL || strcmp (before, after) != 0)
    {
      fprintf (stderr, "  the host's mount table changed!\n");
      return 200;
    }
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

/* prepare + finalize, printing the error. */
static int
setup_root (const struct env *e, const struct cfg *f, bool no_pivot)
{
  hull_error_t err = NULL;
  int fd = ns_rootfs_prepare (&f->c, e->rootfs, NULL, &err);
  if (fd < 0)
    {
      fprintf (stderr, "  prepare: %s\n", err->msg);
      hull_error_release (&err);
      return -1;
    }
  int r = ns_rootfs_finalize (&f->c, fd, no_pivot, &err);
  close (fd);
  if (r < 0)
    {
      fprintf (stderr, "  finalize: %s\n", err->msg);
      hull_error_release (&err);
    }
  return r;
}

/* prepare must fail with a message containing `needle`. */
static int
prepare_fails (const struct env *e, const struct cfg *f, const char *needle)
{
  hull_error_t err = NULL;
  int fd = ns_rootfs_prepare (&f->c, e->rootfs, NULL, &err);
  if (fd >= 0)
    {
      fprintf (stderr, "  prepare succeeded, expected an error containing \"%s\"\n", needle);
      return 1;
    }
  int bad = strstr (err->msg, needle) == NULL;
  if (bad)
    fprintf (stderr, "  error \"%s\" does not contain \"%s\"\n", err->msg, needle);
  hull_error_release (&err);
  return bad;
}

/* ---- checks from inside ------------------------------------------------------------ */

static bool
fs_is (const char *path, long magic)
{
  struct statfs s;
  return statfs (path, &s) == 0 && (long)s.f_type == magic;
}

static bool
has_flags (const char *path, unsigned long flags)
{
  struct statvfs s;
  return statvfs (path, &s) == 0 && (s.f_flag & flags) == flags;
}

static bool
is_chr (const char *path, unsigned maj, unsigned min, mode_t perm)
{
  struct stat st;
  return stat (path, &st) == 0 && S_ISCHR (st.st_mode) && major (st.st_rdev) == maj
         && minor (st.st_rdev) == min && (st.st_mode & 07777) == perm;
}

static bool
link_is (const char *path, const char *target)
{
  char buf[256];
  ssize_t n = readlink (path, buf, sizeof (buf) - 1);
  if (n < 0)
    return false;
  buf[n] = '\0';
  return strcmp (buf, target) == 0;
}

static bool
is_mount_root (const char *path)
{
  struct statx stx;
  return statx (AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_INO, &stx) == 0
         && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* The mountinfo line of the topmost mount on `point`, or NULL. */
static char *
mountinfo_line (const char *point)
{
  cleanup_free char *all = host_mountinfo ();
  char *found = NULL, *save = NULL;
  if (all == NULL)
    return NULL;
  for (char *line = strtok_r (all, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      char mp[512];
      if (sscanf (line, "%*s %*s %*s %*s %511s", mp) == 1 && strcmp (mp, point) == 0)
        {
          free (found);
          found = xstrdup (line);
        }
    }
  return found;
}

static bool
read_is (const char *path, const char *text)
{
  cleanup_free char *s = NULL;
  hull_error_t err = NULL;
  int r = hull_read_file_at (AT_FDCWD, path, 4096, &s, NULL, &err);
  hull_error_release (&err);
  return r == 0 && strcmp (s, text) == 0;
}

static int
run_shell (const char *script)
{
  pid_t pid = fork ();
  if (pid == 0)
    {
      execl ("/bin/sh", "sh", "-c", script, (char *)NULL);
      _exit (127);
    }
  int status;
  if (pid < 0 || waitpid (pid, &status, 0) < 0)
    return -1;
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

/* Every mount left after pivot_root belongs to the container: nothing of
 * the host's tree (/tmp, /mnt, the bundle...) is still there. */
static bool
only_container_mounts (const char *const *allowed_prefixes)
{
  cleanup_free char *all = host_mountinfo ();
  char *save = NULL;
  if (all == NULL)
    return false;
  for (char *line = strtok_r (all, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      char mp[512];
      if (sscanf (line, "%*s %*s %*s %*s %511s", mp) != 1)
        return false;
      bool ok = strcmp (mp, "/") == 0;
      for (size_t i = 0; !ok && allowed_prefixes[i]; i++)
        ok = hull_str_has_prefix (mp, allowed_prefixes[i]);
      if (!ok)
        {
          fprintf (stderr, "  unexpected mount `%s`\n", mp);
          return false;
        }
    }
  return true;
}

/* ---- containers ------------------------------------------------------------------------ */

static int
check_runc_defaults (const struct env *e, const struct cfg *f)
{
  CC (setup_root (e, f, false) == 0);
  char cwd[64];
  CC (getcwd (cwd, sizeof (cwd)) && strcmp (cwd, "/") == 0);
  /* the old root is gone */
  char marker[128];
  snprintf (marker, sizeof (marker), "%s/host-marker", e->base);
  CC (access (marker, F_OK) < 0 && errno == ENOENT);
  CC (access ("/bin/busybox", X_OK) == 0);
  static const char *const ours[] = { "/proc", "/dev", "/sys", NULL };
  CC (only_container_mounts (ours));
  /* the mounts and their flags */
  CC (fs_is ("/proc", PROC_SUPER_MAGIC) && is_mount_root ("/proc"));
  CC (fs_is ("/dev", TMPFS_MAGIC) && has_flags ("/dev", ST_NOSUID));
  CC (fs_is ("/dev/pts", DEVPTS_SUPER_MAGIC) && has_flags ("/dev/pts", ST_NOSUID | ST_NOEXEC));
  CC (fs_is ("/dev/shm", TMPFS_MAGIC) && has_flags ("/dev/shm", ST_NOSUID | ST_NOEXEC | ST_NODEV));
  CC (fs_is ("/dev/mqueue", MQUEUE_MAGIC));
  CC (fs_is ("/sys", SYSFS_MAGIC) && has_flags ("/sys", ST_RDONLY | ST_NOSUID | ST_NOEXEC | ST_NODEV));
  CC (fs_is ("/sys/fs/cgroup", CGROUP2_SUPER_MAGIC) && has_flags ("/sys/fs/cgroup", ST_RDONLY));
  struct stat st;
  CC (stat ("/dev", &st) == 0 && (st.st_mode & 07777) == 0755);
  /* /dev */
  CC (is_chr ("/dev/null", 1, 3, 0666) && is_chr ("/dev/zero", 1, 5, 0666)
      && is_chr ("/dev/full", 1, 7, 0666));
  CC (is_chr ("/dev/random", 1, 8, 0666) && is_chr ("/dev/urandom", 1, 9, 0666)
      && is_chr ("/dev/tty", 5, 0, 0666));
  CC (link_is ("/dev/ptmx", "pts/ptmx") && link_is ("/dev/fd", "/proc/self/fd"));
  CC (link_is ("/dev/stdin", "/proc/self/fd/0") && link_is ("/dev/stdout", "/proc/self/fd/1"));
  CC (link_is ("/dev/stderr", "/proc/self/fd/2"));
  CC ((access ("/proc/kcore", F_OK) == 0) == link_is ("/dev/core", "/proc/kcore"));
  CC (stat ("/dev/shm", &st) == 0 && S_ISDIR (st.st_mode) && (st.st_mode & 07777) == 01777);
  int ptmx = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  CC (ptmx >= 0);
  close (ptmx);
  /* masked paths: files show /dev/null, directories an empty read-only tmpfs */
  if (lstat ("/proc/kcore", &st) == 0)
    CC (is_chr ("/proc/kcore", 1, 3, st.st_mode & 07777) && is_mount_root ("/proc/kcore"));
  if (lstat ("/proc/keys", &st) == 0)
    CC (is_chr ("/proc/keys", 1, 3, st.st_mode & 07777) && read_is ("/proc/keys", ""));
  CC (fs_is ("/sys/firmware", TMPFS_MAGIC) && has_flags ("/sys/firmware", ST_RDONLY));
  CC (mkdir ("/sys/firmware/x", 0755) < 0 && errno == EROFS);
  /* read-only paths */
  CC (has_flags ("/proc/sys", ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC) && is_mount_root ("/proc/sys"));
  if (access ("/proc/sysrq-trigger", F_OK) == 0) /* not in every kernel */
    CC (has_flags ("/proc/sysrq-trigger", ST_RDONLY));
  CC (has_flags ("/proc/fs", ST_RDONLY) && is_mount_root ("/proc/fs"));
  CC (open ("/proc/sys/kernel/hostname", O_WRONLY) < 0 && errno == EROFS);
  CC (!has_flags ("/proc", ST_RDONLY));
  /* the rootfs works: busybox runs from it and sees the same */
  CC (run_shell ("test -c /dev/null && test -L /dev/ptmx && echo x > /dev/null && test -d /proc/self/fd"
                 " && head -c 8 /dev/urandom > /dev/null && test \"$(cat /proc/1/comm)\" != sh")
      == 0);
  return 0;
}

TEST (runc_default_config)
{
  struct env e;
  CHECK (env_setup (&e) == 0);
  struct cfg f;
  cfg_init (&f);
  cfg_runc_defaults (&f, false);
  int r = run_container (&e, &f, NULL, check_runc_defaults, 0);
  env_cleanup (&e);
  CHECK (r == 0);
}

/* CVE-2021-30465 and friends: symlinks in the rootfs pointing at the host
 * (absolutely, or by climbing with ..) are resolved inside the rootfs. */
static int
check_symlink_escape (const struct env *e, const struct cfg *f)
{
  hull_error_t err = NULL;
  int fd = ns_rootfs_prepare (&f->c, e->rootfs, NULL, &err);
  if (fd < 0)
    fprintf (stderr, "  prepare: %s\n", err->msg);
  CC (fd >= 0);
  /* Still on the host's tree here: the host path got nothing. */
  CC (!is_mount_root (e->outside));
  char p[256], q[512];
  snprintf (p, sizeof (p), "%s/sub", e->outside);
  CC (access (p, F_OK) < 0 && errno == ENOENT);
  snprintf (p, sizeof (p), "%s/file", e->outside);
  CC (access (p, F_OK) < 0 && errno == ENOENT);
  /* ... and the mounts are where the symlinks point inside the rootfs */
  snprintf (q, sizeof (q), "%s%s", e->rootfs, e->outside);
  CC (fs_is (q, TMPFS_MAGIC) && is_mount_root (q));
  snprintf (q, sizeof (q), "%s%s/sub", e->rootfs, e->outside);
  CC (fs_is (q, TMPFS_MAGIC) && is_mount_root (q));
  snprintf (q, sizeof (q), "%s/made/here", e->rootfs);
  CC (fs_is (q, TMPFS_MAGIC) && is_mount_root (q));
  snprintf (q, sizeof (q), "%s%s/file", e->rootfs, e->outside);
  CC (read_is (q, "hello\n"));
  CC (ns_rootfs_finalize (&f->c, fd, false, &err) == 0);
  close (fd);
  char inside[256];
  snprintf (inside, sizeof (inside), "%s/file", e->outside);
  CC (read_is (inside, "hello\n"));
  return 0;
}

TEST (symlink_destinations_stay_inside)
{
  struct env e;
  CHECK (env_setup (&e) == 0);
  char p[256], up[512], hello[256];
  CHECK (symlink (e.outside, in_rootfs (&e, "evil", p)) == 0);
  snprintf (up, sizeof (up), "../../../../../../../../..%s", e.outside);
  CHECK (symlink (up, in_rootfs (&e, "tmp/evil2", p)) == 0);
  CHECK (symlink ("/made/here", in_rootfs (&e, "dangling", p)) == 0);
  snprintf (hello, sizeof (hello), "%s/hello", e.data);
  struct cfg f;
  cfg_init (&f);
  cfg_mount (&f, "/evil", "tmpfs", "tmpfs", NULL);
  cfg_mount (&f, "/tmp/evil2/sub", "tmpfs", "tmpfs", NULL);
  cfg_mount (&f, "/evil/file", "bind", hello, OPTS ("bind", "ro"));
  cfg_mount (&f, "/dangling", "tmpfs", "tmpfs", OPTS ("size=1m"));
  int r = run_container (&e, &f, NULL, check_symlink_escape, 0);
  DIR *d = opendir (e.outside);
  int entries = 0;
  for (struct dirent *de; d && (de = readdir (d));)
    entries += de->d_name[0] != '.';
  if (d)
    closedir (d);
  env_cleanup (&e);
  CHECK (r == 0);
  CHECK (entries == 0);
}

/* The message a failing prepare must contain (set before run_container). */
static const char *expected_error;

static int
expect_prepare_error (const struct env *e, const struct cfg *f)
{
  return prepare_fails (e, f, expected_error);
}

/* CVE-2019-16884/19921: proc and sysfs only go on real directories; and
 * nothing goes inside /proc but what lxcfs fakes. */
TEST (proc_and_sysfs_need_real_directories)
{
  struct env e;
  CHECK (env_setup (&e) == 0);
  char p[256], hello[256];
  snprintf (hello, sizeof (hello), "%s/hello", e.data);
  struct cfg f;
  cfg_init (&f);
  cfg_mount (&f, "/proc", "proc", "proc", NULL);
  CHECK (symlink ("/tmp", in_rootfs (&e, "proc", p)) == 0);
  expected_error = "mount destination `/proc`: `/proc` is a symlink";
  int r1 = run_container (&e, &f, NULL, expect_prepare_error, 0);
  CHECK (unlink (p) == 0 && mkdir (p, 0755) == 0);
  CHECK (write_text (in_rootfs (&e, "sys", p), "") == 0);
  cfg_mount (&f, "/sys", "sysfs", "sysfs", NULL);
  expected_error = "mount `sysfs` on `/sys`: only on a real directory";
  int r2 = run_container (&e, &f, NULL, expect_prepare_error, 0);
  cfg_init (&f);
  cfg_mount (&f, "/proc", "proc", "proc", NULL);
  cfg_mount (&f, "/proc/uptime", "bind", hello, OPTS ("bind")); /* what lxcfs does: allowed */
  cfg_mount (&f, "/proc/fake", "bind", hello, OPTS ("bind"));
  expected_error = "mount destination `/proc/fake`: `/proc/fake` is inside /proc";
  int r3 = run_container (&e, &f, NULL, expect_prepare_error, 0);
  env_cleanup (&e);
  CHECK (r1 == 0);
  CHECK (r2 == 0);
  CHECK (r3 == 0);
}

TEST (mount_errors_name_the_mount)
{
  struct env e;
  CHECK (env_setup (&e) == 0);
  struct cfg f;
  cfg_init (&f);
  cfg_mount (&f, "/bad", "tmpfs", "tmpfs", OPTS ("nosuid", "size=lots"));
  expected_error = "mount `tmpfs` on `/bad`: Invalid argument (tmpfs: Bad value for 'size')";
  int r1 = run_container (&e, &f, NULL, expect_prepare_error, 0);
  cfg_init (&f);
  cfg_mount (&f, "/x", "nosuchfs", "none", NULL);
  expected_error = "mount `nosuchfs` on `/x`: file system type `nosuchfs`: No such device";
  int r2 = run_container (&e, &f, NULL, expect_prepare_error, 0);
  env_cleanup (&e);
  CHECK (r1 == 0);
  CHECK (r2 == 0);
}

/* Host-side setup for the bind tests: a submount inside the data dir. */
static int
pre_data_submount (const struct env *e, const struct cfg *f)
{
  (void)f;
  char p[256];
  snprintf (p, sizeof (p), "%s/sub", e->data);
  if (mkdir (p, 0755) < 0 || mount ("tmpfs", p, "tmpfs", 0, "size=1m") < 0)
    return perror ("  pre"), 1;
  return 0;
}

static int
check_binds (const struct env *e, const struct cfg *f)
{
  CC (setup_root (e, f, false) == 0);
  /* ro,nosuid bind of a directory, not recursive: the submount is not there */
  CC (read_is ("/data/hello", "hello\n") && has_flags ("/data", ST_RDONLY | ST_NOSUID));
  CC (open ("/data/new", O_WRONLY | O_CREAT, 0644) < 0 && errno == EROFS);
  CC (!is_mount_root ("/data/sub") && !fs_is ("/data/sub", TMPFS_MAGIC));
  /* rbind + rro: the submount came along and is read-only too */
  CC (fs_is ("/rdata/sub", TMPFS_MAGIC) && has_flags ("/rdata/sub", ST_RDONLY));
  CC (has_flags ("/rdata", ST_RDONLY));
  /* "ro" alone only covers the top mount, as MS_REMOUNT|MS_BIND does */
  CC (has_flags ("/rodata", ST_RDONLY) && !has_flags ("/rodata/sub", ST_RDONLY));
  /* a file bind creates the file (and its directory) to mount on */
  CC (read_is ("/etc/deep/hello", "hello\n") && is_mount_root ("/etc/deep/hello"));
  struct stat st;
  CC (stat ("/etc/deep", &st) == 0 && S_ISDIR (st.st_mode));
  /* propagation applied after the mount */
  cleanup_free char *shared = mountinfo_line ("/shared");
  CC (shared && strstr (shared, " shared:") != NULL);
  cleanup_free char *priv = mountinfo_line ("/data");
  CC (priv && strstr (priv, " shared:") == NULL);
  /* rw bind stays writable; noexec,nodev applied */
  CC (write_text ("/rw/written", "x") == 0 && has_flags ("/rw", ST_NOEXEC | ST_NODEV)
      && !has_flags ("/rw", ST_RDONLY));
  return 0;
}

TEST (bind_mounts_and_flags)
{
  struct env e;
  CHECK (env_setup (&e) == 0);
  char hello[256], rw[256];
  snprintf (hello, sizeof (hello), "%s/hello", e.data);
  snprintf (rw, sizeof (rw), "%s/rw", e.base);
  CHECK (mkdir (rw, 0755) == 0);
  struct cfg f;
  cfg_init (&f);
  cfg_mount (&f, "/proc", "proc", "proc", NULL);
  cfg_mount (&f, "/data", "bind", e.data, OPTS ("bind", "ro", "nosuid", "rprivate"));
  cfg_mount (&f, "/rdata", NULL, e.data, OPTS ("rbind", "rro"));
  cfg_mount (&f, "/rodata", "none", e.data, OPTS ("rbind", "ro"));
  cfg_mount (&f, "/etc/deep/hello", "bind", hello, OPTS ("bind", "ro"));
  cfg_mount (&f, "/shared", "bind", e.data, OPTS ("rbind", "rshared"));
  cfg_mount (&f, "/rw", "bind", rw, OPTS ("rbind", "rw", "noexec", "nodev", "x-hull-test"));
  int r = run_container (&e, &f, pre_data_submount, check_binds, 0);
  char written[300];
  snprintf (written, sizeof (written), "%s/written", rw);
  bool wrote = access (written, F_OK) == 0;
  env_cleanup (&e);
  CHECK (r == 0);
  CHECK (wrote);
}

static int
check_tmpfs_options (const struct env *e, const struct cfg *f)
{
  CC (setup_root (e, f, false) == 0);
  struct statfs sfs;
  CC (statfs ("/t1", &sfs) == 0 && sfs.f_type == TMPFS_MAGIC && sfs.f_blocks * sfs.f_bsize == 1024 * 1024);
  struct stat st;
  CC (stat ("/t1", &st) == 0 && (st.st_mode & 07777) == 01777);
  CC (has_flags ("/t1", ST_NODEV | ST_NOEXEC | ST_NOATIME) && !has_flags ("/t1", ST_RDONLY));
  CC (statfs ("/t2", &sfs) == 0 && sfs.f_blocks * sfs.f_bsize == 2 * 1024 * 1024);
  CC (stat ("/t2", &st) == 0 && (st.st_mode & 07777) == 0700 && st.st_uid == 0);
  CC (has_flags ("/t2", ST_RDONLY | ST_NOSUID));
  CC (fs_is ("/t3", TMPFS_MAGIC) && !has_flags ("/t3", ST_RDONLY));
  return 0;
}

TEST (tmpfs_options)
{
  struct env e;
  CHECK (env_setup (&e) == 0);
  struct cfg f;
  cfg_init (&f);
  cfg_mount (&f, "/t1", "tmpfs", "tmpfs", OPTS ("size=1m,mode=1777", "nodev", "noexec", "noatime", "silent"));
  cfg_mount (&f, "/t2", "tmpfs", "t2", OPTS ("rw", "size=2m", "mode=700", "uid=0", "ro", "nosuid"));
  cfg_mount (&f, "/t3", "tmpfs", NULL, OPTS ("ro", "rw", "defaults"));
  int r = run_container (&e, &f, NULL, check_tmpfs_options, 0);
  env_cleanup (&e);
  CHECK (r == 0);
}

static int
check_no_pivot (const struct env *e, const struct cfg *f)
{
  CC (setup_root (e, f, true) == 0);
  char cwd[64], marker[128];
  CC (getcwd (cwd, sizeof (cwd)) && strcmp (cwd, "/") == 0);
  snprintf (marker, sizeof (marker), "%s/host-marker", e->base);
  CC (access (marker, F_OK) < 0 && errno == ENOENT);
  CC (access ("/bin/busybox", X_OK) == 0 && fs_is ("/proc", PROC_SUPER_MAGIC));
  CC (is_chr ("/dev/null", 1, 3, 0666) && fs_is ("/dev", TMPFS_MAGIC));
  CC (run_shell ("test -c /dev/zero") == 0);
  return 0;
}

TEST (no_pivot_moves_and_chroots)
{
  struct env e;
  CHECK (env_setup (&e) == 0);
  struct cfg f;
  cfg_init (&f);
  cfg_mount (&f, "/proc", "proc", "proc", NULL);
  cfg_mount (&f, "/dev", "tmpfs", "tmpfs", OPTS ("nosuid", "mode=755"));
  int r = run_container (&e, &f, NULL, check_no_pivot, 0);
  env_cleanup (&e);
  CHECK (r == 0);
}

static int
check_readonly_root_shared (const struct env *e, const struct cfg *f)
{
  CC (setup_root (e, f, false) == 0);
  CC (has_flags ("/", ST_RDONLY));
  CC (mkdir ("/newdir", 0755) < 0 && errno == EROFS);
  CC (write_text ("/dev/shm/ok", "x") == 0 && write_text ("/dev/ok", "x") == 0);
  cleanup_free char *root = mountinfo_line ("/");
  CC (root && strstr (root, " shared:") != NULL);
  cleanup_free char *dev = mountinfo_line ("/dev");
  CC (dev && strstr (dev, " shared:") != NULL);
  return 0;
}

static int
check_private_root (const struct env *e, const struct cfg *f)
{
  CC (setup_root (e, f, false) == 0);
  CC (!has_flags ("/", ST_RDONLY));
  CC (mkdir ("/newdir", 0755) == 0);
  cleanup_free char *root = mountinfo_line ("/");
  CC (root && strstr (root, " shared:") == NULL && strstr (root, " master:") == NULL);
  return 0;
}

TEST (readonly_root_and_propagation)
{
  struct env e;
  CHECK (env_setup (&e) == 0);
  struct cfg f;
  cfg_init (&f);
  cfg_runc_defaults (&f, false);
  f.root.readonly = true;
  f.l.rootfs_propagation = OCI_PROPAGATION_SHARED;
  int r1 = run_container (&e, &f, NULL, check_readonly_root_shared, 0);
  f.root.readonly = false;
  f.l.rootfs_propagation = OCI_PROPAGATION_PRIVATE;
  int r2 = run_container (&e, &f, NULL, check_private_root, 0);
  env_cleanup (&e);
  CHECK (r1 == 0);
  CHECK (r2 == 0);
}

static int
check_devices (const struct env *e, const struct cfg *f)
{
  CC (setup_root (e, f, false) == 0);
  struct stat st;
  CC (stat ("/dev/mydev", &st) == 0 && S_ISCHR (st.st_mode) && st.st_rdev == makedev (1, 5));
  CC ((st.st_mode & 07777) == 0600 && st.st_uid == 1000 && st.st_gid == 1001);
  CC (is_chr ("/dev/sub/dir/node", 1, 7, 0666));
  CC (stat ("/dev/loopx", &st) == 0 && S_ISBLK (st.st_mode) && st.st_rdev == makedev (7, 0));
  CC (stat ("/run/fifo", &st) == 0 && S_ISFIFO (st.st_mode) && (st.st_mode & 07777) == 0640);
  /* linux.devices redefines /dev/null; the default is not made on top */
  CC (is_chr ("/dev/null", 1, 3, 0600));
  CC (is_chr ("/dev/zero", 1, 5, 0666));
  return 0;
}

TEST (linux_devices)
{
  struct env e;
  CHECK (env_setup (&e) == 0);
  struct cfg f;
  cfg_init (&f);
  cfg_mount (&f, "/dev", "tmpfs", "tmpfs", OPTS ("nosuid", "mode=755"));
  struct oci_device *d = cfg_device (&f, 'c', "/dev/mydev", 1, 5);
  d->file_mode = (oci_u64){ true, 0600 };
  d->uid = (oci_u64){ true, 1000 };
  d->gid = (oci_u64){ true, 1001 };
  cfg_device (&f, 'u', "/dev/sub/dir/node", 1, 7);
  cfg_device (&f, 'b', "/dev/loopx", 7, 0);
  cfg_device (&f, 'p', "/run/fifo", 0, 0)->file_mode = (oci_u64){ true, 020640 };
  cfg_device (&f, 'c', "/dev/null", 1, 3)->file_mode = (oci_u64){ true, 0600 };
  int r = run_container (&e, &f, NULL, check_devices, 0);
  env_cleanup (&e);
  CHECK (r == 0);
}

static int
check_remount (const struct env *e, const struct cfg *f)
{
  CC (setup_root (e, f, false) == 0);
  CC (fs_is ("/rem", TMPFS_MAGIC) && has_flags ("/rem", ST_RDONLY | ST_NOEXEC));
  CC (mkdir ("/rem/x", 0755) < 0 && errno == EROFS);
  return 0;
}

TEST (remount_option)
{
  struct env e;
  CHECK (env_setup (&e) == 0);
  struct cfg f;
  cfg_init (&f);
  cfg_mount (&f, "/rem", "tmpfs", "tmpfs", OPTS ("size=1m"));
  cfg_mount (&f, "/rem", "tmpfs", "tmpfs", OPTS ("remount", "ro", "noexec"));
  int r1 = run_container (&e, &f, NULL, check_remount, 0);
  cfg_init (&f);
  cfg_mount (&f, "/tmp", "tmpfs", "tmpfs", OPTS ("remount", "ro"));
  expected_error = "remount `/tmp`: not a mount point";
  int r2 = run_container (&e, &f, NULL, expect_prepare_error, 0);
  env_cleanup (&e);
  CHECK (r1 == 0);
  CHECK (r2 == 0);
}

static int
check_tmpcopyup (const struct env *e, const struct cfg *f)
{
  CC (setup_root (e, f, false) == 0);
  CC (fs_is ("/etcx", TMPFS_MAGIC) && is_mount_root ("/etcx"));
  CC (read_is ("/etcx/a.txt", "hello\n") && read_is ("/etcx/sub/b.txt", "b\n"));
  CC (link_is ("/etcx/link", "a.txt"));
  struct stat st;
  CC (stat ("/etcx/sub", &st) == 0 && (st.st_mode & 07777) == 0750 && st.st_uid == 12 && st.st_gid == 34);
  CC (stat ("/etcx/a.txt", &st) == 0 && (st.st_mode & 07777) == 0604);
  /* writable, and the copy does not write through to the image */
  CC (write_text ("/etcx/a.txt", "changed\n") == 0);
  return 0;
}

TEST (tmpcopyup)
{
  struct env e;
  CHECK (env_setup (&e) == 0);
  char p[256];
  CHECK (mkdir (in_rootfs (&e, "etcx", p), 0755) == 0);
  CHECK (write_text (in_rootfs (&e, "etcx/a.txt", p), "hello\n") == 0 && chmod (p, 0604) == 0);
  CHECK (mkdir (in_rootfs (&e, "etcx/sub", p), 0750) == 0 && chown (p, 12, 34) == 0 && chmod (p, 0750) == 0);
  CHECK (write_text (in_rootfs (&e, "etcx/sub/b.txt", p), "b\n") == 0);
  CHECK (symlink ("a.txt", in_rootfs (&e, "etcx/link", p)) == 0);
  struct cfg f;
  cfg_init (&f);
  cfg_mount (&f, "/etcx", "tmpfs", "tmpfs", OPTS ("tmpcopyup", "mode=755"));
  int r = run_container (&e, &f, NULL, check_tmpcopyup, 0);
  bool image_untouched = read_is (in_rootfs (&e, "etcx/a.txt", p), "hello\n");
  env_cleanup (&e);
  CHECK (r == 0);
  CHECK (image_untouched);
}

static int
check_dev_bind (const struct env *e, const struct cfg *f)
{
  CC (setup_root (e, f, false) == 0);
  /* runc leaves a bind-mounted /dev alone */
  CC (access ("/dev/null", F_OK) < 0 && errno == ENOENT);
  CC (access ("/dev/ptmx", F_OK) < 0 && read_is ("/dev/hello", "hello\n"));
  return 0;
}

TEST (bind_mounted_dev_is_left_alone)
{
  struct env e;
  CHECK (env_setup (&e) == 0);
  struct cfg f;
  cfg_init (&f);
  cfg_mount (&f, "/dev", "bind", e.data, OPTS ("rbind"));
  int r = run_container (&e, &f, NULL, check_dev_bind, 0);
  env_cleanup (&e);
  CHECK (r == 0);
}

/* ---- user namespace ------------------------------------------------------------------- */

/* Before the user namespace exists: a nosuid,nodev,noexec mount that the
 * user namespace will see locked. */
static int
pre_locked_mount (const struct env *e, const struct cfg *f)
{
  (void)f;
  char p[256];
  snprintf (p, sizeof (p), "%s/locked", e->base);
  if (mkdir (p, 0755) < 0 || mount ("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m") < 0)
    return perror ("  pre"), 1;
  snprintf (p, sizeof (p), "%s/locked/f", e->base);
  return write_text (p, "locked\n") < 0;
}

static int
check_userns (const struct env *e, const struct cfg *f)
{
  CC (ns_in_user_namespace ());
  CC (setup_root (e, f, false) == 0);
  /* no mknod here: the default devices are binds of the host's nodes */
  CC (is_chr ("/dev/null", 1, 3, 0666) && is_mount_root ("/dev/null"));
  CC (is_chr ("/dev/urandom", 1, 9, 0666) && is_mount_root ("/dev/urandom"));
  struct stat st;
  CC (stat ("/dev/fifo", &st) == 0 && S_ISFIFO (st.st_mode) && !is_mount_root ("/dev/fifo"));
  CC (link_is ("/dev/ptmx", "pts/ptmx") && fs_is ("/dev/pts", DEVPTS_SUPER_MAGIC));
  /* ro on a bind of a locked nosuid,nodev,noexec mount: the locked flags are kept */
  CC (read_is ("/locked/f", "locked\n"));
  CC (has_flags ("/locked", ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC));
  /* proc of the new pid namespace; sysfs and cgroup2 fall back to binds */
  CC (fs_is ("/proc", PROC_SUPER_MAGIC) && getpid () == 1 && access ("/proc/1/comm", F_OK) == 0);
  CC (fs_is ("/sys", SYSFS_MAGIC) && has_flags ("/sys", ST_RDONLY));
  CC (fs_is ("/dev/mqueue", MQUEUE_MAGIC));
  /* masked and read-only paths work on locked mounts too */
  if (lstat ("/proc/kcore", &st) == 0)
    CC (S_ISCHR (st.st_mode) && is_mount_root ("/proc/kcore"));
  CC (has_flags ("/proc/sys", ST_RDONLY));
  CC (run_shell ("test -c /dev/zero && echo ok > /dev/null") == 0);
  return 0;
}

TEST (user_namespace)
{
  struct env e;
  CHECK (env_setup (&e) == 0);
  char locked[256];
  snprintf (locked, sizeof (locked), "%s/locked", e.base);
  struct cfg f;
  cfg_init (&f);
  cfg_runc_defaults (&f, true);
  cfg_mount (&f, "/locked", "bind", locked, OPTS ("rbind", "ro"));
  cfg_device (&f, 'p', "/dev/fifo", 0, 0);
  int r = run_container (&e, &f, pre_locked_mount, check_userns, RUN_USERNS);
  env_cleanup (&e);
  CHECK (r == 0);
}

RUN_TESTS ("ns_rootfs")
