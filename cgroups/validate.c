/* Pure checks of linux.resources and runc's v1 → v2 conversions.  Nothing
 * here reads or writes the system, so a refused config leaves nothing
 * behind. */
#include "cgroups-internal.h"

#include <ctype.h>
#include <inttypes.h>

#define R "linux.resources."

uint64_t
cg_cpu_shares_to_weight (uint64_t shares)
{
  if (shares == 0)
    return 0;
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t
cg_blkio_weight_to_io_weight (uint64_t weight)
{
  if (weight == 0)
    return 0;
  return 1 + (weight - 10) * 9999 / 990;
}

int
cg_memory_swap_to_v2 (int64_t swap, int64_t limit, int64_t *out, hull_error_t *err)
{
  /* As runc: unlimited memory with swap unset means unlimited swap too (what
   * cgroup v1 did); -1 and 0 pass through ("max", "leave alone"). */
  if (limit == -1 && swap == 0)
    *out = -1;
  else if (swap == -1 || swap == 0 || limit == -1)
    *out = swap;
  else if (limit == 0)
    return hull_make_error (err, 0,
                            R "memory.swap: %" PRId64 " cannot be set without memory.limit (OCI's swap is "
                              "memory+swap)",
                            swap);
  else if (limit < 0)
    return hull_make_error (err, 0, R "memory.limit: invalid value %" PRId64, limit);
  else if (swap < limit)
    return hull_make_error (err, 0,
                            R "memory.swap: %" PRId64 " is less than memory.limit %" PRId64
                              " (OCI's swap is memory+swap, so it must be >= the limit)",
                            swap, limit);
  else
    *out = swap - limit;
  return 0;
}

static int
parse_num (const char **p, unsigned long *out)
{
  if (!isdigit ((unsigned char)**p))
    return -1;
  char *end;
  errno = 0;
  *out = strtoul (*p, &end, 10);
  if (errno || *out > 65535)
    return -1;
  *p = end;
  return 0;
}

/* One "N", "N-M" or "N-M:used/group" range of a kernel list. */
static int
parse_range (const char **p, uint8_t *bits, size_t max_bits)
{
  unsigned long a, b, used, group;
  if (parse_num (p, &a) < 0)
    return -1;
  b = a;
  used = group = 1;
  if (**p == '-')
    {
      (*p)++;
      if (parse_num (p, &b) < 0 || b < a)
        return -1;
      if (**p == ':')
        {
          (*p)++;
          if (parse_num (p, &used) < 0 || *(*p)++ != '/' || parse_num (p, &group) < 0 || used == 0
              || group == 0 || used > group)
            return -1;
        }
    }
  if (bits == NULL)
    return 0;
  if (b >= max_bits)
    return -1;
  for (unsigned long i = a; i <= b; i++)
    if ((i - a) % group < used)
      bits[i / 8] |= (uint8_t)(1u << (i % 8));
  return 0;
}

int
cg_parse_cpu_list (const char *s, uint8_t *bits, size_t max_bits)
{
  const char *p = s;
  if (bits)
    memset (bits, 0, (max_bits + 7) / 8);
  if (*p == '\0' || *p == '\n')
    return 0;
  for (;;)
    {
      if (parse_range (&p, bits, max_bits) < 0)
        return -1;
      if (*p == ',')
        {
          p++;
          continue;
        }
      /* The kernel's files end in a newline. */
      if (*p == '\n')
        p++;
      return *p == '\0' ? 0 : -1;
    }
}

static int
validate_memory (const struct oci_resources *r, hull_error_t *err)
{
  const struct
  {
    const oci_i64 *v;
    const char *field;
  } lims[] = {
    { &r->memory.limit, R "memory.limit" },
    { &r->memory.reservation, R "memory.reservation" },
    { &r->memory.swap, R "memory.swap" },
  };
  for (size_t i = 0; i < sizeof (lims) / sizeof (lims[0]); i++)
    if (lims[i].v->set && lims[i].v->v < -1)
      return hull_make_error (err, 0, "%s: %" PRId64 " is not a valid limit (bytes, or -1 for unlimited)",
                              lims[i].field, lims[i].v->v);
  int64_t swap;
  if (cg_memory_swap_to_v2 (r->memory.swap.set ? r->memory.swap.v : 0,
                            r->memory.limit.set ? r->memory.limit.v : 0, &swap, err)
      < 0)
    return -1;
  if (r->memory.swappiness.set && r->memory.swappiness.v > 100)
    return hull_make_error (err, 0, R "memory.swappiness: %" PRIu64 " is out of range [0, 100]",
                            r->memory.swappiness.v);
  /* The issue asks for a clear refusal where runc silently ignores it. */
  if (r->memory.disable_oom_killer.set && r->memory.disable_oom_killer.v)
    return hull_make_error (err, 0,
                            R "memory.disableOOMKiller: cgroup v2 has no way to disable the OOM killer for a "
                              "cgroup (memory.oom_control is cgroup v1 only); remove it or set it to false");
  return 0;
}

static int
validate_cpu (const struct oci_resources *r, hull_error_t *err)
{
  /* 0 means "unset" for shares, as runc (its weight conversion maps 0 to 0). */
  if (r->cpu.shares.set && r->cpu.shares.v != 0 && (r->cpu.shares.v < 2 || r->cpu.shares.v > 262144))
    return hull_make_error (err, 0, R "cpu.shares: %" PRIu64 " is out of range [2, 262144]", r->cpu.shares.v);
  if (r->cpu.quota.set && (r->cpu.quota.v < -1 || (r->cpu.quota.v > 0 && r->cpu.quota.v < 1000)))
    return hull_make_error (err, 0,
                            R "cpu.quota: %" PRId64 " is invalid (microseconds >= 1000, or -1 for unlimited)",
                            r->cpu.quota.v);
  if (r->cpu.period.set && (r->cpu.period.v < 1000 || r->cpu.period.v > 1000000))
    return hull_make_error (
        err, 0, R "cpu.period: %" PRIu64 " is out of range [1000, 1000000] (microseconds)", r->cpu.period.v);
  if (r->cpu.burst.set && r->cpu.quota.set && r->cpu.quota.v > 0 && r->cpu.burst.v > r->cpu.quota.v)
    return hull_make_error (err, 0, R "cpu.burst: %" PRId64 " is larger than cpu.quota %" PRId64,
                            r->cpu.burst.v, r->cpu.quota.v);
  if (r->cpu.idle.set && r->cpu.idle.v != 0 && r->cpu.idle.v != 1)
    return hull_make_error (err, 0, R "cpu.idle: %" PRId64 " is invalid (want 0 or 1)", r->cpu.idle.v);
  if (r->cpu.cpus && cg_parse_cpu_list (r->cpu.cpus, NULL, 0) < 0)
    return hull_make_error (err, 0, R "cpu.cpus: `%s` is not a CPU list (like `0-3,8`)", r->cpu.cpus);
  if (r->cpu.mems && cg_parse_cpu_list (r->cpu.mems, NULL, 0) < 0)
    return hull_make_error (err, 0, R "cpu.mems: `%s` is not a memory node list (like `0-1`)", r->cpu.mems);
  return 0;
}

static int
validate_block_io (const struct oci_resources *r, hull_error_t *err)
{
  if (r->block_io.weight.set && r->block_io.weight.v != 0
      && (r->block_io.weight.v < 10 || r->block_io.weight.v > 1000))
    return hull_make_error (err, 0, R "blockIO.weight: %" PRIu64 " is out of range [10, 1000]",
                            r->block_io.weight.v);
  for (size_t i = 0; i < r->block_io.n_weight_device; i++)
    {
      const struct oci_weight_device *d = &r->block_io.weight_device[i];
      if (d->weight.set && (d->weight.v < 10 || d->weight.v > 1000))
        return hull_make_error (err, 0,
                                R "blockIO.weightDevice[%zu].weight: %" PRIu64 " is out of range [10, 1000]",
                                i, d->weight.v);
    }
  return 0;
}

/* "2MB", "1GB", "64KB": the names the kernel gives hugetlb.<size>.* files. */
static bool
valid_page_size (const char *s)
{
  size_t digits = strspn (s, "0123456789");
  return digits > 0 && digits < 8 && s[0] != '0'
         && (strcmp (s + digits, "KB") == 0 || strcmp (s + digits, "MB") == 0
             || strcmp (s + digits, "GB") == 0);
}

static int
validate_hugetlb_rdma (const struct oci_resources *r, hull_error_t *err)
{
  for (size_t i = 0; i < r->n_hugepage_limits; i++)
    if (!valid_page_size (r->hugepage_limits[i].page_size))
      return hull_make_error (err, 0,
                              R "hugepageLimits[%zu].pageSize: `%s` is not a page size (like `2MB`, `1GB`)",
                              i, r->hugepage_limits[i].page_size);
  for (size_t i = 0; i < r->n_rdma; i++)
    {
      const char *d = r->rdma[i].device;
      if (*d == '\0' || d[strcspn (d, " \t\n/=")] != '\0')
        return hull_make_error (err, 0, R "rdma: `%s` is not an RDMA device name", d);
    }
  return 0;
}

/* cgroup.* files that are not resources: hull itself manages them. */
static const char *const unified_reserved[] = {
  "cgroup.procs",           "cgroup.threads", "cgroup.kill",
  "cgroup.subtree_control", "cgroup.freeze",  "cgroup.type",
  "cgroup.controllers",     "cgroup.events",  "cgroup.stat",
};

static int
validate_unified (const struct oci_resources *r, hull_error_t *err)
{
  for (size_t i = 0; i < r->unified.n; i++)
    {
      const char *k = r->unified.v[i].key;
      const char *dot = strchr (k, '.');
      if (*k == '\0' || strchr (k, '/') || strcmp (k, ".") == 0 || strcmp (k, "..") == 0)
        return hull_make_error (err, 0, R "unified.\"%s\": must be a plain file name (no `/`, `.` or `..`)",
                                k);
      if (dot == NULL || dot == k || dot[1] == '\0' || dot - k >= 32)
        return hull_make_error (
            err, 0, R "unified.\"%s\": must have the form CONTROLLER.FILE (like `memory.high`)", k);
      for (size_t j = 0; j < sizeof (unified_reserved) / sizeof (unified_reserved[0]); j++)
        if (strcmp (k, unified_reserved[j]) == 0)
          return hull_make_error (
              err, 0, R "unified.\"%s\": hull manages this file itself; it cannot be set here", k);
    }
  return 0;
}

int
cg_validate_resources (const struct oci_resources *r, hull_error_t *err)
{
  if (r == NULL || !r->present)
    return 0;
  if (validate_memory (r, err) < 0 || validate_cpu (r, err) < 0 || validate_block_io (r, err) < 0
      || validate_hugetlb_rdma (r, err) < 0 || validate_unified (r, err) < 0)
    return -1;
  /* The device program is a pure function of the rules: generating it here
   * refuses the rules runc refuses (holes in wildcards) before anything is
   * created. */
  struct bpf_insn *prog = NULL;
  size_t n = 0;
  int ret = cg_devices_program (r->devices, r->n_devices, &prog, &n, err);
  free (prog);
  return ret;
}
