/* cgroups/: the cgroup v2 manager.  Containers always live in the unified
 * hierarchy — /sys/fs/cgroup on a pure v2 host, /sys/fs/cgroup/unified on a
 * hybrid one (see docs/cgroups.md).  Paths taken by these functions are
 * relative to that mount and start with "/" (as cg_resolve_path returns). */
#ifndef HULL_CGROUPS_H
#define HULL_CGROUPS_H

#include "../common/common.h"
#include "../oci/oci.h"
#include <sys/types.h>

/* The cgroup2 mount point ("/sys/fs/cgroup" or "/sys/fs/cgroup/unified"),
 * and whether the host is hybrid (v1 controllers mounted too). */
int cg_mount_point (const char **path, bool *hybrid, hull_error_t *err);

/* Resolves linux.cgroupsPath as runc's cgroupfs driver does: absolute paths
 * are taken from the root of the hierarchy, relative ones from the parent
 * of hull's own cgroup; absent means "<parent of own cgroup>/<id>".  The
 * result is relative to the mount, starting with "/".  A path with ".."
 * components is refused. */
int cg_resolve_path (const char *cgroups_path, const char *id, char **out, hull_error_t *err);

/* Creates the cgroup (and its parents); returns an O_DIRECTORY fd on it.
 * *created tells whether the leaf was made by this call (so only that is
 * removed on failure). */
int cg_create (const char *path, bool *created, hull_error_t *err);
/* Opens the existing cgroup directory of path (O_RDONLY | O_DIRECTORY). */
int cg_open_dir (const char *path, hull_error_t *err);

/* Sends sig to every process of the cgroup (cgroup.kill for SIGKILL). */
int cg_kill_all (const char *path, int sig, hull_error_t *err);
/* The pids in cgroup.procs. */
int cg_pids (const char *path, pid_t **pids, size_t *n, hull_error_t *err);
/* Removes the cgroup, retrying while the last processes exit.  A missing
 * cgroup is not an error. */
int cg_destroy (const char *path, hull_error_t *err);

/* ---- warnings ----------------------------------------------------------------
 * Settings cgroup v2 cannot honour but runc accepts (kernel memory, realtime
 * CPU, net_cls/net_prio, ...) are ignored with a warning, as runc does.  By
 * default the warning goes to stderr as "WARN: ..."; the runtime routes it
 * to its log with this hook (NULL restores the default). */
typedef void (*cg_warn_fn) (const char *msg);
void cg_set_warn_fn (cg_warn_fn fn);

/* ---- resources (cgroups/validate.c, plan.c, resources.c) ---------------------
 * Three steps, all before the container runs user code:
 *   cg_validate_resources   pure checks of ranges and syntax;
 *   cg_check_resources      the above, plus: can this host enforce it?
 *   cg_apply_resources      enable controllers and write the files.
 * Errors name the OCI field and, when writing, the file:
 *   linux.resources.memory.limit: write memory.max: Device or resource busy */

/* Refuses out-of-range or malformed values (cpu.shares outside [2, 262144],
 * quota < -1, period outside [1000, 1000000], blkio weights outside
 * [10, 1000], swap < limit, bad cpuset lists, unified keys that are not
 * plain file names, disableOOMKiller ...).  Touches nothing. */
int cg_validate_resources (const struct oci_resources *r, hull_error_t *err);

/* cg_validate_resources, then refuses limits whose controller is not in the
 * cgroup2 hierarchy, naming the controller — or, with warn_only (the
 * hybrid-host escape hatch, docs/cgroups.md), warns and lets
 * cg_apply_resources skip them.  Also checks hugepage sizes against
 * /sys/kernel/mm/hugepages and warns about the fields v2 ignores. */
int cg_check_resources (const struct oci_resources *r, bool warn_only, hull_error_t *err);

/* Enables the needed controllers in cgroup.subtree_control of every
 * ancestor from the mount root to the parent of `path` (all available ones
 * on a pure v2 host, as runc and crun do, so stats and later updates work),
 * then writes every resource of r (devices excepted: cg_apply_devices).
 * Limits of controllers absent from the hierarchy are skipped: call
 * cg_check_resources first, it refuses or warns about them.  Also used by
 * `update`: only the fields present in r are written. */
int cg_apply_resources (const char *path, const struct oci_resources *r, hull_error_t *err);

/* One file write of the plan for r; pure, so the field → file mapping is
 * testable without a cgroup. */
struct cg_write
{
  const char *field;   /* "linux.resources.memory.limit" (static) */
  char controller[32]; /* "memory"; "" for cgroup.* files */
  char *file;          /* "memory.max" */
  char *value;         /* "1048576" */
  char *alt_file;      /* written instead when `file` does not exist (io.bfq.weight → io.weight) */
  char *alt_value;
  char *unified_key; /* set for linux.resources.unified entries (error messages quote it) */
  bool missing_ok;   /* a missing file is not an error (memory.swap.max "max"/"0" without swap accounting) */
  bool retry_einval; /* on EINVAL, retry once after the rest of the plan (cpu.max.burst vs cpu.max) */
};
struct cg_plan
{
  struct cg_write *w;
  size_t n;
};
/* In runc's order: pids, memory, io, cpu, cpuset, hugetlb, rdma, unified.
 * r must have passed cg_validate_resources. */
int cg_plan_resources (const struct oci_resources *r, struct cg_plan *out, hull_error_t *err);
void cg_plan_release (struct cg_plan *p);

/* runc's conversions of cgroup v1 values from the runtime-spec. */
uint64_t cg_cpu_shares_to_weight (uint64_t shares);      /* 1 + ((shares - 2) * 9999) / 262142; 0 → 0 */
uint64_t cg_blkio_weight_to_io_weight (uint64_t weight); /* 1 + (weight - 10) * 9999 / 990; 0 → 0 */
/* memory.swap (memory+swap) → memory.swap.max, as runc's
 * ConvertMemorySwapToCgroupV2Value: -1 means "max", 0 "leave alone". */
int cg_memory_swap_to_v2 (int64_t swap, int64_t limit, int64_t *out, hull_error_t *err);
/* Parses a kernel cpu/node list ("0-3,8,10-15:2/4") into a bitmap of
 * max_bits bits (NULL to only validate).  -1 on malformed input. */
int cg_parse_cpu_list (const char *s, uint8_t *bits, size_t max_bits);

/* ---- devices (cgroups/devices.c, bpf.c) -------------------------------------
 * cgroup v2 controls device access with a BPF_PROG_TYPE_CGROUP_DEVICE
 * program attached to the cgroup.  The program is generated from the rules
 * followed by runc's default allow list (specconv.AllowedDevices: mknod of
 * any c/b device; rwm on /dev/null, zero, full, random, urandom, tty, ptmx,
 * /dev/pts/N and /dev/net/tun), with runc's semantics: a rule of type "a"
 * resets to allow-all or deny-all, later rules win, and a rule that would
 * punch a hole in a wildcard exception is refused (cgroup v1 ignored those
 * silently).  linux.devices entries are not allowed implicitly (as runc). */
struct bpf_insn;
/* Pure: rules → instructions (caller frees *out). */
int cg_devices_program (const struct oci_device_cgroup *rules, size_t n, struct bpf_insn **out,
                        size_t *n_insns, hull_error_t *err);
/* Generates, loads (bpf(2), license "Apache") and attaches the program to
 * cgroup_fd with BPF_F_ALLOW_MULTI, replacing the program already attached
 * there (BPF_F_REPLACE when there is exactly one, else attach then detach
 * the old ones, as runc). */
int cg_apply_devices (int cgroup_fd, const struct oci_device_cgroup *rules, size_t n, hull_error_t *err);

/* ---- freezer (cgroups/freeze.c) -------------------------------------------------
 * Writes cgroup.freeze and waits (poll on cgroup.events, up to 10 s) until
 * the kernel reports the new state.  A freeze that does not complete is
 * undone (thawed) and reported as a timeout. */
int cg_freeze (const char *path, bool frozen, hull_error_t *err);
/* Whether cgroup.events says "frozen 1". */
int cg_is_frozen (const char *path, bool *frozen, hull_error_t *err);

/* ---- stats (cgroups/stats.c, stats-json.c) ------------------------------------- */
struct cg_memory_entry
{
  uint64_t limit, usage, max, failcnt;
};
struct cg_blkio_entry
{
  uint64_t major, minor, value;
  const char *op; /* "Read" | "Write" (static) */
};
struct cg_hugetlb_stat
{
  char page_size[16]; /* "2MB" */
  uint64_t usage, max, failcnt;
};
struct cg_u64_kv
{
  char *key;
  uint64_t value;
};

/* What runc's `events --stats` reports, read from the v2 files.  Files that
 * do not exist (controller not enabled) leave their fields zero. */
struct cg_stats
{
  struct
  {
    uint64_t total, kernel, user;                        /* ns, from cpu.stat *_usec */
    uint64_t periods, throttled_periods, throttled_time; /* throttled_time in ns */
  } cpu;
  struct
  {
    uint16_t *cpus, *mems; /* cpuset.{cpus,mems}.effective */
    size_t n_cpus, n_mems;
  } cpuset;
  struct
  {
    uint64_t cache; /* memory.stat "file" */
    struct cg_memory_entry usage, swap, kernel, kernel_tcp;
    struct cg_u64_kv *raw; /* memory.stat, sorted by key */
    size_t n_raw;
    struct
    {
      uint64_t low, high, max, oom, oom_kill;
    } events; /* memory.events */
  } memory;
  struct
  {
    uint64_t current, limit; /* limit 0: "max" */
  } pids;
  struct
  {
    struct cg_blkio_entry *service_bytes, *serviced; /* io.stat rbytes/wbytes, rios/wios */
    size_t n_service_bytes, n_serviced;
  } blkio;
  struct cg_hugetlb_stat *hugetlb;
  size_t n_hugetlb;
};
int cg_stats (const char *path, struct cg_stats *out, hull_error_t *err);
void cg_stats_release (struct cg_stats *s);
/* runc's `events --stats` line (without the newline):
 * {"type":"stats","id":ID,"data":{"cpu":...,"memory":...,"pids":...,...}} */
char *cg_stats_to_json (const struct cg_stats *s, const char *id);
/* The oom_kill counter of memory.events (for the `events` OOM stream); an
 * error with status ENOENT when the memory controller is not enabled. */
int cg_oom_events (const char *path, uint64_t *oom_kill, hull_error_t *err);

#endif
