/* Unit tests for cgroups/ on a real cgroup: a scratch cgroup next to ours
 * (hull-unit-PID-NAME, always removed) on this host: freezing a process,
 * the device program denying a device to a process inside, unified writes,
 * the hybrid-host refusal and warning, stats.  Limits that need controllers
 * skip on a hybrid host and run in the test host VM (pure cgroup v2). */
#include "../../cgroups/cgroups.h"
#include "unit.h"

#include <linux/bpf.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static int
parse_res (const char *json, struct oci_resources *r, hull_error_t *err)
{
  return oci_resources_parse (json, strlen (json), "resources", r, err);
}

/* ---- on this host: a scratch cgroup ------------------------------------------------------ */

static bool
host_usable (const char *what)
{
  const char *mnt;
  hull_error_t err = NULL;
  if (geteuid () != 0 || cg_mount_point (&mnt, NULL, &err) < 0)
    {
      hull_error_release (&err);
      fprintf (stderr, "  SKIP %s: needs root and a cgroup2 hierarchy\n", what);
      return false;
    }
  return true;
}

struct scratch
{
  char *path; /* relative to the mount */
  int fd;
};

static bool
scratch_create (const char *name, struct scratch *s)
{
  hull_error_t err = NULL;
  cleanup_free char *id = hull_fmt ("hull-unit-%d-%s", (int)getpid (), name);
  bool created = false;
  s->fd = -1;
  if (cg_resolve_path (NULL, id, &s->path, &err) < 0 || (s->fd = cg_create (s->path, &created, &err)) < 0)
    {
      fprintf (stderr, "  scratch cgroup: %s\n", err->msg);
      hull_error_release (&err);
      return false;
    }
  return true;
}

static void
scratch_destroy (struct scratch *s)
{
  hull_error_t err = NULL;
  if (s->path)
    {
      cg_freeze (s->path, false, &err);
      hull_error_release (&err);
      cg_kill_all (s->path, SIGKILL, &err);
      hull_error_release (&err);
      if (cg_destroy (s->path, &err) < 0)
        {
          fprintf (stderr, "  could not remove the scratch cgroup: %s\n", err->msg);
          hull_error_release (&err);
        }
    }
  if (s->fd >= 0)
    close (s->fd);
  free (s->path);
}

/* A child that moves itself into the cgroup, reports 'j' on report_fd, then
 * runs fn; it never returns. */
static pid_t
spawn_in (int cgroup_fd, int report_fd, void (*fn) (void *), void *arg)
{
  pid_t pid = fork ();
  if (pid != 0)
    return pid;
  int fd = openat (cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
  char c = fd >= 0 && write (fd, "0", 1) == 1 ? 'j' : 'x';
  if (write (report_fd, &c, 1) != 1 || c != 'j')
    _exit (1);
  fn (arg);
  _exit (0);
}

static void
reap (pid_t pid)
{
  if (pid > 0)
    {
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
    }
}

static void
sleep_ms (long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep (&ts, NULL);
}

static char fail_msg[1024];

static const char *
failf (hull_error_t *err, const char *what)
{
  snprintf (fail_msg, sizeof (fail_msg), "%s%s%s", what, err && *err ? ": " : "",
            err && *err ? (*err)->msg : "");
  if (err)
    hull_error_release (err);
  return fail_msg;
}

static bool
root_has_controller (const char *name)
{
  const char *mnt;
  hull_error_t err = NULL;
  cleanup_free char *buf = NULL;
  if (cg_mount_point (&mnt, NULL, &err) < 0)
    {
      hull_error_release (&err);
      return false;
    }
  cleanup_free char *path = hull_fmt ("%s/cgroup.controllers", mnt);
  if (hull_read_file_at (AT_FDCWD, path, 1 << 16, &buf, NULL, &err) < 0)
    {
      hull_error_release (&err);
      return false;
    }
  for (char *save = NULL, *t = strtok_r (buf, " \n", &save); t; t = strtok_r (NULL, " \n", &save))
    if (strcmp (t, name) == 0)
      return true;
  return false;
}

/* ---- freezing ---------------------------------------------------------------------------- */

static void
spin (void *arg)
{
  volatile uint64_t *counter = arg;
  for (;;)
    (*counter)++;
}

/* Waits (bounded) until the counter passes `than`. */
static bool
progresses (volatile uint64_t *counter, uint64_t than)
{
  for (int i = 0; i < 5000; i++)
    {
      if (*counter > than)
        return true;
      sleep_ms (1);
    }
  return false;
}

static const char *
freeze_scenario (const struct scratch *s, int report, volatile uint64_t *counter)
{
  hull_error_t err = NULL;
  char c;
  bool frozen = true;
  if (read (report, &c, 1) != 1 || c != 'j')
    return failf (NULL, "the child could not join the scratch cgroup");
  if (!progresses (counter, 0))
    return failf (NULL, "the child never ran");
  if (cg_freeze (s->path, true, &err) < 0)
    return failf (&err, "freeze");
  if (cg_is_frozen (s->path, &frozen, &err) < 0 || !frozen)
    return failf (&err, "cgroup.events does not say frozen 1 after cg_freeze");
  /* /proc/PID/status keeps saying "S (sleeping)" for a frozen task (it
   * waits in the freezer trap); what shows the freeze is that it makes no
   * progress at all. */
  uint64_t before = *counter;
  sleep_ms (50);
  if (*counter != before)
    return failf (NULL, "the process kept running while frozen");
  if (cg_freeze (s->path, false, &err) < 0)
    return failf (&err, "thaw");
  if (cg_is_frozen (s->path, &frozen, &err) < 0 || frozen)
    return failf (&err, "cgroup.events still says frozen 1 after the thaw");
  if (!progresses (counter, before))
    return failf (NULL, "the process did not resume after the thaw");
  return NULL;
}

TEST (freeze_and_thaw_a_process)
{
  if (!host_usable ("freeze"))
    return;
  struct scratch s = { NULL, -1 };
  CHECK (scratch_create ("freeze", &s));
  volatile uint64_t *counter = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int pfd[2];
  const char *fail = "setup";
  pid_t pid = -1;
  if (counter != MAP_FAILED && pipe2 (pfd, O_CLOEXEC) == 0)
    {
      pid = spawn_in (s.fd, pfd[1], spin, (void *)counter);
      fail = pid < 0 ? "fork" : freeze_scenario (&s, pfd[0], counter);
      close (pfd[0]), close (pfd[1]);
    }
  reap (pid);
  scratch_destroy (&s);
  if (counter != MAP_FAILED)
    munmap ((void *)counter, 4096);
  if (fail)
    fprintf (stderr, "  %s\n", fail);
  CHECK (fail == NULL);
}

TEST (freeze_empty_cgroup_and_errors)
{
  if (!host_usable ("freeze"))
    return;
  struct scratch s = { NULL, -1 };
  CHECK (scratch_create ("freeze-empty", &s));
  hull_error_t err = NULL;
  bool frozen = false;
  int r1 = cg_freeze (s.path, true, &err);
  hull_error_release (&err);
  int r2 = cg_is_frozen (s.path, &frozen, &err);
  hull_error_release (&err);
  int r3 = cg_freeze (s.path, false, &err);
  hull_error_release (&err);
  scratch_destroy (&s);
  CHECK (r1 == 0 && r2 == 0 && frozen && r3 == 0);
  CHECK (cg_freeze ("/hull-unit-no-such-cgroup", true, &err) < 0);
  CHECK_CONTAINS (err->msg, "hull-unit-no-such-cgroup");
  hull_error_release (&err);
}

/* ---- the device program in the kernel ------------------------------------------------------ */

struct probe_fds
{
  int go, res;
};

/* Per 'g' on go: tries to open each device, reports an errno byte each. */
static const char *const probe_paths[] = { "/dev/null", "/dev/full", "/dev/kmsg" };

static void
probe_loop (void *arg)
{
  struct probe_fds *f = arg;
  char c;
  while (read (f->go, &c, 1) == 1 && c == 'g')
    {
      unsigned char res[3];
      for (int i = 0; i < 3; i++)
        {
          int fd = open (probe_paths[i], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
          res[i] = fd >= 0 ? 0 : (unsigned char)errno;
          if (fd >= 0)
            close (fd);
        }
      if (write (f->res, res, 3) != 3)
        _exit (1);
    }
}

static int
count_attached (int cgroup_fd)
{
  uint32_t ids[64];
  union bpf_attr q;
  memset (&q, 0, sizeof (q));
  q.query.target_fd = (uint32_t)cgroup_fd;
  q.query.attach_type = BPF_CGROUP_DEVICE;
  q.query.prog_ids = (uintptr_t)ids;
  q.query.prog_cnt = 64;
  if (syscall (__NR_bpf, BPF_PROG_QUERY, &q, sizeof (q)) < 0)
    return -1;
  return (int)q.query.prog_cnt;
}

/* Applies rules, then has the child open the probe devices. */
static const char *
device_round (const struct scratch *s, const struct probe_fds *f, const char *rules_json, const int want[3])
{
  struct oci_resources r;
  hull_error_t err = NULL;
  cleanup_free char *json = hull_fmt ("{\"devices\":%s}", rules_json);
  if (parse_res (json, &r, &err) < 0)
    return failf (&err, "parse");
  int ret = cg_apply_devices (s->fd, r.devices, r.n_devices, &err);
  oci_resources_release (&r);
  if (ret < 0)
    return failf (&err, "cg_apply_devices");
  unsigned char got[3];
  if (write (f->go, "g", 1) != 1 || read (f->res, got, 3) != 3)
    return failf (NULL, "the probe child died");
  for (int i = 0; i < 3; i++)
    if (got[i] != want[i])
      {
        snprintf (fail_msg, sizeof (fail_msg), "%s: open %s: got errno %d, want %d", rules_json,
                  probe_paths[i], got[i], want[i]);
        return fail_msg;
      }
  int n = count_attached (s->fd);
  if (n != 1)
    {
      snprintf (fail_msg, sizeof (fail_msg), "%s: %d device programs attached, want exactly 1", rules_json,
                n);
      return fail_msg;
    }
  return NULL;
}

static const char *
devices_scenario (const struct scratch *s, const struct probe_fds *f)
{
  char c;
  if (read (f->res, &c, 1) != 1 || c != 'j')
    return failf (NULL, "the child could not join the scratch cgroup");
  /* /dev/full is on runc's default allow list, so no config can deny it;
   * /dev/kmsg (c 1:11) is not. */
  const int defaults[3] = { 0, 0, EPERM }, all[3] = { 0, 0, 0 };
  const char *fail = device_round (s, f, "[{\"allow\":false,\"access\":\"rwm\"}]", defaults);
  if (fail == NULL) /* replacing the program: BPF_F_REPLACE */
    fail = device_round (s, f, "[{\"allow\":true,\"access\":\"rwm\"}]", all);
  if (fail == NULL)
    fail = device_round (s, f,
                         "[{\"allow\":true,\"access\":\"rwm\"},{\"allow\":false,\"type\":\"c\",\"major\":1,"
                         "\"minor\":11,\"access\":\"r\"}]",
                         defaults);
  return fail;
}

TEST (device_program_denies_in_the_kernel)
{
  if (!host_usable ("devices"))
    return;
  if (access ("/dev/kmsg", F_OK) < 0)
    {
      fprintf (stderr, "  SKIP: no /dev/kmsg to probe\n");
      return;
    }
  struct scratch s = { NULL, -1 };
  CHECK (scratch_create ("devices", &s));
  int go[2], res[2];
  const char *fail = "pipes";
  pid_t pid = -1;
  if (pipe2 (go, O_CLOEXEC) == 0 && pipe2 (res, O_CLOEXEC) == 0)
    {
      struct probe_fds child = { go[0], res[1] }, parent = { go[1], res[0] };
      pid = spawn_in (s.fd, res[1], probe_loop, &child);
      fail = pid < 0 ? "fork" : devices_scenario (&s, &parent);
      if (write (go[1], "q", 1) != 1)
        fail = fail ? fail : "quit";
      close (go[0]), close (go[1]), close (res[0]), close (res[1]);
    }
  reap (pid);
  scratch_destroy (&s);
  if (fail)
    fprintf (stderr, "  %s\n", fail);
  CHECK (fail == NULL);
}

/* ---- resources on this host ---------------------------------------------------------------- */

static char warnings[4096];

static void
capture_warning (const char *msg)
{
  size_t n = strlen (warnings);
  snprintf (warnings + n, sizeof (warnings) - n, "%s\n", msg);
}

/* cg_check_resources' error, "" when accepted; warnings land in `warnings`. */
static char *
check_msg (const char *json, bool warn_only)
{
  struct oci_resources r;
  hull_error_t err = NULL;
  warnings[0] = '\0';
  if (parse_res (json, &r, &err) < 0)
    return failf (&err, "parse") ? xstrdup (fail_msg) : NULL;
  cg_set_warn_fn (capture_warning);
  char *m = cg_check_resources (&r, warn_only, &err) < 0 ? xstrdup (err->msg) : xstrdup ("");
  cg_set_warn_fn (NULL);
  hull_error_release (&err);
  oci_resources_release (&r);
  return m;
}

TEST (check_refuses_or_warns_on_missing_controllers)
{
  if (!host_usable ("check"))
    return;
  char *m = check_msg ("{\"memory\":{\"kernel\":1,\"swappiness\":10},\"network\":{\"classID\":3}}", false);
  CHECK_STR (m, "");
  free (m);
  CHECK_CONTAINS (warnings, "linux.resources.memory.kernel/kernelTCP: kernel memory settings are ignored");
  CHECK_CONTAINS (warnings, "linux.resources.memory.swappiness");
  CHECK_CONTAINS (warnings, "linux.resources.network");
  if (root_has_controller ("memory"))
    {
      fprintf (stderr, "  (memory controller present: the refusal is for hybrid hosts)\n");
      return;
    }
  m = check_msg ("{\"memory\":{\"limit\":1048576}}", false);
  CHECK_CONTAINS (m, "linux.resources.memory.limit: the `memory` controller is not available in the cgroup2 "
                     "hierarchy at /sys/fs/cgroup");
  free (m);
  m = check_msg ("{\"memory\":{\"limit\":0,\"kernelTCP\":5}}",
                 false); /* 0 writes nothing: nothing to check */
  CHECK_STR (m, "");
  free (m);
  m = check_msg ("{\"unified\":{\"memory.high\":\"1\"}}", false);
  CHECK_CONTAINS (m, "linux.resources.unified.\"memory.high\": the `memory` controller is not available");
  free (m);
  m = check_msg ("{\"memory\":{\"limit\":1048576}}", true);
  CHECK_STR (m, "");
  free (m);
  CHECK_CONTAINS (warnings, "linux.resources.memory.limit: the `memory` controller is not available");
  CHECK_CONTAINS (warnings, "NOT enforced");
  /* Validation still refuses outright, even with warn_only. */
  m = check_msg ("{\"cpu\":{\"shares\":1}}", true);
  CHECK_CONTAINS (m, "linux.resources.cpu.shares");
  free (m);
}

TEST (check_hugepage_sizes)
{
  if (!host_usable ("hugetlb") || !root_has_controller ("hugetlb")
      || access ("/sys/kernel/mm/hugepages/hugepages-2048kB", F_OK) < 0)
    {
      fprintf (stderr, "  SKIP: needs the hugetlb controller and 2MB pages\n");
      return;
    }
  char *m = check_msg ("{\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":0}]}", false);
  CHECK_STR (m, "");
  free (m);
  m = check_msg ("{\"hugepageLimits\":[{\"pageSize\":\"3MB\",\"limit\":0}]}", false);
  CHECK_CONTAINS (m, "linux.resources.hugepageLimits[0].pageSize: this host has no `3MB` huge pages");
  free (m);
}

static const char *
apply_json (const struct scratch *s, const char *json)
{
  struct oci_resources r;
  hull_error_t err = NULL;
  if (parse_res (json, &r, &err) < 0)
    return failf (&err, "parse");
  int ret = cg_apply_resources (s->path, &r, &err);
  oci_resources_release (&r);
  return ret < 0 ? failf (&err, "apply") : NULL;
}

static char *
read_cg_file (const struct scratch *s, const char *file)
{
  char *buf = NULL;
  hull_error_t err = NULL;
  if (hull_read_file_at (s->fd, file, 1 << 16, &buf, NULL, &err) < 0)
    hull_error_release (&err);
  return buf;
}

TEST (apply_unified_and_skipped_limits)
{
  if (!host_usable ("apply"))
    return;
  struct scratch s = { NULL, -1 };
  CHECK (scratch_create ("apply", &s));
  const char *mnt;
  hull_error_t err = NULL;
  cg_mount_point (&mnt, NULL, &err);
  cleanup_free char *root_ctl = hull_fmt ("%s/cgroup.subtree_control", mnt);
  cleanup_free char *before = NULL, *after = NULL;
  hull_read_file_at (AT_FDCWD, root_ctl, 1 << 16, &before, NULL, &err);
  const char *f1 = apply_json (&s, "{\"unified\":{\"cgroup.max.descendants\":\"7\"}}");
  cleanup_free char *desc = read_cg_file (&s, "cgroup.max.descendants");
  cleanup_free char *f2 = xstrdup (apply_json (&s, "{\"unified\":{\"cgroup.nosuch\":\"1\"}}") ?: "accepted");
  const char *f3 = apply_json (&s, "{}");
  /* Without the controllers (hybrid host) these are skipped: check refused or
   * warned about them first. */
  const char *f4 = root_has_controller ("pids") ? NULL : apply_json (&s, "{\"pids\":{\"limit\":5}}");
  hull_read_file_at (AT_FDCWD, root_ctl, 1 << 16, &after, NULL, &err);
  hull_error_release (&err);
  scratch_destroy (&s);
  CHECK (f1 == NULL);
  CHECK_STR (desc, "7\n");
  CHECK_CONTAINS (f2, "linux.resources.unified.\"cgroup.nosuch\": no such file in `");
  CHECK (f3 == NULL);
  CHECK (f4 == NULL);
  CHECK_STR (after, before); /* nothing needed a controller here */
}

static void
hog (void *arg)
{
  (void)arg;
  for (;;)
    {
      char *p = malloc (1 << 20);
      if (p)
        memset (p, 1, 1 << 20);
    }
}

/* A process allocating past memory.max is OOM-killed and counted. */
static const char *
oom_scenario (const struct scratch *s)
{
  int pfd[2];
  if (pipe2 (pfd, O_CLOEXEC) < 0)
    return failf (NULL, "pipe");
  pid_t pid = spawn_in (s->fd, pfd[1], hog, NULL);
  close (pfd[0]), close (pfd[1]);
  int status = 0;
  if (pid < 0 || waitpid (pid, &status, 0) != pid)
    return failf (NULL, "the memory hog");
  uint64_t kills = 0;
  hull_error_t err = NULL;
  if (cg_oom_events (s->path, &kills, &err) < 0)
    return failf (&err, "cg_oom_events");
  if (!WIFSIGNALED (status) || WTERMSIG (status) != SIGKILL || kills < 1)
    return failf (NULL, "the memory hog was not OOM-killed, or memory.events did not count it");
  return NULL;
}

/* Needs the controllers: runs in the test host VM (pure cgroup v2). */
static const char *
limits_scenario (const struct scratch *s)
{
  const char *fail
      = apply_json (s, "{\"memory\":{\"limit\":67108864,\"reservation\":1048576,\"swap\":134217728},"
                       "\"cpu\":{\"shares\":1024,\"quota\":50000,\"period\":100000,\"cpus\":\"0\"},"
                       "\"pids\":{\"limit\":42},\"blockIO\":{\"weight\":500},"
                       "\"unified\":{\"memory.high\":\"62914560\"}}");
  if (fail)
    return fail;
  const struct
  {
    const char *file, *want;
  } files[] = {
    { "memory.max", "67108864\n" }, { "memory.low", "1048576\n" },   { "memory.high", "62914560\n" },
    { "cpu.weight", "39\n" },       { "cpu.max", "50000 100000\n" }, { "pids.max", "42\n" },
    { "cpuset.cpus", "0\n" },
  };
  for (size_t i = 0; i < sizeof (files) / sizeof (files[0]); i++)
    {
      cleanup_free char *got = read_cg_file (s, files[i].file);
      if (got == NULL || strcmp (got, files[i].want) != 0)
        {
          snprintf (fail_msg, sizeof (fail_msg), "%s: got `%s`, want `%s`", files[i].file,
                    got ? got : "(none)", files[i].want);
          return fail_msg;
        }
    }
  /* Without swap accounting there is no memory.swap.max to check. */
  cleanup_free char *swap = read_cg_file (s, "memory.swap.max");
  if (swap && strcmp (swap, "67108864\n") != 0)
    return failf (NULL, "memory.swap.max is not swap - limit");
  /* A refused write names the field and the file. */
  struct oci_resources r;
  hull_error_t err = NULL;
  if (parse_res ("{\"cpu\":{\"cpus\":\"4095\"}}", &r, &err) < 0)
    return failf (&err, "parse");
  int ret = cg_apply_resources (s->path, &r, &err);
  oci_resources_release (&r);
  if (ret == 0 || strstr (err->msg, "linux.resources.cpu.cpus: write cpuset.cpus: ") == NULL)
    return failf (&err, "an impossible cpuset was not refused with the field and file named");
  hull_error_release (&err);
  struct cg_stats st;
  if (cg_stats (s->path, &st, &err) < 0)
    return failf (&err, "cg_stats");
  bool ok = st.memory.usage.limit == 67108864 && st.pids.limit == 42;
  cg_stats_release (&st);
  if (!ok)
    return failf (NULL, "stats do not show the limits");
  return oom_scenario (s);
}

TEST (apply_limits_with_controllers)
{
  if (!host_usable ("limits"))
    return;
  const char *need[] = { "memory", "cpu", "pids", "cpuset", "io" };
  for (size_t i = 0; i < sizeof (need) / sizeof (need[0]); i++)
    if (!root_has_controller (need[i]))
      {
        fprintf (stderr, "  SKIP: no `%s` controller in cgroup2 (runs in the test host VM)\n", need[i]);
        return;
      }
  struct scratch s = { NULL, -1 };
  CHECK (scratch_create ("limits", &s));
  const char *fail = limits_scenario (&s);
  scratch_destroy (&s);
  if (fail)
    fprintf (stderr, "  %s\n", fail);
  CHECK (fail == NULL);
}

static void
pause_forever (void *arg)
{
  (void)arg;
  for (;;)
    pause ();
}

TEST (stats_of_a_scratch_cgroup)
{
  if (!host_usable ("stats"))
    return;
  struct scratch s = { NULL, -1 };
  CHECK (scratch_create ("stats", &s));
  int pfd[2];
  pid_t pid = -1;
  struct cg_stats st;
  memset (&st, 0, sizeof (st));
  hull_error_t err = NULL;
  const char *fail = "setup";
  char c;
  uint64_t oom = 0;
  int oom_ret = 0, oom_status = 0;
  if (pipe2 (pfd, O_CLOEXEC) == 0)
    {
      pid = spawn_in (s.fd, pfd[1], pause_forever, NULL);
      fail = read (pfd[0], &c, 1) != 1          ? "join"
             : cg_stats (s.path, &st, &err) < 0 ? failf (&err, "cg_stats")
                                                : NULL;
      oom_ret = cg_oom_events (s.path, &oom, &err);
      oom_status = err ? err->status : 0;
      hull_error_release (&err);
      close (pfd[0]), close (pfd[1]);
    }
  reap (pid);
  scratch_destroy (&s);
  cleanup_free char *json = fail ? NULL : cg_stats_to_json (&st, "stats-test");
  cg_stats_release (&st);
  if (fail)
    fprintf (stderr, "  %s\n", fail);
  CHECK (fail == NULL);
  CHECK_CONTAINS (json, "{\"type\":\"stats\",\"id\":\"stats-test\",\"data\":{\"cpu\":{\"usage\":{");
  CHECK_CONTAINS (json, "\"pids\":{\"current\":1");
  if (root_has_controller ("memory"))
    CHECK (oom_ret == 0 && oom == 0);
  else
    CHECK (oom_ret < 0 && oom_status == ENOENT);
}

RUN_TESTS ("cgroups-host")
