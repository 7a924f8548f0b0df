/* Unit tests of ns/ process setup: hostname, sysctl, rlimits, personality,
 * loopback, user and capabilities, console, id maps, exec and validation.
 * Every behaviour that changes process or namespace state runs in a forked
 * child in namespaces of its own (we are root), and reports what it saw
 * through a pipe; the checks happen in the parent. */
#include "../../ns/ns-internal.h"
#include "unit.h"

#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>

/* ---- helpers --------------------------------------------------------------- */

typedef int (*child_fn) (void *arg, int out);

static void __attribute__ ((format (printf, 2, 3))) say (int fd, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vdprintf (fd, fmt, ap);
  va_end (ap);
}

static int
say_err (int out, hull_error_t *err)
{
  say (out, "ERR: %s", *err ? (*err)->msg : "(no message)");
  hull_error_release (err);
  return 1;
}

/* Runs fn in a forked child and collects what it writes to `out`.  Returns
 * the child's exit code, or 128 + the signal that killed it. */
static int
run_child (child_fn fn, void *arg, char *buf, size_t len)
{
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return -1;
  fflush (NULL);
  pid_t pid = fork ();
  if (pid < 0)
    return -1;
  if (pid == 0)
    {
      close (p[0]);
      _exit (fn (arg, p[1]));
    }
  close (p[1]);
  ssize_t n = hull_read_all (p[0], buf, len - 1);
  buf[n < 0 ? 0 : n] = '\0';
  close (p[0]);
  int status;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

/* "Name:\tvalue" of /proc/self/status, copied into buf. */
static const char *
status_field (const char *name, char *buf, size_t len)
{
  cleanup_free char *data = NULL;
  buf[0] = '\0';
  if (hull_read_file_at (AT_FDCWD, "/proc/self/status", 1 << 20, &data, NULL, NULL) < 0)
    return buf;
  size_t n = strlen (name);
  for (char *line = data; line && *line; line = strchr (line, '\n') ? strchr (line, '\n') + 1 : NULL)
    if (strncmp (line, name, n) == 0 && line[n] == ':')
      {
        const char *v = line + n + 1;
        v += strspn (v, " \t");
        snprintf (buf, len, "%.*s", (int)strcspn (v, "\n"), v);
        break;
      }
  return buf;
}

static char *
read_trimmed (const char *path)
{
  char *s = NULL;
  if (hull_read_file_at (AT_FDCWD, path, 1 << 16, &s, NULL, NULL) < 0)
    return xstrdup ("(unreadable)");
  s[strcspn (s, "\n")] = '\0';
  return s;
}

/* A config with one sysctl and the given namespaces (path NULL: new). */
struct ns_spec
{
  enum oci_ns_type type;
  const char *path;
};

struct test_config
{
  struct oci_config c;
  struct oci_linux l;
  struct oci_process p;
  struct oci_namespace ns[8];
  struct oci_kv sysctl[4];
};

static void
config_init (struct test_config *t, const struct ns_spec *ns, size_t n_ns)
{
  memset (t, 0, sizeof (*t));
  t->c.linux_ = &t->l;
  t->c.process = &t->p;
  t->l.namespaces = t->ns;
  t->l.n_namespaces = n_ns;
  for (size_t i = 0; i < n_ns; i++)
    t->ns[i] = (struct oci_namespace){ ns[i].type, (char *)ns[i].path };
  t->l.sysctl.v = t->sysctl;
}

static void
config_sysctl (struct test_config *t, const char *key, const char *value)
{
  t->sysctl[t->l.sysctl.n++] = (struct oci_kv){ (char *)key, (char *)value };
}

/* "ok" must match exactly, an error message by substring. */
#define CHECK_OUTCOME(got, want)                                                                             \
  do                                                                                                         \
    if (strcmp ((want), "ok") == 0)                                                                          \
      CHECK_STR (got, "ok");                                                                                 \
    else                                                                                                     \
      CHECK_CONTAINS (got, want);                                                                            \
  while (0)

/* ns_validate_process on t; returns the message or "ok" (caller frees). */
static char *
validate_msg (struct test_config *t)
{
  hull_error_t err = NULL;
  if (ns_validate_process (&t->c, &err) == 0)
    return xstrdup ("ok");
  char *m = xstrdup (err->msg);
  hull_error_release (&err);
  return m;
}

/* ---- hostname ------------------------------------------------------------- */

static int
child_hostname (void *arg, int out)
{
  struct test_config *t = arg;
  hull_error_t err = NULL;
  if (unshare (CLONE_NEWUTS) < 0)
    return 2;
  if (ns_set_hostname (&t->c, &err) < 0)
    return say_err (out, &err);
  struct utsname u;
  uname (&u);
  say (out, "%s %s", u.nodename, u.domainname);
  return 0;
}

TEST (hostname_and_domainname_set)
{
  struct test_config t;
  config_init (&t, NULL, 0);
  t.c.hostname = "hull-test";
  t.c.domainname = "hull.example";
  char out[256], want[256];
  CHECK (run_child (child_hostname, &t, out, sizeof (out)) == 0);
  CHECK_STR (out, "hull-test hull.example");
  /* Empty means "not set", as in runc: the name stays what it was. */
  t.c.hostname = t.c.domainname = "";
  struct utsname u;
  uname (&u);
  snprintf (want, sizeof (want), "%s %s", u.nodename, u.domainname);
  CHECK (run_child (child_hostname, &t, out, sizeof (out)) == 0);
  CHECK_STR (out, want);
}

/* ---- sysctl ----------------------------------------------------------------- */

static int
child_sysctl (void *arg, int out)
{
  struct test_config *t = arg;
  hull_error_t err = NULL;
  if (unshare (CLONE_NEWIPC | CLONE_NEWNET) < 0)
    return 2;
  if (ns_apply_sysctl (&t->c, &err) < 0)
    return say_err (out, &err);
  cleanup_free char *shmmax = read_trimmed ("/proc/sys/kernel/shmmax");
  cleanup_free char *fwd = read_trimmed ("/proc/sys/net/ipv4/ip_forward");
  say (out, "shmmax=%s ip_forward=%s", shmmax, fwd);
  return 0;
}

TEST (sysctl_written_in_new_namespaces_only)
{
  struct test_config t;
  config_init (&t, NULL, 0);
  config_sysctl (&t, "kernel.shmmax", "123456789");
  config_sysctl (&t, "net.ipv4.ip_forward", "1");
  cleanup_free char *host_fwd = read_trimmed ("/proc/sys/net/ipv4/ip_forward");
  cleanup_free char *host_shmmax = read_trimmed ("/proc/sys/kernel/shmmax");
  char out[256];
  CHECK (run_child (child_sysctl, &t, out, sizeof (out)) == 0);
  CHECK_STR (out, "shmmax=123456789 ip_forward=1");
  cleanup_free char *after_fwd = read_trimmed ("/proc/sys/net/ipv4/ip_forward");
  cleanup_free char *after_shmmax = read_trimmed ("/proc/sys/kernel/shmmax");
  CHECK_STR (after_fwd, host_fwd);
  CHECK_STR (after_shmmax, host_shmmax);
}

TEST (sysctl_apply_refuses_bad_keys)
{
  const char *bad[]
      = { "net/ipv4/ip_forward", "net..ipv4", ".net.ipv4", "net.ipv4.", "net.ipv4.no_such_key" };
  for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
    {
      struct test_config t;
      config_init (&t, NULL, 0);
      config_sysctl (&t, bad[i], "1");
      char out[512], want[128];
      CHECK (run_child (child_sysctl, &t, out, sizeof (out)) == 1);
      snprintf (want, sizeof (want), "\"%s\"", bad[i]);
      CHECK_CONTAINS (out, want);
    }
}

/* Holds a process in a new netns and returns its pid (killed by caller). */
static pid_t
spawn_netns_holder (void)
{
  int p[2];
  if (pipe (p) < 0)
    return -1;
  fflush (NULL);
  pid_t pid = fork ();
  if (pid == 0)
    {
      close (p[0]);
      if (unshare (CLONE_NEWNET) < 0)
        _exit (2);
      (void)!write (p[1], "x", 1);
      pause ();
      _exit (0);
    }
  close (p[1]);
  char c;
  ssize_t r = read (p[0], &c, 1);
  close (p[0]);
  return r == 1 ? pid : -1;
}

#define SC "linux.sysctl."
TEST (sysctl_validation)
{
  struct
  {
    const char *key;
    struct ns_spec ns; /* the only namespace of the config */
    const char *want;
  } cases[] = {
    { "net.ipv4.ip_forward",
      { OCI_NS_IPC, NULL },
      SC "\"net.ipv4.ip_forward\": requires a new network namespace" },
    { "net.ipv4.ip_forward", { OCI_NS_NETWORK, NULL }, "ok" },
    { "net.ipv4.ip_forward",
      { OCI_NS_NETWORK, "/proc/self/ns/net" },
      "not allowed in the host's network namespace" },
    { "net.ipv4.ip_forward",
      { OCI_NS_NETWORK, "/nonexistent/ns" },
      SC "\"net.ipv4.ip_forward\": cannot check" },
    { "kernel.shmmax", { OCI_NS_NETWORK, NULL }, SC "\"kernel.shmmax\": requires a new ipc namespace" },
    { "kernel.shmmax", { OCI_NS_IPC, NULL }, "ok" },
    { "fs.mqueue.msg_max", { OCI_NS_IPC, NULL }, "ok" },
    { "fs.mqueue.msg_max", { OCI_NS_IPC, "/proc/1/ns/ipc" }, "host's ipc namespace" },
    { "kernel.domainname", { OCI_NS_UTS, NULL }, "ok" },
    { "kernel.domainname", { OCI_NS_IPC, NULL }, "requires a new uts namespace" },
    { "kernel.hostname", { OCI_NS_UTS, NULL }, "conflicts with the \"hostname\" field" },
    { "vm.swappiness", { OCI_NS_NETWORK, NULL }, SC "\"vm.swappiness\": not a namespaced sysctl" },
    { "kernel.pid_max", { OCI_NS_IPC, NULL }, "not a namespaced sysctl" },
    { "net/ipv4/ip_forward", { OCI_NS_NETWORK, NULL }, "invalid key" },
    { "net.ipv4..ip_forward", { OCI_NS_NETWORK, NULL }, "invalid key" },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      struct test_config t;
      config_init (&t, &cases[i].ns, 1);
      config_sysctl (&t, cases[i].key, "1");
      cleanup_free char *m = validate_msg (&t);
      CHECK_OUTCOME (m, cases[i].want);
    }
}

TEST (sysctl_validation_accepts_joined_private_netns)
{
  pid_t holder = spawn_netns_holder ();
  CHECK (holder > 0);
  char path[64];
  snprintf (path, sizeof (path), "/proc/%d/ns/net", (int)holder);
  struct ns_spec ns[] = { { OCI_NS_NETWORK, path } };
  struct test_config t;
  config_init (&t, ns, 1);
  config_sysctl (&t, "net.ipv4.ip_unprivileged_port_start", "0");
  cleanup_free char *m = validate_msg (&t);
  kill (holder, SIGKILL);
  waitpid (holder, NULL, 0);
  CHECK_STR (m, "ok");
}

/* ---- rlimits -------------------------------------------------------------- */

static int
child_rlimits (void *arg, int out)
{
  struct test_config *t = arg;
  hull_error_t err = NULL;
  if (ns_apply_rlimits (&t->p, &err) < 0)
    return say_err (out, &err);
  struct rlimit nofile, core;
  getrlimit (RLIMIT_NOFILE, &nofile);
  getrlimit (RLIMIT_CORE, &core);
  say (out, "nofile=%llu/%llu core=%llu/%llu", (unsigned long long)nofile.rlim_cur,
       (unsigned long long)nofile.rlim_max, (unsigned long long)core.rlim_cur,
       (unsigned long long)core.rlim_max);
  return 0;
}

TEST (rlimits_applied)
{
  struct oci_rlimit r[]
      = { { "RLIMIT_NOFILE", RLIMIT_NOFILE, 100, 200 }, { "RLIMIT_CORE", RLIMIT_CORE, 0, 0 } };
  struct test_config t;
  config_init (&t, NULL, 0);
  t.p.rlimits = r;
  t.p.n_rlimits = 2;
  char out[256];
  CHECK (run_child (child_rlimits, &t, out, sizeof (out)) == 0);
  CHECK_STR (out, "nofile=100/200 core=0/0");
  /* The kernel's refusal names the rlimit. */
  r[0].soft = 300;
  CHECK (run_child (child_rlimits, &t, out, sizeof (out)) == 1);
  CHECK_STR (out, "ERR: setrlimit RLIMIT_NOFILE (soft 300, hard 200): Invalid argument");
}

TEST (rlimits_validation)
{
  struct
  {
    struct oci_rlimit r[2];
    size_t n;
    const char *want;
  } cases[] = {
    { { { "RLIMIT_NOFILE", RLIMIT_NOFILE, 1, 2 } }, 1, "ok" },
    { { { "RLIMIT_FOO", 99, 1, 2 } }, 1, "process.rlimits[0].type: unknown rlimit \"RLIMIT_FOO\"" },
    { { { "RLIMIT_NOFILE", RLIMIT_NOFILE, 1, 2 }, { "RLIMIT_NOFILE", RLIMIT_NOFILE, 1, 2 } },
      2,
      "process.rlimits[1].type: duplicate RLIMIT_NOFILE" },
    { { { "RLIMIT_CPU", RLIMIT_CPU, 5, 4 } }, 1, "process.rlimits[0]: soft limit 5 is above hard limit 4" },
    { { { "RLIMIT_CPU", RLIMIT_NOFILE, 1, 1 } }, 1, "process.rlimits[0].type: \"RLIMIT_CPU\" was parsed as" },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      struct test_config t;
      config_init (&t, NULL, 0);
      t.p.rlimits = cases[i].r;
      t.p.n_rlimits = cases[i].n;
      cleanup_free char *m = validate_msg (&t);
      CHECK_OUTCOME (m, cases[i].want);
    }
}

/* ---- personality ---------------------------------------------------------- */

static int
child_personality (void *arg, int out)
{
  struct test_config *t = arg;
  hull_error_t err = NULL;
  if (ns_apply_personality (&t->c, &err) < 0)
    return say_err (out, &err);
  struct utsname u;
  uname (&u);
  say (out, "%s", u.machine);
  return 0;
}

TEST (personality_linux32)
{
  struct oci_personality pers = { "LINUX32", NULL };
  struct test_config t;
  config_init (&t, NULL, 0);
  t.l.personality = &pers;
  char out[256];
  CHECK (run_child (child_personality, &t, out, sizeof (out)) == 0);
  CHECK_STR (out, "i686");
  pers.domain = "LINUX";
  CHECK (run_child (child_personality, &t, out, sizeof (out)) == 0);
  CHECK_STR (out, "x86_64");
  pers.domain = "LINUX64";
  cleanup_free char *m = validate_msg (&t);
  CHECK_CONTAINS (m, "linux.personality.domain: \"LINUX64\" is not a valid domain");
}

/* ---- loopback --------------------------------------------------------------- */

static int
lo_is_up (void)
{
  struct ifreq ifr;
  memset (&ifr, 0, sizeof (ifr));
  strcpy (ifr.ifr_name, "lo");
  cleanup_close int s = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0 || ioctl (s, SIOCGIFFLAGS, &ifr) < 0)
    return -1;
  return (ifr.ifr_flags & IFF_UP) != 0;
}

static int
child_loopback (void *arg, int out)
{
  hull_error_t err = NULL;
  (void)arg;
  if (unshare (CLONE_NEWNET) < 0)
    return 2;
  int before = lo_is_up ();
  if (ns_loopback_up (&err) < 0)
    return say_err (out, &err);
  /* Twice: bringing up an interface that is up is fine too. */
  if (ns_loopback_up (&err) < 0)
    return say_err (out, &err);
  say (out, "before=%d after=%d", before, lo_is_up ());
  return 0;
}

TEST (loopback_up_in_new_netns)
{
  char out[256];
  CHECK (run_child (child_loopback, NULL, out, sizeof (out)) == 0);
  CHECK_STR (out, "before=0 after=1");
}

/* ---- user and capabilities -------------------------------------------------- */

static void
say_ids_and_caps (int out)
{
  const char *fields[]
      = { "Uid", "Gid", "Groups", "Umask", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs" };
  for (size_t i = 0; i < sizeof (fields) / sizeof (fields[0]); i++)
    {
      char buf[256];
      status_field (fields[i], buf, sizeof (buf));
      /* "Groups:\t10 20 " has a trailing space; make the lines exact. */
      size_t n = strlen (buf);
      while (n > 0 && buf[n - 1] == ' ')
        buf[--n] = '\0';
      say (out, "%s=%s\n", fields[i], buf);
    }
}

struct user_case
{
  struct oci_process p;
  bool new_userns;
};

static int
child_user (void *arg, int out)
{
  struct user_case *uc = arg;
  hull_error_t err = NULL;
  if (ns_apply_user_and_caps (&uc->p, uc->new_userns, &err) < 0)
    return say_err (out, &err);
  say_ids_and_caps (out);
  return 0;
}

TEST (user_switch_keeps_requested_caps)
{
  char *bounding[] = { "CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_BOGUS", NULL };
  char *eip[] = { "CAP_CHOWN", "CAP_NET_BIND_SERVICE", NULL };
  char *ambient[] = { "CAP_NET_BIND_SERVICE", NULL };
  struct oci_capabilities caps = { bounding, eip, eip, eip, ambient };
  uint32_t groups[] = { 10, 20 };
  struct user_case uc = { 0 };
  uc.p.user.uid = 1000;
  uc.p.user.gid = 1001;
  uc.p.user.additional_gids = groups;
  uc.p.user.n_additional_gids = 2;
  uc.p.user.umask = (oci_u64){ true, 027 };
  uc.p.capabilities = &caps;
  uc.p.no_new_privileges = true;
  char out[1024];
  CHECK (run_child (child_user, &uc, out, sizeof (out)) == 0);
  /* CAP_CHOWN is 0, CAP_NET_BIND_SERVICE 10, CAP_NET_RAW 13. */
  CHECK_STR (out, "Uid=1000\t1000\t1000\t1000\n"
                  "Gid=1001\t1001\t1001\t1001\n"
                  "Groups=10 20\n"
                  "Umask=0027\n"
                  "CapInh=0000000000000401\n"
                  "CapPrm=0000000000000401\n"
                  "CapEff=0000000000000401\n"
                  "CapBnd=0000000000002401\n"
                  "CapAmb=0000000000000400\n"
                  "NoNewPrivs=1\n");
}

TEST (user_without_capabilities_drops_everything)
{
  struct user_case uc = { 0 };
  char out[1024];
  CHECK (run_child (child_user, &uc, out, sizeof (out)) == 0);
  CHECK_STR (out, "Uid=0\t0\t0\t0\n"
                  "Gid=0\t0\t0\t0\n"
                  "Groups=\n"
                  "Umask=0022\n"
                  "CapInh=0000000000000000\n"
                  "CapPrm=0000000000000000\n"
                  "CapEff=0000000000000000\n"
                  "CapBnd=0000000000000000\n"
                  "CapAmb=0000000000000000\n"
                  "NoNewPrivs=0\n");
}

TEST (capabilities_validation)
{
  char *bnd[] = { "CAP_CHOWN", "CAP_KILL", NULL };
  char *prm[] = { "CAP_CHOWN", NULL };
  char *eff_bad[] = { "CAP_KILL", NULL };
  char *inh_bad[] = { "CAP_SYS_ADMIN", NULL };
  struct
  {
    struct oci_capabilities caps;
    const char *want;
  } cases[] = {
    { { bnd, prm, prm, prm, prm }, "ok" },
    { { bnd, eff_bad, NULL, prm, NULL },
      "process.capabilities.effective: CAP_KILL is not in the permitted set" },
    { { bnd, NULL, inh_bad, prm, NULL },
      "process.capabilities.inheritable: CAP_SYS_ADMIN is not in the bounding" },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      struct test_config t;
      config_init (&t, NULL, 0);
      t.p.capabilities = &cases[i].caps;
      cleanup_free char *m = validate_msg (&t);
      CHECK_OUTCOME (m, cases[i].want);
    }
}

static int
child_validate_stderr (void *arg, int out)
{
  hull_error_t err = NULL;
  int p[2];
  if (pipe (p) < 0 || dup2 (p[1], 2) < 0)
    return 2;
  close (p[1]);
  int r = ns_validate_process (arg, &err);
  close (2);
  char buf[1024];
  ssize_t n = hull_read_all (p[0], buf, sizeof (buf) - 1);
  buf[n < 0 ? 0 : n] = '\0';
  say (out, "ret=%d %s", r, buf);
  hull_error_release (&err);
  return 0;
}

TEST (unknown_capabilities_warn_like_runc)
{
  char *bnd[] = { "CAP_CHOWN", "CAP_BOGUS", "cap_kill", NULL };
  char *prm[] = { "CAP_BOGUS", "CAP_CHOWN", "7", NULL };
  struct oci_capabilities caps = { bnd, NULL, NULL, prm, NULL };
  struct test_config t;
  config_init (&t, NULL, 0);
  t.p.capabilities = &caps;
  char out[1024];
  CHECK (run_child (child_validate_stderr, &t.c, out, sizeof (out)) == 0);
  CHECK_STR (out, "ret=0 WARN: ignoring unknown or unavailable capabilities: [CAP_BOGUS cap_kill 7]\n");
}

/* runc warns and goes on when an ambient capability is not in both the
 * permitted and inheritable sets (runc's own `spec` output has that). */
TEST (ambient_outside_inheritable_warns)
{
  char *bnd[] = { "CAP_CHOWN", NULL };
  struct oci_capabilities caps = { bnd, NULL, NULL, bnd, bnd };
  struct test_config t;
  config_init (&t, NULL, 0);
  t.p.capabilities = &caps;
  char out[1024];
  CHECK (run_child (child_validate_stderr, &t.c, out, sizeof (out)) == 0);
  CHECK_STR (out, "ret=0 WARN: can't raise ambient capability CAP_CHOWN: not in the permitted and inheritable "
                  "sets\n");
}

/* A child in a new user namespace whose maps the parent writes. */
struct userns_case
{
  struct oci_linux l;
  bool deny_setgroups; /* the parent writes "deny" before the maps */
  struct oci_process p;
};

static int
child_in_userns (void *arg, int out)
{
  struct userns_case *uc = arg;
  int go[2], ready[2];
  if (pipe (go) < 0 || pipe (ready) < 0)
    return 2;
  pid_t pid = fork ();
  if (pid == 0)
    {
      char c;
      if (unshare (CLONE_NEWUSER) < 0 || write (ready[1], "r", 1) != 1 || read (go[0], &c, 1) != 1)
        _exit (2);
      if (c != 'g')
        _exit (3);
      cleanup_free char *uid_map = read_trimmed ("/proc/self/uid_map");
      cleanup_free char *setgroups = read_trimmed ("/proc/self/setgroups");
      hull_error_t err = NULL;
      say (out, "setgroups=%s\n", setgroups);
      if (ns_apply_user_and_caps (&uc->p, true, &err) < 0)
        _exit (say_err (out, &err));
      say_ids_and_caps (out);
      _exit (0);
    }
  char c;
  hull_error_t err = NULL;
  if (read (ready[0], &c, 1) != 1)
    return 2;
  char path[64];
  snprintf (path, sizeof (path), "/proc/%d/setgroups", (int)pid);
  if (uc->deny_setgroups && hull_write_file_at (AT_FDCWD, path, "deny", 4, &err) < 0)
    return say_err (out, &err);
  int r = ns_write_id_maps (pid, &uc->l, &err);
  if (write (go[1], r < 0 ? "x" : "g", 1) != 1)
    return 2;
  int status;
  waitpid (pid, &status, 0);
  if (r < 0)
    return say_err (out, &err);
  return WIFEXITED (status) ? WEXITSTATUS (status) : 9;
}

TEST (id_maps_written_and_user_switch_in_userns)
{
  struct oci_id_mapping uid_maps[] = { { 0, 100000, 1000 }, { 1000, 200000, 10 } };
  struct oci_id_mapping gid_maps[] = { { 0, 100000, 65536 } };
  uint32_t groups[] = { 5 };
  struct userns_case uc = { 0 };
  uc.l.uid_mappings = uid_maps;
  uc.l.n_uid_mappings = 2;
  uc.l.gid_mappings = gid_maps;
  uc.l.n_gid_mappings = 1;
  uc.p.user.uid = 1005;
  uc.p.user.gid = 7;
  uc.p.user.additional_gids = groups;
  uc.p.user.n_additional_gids = 1;
  char out[1024];
  CHECK (run_child (child_in_userns, &uc, out, sizeof (out)) == 0);
  /* Root writes the maps: setgroups stays allowed so additionalGids work. */
  CHECK_CONTAINS (out, "setgroups=allow\n");
  CHECK_CONTAINS (out, "Uid=1005\t1005\t1005\t1005\n");
  CHECK_CONTAINS (out, "Gid=7\t7\t7\t7\n");
  CHECK_CONTAINS (out, "Groups=5\n");
}

TEST (setgroups_denied_in_userns)
{
  struct oci_id_mapping maps[] = { { 0, 100000, 65536 } };
  uint32_t groups[] = { 5 };
  struct userns_case uc = { 0 };
  uc.l.uid_mappings = uc.l.gid_mappings = maps;
  uc.l.n_uid_mappings = uc.l.n_gid_mappings = 1;
  uc.deny_setgroups = true;
  uc.p.user.uid = 1000;
  uc.p.user.gid = 1000;
  char out[1024];
  /* No additionalGids asked for: setgroups is skipped, the switch works. */
  CHECK (run_child (child_in_userns, &uc, out, sizeof (out)) == 0);
  CHECK_CONTAINS (out, "setgroups=deny\n");
  CHECK_CONTAINS (out, "Uid=1000\t1000\t1000\t1000\n");
  /* Asked for: a clear error, not a silent drop. */
  uc.p.user.additional_gids = groups;
  uc.p.user.n_additional_gids = 1;
  CHECK (run_child (child_in_userns, &uc, out, sizeof (out)) == 1);
  CHECK_CONTAINS (out, "process.user.additionalGids: cannot set 1 supplementary groups: "
                       "/proc/self/setgroups is \"deny\"");
}

/* As an unprivileged "runtime" (uid 1000), mapping only its own ids. */
static int
child_unprivileged_maps (void *arg, int out)
{
  /* The id change made us non-dumpable, which would make our children's
   * /proc files root's; a runtime started as uid 1000 is dumpable. */
  if (setresgid (1000, 1000, 1000) < 0 || setresuid (1000, 1000, 1000) < 0
      || prctl (PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
    return 2;
  return child_in_userns (arg, out);
}

TEST (id_maps_unprivileged_writes_setgroups_deny)
{
  struct oci_id_mapping maps[] = { { 0, 1000, 1 } };
  struct userns_case uc = { 0 };
  uc.l.uid_mappings = uc.l.gid_mappings = maps;
  uc.l.n_uid_mappings = uc.l.n_gid_mappings = 1;
  char out[1024];
  CHECK (run_child (child_unprivileged_maps, &uc, out, sizeof (out)) == 0);
  CHECK_CONTAINS (out, "setgroups=deny\n");
  /* Inside, we are root of the new namespace (uid 1000 outside). */
  CHECK_CONTAINS (out, "Uid=0\t0\t0\t0\n");
}

TEST (id_map_error_names_the_file)
{
  struct oci_id_mapping bad[] = { { 0, 100000, 10 }, { 5, 200000, 10 } }; /* overlapping */
  struct userns_case uc = { 0 };
  uc.l.uid_mappings = uc.l.gid_mappings = bad;
  uc.l.n_uid_mappings = uc.l.n_gid_mappings = 2;
  char out[1024];
  CHECK (run_child (child_in_userns, &uc, out, sizeof (out)) == 1);
  CHECK_CONTAINS (out, "/uid_map` (\"0 100000 10;5 200000 10\"): Invalid argument");
}

TEST (user_validation)
{
  struct oci_id_mapping maps[] = { { 0, 100000, 1000 } };
  struct ns_spec ns[] = { { OCI_NS_USER, NULL } };
  uint32_t groups[] = { 5, 2000 };
  struct
  {
    uint32_t uid, gid;
    size_t n_groups;
    oci_u64 umask;
    oci_i64 oom;
    const char *want;
  } cases[] = {
    { 0, 0, 1, { true, 077 }, { true, -1000 }, "ok" },
    { 1000, 0, 0, { false, 0 }, { false, 0 }, "process.user.uid: 1000 is not mapped by linux.uidMappings" },
    { 0, 1000, 0, { false, 0 }, { false, 0 }, "process.user.gid: 1000 is not mapped by linux.gidMappings" },
    { 0, 0, 2, { false, 0 }, { false, 0 }, "process.user.additionalGids[1]: 2000 is not mapped" },
    { 0, 0, 0, { true, 01000 }, { false, 0 }, "process.user.umask: 01000 is not a valid umask" },
    { UINT32_MAX, 0, 0, { false, 0 }, { false, 0 }, "process.user.uid: 4294967295 is not a valid id" },
    { 0, 0, 0, { false, 0 }, { true, 1001 }, "process.oomScoreAdj: 1001 is outside [-1000, 1000]" },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      struct test_config t;
      config_init (&t, ns, 1);
      t.l.uid_mappings = t.l.gid_mappings = maps;
      t.l.n_uid_mappings = t.l.n_gid_mappings = 1;
      t.p.user.uid = cases[i].uid;
      t.p.user.gid = cases[i].gid;
      t.p.user.additional_gids = groups;
      t.p.user.n_additional_gids = cases[i].n_groups;
      t.p.user.umask = cases[i].umask;
      t.p.oom_score_adj = cases[i].oom;
      cleanup_free char *m = validate_msg (&t);
      CHECK_OUTCOME (m, cases[i].want);
    }
}

/* ---- fd passing and console ---------------------------------------------------- */

TEST (send_and_recv_fd)
{
  int sv[2], p[2];
  hull_error_t err = NULL;
  CHECK (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  CHECK (pipe2 (p, O_CLOEXEC) == 0);
  CHECK (ns_send_fd (sv[0], p[1], "a pipe", &err) == 0);
  CHECK (ns_send_fd (sv[0], p[1], NULL, &err) == 0);
  int a = ns_recv_fd (sv[1], &err);
  int b = ns_recv_fd (sv[1], &err);
  CHECK (a >= 0 && b >= 0);
  CHECK ((fcntl (a, F_GETFD) & FD_CLOEXEC) != 0);
  CHECK (write (a, "x", 1) == 1 && write (b, "y", 1) == 1);
  char buf[2];
  CHECK (read (p[0], buf, 2) == 2 && memcmp (buf, "xy", 2) == 0);
  close (sv[0]);
  CHECK (ns_recv_fd (sv[1], &err) < 0);
  CHECK_CONTAINS (err->msg, "the peer closed the socket");
  hull_error_release (&err);
  close (a), close (b), close (p[0]), close (p[1]), close (sv[1]);
}

struct console_case
{
  struct oci_process p;
  int sock;
};

/* The container side: a private devpts as the runtime's rootfs has, then
 * the console; reports what its stdio looks like and the line it read. */
static int
child_console (void *arg, int out)
{
  struct console_case *cc = arg;
  hull_error_t err = NULL;
  if (unshare (CLONE_NEWNS) < 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0
      || mount ("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
             < 0
      || mount ("/dev/pts/ptmx", "/dev/ptmx", NULL, MS_BIND, NULL) < 0)
    return 2;
  if (ns_console_setup (&cc->p, cc->sock, false, &err) < 0)
    return say_err (out, &err);
  struct winsize ws = { 0 };
  ioctl (0, TIOCGWINSZ, &ws);
  char line[64] = "";
  ssize_t n = read (0, line, sizeof (line) - 1);
  line[n < 0 ? 0 : n] = '\0';
  line[strcspn (line, "\n")] = '\0';
  say (out, "tty=%d%d%d leader=%d ctty=%d size=%ux%u line=%s", isatty (0), isatty (1), isatty (2),
       getsid (0) == getpid (), tcgetsid (0) == getpid (), ws.ws_col, ws.ws_row, line);
  return 0;
}

/* Like runc's utils.RecvFd: the name the sender put in the payload. */
static int
recv_fd_and_name (int sock, char *name, size_t len)
{
  union
  {
    struct cmsghdr h;
    char buf[CMSG_SPACE (sizeof (int))];
  } u;
  struct iovec iov = { .iov_base = name, .iov_len = len - 1 };
  struct msghdr msg
      = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof (u.buf) };
  ssize_t n = recvmsg (sock, &msg, MSG_CMSG_CLOEXEC);
  struct cmsghdr *cm = CMSG_FIRSTHDR (&msg);
  if (n <= 0 || cm == NULL || cm->cmsg_type != SCM_RIGHTS)
    return -1;
  name[n] = '\0';
  int fd;
  memcpy (&fd, CMSG_DATA (cm), sizeof (int));
  return fd;
}

TEST (console_pty_sent_and_made_stdio)
{
  struct console_case cc = { 0 };
  int sv[2], rp[2];
  CHECK (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  CHECK (pipe2 (rp, O_CLOEXEC) == 0);
  cc.p.terminal = true;
  cc.p.has_console_size = true;
  cc.p.console_width = 100;
  cc.p.console_height = 40;
  cc.sock = sv[1];
  fflush (NULL);
  pid_t pid = fork ();
  CHECK (pid >= 0);
  if (pid == 0)
    {
      close (rp[0]);
      _exit (child_console (&cc, rp[1]));
    }
  close (rp[1]);
  close (sv[1]);

  char name[128] = "";
  cleanup_close int master = recv_fd_and_name (sv[0], name, sizeof (name));
  close (sv[0]);
  /* The master stays open until the child is done: closing it hangs up
   * the terminal and SIGHUPs the session leader. */
  bool written = master >= 0 && write (master, "hello\n", 6) == 6;
  char out[512];
  ssize_t n = hull_read_all (rp[0], out, sizeof (out) - 1);
  out[n < 0 ? 0 : n] = '\0';
  close (rp[0]);
  int status;
  waitpid (pid, &status, 0);
  CHECK (written);
  CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  /* A fresh devpts instance: the first pty, named as runc names it. */
  CHECK_STR (name, "/dev/pts/0");
  CHECK_STR (out, "tty=111 leader=1 ctty=1 size=100x40 line=hello");
}

/* ---- exec --------------------------------------------------------------------- */

struct exec_case
{
  struct oci_process p;
  int preserve_fds;
  bool check_only;
};

static int
child_exec (void *arg, int out)
{
  struct exec_case *ec = arg;
  hull_error_t err = NULL;
  /* What the runtime itself has must not leak into the process. */
  setenv ("HULL_RUNTIME_ONLY", "1", 1);
  if (dup2 (out, 1) < 0)
    return 2;
  if (ec->check_only)
    {
      if (ns_check_executable (&ec->p, &err) < 0)
        return say_err (1, &err);
      say (1, "found");
      return 0;
    }
  ns_exec_process (&ec->p, ec->preserve_fds, &err);
  return say_err (1, &err);
}

static char *path_env[] = { "PATH=/nonexistent:relative:/usr/bin:/bin", "FOO=bar", NULL };

TEST (exec_resolves_on_process_path)
{
  char *args[] = { "sh", "-c", "echo $FOO $HOME; pwd", NULL };
  struct exec_case ec = { 0 };
  ec.p.args = args;
  ec.p.env = path_env;
  ec.p.cwd = "/tmp";
  char out[512];
  CHECK (run_child (child_exec, &ec, out, sizeof (out)) == 0);
  CHECK_STR (out, "bar /root\n/tmp\n");
}

TEST (exec_environment_is_exactly_the_process_env)
{
  char *args[] = { "env", NULL };
  char *env[] = { "PATH=/usr/bin:/bin", "A=1", "HOME=/home/x", NULL };
  struct exec_case ec = { 0 };
  ec.p.args = args;
  ec.p.env = env;
  ec.p.cwd = "/";
  char out[512];
  CHECK (run_child (child_exec, &ec, out, sizeof (out)) == 0);
  CHECK_STR (out, "PATH=/usr/bin:/bin\nA=1\nHOME=/home/x\n");
  /* No env at all: runc's default PATH is searched, HOME comes from passwd. */
  ec.p.env = NULL;
  CHECK (run_child (child_exec, &ec, out, sizeof (out)) == 0);
  CHECK_STR (out, "HOME=/root\n");
  /* A uid without a passwd entry gets "/", as in runc. */
  ec.p.user.uid = 54321;
  CHECK (run_child (child_exec, &ec, out, sizeof (out)) == 0);
  CHECK_STR (out, "HOME=/\n");
}

TEST (exec_errors_like_runc)
{
  struct
  {
    const char *arg0, *cwd, *want;
  } cases[] = {
    { "definitely-not-a-binary", "/",
      "exec: \"definitely-not-a-binary\": executable file not found in $PATH" },
    { "/nonexistent/bin", "/", "exec: \"/nonexistent/bin\": No such file or directory" },
    { "/tmp", "/", "exec: \"/tmp\": Is a directory" },
    { "./passwd", "/etc", "exec: \"./passwd\": Permission denied" },
    { "sh", "/nonexistent",
      "chdir to cwd (\"/nonexistent\") set in config.json failed: No such file or directory" },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    for (int check_only = 0; check_only <= 1; check_only++)
      {
        char *args[] = { (char *)cases[i].arg0, NULL };
        struct exec_case ec = { 0 };
        ec.p.args = args;
        ec.p.env = path_env;
        ec.p.cwd = (char *)cases[i].cwd;
        ec.check_only = check_only;
        char out[512], want[512];
        CHECK (run_child (child_exec, &ec, out, sizeof (out)) == 1);
        snprintf (want, sizeof (want), "ERR: %s", cases[i].want);
        CHECK_STR (out, want);
      }
  char *args[] = { "sh", NULL };
  struct exec_case ec = { 0 };
  ec.p.args = args;
  ec.p.env = path_env;
  ec.p.cwd = "/";
  ec.check_only = true;
  char out[512];
  CHECK (run_child (child_exec, &ec, out, sizeof (out)) == 0);
  CHECK_STR (out, "found");
}

/* A cwd outside the root (CVE-2024-21626): /tmp stays the cwd across a
 * chroot into /usr, and process.cwd is empty (no chdir): the kernel's
 * getcwd then says "(unreachable)/tmp". */
static int
child_exec_cwd_outside_root (void *arg, int out)
{
  if (chdir ("/tmp") < 0 || chroot ("/usr") < 0)
    return 2;
  return child_exec (arg, out);
}

TEST (exec_refuses_a_cwd_outside_the_root)
{
  char *args[] = { "sh", NULL };
  for (int check_only = 0; check_only <= 1; check_only++)
    {
      struct exec_case ec = { 0 };
      ec.p.args = args;
      ec.p.env = path_env;
      ec.p.cwd = "";
      ec.check_only = check_only;
      char out[512];
      CHECK (run_child (child_exec_cwd_outside_root, &ec, out, sizeof (out)) == 1);
      CHECK_CONTAINS (out, "is outside the container's root");
    }
}

/* fd 3 preserved (even though opened close-on-exec), fd 4 and fd 20
 * (opened without close-on-exec) must not reach the process. */
static int
child_exec_fds (void *arg, int out)
{
  /* Keep the report pipe away from the fds under test. */
  out = fcntl (out, F_DUPFD_CLOEXEC, 40);
  int fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  int high = fd < 0 ? -1 : fcntl (fd, F_DUPFD_CLOEXEC, 30);
  if (high < 0 || dup3 (high, 3, O_CLOEXEC) < 0 || dup2 (high, 4) < 0 || dup2 (high, 20) < 0)
    return 2;
  if (fd > 4)
    close (fd);
  close (high);
  return child_exec (arg, out);
}

TEST (exec_closes_fds_but_the_preserved)
{
  char *args[]
      = { "sh", "-c", "for f in 3 4 20; do test -e /proc/self/fd/$f && echo open $f; done; echo done", NULL };
  struct exec_case ec = { 0 };
  ec.p.args = args;
  ec.p.env = path_env;
  ec.p.cwd = "/";
  ec.preserve_fds = 1;
  char out[512];
  CHECK (run_child (child_exec_fds, &ec, out, sizeof (out)) == 0);
  CHECK_STR (out, "open 3\ndone\n");
  ec.preserve_fds = 0;
  CHECK (run_child (child_exec_fds, &ec, out, sizeof (out)) == 0);
  CHECK_STR (out, "done\n");
}

RUN_TESTS ("ns_process")
