/* linux.resources → the list of cgroup v2 file writes, as runc's fs2 (and
 * crun) map them.  Pure: cg_apply_resources executes the plan. */
#include "cgroups-internal.h"

#include <inttypes.h>

#define R "linux.resources."

static struct cg_write *
add (struct cg_plan *p, const char *field, const char *controller, const char *file, char *value)
{
  p->w = xreallocarray (p->w, p->n + 1, sizeof (*p->w));
  struct cg_write *w = &p->w[p->n++];
  memset (w, 0, sizeof (*w));
  w->field = field;
  snprintf (w->controller, sizeof (w->controller), "%s", controller ? controller : "");
  w->file = xstrdup (file);
  w->value = value;
  return w;
}

/* -1 → "max", as runc's numToStr for the .max/.low files. */
static char *
limit_str (int64_t v)
{
  return v == -1 ? xstrdup ("max") : hull_fmt ("%" PRId64, v);
}

static void
plan_pids (const struct oci_resources *r, struct cg_plan *p)
{
  /* As runc: 0 means "not set" (podman's --pids-limit -1 sends it), and any
   * negative limit means no limit. */
  if (r->pids.limit.set && r->pids.limit.v != 0)
    add (p, R "pids.limit", "pids", "pids.max",
         r->pids.limit.v > 0 ? hull_fmt ("%" PRId64, r->pids.limit.v) : xstrdup ("max"));
}

static void
plan_memory (const struct oci_resources *r, struct cg_plan *p)
{
  int64_t limit = r->memory.limit.set ? r->memory.limit.v : 0;
  int64_t swap_in = r->memory.swap.set ? r->memory.swap.v : 0;
  int64_t swap = 0;
  hull_error_t ignored = NULL;
  if (cg_memory_swap_to_v2 (swap_in, limit, &swap, &ignored) < 0)
    hull_error_release (&ignored); /* refused by cg_validate_resources */
  char *swap_str = NULL;
  if (swap == -1)
    swap_str = xstrdup ("max");
  else if (swap > 0)
    swap_str = hull_fmt ("%" PRId64, swap);
  else if (swap_in > 0)
    swap_str = xstrdup ("0"); /* swap == limit: no swap at all */
  if (swap_str)
    {
      /* Without swap accounting there is no memory.swap.max: asking for
       * "max" or "0" then changes nothing, so it is not an error (runc). */
      bool harmless = strcmp (swap_str, "max") == 0 || strcmp (swap_str, "0") == 0;
      add (p, r->memory.swap.set ? R "memory.swap" : R "memory.limit", "memory", "memory.swap.max", swap_str)
          ->missing_ok
          = harmless;
    }
  if (limit != 0)
    add (p, R "memory.limit", "memory", "memory.max", limit_str (limit));
  if (r->memory.reservation.set && r->memory.reservation.v != 0)
    add (p, R "memory.reservation", "memory", "memory.low", limit_str (r->memory.reservation.v));
}

/* Throttles of 0 remove the limit, as writing 0 did in cgroup v1. */
static void
plan_throttle (struct cg_plan *p, const char *field, const char *key, const struct oci_throttle_device *d,
               size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      char *v = d[i].rate
                    ? hull_fmt ("%" PRId64 ":%" PRId64 " %s=%" PRIu64, d[i].major, d[i].minor, key, d[i].rate)
                    : hull_fmt ("%" PRId64 ":%" PRId64 " %s=max", d[i].major, d[i].minor, key);
      add (p, field, "io", "io.max", v);
    }
}

static void
plan_io (const struct oci_resources *r, struct cg_plan *p)
{
  /* BFQ takes the blkio range as is; io.weight (1..10000) needs runc's
   * conversion. */
  if (r->block_io.weight.set && r->block_io.weight.v != 0)
    {
      uint64_t w = r->block_io.weight.v;
      struct cg_write *x = add (p, R "blockIO.weight", "io", "io.bfq.weight", hull_fmt ("%" PRIu64, w));
      x->alt_file = xstrdup ("io.weight");
      x->alt_value = hull_fmt ("%" PRIu64, cg_blkio_weight_to_io_weight (w));
    }
  for (size_t i = 0; i < r->block_io.n_weight_device; i++)
    {
      const struct oci_weight_device *d = &r->block_io.weight_device[i];
      if (!d->weight.set)
        continue; /* leafWeight only: v1 only, warned about by cg_check_resources */
      struct cg_write *x
          = add (p, R "blockIO.weightDevice", "io", "io.bfq.weight",
                 hull_fmt ("%" PRId64 ":%" PRId64 " %" PRIu64, d->major, d->minor, d->weight.v));
      x->alt_file = xstrdup ("io.weight");
      x->alt_value = hull_fmt ("%" PRId64 ":%" PRId64 " %" PRIu64, d->major, d->minor,
                               cg_blkio_weight_to_io_weight (d->weight.v));
    }
  plan_throttle (p, R "blockIO.throttleReadBpsDevice", "rbps", r->block_io.throttle_read_bps,
                 r->block_io.n_throttle_read_bps);
  plan_throttle (p, R "blockIO.throttleWriteBpsDevice", "wbps", r->block_io.throttle_write_bps,
                 r->block_io.n_throttle_write_bps);
  plan_throttle (p, R "blockIO.throttleReadIOPSDevice", "riops", r->block_io.throttle_read_iops,
                 r->block_io.n_throttle_read_iops);
  plan_throttle (p, R "blockIO.throttleWriteIOPSDevice", "wiops", r->block_io.throttle_write_iops,
                 r->block_io.n_throttle_write_iops);
}

static void
plan_cpu (const struct oci_resources *r, struct cg_plan *p)
{
  bool idle = r->cpu.idle.set && r->cpu.idle.v != 0;
  bool quota = r->cpu.quota.set && r->cpu.quota.v != 0;
  bool period = r->cpu.period.set && r->cpu.period.v != 0;
  if (r->cpu.idle.set)
    add (p, R "cpu.idle", "cpu", "cpu.idle", hull_fmt ("%" PRId64, r->cpu.idle.v));
  /* The kernel refuses cpu.weight on an idle cgroup. */
  if (r->cpu.shares.set && r->cpu.shares.v != 0 && !idle)
    add (p, R "cpu.shares", "cpu", "cpu.weight",
         hull_fmt ("%" PRIu64, cg_cpu_shares_to_weight (r->cpu.shares.v)));
  /* The burst must not exceed the quota: written first, it may be refused
   * until the new quota is in (runc retries it after cpu.max too). */
  if (r->cpu.burst.set)
    add (p, R "cpu.burst", "cpu", "cpu.max.burst", hull_fmt ("%" PRId64, r->cpu.burst.v))->retry_einval
        = quota;
  if (quota || period)
    {
      char q[24] = "max";
      if (quota && r->cpu.quota.v > 0)
        snprintf (q, sizeof (q), "%" PRId64, r->cpu.quota.v);
      add (p, quota ? R "cpu.quota" : R "cpu.period", "cpu", "cpu.max",
           hull_fmt ("%s %" PRIu64, q, period ? r->cpu.period.v : (uint64_t)100000));
    }
}

static void
plan_cpuset_hugetlb_rdma (const struct oci_resources *r, struct cg_plan *p)
{
  if (r->cpu.cpus && *r->cpu.cpus)
    add (p, R "cpu.cpus", "cpuset", "cpuset.cpus", xstrdup (r->cpu.cpus));
  if (r->cpu.mems && *r->cpu.mems)
    add (p, R "cpu.mems", "cpuset", "cpuset.mems", xstrdup (r->cpu.mems));
  for (size_t i = 0; i < r->n_hugepage_limits; i++)
    {
      const struct oci_hugepage_limit *h = &r->hugepage_limits[i];
      cleanup_free char *max = hull_fmt ("hugetlb.%s.max", h->page_size);
      cleanup_free char *rsvd = hull_fmt ("hugetlb.%s.rsvd.max", h->page_size);
      add (p, R "hugepageLimits", "hugetlb", max, hull_fmt ("%" PRIu64, h->limit));
      /* Reservations too (5.7+), so a mapping cannot reserve past the limit
       * and fault later: runc does the same when the file exists. */
      add (p, R "hugepageLimits", "hugetlb", rsvd, hull_fmt ("%" PRIu64, h->limit))->missing_ok = true;
    }
  for (size_t i = 0; i < r->n_rdma; i++)
    {
      const struct oci_rdma *d = &r->rdma[i];
      if (!d->hca_handles.set && !d->hca_objects.set)
        continue;
      char h[48] = "", o[48] = "";
      if (d->hca_handles.set)
        snprintf (h, sizeof (h), " hca_handle=%" PRIu64, d->hca_handles.v);
      if (d->hca_objects.set)
        snprintf (o, sizeof (o), " hca_object=%" PRIu64, d->hca_objects.v);
      add (p, R "rdma", "rdma", "rdma.max", hull_fmt ("%s%s%s", d->device, h, o));
    }
}

static void
plan_unified (const struct oci_resources *r, struct cg_plan *p)
{
  for (size_t i = 0; i < r->unified.n; i++)
    {
      const struct oci_kv *kv = &r->unified.v[i];
      struct cg_write *w = add (p, R "unified", NULL, kv->key, xstrdup (kv->value));
      w->unified_key = xstrdup (kv->key);
      /* The controller is the prefix ("memory" of "memory.high"); cgroup.*
       * files belong to none. */
      int n = (int)strcspn (kv->key, ".");
      if (strncmp (kv->key, "cgroup.", 7) != 0)
        snprintf (w->controller, sizeof (w->controller), "%.*s", n, kv->key);
    }
}

int
cg_plan_resources (const struct oci_resources *r, struct cg_plan *out, hull_error_t *err)
{
  (void)err;
  memset (out, 0, sizeof (*out));
  if (r == NULL || !r->present)
    return 0;
  plan_pids (r, out);
  plan_memory (r, out);
  plan_io (r, out);
  plan_cpu (r, out);
  plan_cpuset_hugetlb_rdma (r, out);
  plan_unified (r, out);
  return 0;
}

void
cg_plan_release (struct cg_plan *p)
{
  for (size_t i = 0; i < p->n; i++)
    {
      free (p->w[i].file);
      free (p->w[i].value);
      free (p->w[i].alt_file);
      free (p->w[i].alt_value);
      free (p->w[i].unified_key);
    }
  free (p->w);
  memset (p, 0, sizeof (*p));
}
