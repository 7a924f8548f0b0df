/* linux.resources, also the document `update --resources` reads. */
#include "oci-internal.h"

static int
parse_device_rule (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, void *dst)
{
  struct oci_device_cgroup *d = dst;
  cleanup_free char *type = NULL;
  struct oci_path tp = OCI_KEY (p, "type"), ap = OCI_KEY (p, "access");
  if (oci_get_bool (cx, v, p, "allow", true, &d->allow) < 0
      || oci_get_str (cx, v, p, "type", false, &type) < 0)
    return -1;
  d->type = 'a';
  if (type)
    {
      if (strlen (type) != 1 || strchr ("acb", type[0]) == NULL)
        {
          cleanup_free char *q = oci_quote (type);
          return oci_fail (cx, &tp, "unknown device rule type %s (want a, c or b)", q);
        }
      d->type = type[0];
    }
  /* -1 is the wildcard runc's libcontainer/devices writes. */
  if (oci_get_opt_i64 (cx, v, p, "major", -1, UINT32_MAX, &d->major) < 0
      || oci_get_opt_i64 (cx, v, p, "minor", -1, UINT32_MAX, &d->minor) < 0
      || oci_get_str (cx, v, p, "access", false, &d->access) < 0)
    return -1;
  if (d->access && (d->access[0] == '\0' || d->access[strspn (d->access, "rwm")] != '\0'))
    {
      cleanup_free char *q = oci_quote (d->access);
      return oci_fail (cx, &ap, "invalid access %s (want a combination of r, w and m)", q);
    }
  return 0;
}

static int
parse_memory (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
              struct oci_resources *r)
{
  if (oci_get_opt_i64 (cx, v, p, "limit", INT64_MIN, INT64_MAX, &r->memory.limit) < 0
      || oci_get_opt_i64 (cx, v, p, "reservation", INT64_MIN, INT64_MAX, &r->memory.reservation) < 0
      || oci_get_opt_i64 (cx, v, p, "swap", INT64_MIN, INT64_MAX, &r->memory.swap) < 0
      || oci_get_opt_i64 (cx, v, p, "kernel", INT64_MIN, INT64_MAX, &r->memory.kernel) < 0
      || oci_get_opt_i64 (cx, v, p, "kernelTCP", INT64_MIN, INT64_MAX, &r->memory.kernel_tcp) < 0
      || oci_get_opt_u64 (cx, v, p, "swappiness", UINT64_MAX, &r->memory.swappiness) < 0
      || oci_get_opt_bool (cx, v, p, "disableOOMKiller", &r->memory.disable_oom_killer) < 0
      || oci_get_opt_bool (cx, v, p, "useHierarchy", &r->memory.use_hierarchy) < 0
      || oci_get_opt_bool (cx, v, p, "checkBeforeUpdate", &r->memory.check_before_update) < 0)
    return -1;
  return 0;
}

static int
parse_cpu (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
           struct oci_resources *r)
{
  if (oci_get_opt_u64 (cx, v, p, "shares", UINT64_MAX, &r->cpu.shares) < 0
      || oci_get_opt_i64 (cx, v, p, "quota", INT64_MIN, INT64_MAX, &r->cpu.quota) < 0
      || oci_get_opt_i64 (cx, v, p, "burst", 0, INT64_MAX, &r->cpu.burst) < 0
      || oci_get_opt_u64 (cx, v, p, "period", UINT64_MAX, &r->cpu.period) < 0
      || oci_get_opt_i64 (cx, v, p, "realtimeRuntime", INT64_MIN, INT64_MAX, &r->cpu.realtime_runtime) < 0
      || oci_get_opt_u64 (cx, v, p, "realtimePeriod", UINT64_MAX, &r->cpu.realtime_period) < 0
      || oci_get_str (cx, v, p, "cpus", false, &r->cpu.cpus) < 0
      || oci_get_str (cx, v, p, "mems", false, &r->cpu.mems) < 0
      || oci_get_opt_i64 (cx, v, p, "idle", INT64_MIN, INT64_MAX, &r->cpu.idle) < 0)
    return -1;
  return 0;
}

static int
parse_weight_device (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, void *dst)
{
  struct oci_weight_device *d = dst;
  if (oci_get_i64 (cx, v, p, "major", true, 0, UINT32_MAX, &d->major) < 0
      || oci_get_i64 (cx, v, p, "minor", true, 0, UINT32_MAX, &d->minor) < 0
      || oci_get_opt_u64 (cx, v, p, "weight", UINT16_MAX, &d->weight) < 0
      || oci_get_opt_u64 (cx, v, p, "leafWeight", UINT16_MAX, &d->leaf_weight) < 0)
    return -1;
  return 0;
}

static int
parse_throttle_device (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, void *dst)
{
  struct oci_throttle_device *d = dst;
  if (oci_get_i64 (cx, v, p, "major", true, 0, UINT32_MAX, &d->major) < 0
      || oci_get_i64 (cx, v, p, "minor", true, 0, UINT32_MAX, &d->minor) < 0
      || oci_get_u64 (cx, v, p, "rate", true, UINT64_MAX, &d->rate) < 0)
    return -1;
  return 0;
}

#define THROTTLE(KEY, FIELD)                                                                                 \
  oci_get_array_of (cx, v, p, KEY, sizeof (struct oci_throttle_device), parse_throttle_device,               \
                    (void **)&r->block_io.FIELD, &r->block_io.n_##FIELD)

static int
parse_block_io (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                struct oci_resources *r)
{
  if (oci_get_opt_u64 (cx, v, p, "weight", UINT16_MAX, &r->block_io.weight) < 0
      || oci_get_opt_u64 (cx, v, p, "leafWeight", UINT16_MAX, &r->block_io.leaf_weight) < 0
      || oci_get_array_of (cx, v, p, "weightDevice", sizeof (struct oci_weight_device), parse_weight_device,
                           (void **)&r->block_io.weight_device, &r->block_io.n_weight_device)
             < 0
      || THROTTLE ("throttleReadBpsDevice", throttle_read_bps) < 0
      || THROTTLE ("throttleWriteBpsDevice", throttle_write_bps) < 0
      || THROTTLE ("throttleReadIOPSDevice", throttle_read_iops) < 0
      || THROTTLE ("throttleWriteIOPSDevice", throttle_write_iops) < 0)
    return -1;
  return 0;
}

static int
parse_hugepage (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, void *dst)
{
  struct oci_hugepage_limit *h = dst;
  if (oci_get_str (cx, v, p, "pageSize", true, &h->page_size) < 0
      || oci_get_u64 (cx, v, p, "limit", true, UINT64_MAX, &h->limit) < 0)
    return -1;
  return 0;
}

/* priorities[] is kept as name -> decimal priority. */
static int
parse_network (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
               struct oci_resources *r)
{
  const struct oci_jv *prios;
  if (oci_get_opt_u64 (cx, v, p, "classID", UINT32_MAX, &r->network.class_id) < 0
      || oci_get_arr (cx, v, p, "priorities", false, &prios) < 0)
    return -1;
  struct oci_path pp = OCI_KEY (p, "priorities");
  for (size_t i = 0; prios && i < prios->n; i++)
    {
      struct oci_path ep = OCI_IDX (&pp, i);
      cleanup_free char *name = NULL;
      uint32_t prio;
      if (oci_jv_expect (cx, prios->items[i], &ep, OCI_J_OBJECT) < 0
          || oci_get_str (cx, prios->items[i], &ep, "name", true, &name) < 0
          || oci_get_u32 (cx, prios->items[i], &ep, "priority", true, &prio) < 0)
        return -1;
      struct oci_kvs kvs = { r->network.priorities, r->network.n_priorities };
      cleanup_free char *val = hull_fmt ("%u", prio);
      oci_kvs_add (&kvs, name, val);
      r->network.priorities = kvs.v;
      r->network.n_priorities = kvs.n;
    }
  return 0;
}

static int
parse_rdma (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
            struct oci_resources *r)
{
  const struct oci_jv *m;
  int ret = oci_get_obj (cx, v, p, "rdma", false, &m);
  if (ret <= 0)
    return ret;
  struct oci_path mp = OCI_KEY (p, "rdma");
  r->rdma = xmalloc0 (m->n * sizeof (*r->rdma));
  for (size_t i = 0; i < m->n; i++)
    {
      struct oci_path kp = OCI_KEY (&mp, m->keys[i]);
      struct oci_rdma *d = &r->rdma[r->n_rdma++];
      d->device = xstrdup (m->keys[i]);
      if (oci_jv_expect (cx, m->items[i], &kp, OCI_J_OBJECT) < 0
          || oci_get_opt_u64 (cx, m->items[i], &kp, "hcaHandles", UINT32_MAX, &d->hca_handles) < 0
          || oci_get_opt_u64 (cx, m->items[i], &kp, "hcaObjects", UINT32_MAX, &d->hca_objects) < 0)
        return -1;
    }
  return 0;
}

/* Runs an object-section parser on the optional member KEY. */
static int
section (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, const char *key,
         int (*fn) (const struct oci_ctx *, const struct oci_jv *, const struct oci_path *,
                    struct oci_resources *),
         struct oci_resources *r)
{
  const struct oci_jv *s;
  int ret = oci_get_obj (cx, v, p, key, false, &s);
  if (ret <= 0)
    return ret;
  struct oci_path sp = OCI_KEY (p, key);
  return fn (cx, s, &sp, r);
}

static int
parse_pids (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
            struct oci_resources *r)
{
  return oci_get_opt_i64 (cx, v, p, "limit", INT64_MIN, INT64_MAX, &r->pids.limit);
}

int
oci_parse_resources_into (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                          struct oci_resources *r)
{
  if (oci_jv_expect (cx, v, p, OCI_J_OBJECT) < 0)
    return -1;
  r->present = true;
  if (oci_get_array_of (cx, v, p, "devices", sizeof (struct oci_device_cgroup), parse_device_rule,
                        (void **)&r->devices, &r->n_devices)
          < 0
      || section (cx, v, p, "memory", parse_memory, r) < 0 || section (cx, v, p, "cpu", parse_cpu, r) < 0
      || section (cx, v, p, "pids", parse_pids, r) < 0 || section (cx, v, p, "blockIO", parse_block_io, r) < 0
      || oci_get_array_of (cx, v, p, "hugepageLimits", sizeof (struct oci_hugepage_limit), parse_hugepage,
                           (void **)&r->hugepage_limits, &r->n_hugepage_limits)
             < 0
      || section (cx, v, p, "network", parse_network, r) < 0 || parse_rdma (cx, v, p, r) < 0
      || oci_get_kvs (cx, v, p, "unified", &r->unified) < 0)
    return -1;
  return 0;
}

int
oci_resources_parse (const char *json, size_t len, const char *name, struct oci_resources *out,
                     hull_error_t *err)
{
  struct oci_ctx cx = { .doc = name, .err = err };
  cleanup_jv struct oci_jv *root = NULL;
  memset (out, 0, sizeof (*out));
  if (oci_json_parse (json, len, name, &root, err) < 0)
    return -1;
  if (oci_parse_resources_into (&cx, root, NULL, out) < 0)
    {
      oci_resources_release (out);
      return -1;
    }
  return 0;
}

void
oci_resources_release (struct oci_resources *r)
{
  for (size_t i = 0; i < r->n_devices; i++)
    free (r->devices[i].access);
  free (r->devices);
  free (r->cpu.cpus);
  free (r->cpu.mems);
  free (r->block_io.weight_device);
  free (r->block_io.throttle_read_bps);
  free (r->block_io.throttle_write_bps);
  free (r->block_io.throttle_read_iops);
  free (r->block_io.throttle_write_iops);
  for (size_t i = 0; i < r->n_hugepage_limits; i++)
    free (r->hugepage_limits[i].page_size);
  free (r->hugepage_limits);
  struct oci_kvs prios = { r->network.priorities, r->network.n_priorities };
  oci_kvs_release (&prios);
  for (size_t i = 0; i < r->n_rdma; i++)
    free (r->rdma[i].device);
  free (r->rdma);
  oci_kvs_release (&r->unified);
  memset (r, 0, sizeof (*r));
}

/* Moves *src into *dst (freeing what it replaces) when src has entries. */
#define MOVE_ARRAY(dst, src, field, nfield, release_elem)                                                   \
  do                                                                                                       \
    if ((src)->nfield > 0)                                                                                 \
      {                                                                                                    \
        for (size_t i_ = 0; i_ < (dst)->nfield; i_++)                                                      \
          release_elem (&(dst)->field[i_]);                                                                \
        free ((dst)->field);                                                                               \
        (dst)->field = (src)->field;                                                                       \
        (dst)->nfield = (src)->nfield;                                                                     \
        (src)->field = NULL;                                                                               \
        (src)->nfield = 0;                                                                                 \
      }                                                                                                    \
  while (0)
#define MOVE_OPT(dst, src, field)                                                                          \
  do                                                                                                       \
    if ((src)->field.set)                                                                                  \
      (dst)->field = (src)->field;                                                                         \
  while (0)
#define MOVE_STR(dst, src, field)                                                                          \
  do                                                                                                       \
    if ((src)->field)                                                                                      \
      {                                                                                                    \
        free ((dst)->field);                                                                               \
        (dst)->field = (src)->field;                                                                       \
        (src)->field = NULL;                                                                               \
      }                                                                                                    \
  while (0)

static void release_nothing (void *p) { (void) p; }
static void release_device (struct oci_device_cgroup *d) { free (d->access); }
static void release_hugepage (struct oci_hugepage_limit *h) { free (h->page_size); }
static void release_rdma (struct oci_rdma *r) { free (r->device); }
static void release_kv (struct oci_kv *kv) { free (kv->key); free (kv->value); }

static void
merge_memory_cpu (struct oci_resources *dst, struct oci_resources *src)
{
  MOVE_OPT (dst, src, memory.limit);
  MOVE_OPT (dst, src, memory.reservation);
  MOVE_OPT (dst, src, memory.swap);
  MOVE_OPT (dst, src, memory.kernel);
  MOVE_OPT (dst, src, memory.kernel_tcp);
  MOVE_OPT (dst, src, memory.swappiness);
  MOVE_OPT (dst, src, memory.disable_oom_killer);
  MOVE_OPT (dst, src, memory.use_hierarchy);
  MOVE_OPT (dst, src, memory.check_before_update);
  MOVE_OPT (dst, src, cpu.shares);
  MOVE_OPT (dst, src, cpu.period);
  MOVE_OPT (dst, src, cpu.realtime_period);
  MOVE_OPT (dst, src, cpu.quota);
  MOVE_OPT (dst, src, cpu.burst);
  MOVE_OPT (dst, src, cpu.realtime_runtime);
  MOVE_OPT (dst, src, cpu.idle);
  MOVE_STR (dst, src, cpu.cpus);
  MOVE_STR (dst, src, cpu.mems);
}

void
oci_resources_merge (struct oci_resources *dst, struct oci_resources *src)
{
  merge_memory_cpu (dst, src);
  MOVE_OPT (dst, src, block_io.weight);
  MOVE_OPT (dst, src, block_io.leaf_weight);
  MOVE_ARRAY (dst, src, block_io.weight_device, block_io.n_weight_device, release_nothing);
  MOVE_ARRAY (dst, src, block_io.throttle_read_bps, block_io.n_throttle_read_bps, release_nothing);
  MOVE_ARRAY (dst, src, block_io.throttle_write_bps, block_io.n_throttle_write_bps, release_nothing);
  MOVE_ARRAY (dst, src, block_io.throttle_read_iops, block_io.n_throttle_read_iops, release_nothing);
  MOVE_ARRAY (dst, src, block_io.throttle_write_iops, block_io.n_throttle_write_iops, release_nothing);
  MOVE_ARRAY (dst, src, devices, n_devices, release_device);
  MOVE_ARRAY (dst, src, hugepage_limits, n_hugepage_limits, release_hugepage);
  MOVE_OPT (dst, src, network.class_id);
  MOVE_ARRAY (dst, src, network.priorities, network.n_priorities, release_kv);
  MOVE_OPT (dst, src, pids.limit);
  MOVE_ARRAY (dst, src, rdma, n_rdma, release_rdma);
  /* unified: keys are merged one by one (an update sets some, keeps the rest). */
  for (size_t i = 0; i < src->unified.n; i++)
    {
      struct oci_kv *kv = &src->unified.v[i];
      size_t j = 0;
      while (j < dst->unified.n && strcmp (dst->unified.v[j].key, kv->key) != 0)
        j++;
      if (j == dst->unified.n)
        {
          dst->unified.v = xreallocarray (dst->unified.v, dst->unified.n + 1, sizeof (struct oci_kv));
          dst->unified.v[dst->unified.n++] = *kv;
        }
      else
        {
          release_kv (&dst->unified.v[j]);
          dst->unified.v[j] = *kv;
        }
      kv->key = kv->value = NULL;
    }
  dst->present = dst->present || src->present;
}
