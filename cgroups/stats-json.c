/* struct cg_stats → the JSON line of runc's `events --stats` (runc's
 * types.Event / types.Stats), with Go's encoding rules: keys in struct
 * order, `omitempty` fields left out when zero, map keys sorted. */
#include "cgroups-internal.h"

#include <inttypes.h>
#include <yajl/yajl_gen.h>

static void
key (yajl_gen g, const char *k)
{
  yajl_gen_string (g, (const unsigned char *)k, strlen (k));
}

static void
u64 (yajl_gen g, uint64_t v)
{
  char buf[24];
  int n = snprintf (buf, sizeof (buf), "%" PRIu64, v);
  yajl_gen_number (g, buf, (size_t)n);
}

static void
field (yajl_gen g, const char *k, uint64_t v)
{
  key (g, k);
  u64 (g, v);
}

/* `json:"k,omitempty"` */
static void
field_omit (yajl_gen g, const char *k, uint64_t v)
{
  if (v)
    field (g, k, v);
}

static void
gen_cpu (yajl_gen g, const struct cg_stats *s)
{
  key (g, "cpu");
  yajl_gen_map_open (g);
  key (g, "usage");
  yajl_gen_map_open (g);
  field_omit (g, "total", s->cpu.total);
  /* percpu, percpu_kernel, percpu_user: cgroup v2 has no per-CPU figures. */
  field (g, "kernel", s->cpu.kernel);
  field (g, "user", s->cpu.user);
  yajl_gen_map_close (g);
  key (g, "throttling");
  yajl_gen_map_open (g);
  field_omit (g, "periods", s->cpu.periods);
  field_omit (g, "throttledPeriods", s->cpu.throttled_periods);
  field_omit (g, "throttledTime", s->cpu.throttled_time);
  yajl_gen_map_close (g);
  yajl_gen_map_close (g);
}

static void
u16_list (yajl_gen g, const char *k, const uint16_t *v, size_t n)
{
  if (n == 0)
    return;
  key (g, k);
  yajl_gen_array_open (g);
  for (size_t i = 0; i < n; i++)
    u64 (g, v[i]);
  yajl_gen_array_close (g);
}

static void
gen_cpuset (yajl_gen g, const struct cg_stats *s)
{
  /* The v1-only flags stay zero, as runc prints them on v2. */
  key (g, "cpuset");
  yajl_gen_map_open (g);
  u16_list (g, "cpus", s->cpuset.cpus, s->cpuset.n_cpus);
  field (g, "cpu_exclusive", 0);
  u16_list (g, "mems", s->cpuset.mems, s->cpuset.n_mems);
  const char *zeros[]
      = { "mem_hardwall",       "mem_exclusive",   "memory_migrate",     "memory_spread_page",
          "memory_spread_slab", "memory_pressure", "sched_load_balance", "sched_relax_domain_level" };
  for (size_t i = 0; i < sizeof (zeros) / sizeof (zeros[0]); i++)
    field (g, zeros[i], 0);
  yajl_gen_map_close (g);
}

static void
memory_entry (yajl_gen g, const char *k, const struct cg_memory_entry *e)
{
  key (g, k);
  yajl_gen_map_open (g);
  field (g, "limit", e->limit);
  field_omit (g, "usage", e->usage);
  field_omit (g, "max", e->max);
  field (g, "failcnt", e->failcnt);
  yajl_gen_map_close (g);
}

static void
gen_memory (yajl_gen g, const struct cg_stats *s)
{
  key (g, "memory");
  yajl_gen_map_open (g);
  field_omit (g, "cache", s->memory.cache);
  memory_entry (g, "usage", &s->memory.usage);
  memory_entry (g, "swap", &s->memory.swap);
  memory_entry (g, "kernel", &s->memory.kernel);
  memory_entry (g, "kernelTCP", &s->memory.kernel_tcp);
  if (s->memory.n_raw)
    {
      key (g, "raw");
      yajl_gen_map_open (g);
      for (size_t i = 0; i < s->memory.n_raw; i++)
        field (g, s->memory.raw[i].key, s->memory.raw[i].value);
      yajl_gen_map_close (g);
    }
  yajl_gen_map_close (g);
}

static void
blkio_list (yajl_gen g, const char *k, const struct cg_blkio_entry *v, size_t n)
{
  if (n == 0)
    return;
  key (g, k);
  yajl_gen_array_open (g);
  for (size_t i = 0; i < n; i++)
    {
      yajl_gen_map_open (g);
      field_omit (g, "major", v[i].major);
      field_omit (g, "minor", v[i].minor);
      key (g, "op");
      key (g, v[i].op);
      field_omit (g, "value", v[i].value);
      yajl_gen_map_close (g);
    }
  yajl_gen_array_close (g);
}

static void
gen_rest (yajl_gen g, const struct cg_stats *s)
{
  key (g, "pids");
  yajl_gen_map_open (g);
  field_omit (g, "current", s->pids.current);
  field_omit (g, "limit", s->pids.limit);
  yajl_gen_map_close (g);
  key (g, "blkio");
  yajl_gen_map_open (g);
  blkio_list (g, "ioServiceBytesRecursive", s->blkio.service_bytes, s->blkio.n_service_bytes);
  blkio_list (g, "ioServicedRecursive", s->blkio.serviced, s->blkio.n_serviced);
  yajl_gen_map_close (g);
  key (g, "hugetlb");
  yajl_gen_map_open (g);
  for (size_t i = 0; i < s->n_hugetlb; i++)
    {
      key (g, s->hugetlb[i].page_size);
      yajl_gen_map_open (g);
      field_omit (g, "usage", s->hugetlb[i].usage);
      field_omit (g, "max", s->hugetlb[i].max);
      field (g, "failcnt", s->hugetlb[i].failcnt);
      yajl_gen_map_close (g);
    }
  yajl_gen_map_close (g);
  key (g, "intel_rdt");
  yajl_gen_map_open (g);
  yajl_gen_map_close (g);
  key (g, "network_interfaces");
  yajl_gen_null (g);
}

char *
cg_stats_to_json (const struct cg_stats *s, const char *id)
{
  yajl_gen g = yajl_gen_alloc (NULL);
  if (g == NULL)
    abort ();
  yajl_gen_map_open (g);
  key (g, "type");
  key (g, "stats");
  key (g, "id");
  key (g, id ? id : "");
  key (g, "data");
  yajl_gen_map_open (g);
  gen_cpu (g, s);
  gen_cpuset (g, s);
  gen_memory (g, s);
  gen_rest (g, s);
  yajl_gen_map_close (g);
  yajl_gen_map_close (g);
  const unsigned char *buf;
  size_t len;
  yajl_gen_get_buf (g, &buf, &len);
  char *out = xstrndup ((const char *)buf, len);
  yajl_gen_free (g);
  return out;
}
