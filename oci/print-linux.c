/* Printing the "linux" object: resources, seccomp and the rest, in the
 * order of runtime-spec's specs-go. */
#include "oci-internal.h"

static void
gen_device_rules (yajl_gen g, const struct oci_resources *r)
{
  if (r->n_devices == 0)
    return;
  oci_gen_key (g, "devices");
  yajl_gen_array_open (g);
  for (size_t i = 0; i < r->n_devices; i++)
    {
      const struct oci_device_cgroup *d = &r->devices[i];
      char type[2] = { d->type, '\0' };
      yajl_gen_map_open (g);
      oci_gen_key_bool (g, "allow", d->allow);
      if (d->type != 'a')
        oci_gen_key_str (g, "type", type);
      oci_gen_key_opt_i64 (g, "major", d->major);
      oci_gen_key_opt_i64 (g, "minor", d->minor);
      oci_gen_key_str (g, "access", d->access);
      yajl_gen_map_close (g);
    }
  yajl_gen_array_close (g);
}

static bool
memory_set (const struct oci_resources *r)
{
  return r->memory.limit.set || r->memory.reservation.set || r->memory.swap.set || r->memory.kernel.set
         || r->memory.kernel_tcp.set || r->memory.swappiness.set || r->memory.disable_oom_killer.set
         || r->memory.use_hierarchy.set || r->memory.check_before_update.set;
}

static bool
cpu_set (const struct oci_resources *r)
{
  return r->cpu.shares.set || r->cpu.quota.set || r->cpu.burst.set || r->cpu.period.set
         || r->cpu.realtime_runtime.set || r->cpu.realtime_period.set || r->cpu.cpus || r->cpu.mems
         || r->cpu.idle.set;
}

/* Sub-objects that were present but empty are dropped: same meaning. */
static void
gen_memory_cpu (yajl_gen g, const struct oci_resources *r)
{
  if (memory_set (r))
    {
      oci_gen_key (g, "memory");
      yajl_gen_map_open (g);
      oci_gen_key_opt_i64 (g, "limit", r->memory.limit);
      oci_gen_key_opt_i64 (g, "reservation", r->memory.reservation);
      oci_gen_key_opt_i64 (g, "swap", r->memory.swap);
      oci_gen_key_opt_i64 (g, "kernel", r->memory.kernel);
      oci_gen_key_opt_i64 (g, "kernelTCP", r->memory.kernel_tcp);
      oci_gen_key_opt_u64 (g, "swappiness", r->memory.swappiness);
      oci_gen_key_opt_bool (g, "disableOOMKiller", r->memory.disable_oom_killer);
      oci_gen_key_opt_bool (g, "useHierarchy", r->memory.use_hierarchy);
      oci_gen_key_opt_bool (g, "checkBeforeUpdate", r->memory.check_before_update);
      yajl_gen_map_close (g);
    }
  if (cpu_set (r))
    {
      oci_gen_key (g, "cpu");
      yajl_gen_map_open (g);
      oci_gen_key_opt_u64 (g, "shares", r->cpu.shares);
      oci_gen_key_opt_i64 (g, "quota", r->cpu.quota);
      oci_gen_key_opt_i64 (g, "burst", r->cpu.burst);
      oci_gen_key_opt_u64 (g, "period", r->cpu.period);
      oci_gen_key_opt_i64 (g, "realtimeRuntime", r->cpu.realtime_runtime);
      oci_gen_key_opt_u64 (g, "realtimePeriod", r->cpu.realtime_period);
      oci_gen_key_str (g, "cpus", r->cpu.cpus);
      oci_gen_key_str (g, "mems", r->cpu.mems);
      oci_gen_key_opt_i64 (g, "idle", r->cpu.idle);
      yajl_gen_map_close (g);
    }
  if (r->pids.limit.set)
    {
      oci_gen_key (g, "pids");
      yajl_gen_map_open (g);
      oci_gen_key_i64 (g, "limit", r->pids.limit.v);
      yajl_gen_map_close (g);
    }
}

static void
gen_throttle (yajl_gen g, const char *key, const struct oci_throttle_device *d, size_t n)
{
  if (n == 0)
    return;
  oci_gen_key (g, key);
  yajl_gen_array_open (g);
  for (size_t i = 0; i < n; i++)
    {
      yajl_gen_map_open (g);
      oci_gen_key_i64 (g, "major", d[i].major);
      oci_gen_key_i64 (g, "minor", d[i].minor);
      oci_gen_key_u64 (g, "rate", d[i].rate);
      yajl_gen_map_close (g);
    }
  yajl_gen_array_close (g);
}

static void
gen_block_io (yajl_gen g, const struct oci_resources *r)
{
  const __typeof__ (r->block_io) *b = &r->block_io;
  if (!b->weight.set && !b->leaf_weight.set && b->n_weight_device == 0 && b->n_throttle_read_bps == 0
      && b->n_throttle_write_bps == 0 && b->n_throttle_read_iops == 0 && b->n_throttle_write_iops == 0)
    return;
  oci_gen_key (g, "blockIO");
  yajl_gen_map_open (g);
  oci_gen_key_opt_u64 (g, "weight", b->weight);
  oci_gen_key_opt_u64 (g, "leafWeight", b->leaf_weight);
  if (b->n_weight_device > 0)
    {
      oci_gen_key (g, "weightDevice");
      yajl_gen_array_open (g);
      for (size_t i = 0; i < b->n_weight_device; i++)
        {
          yajl_gen_map_open (g);
          oci_gen_key_i64 (g, "major", b->weight_device[i].major);
          oci_gen_key_i64 (g, "minor", b->weight_device[i].minor);
          oci_gen_key_opt_u64 (g, "weight", b->weight_device[i].weight);
          oci_gen_key_opt_u64 (g, "leafWeight", b->weight_device[i].leaf_weight);
          yajl_gen_map_close (g);
        }
      yajl_gen_array_close (g);
    }
  gen_throttle (g, "throttleReadBpsDevice", b->throttle_read_bps, b->n_throttle_read_bps);
  gen_throttle (g, "throttleWriteBpsDevice", b->throttle_write_bps, b->n_throttle_write_bps);
  gen_throttle (g, "throttleReadIOPSDevice", b->throttle_read_iops, b->n_throttle_read_iops);
  gen_throttle (g, "throttleWriteIOPSDevice", b->throttle_write_iops, b->n_throttle_write_iops);
  yajl_gen_map_close (g);
}

static void
gen_hugepages_network (yajl_gen g, const struct oci_resources *r)
{
  if (r->n_hugepage_limits > 0)
    {
      oci_gen_key (g, "hugepageLimits");
      yajl_gen_array_open (g);
      for (size_t i = 0; i < r->n_hugepage_limits; i++)
        {
          yajl_gen_map_open (g);
          oci_gen_key_str (g, "pageSize", r->hugepage_limits[i].page_size);
          oci_gen_key_u64 (g, "limit", r->hugepage_limits[i].limit);
          yajl_gen_map_close (g);
        }
      yajl_gen_array_close (g);
    }
  if (!r->network.class_id.set && r->network.n_priorities == 0)
    return;
  oci_gen_key (g, "network");
  yajl_gen_map_open (g);
  oci_gen_key_opt_u64 (g, "classID", r->network.class_id);
  if (r->network.n_priorities > 0)
    {
      oci_gen_key (g, "priorities");
      yajl_gen_array_open (g);
      for (size_t i = 0; i < r->network.n_priorities; i++)
        {
          uint64_t prio = 0;
          hull_parse_u64 (r->network.priorities[i].value, &prio);
          yajl_gen_map_open (g);
          oci_gen_key_str (g, "name", r->network.priorities[i].key);
          oci_gen_key_u64 (g, "priority", prio);
          yajl_gen_map_close (g);
        }
      yajl_gen_array_close (g);
    }
  yajl_gen_map_close (g);
}

static void
gen_rdma (yajl_gen g, const struct oci_resources *r)
{
  if (r->n_rdma == 0)
    return;
  oci_gen_key (g, "rdma");
  yajl_gen_map_open (g);
  for (size_t i = 0; i < r->n_rdma; i++)
    {
      oci_gen_key (g, r->rdma[i].device);
      yajl_gen_map_open (g);
      oci_gen_key_opt_u64 (g, "hcaHandles", r->rdma[i].hca_handles);
      oci_gen_key_opt_u64 (g, "hcaObjects", r->rdma[i].hca_objects);
      yajl_gen_map_close (g);
    }
  yajl_gen_map_close (g);
}

void
oci_gen_resources (yajl_gen g, const struct oci_resources *r)
{
  yajl_gen_map_open (g);
  gen_device_rules (g, r);
  gen_memory_cpu (g, r);
  gen_block_io (g, r);
  gen_hugepages_network (g, r);
  gen_rdma (g, r);
  oci_gen_key_kvs (g, "unified", &r->unified);
  yajl_gen_map_close (g);
}

static void
gen_syscall (yajl_gen g, const struct oci_seccomp_syscall *s)
{
  yajl_gen_map_open (g);
  oci_gen_key_strv (g, "names", s->names);
  oci_gen_key_str (g, "action", s->action);
  oci_gen_key_opt_u64 (g, "errnoRet", s->errno_ret);
  if (s->n_args > 0)
    {
      oci_gen_key (g, "args");
      yajl_gen_array_open (g);
      for (size_t i = 0; i < s->n_args; i++)
        {
          yajl_gen_map_open (g);
          oci_gen_key_u64 (g, "index", s->args[i].index);
          oci_gen_key_u64 (g, "value", s->args[i].value);
          if (s->args[i].value_two)
            oci_gen_key_u64 (g, "valueTwo", s->args[i].value_two);
          oci_gen_key_str (g, "op", s->args[i].op_name);
          yajl_gen_map_close (g);
        }
      yajl_gen_array_close (g);
    }
  yajl_gen_map_close (g);
}

void
oci_gen_seccomp (yajl_gen g, const struct oci_seccomp *s)
{
  yajl_gen_map_open (g);
  oci_gen_key_str (g, "defaultAction", s->default_action);
  oci_gen_key_opt_u64 (g, "defaultErrnoRet", s->default_errno_ret);
  oci_gen_key_strv (g, "architectures", s->architectures);
  oci_gen_key_strv (g, "flags", s->flags);
  oci_gen_key_str (g, "listenerPath", s->listener_path);
  oci_gen_key_str (g, "listenerMetadata", s->listener_metadata);
  if (s->n_syscalls > 0)
    {
      oci_gen_key (g, "syscalls");
      yajl_gen_array_open (g);
      for (size_t i = 0; i < s->n_syscalls; i++)
        gen_syscall (g, &s->syscalls[i]);
      yajl_gen_array_close (g);
    }
  yajl_gen_map_close (g);
}

static void
gen_namespaces_devices (yajl_gen g, const struct oci_linux *l)
{
  if (l->n_namespaces > 0)
    {
      oci_gen_key (g, "namespaces");
      yajl_gen_array_open (g);
      for (size_t i = 0; i < l->n_namespaces; i++)
        {
          yajl_gen_map_open (g);
          oci_gen_key_str (g, "type", oci_ns_type_names[l->namespaces[i].type]);
          oci_gen_key_str (g, "path", l->namespaces[i].path);
          yajl_gen_map_close (g);
        }
      yajl_gen_array_close (g);
    }
  if (l->n_devices == 0)
    return;
  oci_gen_key (g, "devices");
  yajl_gen_array_open (g);
  for (size_t i = 0; i < l->n_devices; i++)
    {
      const struct oci_device *d = &l->devices[i];
      char type[2] = { d->type, '\0' };
      yajl_gen_map_open (g);
      oci_gen_key_str (g, "path", d->path);
      oci_gen_key_str (g, "type", type);
      if (d->type != 'p' || d->major || d->minor)
        {
          oci_gen_key_i64 (g, "major", d->major);
          oci_gen_key_i64 (g, "minor", d->minor);
        }
      oci_gen_key_opt_u64 (g, "fileMode", d->file_mode);
      oci_gen_key_opt_u64 (g, "uid", d->uid);
      oci_gen_key_opt_u64 (g, "gid", d->gid);
      yajl_gen_map_close (g);
    }
  yajl_gen_array_close (g);
}

static void
gen_time_offset (yajl_gen g, const char *key, const struct oci_time_offset *t)
{
  oci_gen_key (g, key);
  yajl_gen_map_open (g);
  oci_gen_key_i64 (g, "secs", t->secs);
  oci_gen_key_u64 (g, "nanosecs", t->nanosecs);
  yajl_gen_map_close (g);
}

static void
gen_linux_tail (yajl_gen g, const struct oci_linux *l)
{
  if (l->intel_rdt)
    {
      oci_gen_key (g, "intelRdt");
      yajl_gen_map_open (g);
      oci_gen_key_str (g, "closID", l->intel_rdt->clos_id);
      oci_gen_key_str (g, "l3CacheSchema", l->intel_rdt->l3_cache_schema);
      oci_gen_key_str (g, "memBwSchema", l->intel_rdt->mem_bw_schema);
      if (l->intel_rdt->enable_cmt)
        oci_gen_key_bool (g, "enableCMT", true);
      if (l->intel_rdt->enable_mbm)
        oci_gen_key_bool (g, "enableMBM", true);
      yajl_gen_map_close (g);
    }
  if (l->personality)
    {
      oci_gen_key (g, "personality");
      yajl_gen_map_open (g);
      oci_gen_key_str (g, "domain", l->personality->domain);
      oci_gen_key_strv (g, "flags", l->personality->flags);
      yajl_gen_map_close (g);
    }
  if (l->has_time_offsets)
    {
      oci_gen_key (g, "timeOffsets");
      yajl_gen_map_open (g);
      if (l->has_time_monotonic)
        gen_time_offset (g, "monotonic", &l->time_monotonic);
      if (l->has_time_boottime)
        gen_time_offset (g, "boottime", &l->time_boottime);
      yajl_gen_map_close (g);
    }
}

void
oci_gen_linux (yajl_gen g, const struct oci_linux *l)
{
  yajl_gen_map_open (g);
  oci_gen_id_mappings (g, "uidMappings", l->uid_mappings, l->n_uid_mappings);
  oci_gen_id_mappings (g, "gidMappings", l->gid_mappings, l->n_gid_mappings);
  oci_gen_key_kvs (g, "sysctl", &l->sysctl);
  if (l->resources.present)
    {
      oci_gen_key (g, "resources");
      oci_gen_resources (g, &l->resources);
    }
  oci_gen_key_str (g, "cgroupsPath", l->cgroups_path);
  gen_namespaces_devices (g, l);
  if (l->seccomp)
    {
      oci_gen_key (g, "seccomp");
      oci_gen_seccomp (g, l->seccomp);
    }
  if (l->rootfs_propagation != OCI_PROPAGATION_UNSET)
    oci_gen_key_str (g, "rootfsPropagation",
                     oci_propagation_name (l->rootfs_propagation, l->rootfs_propagation_recursive));
  oci_gen_key_strv (g, "maskedPaths", l->masked_paths);
  oci_gen_key_strv (g, "readonlyPaths", l->readonly_paths);
  oci_gen_key_str (g, "mountLabel", l->mount_label);
  gen_linux_tail (g, l);
  yajl_gen_map_close (g);
}
