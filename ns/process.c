/* Process setup that is not about identity: hostname, sysctl, rlimits,
 * personality, the final execve, and the validation of all the
 * process-related settings (user and capabilities are in ns/user.c). */
#include "ns-internal.h"
#include "user-internal.h"

#include <dirent.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* runc's PATH when the process's environment has none. */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const struct oci_namespace *
find_namespace (const struct oci_config *c, enum oci_ns_type t)
{
  for (size_t i = 0; c->linux_ && i < c->linux_->n_namespaces; i++)
    if (c->linux_->namespaces[i].type == t)
      return &c->linux_->namespaces[i];
  return NULL;
}

/* ---- hostname ------------------------------------------------------------ */

int
ns_set_hostname (const struct oci_config *c, hull_error_t *err)
{
  /* As runc: an empty string means "not set", not "set it empty". */
  if (c->hostname && c->hostname[0] && sethostname (c->hostname, strlen (c->hostname)) < 0)
    return hull_make_error (err, errno, "sethostname `%s`", c->hostname);
  if (c->domainname && c->domainname[0] && setdomainname (c->domainname, strlen (c->domainname)) < 0)
    return hull_make_error (err, errno, "setdomainname `%s`", c->domainname);
  return 0;
}

/* ---- sysctl -------------------------------------------------------------- */

/* runc's list (libcontainer/configs/validate): the kernel.* entries that
 * the ipc namespace isolates.  fs.mqueue.* is matched by prefix. */
static const char *const ipc_sysctls[]
    = { "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",          "kernel.sem",
        "kernel.shmall", "kernel.shmmax", "kernel.shm_rmid_forced", "kernel.shmmni" };

/* The namespace that isolates a sysctl, or -1 when it is global. */
static int
sysctl_namespace (const char *key)
{
  for (size_t i = 0; i < sizeof (ipc_sysctls) / sizeof (ipc_sysctls[0]); i++)
    if (strcmp (key, ipc_sysctls[i]) == 0)
      return OCI_NS_IPC;
  if (hull_str_has_prefix (key, "fs.mqueue."))
    return OCI_NS_IPC;
  if (hull_str_has_prefix (key, "net."))
    return OCI_NS_NETWORK;
  if (strcmp (key, "kernel.hostname") == 0 || strcmp (key, "kernel.domainname") == 0)
    return OCI_NS_UTS;
  return -1;
}

/* Dots are the path separators under /proc/sys.  A "/" or an empty
 * component (which is what ".." turns into) could reach another file. */
static const char *
sysctl_key_problem (const char *key)
{
  size_t n = key ? strlen (key) : 0;
  if (n == 0)
    return "empty key";
  if (strchr (key, '/'))
    return "\"/\" is not allowed, separate the components with dots";
  if (key[0] == '.' || key[n - 1] == '.' || strstr (key, ".."))
    return "empty or \"..\" component";
  return NULL;
}

static const char *
ns_config_name (enum oci_ns_type t)
{
  return t == OCI_NS_IPC ? "ipc" : t == OCI_NS_NETWORK ? "network" : "uts";
}

static const char *
ns_proc_name (enum oci_ns_type t)
{
  return t == OCI_NS_IPC ? "ipc" : t == OCI_NS_NETWORK ? "net" : "uts";
}

/* runc's checkHostNs: a namespace joined by path may still be the host's
 * own (e.g. /proc/1/ns/net), where the sysctl would change the host. */
static int
check_not_host_ns (const char *key, enum oci_ns_type t, const char *path, hull_error_t *err)
{
  struct stat joined, host;
  cleanup_free char *self = hull_fmt ("/proc/self/ns/%s", ns_proc_name (t));
  if (stat (path, &joined) < 0)
    return hull_make_error (err, errno,
                            "linux.sysctl.\"%s\": cannot check that `%s` is not the host's %s namespace", key,
                            path, ns_config_name (t));
  if (stat (self, &host) < 0)
    return hull_make_error (err, errno, "stat `%s`", self);
  if (joined.st_dev == host.st_dev && joined.st_ino == host.st_ino)
    return hull_make_error (err, 0, "linux.sysctl.\"%s\": not allowed in the host's %s namespace (`%s`)", key,
                            ns_config_name (t), path);
  return 0;
}

/* A sysctl needs the namespace that isolates it, else it would be written
 * to the host's.  A namespace joined by path is accepted as runc does
 * (containerd's CRI joins the pod's CNI netns by path and sets net.*
 * sysctls there), unless that path is the host's namespace. */
static int
validate_sysctl (const struct oci_config *c, const char *key, hull_error_t *err)
{
  const char *why = sysctl_key_problem (key);
  if (why)
    return hull_make_error (err, 0, "linux.sysctl.\"%s\": invalid key: %s", key, why);
  if (strcmp (key, "kernel.hostname") == 0)
    return hull_make_error (
        err, 0, "linux.sysctl.\"%s\": not allowed, it conflicts with the \"hostname\" field", key);
  int t = sysctl_namespace (key);
  if (t < 0)
    return hull_make_error (
        err, 0, "linux.sysctl.\"%s\": not a namespaced sysctl, setting it would change the host", key);
  const struct oci_namespace *ns = find_namespace (c, t);
  if (ns == NULL)
    return hull_make_error (
        err, 0,
        "linux.sysctl.\"%s\": requires a new %s namespace, without one it would change the "
        "host's (linux.namespaces has no \"%s\" entry)",
        key, ns_config_name (t), ns_config_name (t));
  return ns->path ? check_not_host_ns (key, t, ns->path, err) : 0;
}

static int
write_sysctl (int procsys_fd, const char *key, const char *value, hull_error_t *err)
{
  const char *why = sysctl_key_problem (key);
  if (why)
    return hull_make_error (err, 0, "linux.sysctl.\"%s\": invalid key: %s", key, why);
  cleanup_free char *rel = xstrdup (key);
  for (char *s = rel; *s; s++)
    if (*s == '.')
      *s = '/';
  cleanup_close int fd = hull_openat2 (procsys_fd, rel, O_WRONLY | O_CLOEXEC, 0,
                                       RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV);
  if (fd < 0)
    return hull_make_error (err, errno, "sysctl \"%s\": open `/proc/sys/%s`", key, rel);
  if (hull_write_all (fd, value, strlen (value)) < 0)
    return hull_make_error (err, errno, "sysctl \"%s\": write \"%s\"", key, value);
  return 0;
}

int
ns_apply_sysctl (const struct oci_config *c, hull_error_t *err)
{
  if (c->linux_ == NULL || c->linux_->sysctl.n == 0)
    return 0;
  cleanup_close int dirfd = open ("/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return hull_make_error (err, errno, "open `/proc/sys` to apply linux.sysctl");
  /* Without a proc mount, /proc/sys would be plain directories of the
   * rootfs and the values would silently go nowhere. */
  struct statfs sfs;
  if (fstatfs (dirfd, &sfs) < 0)
    return hull_make_error (err, errno, "statfs `/proc/sys`");
  if (sfs.f_type != PROC_SUPER_MAGIC)
    return hull_make_error (err, 0, "linux.sysctl: `/proc/sys` is not procfs (is proc mounted on /proc?)");
  for (size_t i = 0; i < c->linux_->sysctl.n; i++)
    {
      const struct oci_kv *kv = &c->linux_->sysctl.v[i];
      if (write_sysctl (dirfd, kv->key, kv->value ? kv->value : "", err) < 0)
        return -1;
    }
  return 0;
}

/* ---- rlimits ------------------------------------------------------------- */

static const struct
{
  const char *name;
  int resource;
} rlimit_names[] = {
  { "RLIMIT_AS", RLIMIT_AS },
  { "RLIMIT_CORE", RLIMIT_CORE },
  { "RLIMIT_CPU", RLIMIT_CPU },
  { "RLIMIT_DATA", RLIMIT_DATA },
  { "RLIMIT_FSIZE", RLIMIT_FSIZE },
  { "RLIMIT_LOCKS", RLIMIT_LOCKS },
  { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
  { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
  { "RLIMIT_NICE", RLIMIT_NICE },
  { "RLIMIT_NOFILE", RLIMIT_NOFILE },
  { "RLIMIT_NPROC", RLIMIT_NPROC },
  { "RLIMIT_RSS", RLIMIT_RSS },
  { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
  { "RLIMIT_RTTIME", RLIMIT_RTTIME },
  { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
  { "RLIMIT_STACK", RLIMIT_STACK },
};

static int
rlimit_resource (const char *name)
{
  for (size_t i = 0; name && i < sizeof (rlimit_names) / sizeof (rlimit_names[0]); i++)
    if (strcmp (name, rlimit_names[i].name) == 0)
      return rlimit_names[i].resource;
  return -1;
}

int
ns_apply_rlimits (const struct oci_process *p, hull_error_t *err)
{
  for (size_t i = 0; p && i < p->n_rlimits; i++)
    {
      const struct oci_rlimit *r = &p->rlimits[i];
      struct rlimit rl = { .rlim_cur = r->soft, .rlim_max = r->hard };
      if (prlimit (0, r->resource, &rl, NULL) < 0)
        return hull_make_error (err, errno, "setrlimit %s (soft %" PRIu64 ", hard %" PRIu64 ")", r->type,
                                r->soft, r->hard);
    }
  return 0;
}

static int
validate_rlimits (const struct oci_process *p, hull_error_t *err)
{
  for (size_t i = 0; i < p->n_rlimits; i++)
    {
      const struct oci_rlimit *r = &p->rlimits[i];
      int res = rlimit_resource (r->type);
      if (res < 0)
        return hull_make_error (err, 0, "process.rlimits[%zu].type: unknown rlimit \"%s\"", i,
                                r->type ? r->type : "");
      if (res != r->resource)
        return hull_make_error (err, 0,
                                "process.rlimits[%zu].type: \"%s\" was parsed as resource %d, expected %d", i,
                                r->type, r->resource, res);
      if (r->soft > r->hard)
        return hull_make_error (err, 0,
                                "process.rlimits[%zu]: soft limit %" PRIu64 " is above hard limit %" PRIu64,
                                i, r->soft, r->hard);
      for (size_t j = 0; j < i; j++)
        if (p->rlimits[j].resource == res)
          return hull_make_error (
              err, 0, "process.rlimits[%zu].type: duplicate %s (also process.rlimits[%zu])", i, r->type, j);
    }
  return 0;
}

/* ---- personality --------------------------------------------------------- */

static int
personality_domain (const char *name, unsigned long *out)
{
  if (name && strcmp (name, "LINUX") == 0)
    *out = PER_LINUX;
  else if (name && strcmp (name, "LINUX32") == 0)
    *out = PER_LINUX32;
  else
    return -1;
  return 0;
}

int
ns_apply_personality (const struct oci_config *c, hull_error_t *err)
{
  const struct oci_personality *pers = c->linux_ ? c->linux_->personality : NULL;
  unsigned long domain;
  if (pers == NULL)
    return 0;
  if (personality_domain (pers->domain, &domain) < 0)
    return hull_make_error (err, 0, "linux.personality.domain: unknown domain \"%s\"",
                            pers->domain ? pers->domain : "");
  if (personality (domain) < 0)
    return hull_make_error (err, errno, "personality %s", pers->domain);
  return 0;
}

static int
validate_personality (const struct oci_config *c, hull_error_t *err)
{
  const struct oci_personality *pers = c->linux_ ? c->linux_->personality : NULL;
  unsigned long domain;
  if (pers == NULL)
    return 0;
  if (personality_domain (pers->domain, &domain) < 0)
    return hull_make_error (err, 0,
                            "linux.personality.domain: \"%s\" is not a valid domain (LINUX or LINUX32)",
                            pers->domain ? pers->domain : "");
  /* The spec defines no flag yet; runc warns and ignores them too. */
  if (pers->flags && pers->flags[0])
    {
      fputs ("WARN: ignoring unsupported personality flags: [", stderr);
      for (size_t i = 0; pers->flags[i]; i++)
        fprintf (stderr, "%s%s", i ? " " : "", pers->flags[i]);
      fputs ("]\n", stderr);
    }
  return 0;
}

/* ---- exec ------------------------------------------------------------------ */

static const char *
env_get (char **env, const char *name)
{
  size_t n = strlen (name);
  /* The first one wins, as in Go's os.Getenv (runc). */
  for (size_t i = 0; env && env[i]; i++)
    if (strncmp (env[i], name, n) == 0 && env[i][n] == '=')
      return env[i] + n + 1;
  return NULL;
}

/* The home directory of uid in the container's /etc/passwd, "/" when it
 * has no entry (runc's default). */
static char *
passwd_home (uid_t uid)
{
  /* O_NONBLOCK: a fifo planted at /etc/passwd must not hang the init. */
  int fd = open ("/etc/passwd", O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  struct stat st;
  if (fd < 0)
    return xstrdup ("/");
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      return xstrdup ("/");
    }
  cleanup_fclose FILE *f = fdopen (fd, "r");
  if (f == NULL)
    {
      close (fd);
      return xstrdup ("/");
    }
  cleanup_free char *line = NULL;
  size_t cap = 0;
  while (getline (&line, &cap, f) > 0)
    {
      /* name:password:uid:gid:gecos:home:shell */
      char *field[7] = { NULL }, *s = line;
      size_t n = 0;
      line[strcspn (line, "\n")] = '\0';
      for (; n < 7 && (field[n] = strsep (&s, ":")) != NULL; n++)
        ;
      uint64_t id;
      if (n >= 6 && hull_parse_u64 (field[2], &id) == 0 && id == uid && field[5][0] == '/')
        return xstrdup (field[5]);
    }
  return xstrdup ("/");
}

/* The process's environment exactly as configured (never the runtime's),
 * plus HOME from the container's passwd when missing or empty, as runc and
 * crun do: many programs break without it. */
static char **
process_env (const struct oci_process *p)
{
  char **env = strv_dup (p->env);
  const char *home = env_get (env, "HOME");
  if (home && home[0])
    return env;
  cleanup_free char *dir = passwd_home (p->user.uid);
  cleanup_free char *entry = hull_fmt ("HOME=%s", dir);
  for (size_t i = 0; env && env[i]; i++)
    if (strcmp (env[i], "HOME=") == 0)
      {
        free (env[i]);
        env[i] = steal_pointer (&entry);
        return env;
      }
  strv_append (&env, entry);
  return env;
}

/* 0 when path is a regular file with an execute bit, else an errno. */
static int
executable_status (const char *path)
{
  struct stat st;
  if (stat (path, &st) < 0)
    return errno;
  if (S_ISDIR (st.st_mode))
    return EISDIR;
  if (!S_ISREG (st.st_mode) || (st.st_mode & 0111) == 0)
    return EACCES;
  return 0;
}

/* args[0] as runc resolves it (Go's exec.LookPath): a name with a "/" is
 * used as is, anything else is searched on the process's own PATH. */
static int
resolve_executable (const char *name, char **env, char **out, hull_error_t *err)
{
  if (strchr (name, '/'))
    {
      int e = executable_status (name);
      if (e)
        return hull_make_error (err, e, "exec: \"%s\"", name);
      *out = xstrdup (name);
      return 0;
    }
  const char *path = env_get (env, "PATH");
  cleanup_free char *copy = xstrdup (path ? path : DEFAULT_PATH);
  char *next = copy;
  for (char *dir = strsep (&next, ":"); dir; dir = strsep (&next, ":"))
    {
      /* Relative entries ("" means ".") would run whatever the cwd holds;
       * Go's LookPath refuses such results (ErrDot) as well. */
      if (dir[0] != '/')
        continue;
      cleanup_free char *candidate = hull_fmt ("%s/%s", dir, name);
      if (executable_status (candidate) == 0)
        {
          *out = steal_pointer (&candidate);
          return 0;
        }
    }
  return hull_make_error_code (err, ENOENT, "exec: \"%s\": executable file not found in $PATH", name);
}

static int
change_to_cwd (const struct oci_process *p, hull_error_t *err)
{
  if (p->cwd && p->cwd[0] && chdir (p->cwd) < 0)
    return hull_make_error (err, errno, "chdir to cwd (\"%s\") set in config.json failed", p->cwd);
  /* CVE-2024-21626: a cwd reached through a host fd (/proc/self/fd/N) is
   * outside the container's root, and `..` from there walks the host.
   * getcwd then fails with ENOENT ("(unreachable)"); runc checks the same. */
  cleanup_free char *wd = getcwd (NULL, 0);
  if (wd == NULL && errno == ENOENT)
    return hull_make_error (err, 0,
                            "process.cwd (\"%s\") is outside the container's root (reached through a host "
                            "fd?): refusing a possible container breakout",
                            p->cwd ? p->cwd : "");
  return 0;
}

int
ns_check_executable (const struct oci_process *p, hull_error_t *err)
{
  if (p->args == NULL || p->args[0] == NULL)
    return hull_make_error (err, 0, "process.args: must not be empty");
  /* A relative args[0] ("./app") is relative to the process's cwd. */
  if (change_to_cwd (p, err) < 0)
    return -1;
  cleanup_strv char **env = strv_dup (p->env);
  cleanup_free char *path = NULL;
  return resolve_executable (p->args[0], env, &path, err);
}

/* Marks every fd from `first` up close-on-exec rather than closing it: the
 * sync socket and the error reporting fd stay usable until execve. */
static int
cloexec_from (unsigned first, hull_error_t *err)
{
#ifdef SYS_close_range
  if (syscall (SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
    return 0;
  if (errno != ENOSYS && errno != EINVAL)
    return hull_make_error (err, errno, "close_range from fd %u", first);
#endif
  /* Kernels before 5.11 have no CLOSE_RANGE_CLOEXEC. */
  DIR *d = opendir ("/proc/self/fd");
  if (d == NULL)
    return hull_make_error (err, errno, "open `/proc/self/fd`");
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      uint64_t fd;
      if (hull_parse_u64 (de->d_name, &fd) < 0 || fd < first || fd > INT32_MAX || (int)fd == dirfd (d))
        continue;
      fcntl ((int)fd, F_SETFD, FD_CLOEXEC);
    }
  closedir (d);
  return 0;
}

/* The preserved fds (3 .. 3+n-1) are passed to the process even when they
 * were opened close-on-exec; one that is not open is simply not passed. */
static int
keep_preserved_fds (int n, hull_error_t *err)
{
  for (int fd = 3; fd < 3 + n; fd++)
    {
      int flags = fcntl (fd, F_GETFD);
      if (flags < 0 && errno == EBADF)
        continue;
      if (flags < 0 || fcntl (fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
        return hull_make_error (err, errno, "keep preserved fd %d open across exec", fd);
    }
  return 0;
}

int
ns_exec_process_seccomp (const struct oci_process *p, int preserve_fds, struct ns_seccomp *sc,
                         hull_error_t *err)
{
  if (p->args == NULL || p->args[0] == NULL)
    return hull_make_error (err, 0, "process.args: must not be empty");
  if (change_to_cwd (p, err) < 0)
    return -1;
  cleanup_strv char **env = process_env (p);
  cleanup_free char *path = NULL;
  if (resolve_executable (p->args[0], env, &path, err) < 0)
    return -1;
  if (preserve_fds < 0)
    preserve_fds = 0;
  if (cloexec_from (3u + (unsigned)preserve_fds, err) < 0 || keep_preserved_fds (preserve_fds, err) < 0)
    return -1;
  /* Last, so that the profile only has to allow what the process itself
   * does, and execve. */
  if (ns_seccomp_load (sc, err) < 0)
    return -1;
  execve (path, p->args, env);
  return hull_make_error (err, errno, "exec %s", path);
}

int
ns_exec_process (const struct oci_process *p, int preserve_fds, hull_error_t *err)
{
  return ns_exec_process_seccomp (p, preserve_fds, NULL, err);
}

/* ---- validation ------------------------------------------------------------ */

static int
validate_sysctls (const struct oci_config *c, hull_error_t *err)
{
  for (size_t i = 0; c->linux_ && i < c->linux_->sysctl.n; i++)
    if (validate_sysctl (c, c->linux_->sysctl.v[i].key, err) < 0)
      return -1;
  return 0;
}

static bool
id_mapped (const struct oci_id_mapping *m, size_t n, uint32_t id)
{
  for (size_t i = 0; i < n; i++)
    if (id >= m[i].container_id && (uint64_t)id < (uint64_t)m[i].container_id + m[i].size)
      return true;
  return false;
}

static int
validate_user (const struct oci_config *c, hull_error_t *err)
{
  const struct oci_user *u = &c->process->user;
  /* (uid_t) -1 means "leave unchanged" to setresuid(2): never a real id. */
  if (u->uid == UINT32_MAX || u->gid == UINT32_MAX)
    return hull_make_error (err, 0, "process.user.%s: 4294967295 is not a valid id",
                            u->uid == UINT32_MAX ? "uid" : "gid");
  for (size_t i = 0; i < u->n_additional_gids; i++)
    if (u->additional_gids[i] == UINT32_MAX)
      return hull_make_error (err, 0, "process.user.additionalGids[%zu]: 4294967295 is not a valid id", i);
  if (u->umask.set && u->umask.v > 0777)
    return hull_make_error (err, 0, "process.user.umask: %#" PRIo64 " is not a valid umask (at most 0777)",
                            u->umask.v);

  /* With a new user namespace, an unmapped id fails only in the child with
   * EINVAL; say which one here instead. */
  const struct oci_namespace *userns = find_namespace (c, OCI_NS_USER);
  const struct oci_linux *l = c->linux_;
  if (userns == NULL || userns->path || l->n_uid_mappings == 0 || l->n_gid_mappings == 0)
    return 0;
  if (!id_mapped (l->uid_mappings, l->n_uid_mappings, u->uid))
    return hull_make_error (err, 0, "process.user.uid: %u is not mapped by linux.uidMappings", u->uid);
  if (!id_mapped (l->gid_mappings, l->n_gid_mappings, u->gid))
    return hull_make_error (err, 0, "process.user.gid: %u is not mapped by linux.gidMappings", u->gid);
  for (size_t i = 0; i < u->n_additional_gids; i++)
    if (!id_mapped (l->gid_mappings, l->n_gid_mappings, u->additional_gids[i]))
      return hull_make_error (err, 0,
                              "process.user.additionalGids[%zu]: %u is not mapped by linux.gidMappings", i,
                              u->additional_gids[i]);
  return 0;
}

int
ns_validate_process (const struct oci_config *c, hull_error_t *err)
{
  if (validate_sysctls (c, err) < 0 || validate_personality (c, err) < 0 || ns_validate_seccomp (c, err) < 0)
    return -1;
  const struct oci_process *p = c->process;
  if (p == NULL)
    return 0;
  if (validate_rlimits (p, err) < 0 || validate_user (c, err) < 0)
    return -1;
  if (p->oom_score_adj.set && (p->oom_score_adj.v < -1000 || p->oom_score_adj.v > 1000))
    return hull_make_error (err, 0, "process.oomScoreAdj: %" PRId64 " is outside [-1000, 1000]",
                            p->oom_score_adj.v);
  /* process.consoleSize without process.terminal is not an error: the
   * runtime-spec says a runtime MUST ignore it then. */
  return ns_validate_capabilities (p->capabilities, err);
}
