/* Loading the device program and attaching it to a cgroup with bpf(2),
 * without libbpf: replace the program attached before, as runc's
 * LoadAttachCgroupDeviceFilter does. */
#include "cgroups-internal.h"

#include <linux/bpf.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#define MAX_ATTACHED 64

static int
sys_bpf (int cmd, union bpf_attr *attr)
{
  return (int)syscall (__NR_bpf, cmd, attr, sizeof (*attr));
}

static int
prog_load (const struct bpf_insn *insns, size_t n, char *log, size_t log_size)
{
  union bpf_attr a;
  memset (&a, 0, sizeof (a));
  a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  a.insns = (uintptr_t)insns;
  a.insn_cnt = (uint32_t)n;
  a.license = (uintptr_t) "Apache";
  snprintf (a.prog_name, sizeof (a.prog_name), "hull_devices");
  if (log)
    {
      a.log_level = 1;
      a.log_buf = (uintptr_t)log;
      a.log_size = (uint32_t)log_size;
    }
  return sys_bpf (BPF_PROG_LOAD, &a);
}

static int
load_program (const struct bpf_insn *insns, size_t n, hull_error_t *err)
{
  int fd = prog_load (insns, n, NULL, 0);
  if (fd < 0 && errno == EPERM)
    {
      /* Before 5.11 programs count against RLIMIT_MEMLOCK.  The raised limit
       * stays with this runtime process; the container does not inherit it. */
      struct rlimit inf = { RLIM_INFINITY, RLIM_INFINITY };
      setrlimit (RLIMIT_MEMLOCK, &inf);
      fd = prog_load (insns, n, NULL, 0);
    }
  if (fd >= 0)
    return fd;
  int saved_errno = errno;
  /* Ask the verifier why, for the message. */
  cleanup_free char *log = xmalloc0 (16384);
  int again = prog_load (insns, n, log, 16384);
  if (again >= 0)
    return again;
  log[16383] = '\0';
  for (char *c = log; *c; c++)
    if (*c == '\n')
      *c = ' ';
  return hull_make_error (err, saved_errno, "load the device-control eBPF program%s%.400s%s",
                          *log ? " (verifier: " : "", log, *log ? ")" : "");
}

/* The ids of the programs attached to this cgroup itself (not inherited). */
static int
query_attached (int cgroup_fd, uint32_t **ids, uint32_t *n, hull_error_t *err)
{
  uint32_t cap = MAX_ATTACHED;
  for (int tries = 0; tries < 10; tries++)
    {
      cleanup_free uint32_t *buf = xmalloc0 (cap * sizeof (uint32_t));
      union bpf_attr q;
      memset (&q, 0, sizeof (q));
      q.query.target_fd = (uint32_t)cgroup_fd;
      q.query.attach_type = BPF_CGROUP_DEVICE;
      q.query.prog_ids = (uintptr_t)buf;
      q.query.prog_cnt = cap;
      if (sys_bpf (BPF_PROG_QUERY, &q) == 0)
        {
          *n = q.query.prog_cnt;
          *ids = steal_pointer (&buf);
          return 0;
        }
      if (errno != ENOSPC)
        return hull_make_error (err, errno,
                                "query the device programs attached to the cgroup (BPF_PROG_QUERY)");
      cap = q.query.prog_cnt; /* ENOSPC tells the real count */
    }
  return hull_make_error (err, EAGAIN,
                          "query the device programs attached to the cgroup: the list keeps changing");
}

/* fds of the attached programs; those an LSM hides from us (EPERM, EACCES)
 * are skipped, as runc: a device program can only restrict further. */
static int
attached_fds (int cgroup_fd, int **fds, size_t *n, hull_error_t *err)
{
  cleanup_free uint32_t *ids = NULL;
  uint32_t nids = 0;
  if (query_attached (cgroup_fd, &ids, &nids, err) < 0)
    return -1;
  *fds = xmalloc0 ((nids + 1) * sizeof (int));
  *n = 0;
  for (uint32_t i = 0; i < nids; i++)
    {
      union bpf_attr a;
      memset (&a, 0, sizeof (a));
      a.prog_id = ids[i];
      int fd = sys_bpf (BPF_PROG_GET_FD_BY_ID, &a);
      if (fd >= 0)
        (*fds)[(*n)++] = fd;
      else if (errno != EPERM && errno != EACCES && errno != ENOENT)
        return hull_make_error (err, errno, "get the device program with id %u (BPF_PROG_GET_FD_BY_ID)",
                                ids[i]);
    }
  return 0;
}

static int
attach (int cgroup_fd, int prog_fd, int replace_fd)
{
  union bpf_attr a;
  memset (&a, 0, sizeof (a));
  a.target_fd = (uint32_t)cgroup_fd;
  a.attach_bpf_fd = (uint32_t)prog_fd;
  a.attach_type = BPF_CGROUP_DEVICE;
  a.attach_flags = BPF_F_ALLOW_MULTI;
  if (replace_fd >= 0)
    {
      a.attach_flags |= BPF_F_REPLACE;
      a.replace_bpf_fd = (uint32_t)replace_fd;
    }
  return sys_bpf (BPF_PROG_ATTACH, &a);
}

static int
detach (int cgroup_fd, int prog_fd)
{
  union bpf_attr a;
  memset (&a, 0, sizeof (a));
  a.target_fd = (uint32_t)cgroup_fd;
  a.attach_bpf_fd = (uint32_t)prog_fd;
  a.attach_type = BPF_CGROUP_DEVICE;
  return sys_bpf (BPF_PROG_DETACH, &a);
}

static void
close_all (int *fds, size_t n)
{
  for (size_t i = 0; i < n; i++)
    close (fds[i]);
}

/* Attach first, then detach the old programs: in between both apply, which
 * is the stricter of the two, never neither. */
static int
install (int cgroup_fd, int prog_fd, const int *old, size_t n_old, hull_error_t *err)
{
  if (n_old == 1 && attach (cgroup_fd, prog_fd, old[0]) == 0)
    return 0;
  /* EINVAL: no BPF_F_REPLACE before 5.6; fall back to attach + detach. */
  if (n_old == 1 && errno != EINVAL)
    return hull_make_error (err, errno,
                            "replace the device program of the cgroup (BPF_PROG_ATTACH, BPF_F_REPLACE)");
  if (attach (cgroup_fd, prog_fd, -1) < 0)
    return hull_make_error (err, errno,
                            "attach the device program to the cgroup (BPF_PROG_ATTACH, BPF_CGROUP_DEVICE)");
  if (n_old > 1)
    cg_warn ("found %zu device programs attached to the cgroup: removing them all", n_old);
  for (size_t i = 0; i < n_old; i++)
    if (detach (cgroup_fd, old[i]) < 0 && errno != ENOENT)
      return hull_make_error (err, errno, "detach an old device program from the cgroup (BPF_PROG_DETACH)");
  return 0;
}

int
cg_apply_devices (int cgroup_fd, const struct oci_device_cgroup *rules, size_t n, hull_error_t *err)
{
  cleanup_free struct bpf_insn *insns = NULL;
  size_t n_insns = 0;
  if (cg_devices_program (rules, n, &insns, &n_insns, err) < 0)
    return -1;
  cleanup_close int prog = load_program (insns, n_insns, err);
  if (prog < 0)
    return -1;
  cleanup_free int *old = NULL;
  size_t n_old = 0;
  if (attached_fds (cgroup_fd, &old, &n_old, err) < 0)
    {
      close_all (old, n_old);
      return -1;
    }
  int ret = install (cgroup_fd, prog, old, n_old, err);
  close_all (old, n_old);
  return ret;
}
