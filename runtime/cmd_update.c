/* hull update [runc's flags] [--resources FILE|-] ID: changes the resource
 * limits of a live container.  Flags override the JSON; the result is
 * merged into the container's saved config, validated, applied to its
 * cgroup, and saved. */
#include "runtime.h"
#include "../cgroups/cgroups.h"

#include <ctype.h>
#include <getopt.h>

enum { OPT_BLKIO = 256, OPT_CPU_PERIOD, OPT_CPU_QUOTA, OPT_CPU_SHARE, OPT_CPU_RT_PERIOD, OPT_CPU_RT_RUNTIME,
       OPT_CPUSET_CPUS, OPT_CPUSET_MEMS, OPT_KMEM, OPT_KMEM_TCP, OPT_MEMORY, OPT_MEMORY_RES, OPT_MEMORY_SWAP,
       OPT_PIDS, OPT_CPU_IDLE, OPT_L3, OPT_MBW };

static const struct option update_opts[] = {
  { "resources", required_argument, NULL, 'r' },
  { "blkio-weight", required_argument, NULL, OPT_BLKIO },
  { "cpu-period", required_argument, NULL, OPT_CPU_PERIOD },
  { "cpu-quota", required_argument, NULL, OPT_CPU_QUOTA },
  { "cpu-share", required_argument, NULL, OPT_CPU_SHARE },
  { "cpu-rt-period", required_argument, NULL, OPT_CPU_RT_PERIOD },
  { "cpu-rt-runtime", required_argument, NULL, OPT_CPU_RT_RUNTIME },
  { "cpuset-cpus", required_argument, NULL, OPT_CPUSET_CPUS },
  { "cpuset-mems", required_argument, NULL, OPT_CPUSET_MEMS },
  { "kernel-memory", required_argument, NULL, OPT_KMEM },
  { "kernel-memory-tcp", required_argument, NULL, OPT_KMEM_TCP },
  { "memory", required_argument, NULL, OPT_MEMORY },
  { "memory-reservation", required_argument, NULL, OPT_MEMORY_RES },
  { "memory-swap", required_argument, NULL, OPT_MEMORY_SWAP },
  { "pids-limit", required_argument, NULL, OPT_PIDS },
  { "cpu-idle", required_argument, NULL, OPT_CPU_IDLE },
  { "l3-cache-schema", required_argument, NULL, OPT_L3 },
  { "mem-bw-schema", required_argument, NULL, OPT_MBW },
  { "help", no_argument, NULL, 'h' },
  { NULL, 0, NULL, 0 },
};

static const char update_options_help[]
    = "  -r, --resources FILE|-  linux.resources JSON (from stdin with -)\n"
      "  --memory N              memory limit in bytes (k, m, g suffixes; -1: unlimited)\n"
      "  --memory-reservation N  soft limit (memory.low)\n"
      "  --memory-swap N         memory + swap limit (-1: unlimited swap)\n"
      "  --cpu-share N           relative CPU weight (converted to cpu.weight)\n"
      "  --cpu-quota N           CFS quota in usecs per period (-1: none)\n"
      "  --cpu-period N          CFS period in usecs\n"
      "  --cpu-idle 0|1          SCHED_IDLE for the cgroup\n"
      "  --cpuset-cpus LIST      CPUs allowed (e.g. 0-1)\n"
      "  --cpuset-mems LIST      memory nodes allowed\n"
      "  --pids-limit N          maximum number of processes (<= 0: unlimited)\n"
      "  --blkio-weight N        I/O weight, 10 to 1000\n";

/* runc's units.RAMInBytes: a number with an optional binary suffix. */
static int
parse_bytes (const char *flag, const char *s, int64_t *out, hull_error_t *err)
{
  char *end;
  errno = 0;
  double v = strtod (s, &end);
  if (errno || end == s)
    return hull_make_error (err, 0, "update: --%s: `%s` is not a size", flag, s);
  int64_t mult = 1;
  if (*end)
    {
      static const char units[] = "kmgtp";
      const char *u = strchr (units, tolower ((unsigned char) *end));
      const char *rest = end + 1;
      if (u == NULL && tolower ((unsigned char) *end) != 'b')
        return hull_make_error (err, 0, "update: --%s: `%s` has an unknown unit", flag, s);
      for (long i = 0; u && i <= u - units; i++)
        mult *= 1024;
      if (u && (*rest == 'b' || *rest == 'B'))
        rest++;
      if (*rest)
        return hull_make_error (err, 0, "update: --%s: `%s` has an unknown unit", flag, s);
    }
  if (v < -1 || v * (double) mult > 9.2e18)
    return hull_make_error (err, 0, "update: --%s: `%s` is out of range", flag, s);
  *out = v == -1 ? -1 : (int64_t) (v * (double) mult);
  return 0;
}

static int
parse_int (const char *flag, const char *s, int64_t *out, hull_error_t *err)
{
  if (hull_parse_i64 (s, out) < 0)
    return hull_make_error (err, 0, "update: --%s: `%s` is not an integer", flag, s);
  return 0;
}

static int
parse_uint (const char *flag, const char *s, oci_u64 *out, hull_error_t *err)
{
  uint64_t v;
  if (hull_parse_u64 (s, &v) < 0)
    return hull_make_error (err, 0, "update: --%s: `%s` is not a non-negative integer", flag, s);
  *out = (oci_u64){ true, v };
  return 0;
}

static int
read_resources_file (const char *path, struct oci_resources *r, hull_error_t *err)
{
  cleanup_free char *json = NULL;
  size_t len = 0;
  bool from_stdin = strcmp (path, "-") == 0;
  int ret = from_stdin ? hull_read_fd_all (STDIN_FILENO, "stdin", 16 << 20, &json, &len, err)
                       : hull_read_file_at (AT_FDCWD, path, 16 << 20, &json, &len, err);
  if (ret < 0)
    return hull_error_wrap (err, "update: --resources");
  return oci_resources_parse (json, len, from_stdin ? "resources (stdin)" : path, r, err);
}

/* One flag into r.  Returns -1 on a bad value. */
static int
apply_flag (int c, const char *v, struct oci_resources *r, hull_error_t *err)
{
  const char *name = NULL;
  for (const struct option *o = update_opts; o->name; o++)
    if (o->val == c)
      name = o->name;
  int64_t n;
  switch (c)
    {
    case OPT_BLKIO: return parse_uint (name, v, &r->block_io.weight, err);
    case OPT_CPU_PERIOD: return parse_uint (name, v, &r->cpu.period, err);
    case OPT_CPU_SHARE: return parse_uint (name, v, &r->cpu.shares, err);
    case OPT_CPU_RT_PERIOD: return parse_uint (name, v, &r->cpu.realtime_period, err);
    case OPT_CPU_QUOTA: if (parse_int (name, v, &n, err) < 0) return -1; r->cpu.quota = (oci_i64){ true, n }; return 0;
    case OPT_CPU_RT_RUNTIME: if (parse_int (name, v, &n, err) < 0) return -1; r->cpu.realtime_runtime = (oci_i64){ true, n }; return 0;
    case OPT_CPU_IDLE: if (parse_int (name, v, &n, err) < 0) return -1; r->cpu.idle = (oci_i64){ true, n }; return 0;
    case OPT_PIDS: if (parse_int (name, v, &n, err) < 0) return -1; r->pids.limit = (oci_i64){ true, n }; return 0;
    case OPT_CPUSET_CPUS: free (r->cpu.cpus); r->cpu.cpus = xstrdup (v); return 0;
    case OPT_CPUSET_MEMS: free (r->cpu.mems); r->cpu.mems = xstrdup (v); return 0;
    case OPT_MEMORY: if (parse_bytes (name, v, &n, err) < 0) return -1; r->memory.limit = (oci_i64){ true, n }; return 0;
    case OPT_MEMORY_RES: if (parse_bytes (name, v, &n, err) < 0) return -1; r->memory.reservation = (oci_i64){ true, n }; return 0;
    case OPT_MEMORY_SWAP: if (parse_bytes (name, v, &n, err) < 0) return -1; r->memory.swap = (oci_i64){ true, n }; return 0;
    case OPT_KMEM: case OPT_KMEM_TCP:
      hull_warn ("update: --%s is obsolete (no kernel memory limit on cgroup v2): ignored", name);
      return 0;
    case OPT_L3: case OPT_MBW:
      return hull_make_error (err, 0, "update: --%s: Intel RDT is not supported", name);
    }
  return hull_make_error (err, 0, "update: unknown option");
}

/* --resources JSON first, then the flags on top (runc's order, whatever
 * the order on the command line). */
static int
parse_update (const struct hull_cmd_help *h, int argc, char **argv, struct oci_resources *upd, hull_error_t *err)
{
  struct oci_resources flags = { 0 };
  const char *file = NULL;
  int c, ret = -1;
  while ((c = getopt_long (argc, argv, "+r:h", update_opts, NULL)) != -1)
    {
      if (c == 'h')
        {
          ret = hull_print_help (h);
          goto out;
        }
      if (c == '?')
        {
          hull_make_error (err, 0, "update: unknown option `%s` (see `hull update --help`)", argv[optind - 1]);
          goto out;
        }
      if (c == 'r')
        file = optarg;
      else if (apply_flag (c, optarg, &flags, err) < 0)
        goto out;
      flags.present = true;
    }
  if (hull_expect_args (h, argc, argv, optind, 1, err) < 0 || (file && read_resources_file (file, upd, err) < 0))
    goto out;
  oci_resources_merge (upd, &flags);
  ret = 0;
out:
  oci_resources_release (&flags);
  return ret;
}

static int
save_config (struct hull_container *c, const struct oci_config *config, hull_error_t *err)
{
  cleanup_free char *json = oci_config_to_json (config, false);
  return hull_write_file_atomic (c->dir_fd, "config.json", json, strlen (json), 0600, err);
}

static int
update_container (struct hull_context *ctx, const char *id, struct oci_resources *upd, hull_error_t *err)
{
  cleanup_container struct hull_container *c = NULL;
  if (hull_container_load (ctx, id, true, &c, err) < 0)
    return -1;
  enum oci_status st = hull_container_status (c);
  if (st == OCI_STATUS_STOPPED || st == OCI_STATUS_CREATING)
    return hull_make_error (err, 0, "cannot update container `%s`: it is %s", id, oci_status_names[st]);
  if (c->state->cgroup_path == NULL)
    return hull_make_error (err, 0,
                            "cannot update container `%s`: it has no cgroup (a rootless container "
                            "without a writable cgroup has no limits to change)",
                            id);
  struct oci_config *config = hull_container_config (c, err);
  if (config == NULL)
    return -1;
  struct hull_conf conf;
  struct oci_resources *r = &config->linux_->resources;
  oci_resources_merge (r, upd);
  int ret = -1;
  if (hull_conf_load (&conf, err) < 0 || cg_validate_resources (r, err) < 0
      || cg_check_resources (r, conf.limits_warn_only, err) < 0)
    goto out;
  if (cg_apply_resources (c->state->cgroup_path, r, err) < 0 || save_config (c, config, err) < 0)
    goto out;
  ret = 0;
out:
  oci_config_free (config);
  return ret;
}

int
hull_cmd_update (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help = {
    "update", "[options] CONTAINER_ID",
    "Changes the resource limits of a container.  The values given replace the container's; the\n"
    "others stay.",
    update_options_help,
  };
  struct oci_resources upd = { 0 };
  int r = parse_update (&help, argc, argv, &upd, err);
  if (r == 0)
    r = update_container (ctx, argv[optind], &upd, err);
  oci_resources_release (&upd);
  return r < 0 ? -1 : 0;
}
