/* The "linux" object of config.json, except resources and seccomp. */
#include "oci-internal.h"

#include <sched.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

const char *const oci_ns_type_names[OCI_NS_TYPES] = {
  [OCI_NS_PID] = "pid", [OCI_NS_NETWORK] = "network", [OCI_NS_MOUNT] = "mount",   [OCI_NS_IPC] = "ipc",
  [OCI_NS_UTS] = "uts", [OCI_NS_USER] = "user",       [OCI_NS_CGROUP] = "cgroup", [OCI_NS_TIME] = "time",
};

int
oci_ns_clone_flag (enum oci_ns_type t)
{
  switch (t)
    {
    case OCI_NS_PID:
      return CLONE_NEWPID;
    case OCI_NS_NETWORK:
      return CLONE_NEWNET;
    case OCI_NS_MOUNT:
      return CLONE_NEWNS;
    case OCI_NS_IPC:
      return CLONE_NEWIPC;
    case OCI_NS_UTS:
      return CLONE_NEWUTS;
    case OCI_NS_USER:
      return CLONE_NEWUSER;
    case OCI_NS_CGROUP:
      return CLONE_NEWCGROUP;
    case OCI_NS_TIME:
      return CLONE_NEWTIME;
    case OCI_NS_TYPES:
      break;
    }
  return 0;
}

/* Propagation names as runc accepts them; the "r" forms set the recursive flag. */
static const struct oci_name propagations[] = {
  { "private", OCI_PROPAGATION_PRIVATE },
  { "shared", OCI_PROPAGATION_SHARED },
  { "slave", OCI_PROPAGATION_SLAVE },
  { "unbindable", OCI_PROPAGATION_UNBINDABLE },
  { "rprivate", OCI_PROPAGATION_PRIVATE | 16 },
  { "rshared", OCI_PROPAGATION_SHARED | 16 },
  { "rslave", OCI_PROPAGATION_SLAVE | 16 },
  { "runbindable", OCI_PROPAGATION_UNBINDABLE | 16 },
  { NULL, 0 },
};

const char *
oci_propagation_name (enum oci_propagation p, bool recursive)
{
  return oci_name_of (propagations, (int)p | (recursive ? 16 : 0));
}

static int
parse_namespace (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, void *dst)
{
  struct oci_namespace *ns = dst;
  cleanup_free char *type = NULL;
  struct oci_path tp = OCI_KEY (p, "type"), pp = OCI_KEY (p, "path");
  if (oci_get_str (cx, v, p, "type", true, &type) < 0)
    return -1;
  int t;
  for (t = 0; t < OCI_NS_TYPES; t++)
    if (strcmp (type, oci_ns_type_names[t]) == 0)
      break;
  if (t == OCI_NS_TYPES)
    {
      cleanup_free char *q = oci_quote (type);
      return oci_fail (cx, &tp, "unknown namespace type %s", q);
    }
  ns->type = t;
  if (oci_get_str (cx, v, p, "path", false, &ns->path) < 0)
    return -1;
  if (ns->path && oci_check_abs (cx, &pp, ns->path) < 0)
    return -1;
  return 0;
}

static int
parse_namespaces (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                  struct oci_linux *l)
{
  if (oci_get_array_of (cx, v, p, "namespaces", sizeof (struct oci_namespace), parse_namespace,
                        (void **)&l->namespaces, &l->n_namespaces)
      < 0)
    return -1;
  struct oci_path np = OCI_KEY (p, "namespaces");
  for (size_t i = 0; i < l->n_namespaces; i++)
    for (size_t j = 0; j < i; j++)
      if (l->namespaces[i].type == l->namespaces[j].type)
        {
          struct oci_path ep = OCI_IDX (&np, i), tp = OCI_KEY (&ep, "type");
          return oci_fail (cx, &tp, "duplicate namespace \"%s\" (also at index %zu)",
                           oci_ns_type_names[l->namespaces[i].type], j);
        }
  return 0;
}

static int
parse_time_offset (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                   struct oci_time_offset *out)
{
  uint32_t ns = 0;
  struct oci_path np = OCI_KEY (p, "nanosecs");
  if (oci_jv_expect (cx, v, p, OCI_J_OBJECT) < 0
      || oci_get_i64 (cx, v, p, "secs", false, INT64_MIN, INT64_MAX, &out->secs) < 0
      || oci_get_u32 (cx, v, p, "nanosecs", false, &ns) < 0)
    return -1;
  if (ns >= 1000000000u)
    return oci_fail (cx, &np, "%u is out of range (0..999999999)", ns);
  out->nanosecs = ns;
  return 0;
}

static int
parse_time_offsets (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                    struct oci_linux *l)
{
  const struct oci_jv *t;
  int r = oci_get_obj (cx, v, p, "timeOffsets", false, &t);
  if (r <= 0)
    return r;
  struct oci_path tp = OCI_KEY (p, "timeOffsets");
  l->has_time_offsets = true;
  for (size_t i = 0; i < t->n; i++)
    {
      struct oci_path kp = OCI_KEY (&tp, t->keys[i]);
      if (t->items[i]->type == OCI_J_NULL)
        continue;
      if (strcmp (t->keys[i], "monotonic") == 0)
        {
          l->has_time_monotonic = true;
          if (parse_time_offset (cx, t->items[i], &kp, &l->time_monotonic) < 0)
            return -1;
        }
      else if (strcmp (t->keys[i], "boottime") == 0)
        {
          l->has_time_boottime = true;
          if (parse_time_offset (cx, t->items[i], &kp, &l->time_boottime) < 0)
            return -1;
        }
      else
        return oci_fail (cx, &kp, "unknown clock (want \"monotonic\" or \"boottime\")");
    }
  return 0;
}

static int
parse_device (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, void *dst)
{
  struct oci_device *d = dst;
  cleanup_free char *type = NULL;
  struct oci_path tp = OCI_KEY (p, "type"), pp = OCI_KEY (p, "path");
  if (oci_get_str (cx, v, p, "type", true, &type) < 0)
    return -1;
  if (strlen (type) != 1 || strchr ("cbup", type[0]) == NULL)
    {
      cleanup_free char *q = oci_quote (type);
      return oci_fail (cx, &tp, "unknown device type %s (want c, b, u or p)", q);
    }
  d->type = type[0];
  bool need_numbers = d->type != 'p';
  if (oci_get_str (cx, v, p, "path", true, &d->path) < 0 || oci_check_abs (cx, &pp, d->path) < 0
      || oci_get_i64 (cx, v, p, "major", need_numbers, 0, UINT32_MAX, &d->major) < 0
      || oci_get_i64 (cx, v, p, "minor", need_numbers, 0, UINT32_MAX, &d->minor) < 0
      || oci_get_opt_u64 (cx, v, p, "fileMode", UINT32_MAX, &d->file_mode) < 0
      || oci_get_opt_u64 (cx, v, p, "uid", UINT32_MAX, &d->uid) < 0
      || oci_get_opt_u64 (cx, v, p, "gid", UINT32_MAX, &d->gid) < 0)
    return -1;
  return 0;
}

static int
parse_propagation (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                   struct oci_linux *l)
{
  cleanup_free char *s = NULL;
  int r = oci_get_str (cx, v, p, "rootfsPropagation", false, &s);
  if (r <= 0)
    return r;
  int val = oci_name_lookup (propagations, s);
  if (val < 0)
    {
      struct oci_path pp = OCI_KEY (p, "rootfsPropagation");
      cleanup_free char *q = oci_quote (s);
      return oci_fail (cx, &pp, "unknown propagation %s (want private, shared, slave or unbindable)", q);
    }
  l->rootfs_propagation = val & 15;
  l->rootfs_propagation_recursive = (val & 16) != 0;
  return 0;
}

static int
parse_abs_paths (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, const char *key,
                 char ***out)
{
  if (oci_get_strv (cx, v, p, key, false, out) < 0)
    return -1;
  struct oci_path kp = OCI_KEY (p, key);
  for (size_t i = 0; *out && (*out)[i]; i++)
    {
      struct oci_path ep = OCI_IDX (&kp, i);
      if (oci_check_abs (cx, &ep, (*out)[i]) < 0)
        return -1;
    }
  return 0;
}

static int
parse_personality (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                   struct oci_personality *out)
{
  struct oci_path dp = OCI_KEY (p, "domain");
  if (oci_get_str (cx, v, p, "domain", true, &out->domain) < 0
      || oci_get_strv (cx, v, p, "flags", false, &out->flags) < 0)
    return -1;
  if (strcmp (out->domain, "LINUX") != 0 && strcmp (out->domain, "LINUX32") != 0)
    {
      cleanup_free char *q = oci_quote (out->domain);
      return oci_fail (cx, &dp, "unknown personality domain %s (want LINUX or LINUX32)", q);
    }
  return 0;
}

static int
parse_intel_rdt (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                 struct oci_intel_rdt *out)
{
  if (oci_get_str (cx, v, p, "closID", false, &out->clos_id) < 0
      || oci_get_str (cx, v, p, "l3CacheSchema", false, &out->l3_cache_schema) < 0
      || oci_get_str (cx, v, p, "memBwSchema", false, &out->mem_bw_schema) < 0
      || oci_get_bool (cx, v, p, "enableCMT", false, &out->enable_cmt) < 0
      || oci_get_bool (cx, v, p, "enableMBM", false, &out->enable_mbm) < 0)
    return -1;
  return 0;
}

static int
parse_linux_ids (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                 struct oci_linux *l)
{
  if (parse_namespaces (cx, v, p, l) < 0
      || oci_get_array_of (cx, v, p, "uidMappings", sizeof (struct oci_id_mapping), oci_parse_id_mapping,
                           (void **)&l->uid_mappings, &l->n_uid_mappings)
             < 0
      || oci_get_array_of (cx, v, p, "gidMappings", sizeof (struct oci_id_mapping), oci_parse_id_mapping,
                           (void **)&l->gid_mappings, &l->n_gid_mappings)
             < 0
      || parse_time_offsets (cx, v, p, l) < 0)
    return -1;
  return 0;
}

int
oci_parse_linux (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                 struct oci_linux *l)
{
  const struct oci_jv *res;
  struct oci_path rp = OCI_KEY (p, "resources");
  if (parse_linux_ids (cx, v, p, l) < 0
      || oci_get_array_of (cx, v, p, "devices", sizeof (struct oci_device), parse_device,
                           (void **)&l->devices, &l->n_devices)
             < 0
      || oci_get_str (cx, v, p, "cgroupsPath", false, &l->cgroups_path) < 0
      || oci_get_obj (cx, v, p, "resources", false, &res) < 0)
    return -1;
  if (res && oci_parse_resources_into (cx, res, &rp, &l->resources) < 0)
    return -1;
  if (parse_propagation (cx, v, p, l) < 0)
    return -1;
  OCI_SUB_OBJECT ("seccomp", l->seccomp, oci_parse_seccomp);
  if (oci_get_kvs (cx, v, p, "sysctl", &l->sysctl) < 0
      || parse_abs_paths (cx, v, p, "maskedPaths", &l->masked_paths) < 0
      || parse_abs_paths (cx, v, p, "readonlyPaths", &l->readonly_paths) < 0
      || oci_get_str (cx, v, p, "mountLabel", false, &l->mount_label) < 0)
    return -1;
  OCI_SUB_OBJECT ("personality", l->personality, parse_personality);
  OCI_SUB_OBJECT ("intelRdt", l->intel_rdt, parse_intel_rdt);
  return 0;
}

void
oci_linux_free (struct oci_linux *l)
{
  if (l == NULL)
    return;
  for (size_t i = 0; i < l->n_namespaces; i++)
    free (l->namespaces[i].path);
  free (l->namespaces);
  free (l->uid_mappings);
  free (l->gid_mappings);
  for (size_t i = 0; i < l->n_devices; i++)
    free (l->devices[i].path);
  free (l->devices);
  free (l->cgroups_path);
  oci_resources_release (&l->resources);
  oci_seccomp_free (l->seccomp);
  oci_kvs_release (&l->sysctl);
  strv_free (l->masked_paths);
  strv_free (l->readonly_paths);
  free (l->mount_label);
  if (l->personality)
    {
      free (l->personality->domain);
      strv_free (l->personality->flags);
    }
  free (l->personality);
  if (l->intel_rdt)
    {
      free (l->intel_rdt->clos_id);
      free (l->intel_rdt->l3_cache_schema);
      free (l->intel_rdt->mem_bw_schema);
    }
  free (l->intel_rdt);
  free (l);
}
