/* The "process" object of config.json, also the whole of a process.json
 * given to `exec --process`. */
#include "oci-internal.h"

#include <sched.h>
#include <sys/resource.h>

#define RLIMIT_NAME(n)                                                                                       \
  {                                                                                                          \
    "RLIMIT_" #n, RLIMIT_##n                                                                                 \
  }
static const struct oci_name rlimit_names[] = {
  RLIMIT_NAME (AS),     RLIMIT_NAME (CORE),   RLIMIT_NAME (CPU),        RLIMIT_NAME (DATA),
  RLIMIT_NAME (FSIZE),  RLIMIT_NAME (LOCKS),  RLIMIT_NAME (MEMLOCK),    RLIMIT_NAME (MSGQUEUE),
  RLIMIT_NAME (NICE),   RLIMIT_NAME (NOFILE), RLIMIT_NAME (NPROC),      RLIMIT_NAME (RSS),
  RLIMIT_NAME (RTPRIO), RLIMIT_NAME (RTTIME), RLIMIT_NAME (SIGPENDING), RLIMIT_NAME (STACK),
  { NULL, 0 },
};

/* The kernel's IOPRIO_CLASS_* values (linux/ioprio.h). */
static const struct oci_name ioprio_classes[] = {
  { "IOPRIO_CLASS_RT", 1 },
  { "IOPRIO_CLASS_BE", 2 },
  { "IOPRIO_CLASS_IDLE", 3 },
  { NULL, 0 },
};

/* The kernel's SCHED_* values; SCHED_ISO is reserved but named by the spec. */
static const struct oci_name sched_policies[] = {
  { "SCHED_OTHER", 0 }, { "SCHED_FIFO", 1 }, { "SCHED_RR", 2 },       { "SCHED_BATCH", 3 },
  { "SCHED_ISO", 4 },   { "SCHED_IDLE", 5 }, { "SCHED_DEADLINE", 6 }, { NULL, 0 },
};

static const struct oci_name sched_flags[] = {
  { "SCHED_FLAG_RESET_ON_FORK", 0x01 },  { "SCHED_FLAG_RECLAIM", 0x02 },
  { "SCHED_FLAG_DL_OVERRUN", 0x04 },     { "SCHED_FLAG_KEEP_POLICY", 0x08 },
  { "SCHED_FLAG_KEEP_PARAMS", 0x10 },    { "SCHED_FLAG_UTIL_CLAMP_MIN", 0x20 },
  { "SCHED_FLAG_UTIL_CLAMP_MAX", 0x40 }, { NULL, 0 },
};

/* Looks `name` up in `table`; on failure names the JSON path and the value. */
static int
lookup (const struct oci_ctx *cx, const struct oci_path *p, const struct oci_name *table, const char *what,
        const char *name)
{
  int v = oci_name_lookup (table, name);
  if (v < 0)
    {
      cleanup_free char *q = oci_quote (name);
      return oci_fail (cx, p, "unknown %s %s", what, q);
    }
  return v;
}

static int
parse_user (const struct oci_ctx *cx, const struct oci_jv *u, const struct oci_path *p, struct oci_user *out)
{
  const struct oci_jv *gids;
  if (oci_get_u32 (cx, u, p, "uid", false, &out->uid) < 0
      || oci_get_u32 (cx, u, p, "gid", false, &out->gid) < 0
      || oci_get_opt_u64 (cx, u, p, "umask", UINT32_MAX, &out->umask) < 0
      || oci_get_str (cx, u, p, "username", false, &out->username) < 0
      || oci_get_arr (cx, u, p, "additionalGids", false, &gids) < 0)
    return -1;
  if (gids == NULL)
    return 0;
  struct oci_path gp = OCI_KEY (p, "additionalGids");
  out->additional_gids = xmalloc0 (gids->n * sizeof (uint32_t));
  out->n_additional_gids = gids->n;
  for (size_t i = 0; i < gids->n; i++)
    {
      struct oci_path ep = OCI_IDX (&gp, i);
      uint64_t g;
      if (oci_jv_u64 (cx, gids->items[i], &ep, UINT32_MAX, &g) < 0)
        return -1;
      out->additional_gids[i] = (uint32_t)g;
    }
  return 0;
}

static int
parse_caps (const struct oci_ctx *cx, const struct oci_jv *c, const struct oci_path *p,
            struct oci_capabilities *out)
{
  if (oci_get_strv (cx, c, p, "bounding", false, &out->bounding) < 0
      || oci_get_strv (cx, c, p, "effective", false, &out->effective) < 0
      || oci_get_strv (cx, c, p, "inheritable", false, &out->inheritable) < 0
      || oci_get_strv (cx, c, p, "permitted", false, &out->permitted) < 0
      || oci_get_strv (cx, c, p, "ambient", false, &out->ambient) < 0)
    return -1;
  return 0;
}

static int
parse_rlimit (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, void *dst)
{
  struct oci_rlimit *r = dst;
  struct oci_path tp = OCI_KEY (p, "type");
  if (oci_get_str (cx, v, p, "type", true, &r->type) < 0)
    return -1;
  if ((r->resource = lookup (cx, &tp, rlimit_names, "rlimit", r->type)) < 0)
    return -1;
  if (oci_get_u64 (cx, v, p, "soft", true, UINT64_MAX, &r->soft) < 0
      || oci_get_u64 (cx, v, p, "hard", true, UINT64_MAX, &r->hard) < 0)
    return -1;
  return 0;
}

static int
parse_rlimits (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
               struct oci_process *out)
{
  if (oci_get_array_of (cx, v, p, "rlimits", sizeof (struct oci_rlimit), parse_rlimit, (void **)&out->rlimits,
                        &out->n_rlimits)
      < 0)
    return -1;
  struct oci_path rp = OCI_KEY (p, "rlimits");
  for (size_t i = 0; i < out->n_rlimits; i++)
    for (size_t j = 0; j < i; j++)
      if (out->rlimits[i].resource == out->rlimits[j].resource)
        {
          struct oci_path ep = OCI_IDX (&rp, i), tp = OCI_KEY (&ep, "type");
          return oci_fail (cx, &tp, "duplicate rlimit \"%s\"", out->rlimits[i].type);
        }
  return 0;
}

static int
parse_io_priority (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                   struct oci_io_priority *out)
{
  struct oci_path cp = OCI_KEY (p, "class");
  if (oci_get_str (cx, v, p, "class", true, &out->class_name) < 0)
    return -1;
  if ((out->class_value = lookup (cx, &cp, ioprio_classes, "I/O priority class", out->class_name)) < 0)
    return -1;
  if (oci_get_i64 (cx, v, p, "priority", true, 0, 7, &out->priority) < 0)
    return -1;
  return 0;
}

static int
parse_scheduler (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                 struct oci_scheduler *out)
{
  struct oci_path pp = OCI_KEY (p, "policy"), fp = OCI_KEY (p, "flags");
  if (oci_get_str (cx, v, p, "policy", true, &out->policy) < 0)
    return -1;
  if ((out->policy_value = lookup (cx, &pp, sched_policies, "scheduler policy", out->policy)) < 0)
    return -1;
  if (oci_get_opt_i64 (cx, v, p, "nice", -20, 19, &out->nice) < 0
      || oci_get_opt_i64 (cx, v, p, "priority", INT32_MIN, INT32_MAX, &out->priority) < 0
      || oci_get_strv (cx, v, p, "flags", false, &out->flags) < 0
      || oci_get_opt_u64 (cx, v, p, "runtime", UINT64_MAX, &out->runtime) < 0
      || oci_get_opt_u64 (cx, v, p, "deadline", UINT64_MAX, &out->deadline) < 0
      || oci_get_opt_u64 (cx, v, p, "period", UINT64_MAX, &out->period) < 0)
    return -1;
  for (size_t i = 0; out->flags && out->flags[i]; i++)
    {
      struct oci_path ep = OCI_IDX (&fp, i);
      if (lookup (cx, &ep, sched_flags, "scheduler flag", out->flags[i]) < 0)
        return -1;
    }
  return 0;
}

/* runc refuses these too: execve would pass them on but nothing could read them back. */
static int
check_env (const struct oci_ctx *cx, const struct oci_path *p, char **env)
{
  struct oci_path ep = OCI_KEY (p, "env");
  for (size_t i = 0; env && env[i]; i++)
    {
      const char *eq = strchr (env[i], '=');
      if (eq == NULL || eq == env[i])
        {
          struct oci_path ip = OCI_IDX (&ep, i);
          cleanup_free char *q = oci_quote (env[i]);
          return oci_fail (cx, &ip, "%s is not of the form NAME=VALUE", q);
        }
    }
  return 0;
}

static int
parse_console_size (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                    struct oci_process *out)
{
  const struct oci_jv *cs;
  int r = oci_get_obj (cx, v, p, "consoleSize", false, &cs);
  if (r <= 0)
    return r;
  struct oci_path cp = OCI_KEY (p, "consoleSize");
  out->has_console_size = true;
  if (oci_get_u32 (cx, cs, &cp, "height", true, &out->console_height) < 0
      || oci_get_u32 (cx, cs, &cp, "width", true, &out->console_width) < 0)
    return -1;
  return 0;
}

static int
parse_args_cwd (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                struct oci_process *out)
{
  struct oci_path ap = OCI_KEY (p, "args"), cp = OCI_KEY (p, "cwd");
  if (oci_get_strv (cx, v, p, "args", false, &out->args) < 0
      || oci_get_str (cx, v, p, "commandLine", false, &out->command_line) < 0)
    return -1;
  if (strv_len (out->args) == 0 && out->command_line == NULL)
    return oci_fail (cx, &ap, "%s", out->args ? "must not be empty" : "required field missing");
  if (oci_get_strv (cx, v, p, "env", false, &out->env) < 0 || check_env (cx, p, out->env) < 0)
    return -1;
  if (oci_get_str (cx, v, p, "cwd", true, &out->cwd) < 0 || oci_check_abs (cx, &cp, out->cwd) < 0)
    return -1;
  return 0;
}

static int
parse_affinity (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                struct oci_exec_cpu_affinity *out)
{
  if (oci_get_str (cx, v, p, "initial", false, &out->initial) < 0
      || oci_get_str (cx, v, p, "final", false, &out->final) < 0)
    return -1;
  return 0;
}

static int
parse_user_member (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                   struct oci_process *out)
{
  const struct oci_jv *u;
  int r = oci_get_obj (cx, v, p, "user", false, &u);
  if (r <= 0)
    return r;
  struct oci_path up = OCI_KEY (p, "user");
  return parse_user (cx, u, &up, &out->user);
}

int
oci_parse_process_into (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                        struct oci_process *out)
{
  if (oci_jv_expect (cx, v, p, OCI_J_OBJECT) < 0)
    return -1;
  if (oci_get_bool (cx, v, p, "terminal", false, &out->terminal) < 0 || parse_console_size (cx, v, p, out) < 0
      || parse_user_member (cx, v, p, out) < 0 || parse_args_cwd (cx, v, p, out) < 0)
    return -1;
  OCI_SUB_OBJECT ("capabilities", out->capabilities, parse_caps);
  if (parse_rlimits (cx, v, p, out) < 0
      || oci_get_bool (cx, v, p, "noNewPrivileges", false, &out->no_new_privileges) < 0
      || oci_get_str (cx, v, p, "apparmorProfile", false, &out->apparmor_profile) < 0
      || oci_get_opt_i64 (cx, v, p, "oomScoreAdj", -1000, 1000, &out->oom_score_adj) < 0
      || oci_get_str (cx, v, p, "selinuxLabel", false, &out->selinux_label) < 0)
    return -1;
  OCI_SUB_OBJECT ("ioPriority", out->io_priority, parse_io_priority);
  OCI_SUB_OBJECT ("scheduler", out->scheduler, parse_scheduler);
  OCI_SUB_OBJECT ("execCPUAffinity", out->exec_cpu_affinity, parse_affinity);
  return 0;
}

static void
caps_free (struct oci_capabilities *c)
{
  if (c == NULL)
    return;
  strv_free (c->bounding);
  strv_free (c->effective);
  strv_free (c->inheritable);
  strv_free (c->permitted);
  strv_free (c->ambient);
  free (c);
}

void
oci_process_release (struct oci_process *p)
{
  free (p->user.additional_gids);
  free (p->user.username);
  strv_free (p->args);
  free (p->command_line);
  strv_free (p->env);
  free (p->cwd);
  caps_free (p->capabilities);
  for (size_t i = 0; i < p->n_rlimits; i++)
    free (p->rlimits[i].type);
  free (p->rlimits);
  free (p->apparmor_profile);
  free (p->selinux_label);
  if (p->io_priority)
    free (p->io_priority->class_name);
  free (p->io_priority);
  if (p->scheduler)
    {
      free (p->scheduler->policy);
      strv_free (p->scheduler->flags);
    }
  free (p->scheduler);
  if (p->exec_cpu_affinity)
    {
      free (p->exec_cpu_affinity->initial);
      free (p->exec_cpu_affinity->final);
    }
  free (p->exec_cpu_affinity);
}

void
oci_process_free (struct oci_process *p)
{
  if (p == NULL)
    return;
  oci_process_release (p);
  free (p);
}

struct oci_process *
oci_process_parse (const char *json, size_t len, const char *name, hull_error_t *err)
{
  struct oci_ctx cx = { .doc = name, .err = err };
  cleanup_jv struct oci_jv *root = NULL;
  if (oci_json_parse (json, len, name, &root, err) < 0)
    return NULL;
  struct oci_process *p = xmalloc0 (sizeof (*p));
  if (oci_parse_process_into (&cx, root, NULL, p) < 0)
    {
      oci_process_free (p);
      return NULL;
    }
  return p;
}
