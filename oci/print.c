/* Printing config.json with yajl_gen, keys in the order runc writes them.
 * Optional fields are printed only when set, so parse -> print -> parse
 * gives back the same structs. */
#include "oci-internal.h"

#include <inttypes.h>

yajl_gen
oci_gen_new (bool pretty)
{
  yajl_gen g = yajl_gen_alloc (NULL);
  if (g == NULL)
    abort ();
  if (pretty)
    {
      yajl_gen_config (g, yajl_gen_beautify, 1);
      yajl_gen_config (g, yajl_gen_indent_string, "\t");
    }
  return g;
}

char *
oci_gen_finish (yajl_gen g)
{
  const unsigned char *buf;
  size_t len;
  if (yajl_gen_get_buf (g, &buf, &len) != yajl_gen_status_ok)
    abort ();
  char *out = xstrndup ((const char *)buf, len);
  yajl_gen_free (g);
  return out;
}

void
oci_gen_str (yajl_gen g, const char *s)
{
  yajl_gen_string (g, (const unsigned char *)s, strlen (s));
}

void
oci_gen_key (yajl_gen g, const char *key)
{
  oci_gen_str (g, key);
}

void
oci_gen_key_str (yajl_gen g, const char *key, const char *s)
{
  if (s == NULL)
    return;
  oci_gen_key (g, key);
  oci_gen_str (g, s);
}

void
oci_gen_key_i64 (yajl_gen g, const char *key, int64_t v)
{
  oci_gen_key (g, key);
  yajl_gen_integer (g, v);
}

/* yajl_gen_integer takes a long long: larger values go out as text. */
void
oci_gen_u64 (yajl_gen g, uint64_t v)
{
  char buf[32];
  int n = snprintf (buf, sizeof (buf), "%" PRIu64, v);
  yajl_gen_number (g, buf, (size_t)n);
}

void
oci_gen_key_u64 (yajl_gen g, const char *key, uint64_t v)
{
  oci_gen_key (g, key);
  oci_gen_u64 (g, v);
}

void
oci_gen_key_bool (yajl_gen g, const char *key, bool v)
{
  oci_gen_key (g, key);
  yajl_gen_bool (g, v);
}

void
oci_gen_key_opt_i64 (yajl_gen g, const char *key, oci_i64 v)
{
  if (v.set)
    oci_gen_key_i64 (g, key, v.v);
}

void
oci_gen_key_opt_u64 (yajl_gen g, const char *key, oci_u64 v)
{
  if (v.set)
    oci_gen_key_u64 (g, key, v.v);
}

void
oci_gen_key_opt_bool (yajl_gen g, const char *key, oci_bool v)
{
  if (v.set)
    oci_gen_key_bool (g, key, v.v);
}

void
oci_gen_key_strv (yajl_gen g, const char *key, char *const *v)
{
  if (v == NULL)
    return;
  oci_gen_key (g, key);
  yajl_gen_array_open (g);
  for (size_t i = 0; v[i]; i++)
    oci_gen_str (g, v[i]);
  yajl_gen_array_close (g);
}

void
oci_gen_key_kvs (yajl_gen g, const char *key, const struct oci_kvs *kvs)
{
  if (kvs->n == 0)
    return;
  oci_gen_key (g, key);
  yajl_gen_map_open (g);
  for (size_t i = 0; i < kvs->n; i++)
    oci_gen_key_str (g, kvs->v[i].key, kvs->v[i].value);
  yajl_gen_map_close (g);
}

void
oci_gen_id_mappings (yajl_gen g, const char *key, const struct oci_id_mapping *m, size_t n)
{
  if (n == 0)
    return;
  oci_gen_key (g, key);
  yajl_gen_array_open (g);
  for (size_t i = 0; i < n; i++)
    {
      yajl_gen_map_open (g);
      oci_gen_key_u64 (g, "containerID", m[i].container_id);
      oci_gen_key_u64 (g, "hostID", m[i].host_id);
      oci_gen_key_u64 (g, "size", m[i].size);
      yajl_gen_map_close (g);
    }
  yajl_gen_array_close (g);
}

/* ---- process --------------------------------------------------------------- */

static void
gen_user (yajl_gen g, const struct oci_user *u)
{
  oci_gen_key (g, "user");
  yajl_gen_map_open (g);
  oci_gen_key_u64 (g, "uid", u->uid);
  oci_gen_key_u64 (g, "gid", u->gid);
  oci_gen_key_opt_u64 (g, "umask", u->umask);
  if (u->n_additional_gids > 0)
    {
      oci_gen_key (g, "additionalGids");
      yajl_gen_array_open (g);
      for (size_t i = 0; i < u->n_additional_gids; i++)
        oci_gen_u64 (g, u->additional_gids[i]);
      yajl_gen_array_close (g);
    }
  oci_gen_key_str (g, "username", u->username);
  yajl_gen_map_close (g);
}

static void
gen_caps_rlimits (yajl_gen g, const struct oci_process *p)
{
  if (p->capabilities)
    {
      oci_gen_key (g, "capabilities");
      yajl_gen_map_open (g);
      oci_gen_key_strv (g, "bounding", p->capabilities->bounding);
      oci_gen_key_strv (g, "effective", p->capabilities->effective);
      oci_gen_key_strv (g, "inheritable", p->capabilities->inheritable);
      oci_gen_key_strv (g, "permitted", p->capabilities->permitted);
      oci_gen_key_strv (g, "ambient", p->capabilities->ambient);
      yajl_gen_map_close (g);
    }
  if (p->n_rlimits == 0)
    return;
  oci_gen_key (g, "rlimits");
  yajl_gen_array_open (g);
  for (size_t i = 0; i < p->n_rlimits; i++)
    {
      yajl_gen_map_open (g);
      oci_gen_key_str (g, "type", p->rlimits[i].type);
      oci_gen_key_u64 (g, "hard", p->rlimits[i].hard);
      oci_gen_key_u64 (g, "soft", p->rlimits[i].soft);
      yajl_gen_map_close (g);
    }
  yajl_gen_array_close (g);
}

static void
gen_scheduling (yajl_gen g, const struct oci_process *p)
{
  const struct oci_scheduler *s = p->scheduler;
  if (s)
    {
      oci_gen_key (g, "scheduler");
      yajl_gen_map_open (g);
      oci_gen_key_str (g, "policy", s->policy);
      oci_gen_key_opt_i64 (g, "nice", s->nice);
      oci_gen_key_opt_i64 (g, "priority", s->priority);
      oci_gen_key_strv (g, "flags", s->flags);
      oci_gen_key_opt_u64 (g, "runtime", s->runtime);
      oci_gen_key_opt_u64 (g, "deadline", s->deadline);
      oci_gen_key_opt_u64 (g, "period", s->period);
      yajl_gen_map_close (g);
    }
  oci_gen_key_str (g, "selinuxLabel", p->selinux_label);
  if (p->io_priority)
    {
      oci_gen_key (g, "ioPriority");
      yajl_gen_map_open (g);
      oci_gen_key_str (g, "class", p->io_priority->class_name);
      oci_gen_key_i64 (g, "priority", p->io_priority->priority);
      yajl_gen_map_close (g);
    }
  if (p->exec_cpu_affinity)
    {
      oci_gen_key (g, "execCPUAffinity");
      yajl_gen_map_open (g);
      oci_gen_key_str (g, "initial", p->exec_cpu_affinity->initial);
      oci_gen_key_str (g, "final", p->exec_cpu_affinity->final);
      yajl_gen_map_close (g);
    }
}

void
oci_gen_process (yajl_gen g, const struct oci_process *p)
{
  yajl_gen_map_open (g);
  if (p->terminal)
    oci_gen_key_bool (g, "terminal", true);
  if (p->has_console_size)
    {
      oci_gen_key (g, "consoleSize");
      yajl_gen_map_open (g);
      oci_gen_key_u64 (g, "height", p->console_height);
      oci_gen_key_u64 (g, "width", p->console_width);
      yajl_gen_map_close (g);
    }
  gen_user (g, &p->user);
  oci_gen_key_strv (g, "args", p->args);
  oci_gen_key_str (g, "commandLine", p->command_line);
  oci_gen_key_strv (g, "env", p->env);
  oci_gen_key_str (g, "cwd", p->cwd);
  gen_caps_rlimits (g, p);
  if (p->no_new_privileges)
    oci_gen_key_bool (g, "noNewPrivileges", true);
  oci_gen_key_str (g, "apparmorProfile", p->apparmor_profile);
  oci_gen_key_opt_i64 (g, "oomScoreAdj", p->oom_score_adj);
  gen_scheduling (g, p);
  yajl_gen_map_close (g);
}

/* ---- the whole config ------------------------------------------------------ */

static void
gen_mounts (yajl_gen g, const struct oci_config *c)
{
  if (c->n_mounts == 0)
    return;
  oci_gen_key (g, "mounts");
  yajl_gen_array_open (g);
  for (size_t i = 0; i < c->n_mounts; i++)
    {
      const struct oci_mount *m = &c->mounts[i];
      yajl_gen_map_open (g);
      oci_gen_key_str (g, "destination", m->destination);
      oci_gen_key_str (g, "type", m->type);
      oci_gen_key_str (g, "source", m->source);
      oci_gen_key_strv (g, "options", m->options);
      oci_gen_id_mappings (g, "uidMappings", m->uid_mappings, m->n_uid_mappings);
      oci_gen_id_mappings (g, "gidMappings", m->gid_mappings, m->n_gid_mappings);
      yajl_gen_map_close (g);
    }
  yajl_gen_array_close (g);
}

static void
gen_hook_list (yajl_gen g, const char *key, const struct oci_hooks_list *l)
{
  if (l->n == 0)
    return;
  oci_gen_key (g, key);
  yajl_gen_array_open (g);
  for (size_t i = 0; i < l->n; i++)
    {
      yajl_gen_map_open (g);
      oci_gen_key_str (g, "path", l->v[i].path);
      oci_gen_key_strv (g, "args", l->v[i].args);
      oci_gen_key_strv (g, "env", l->v[i].env);
      oci_gen_key_opt_i64 (g, "timeout", l->v[i].timeout);
      yajl_gen_map_close (g);
    }
  yajl_gen_array_close (g);
}

static void
gen_hooks (yajl_gen g, const struct oci_config *c)
{
  bool any = false;
  for (int k = 0; k < OCI_HOOK_KINDS; k++)
    any |= c->hooks[k].n > 0;
  if (!any)
    return;
  oci_gen_key (g, "hooks");
  yajl_gen_map_open (g);
  for (int k = 0; k < OCI_HOOK_KINDS; k++)
    gen_hook_list (g, oci_hook_kind_names[k], &c->hooks[k]);
  yajl_gen_map_close (g);
}

char *
oci_config_to_json (const struct oci_config *c, bool pretty)
{
  yajl_gen g = oci_gen_new (pretty);
  yajl_gen_map_open (g);
  oci_gen_key_str (g, "ociVersion", c->oci_version);
  if (c->process)
    {
      oci_gen_key (g, "process");
      oci_gen_process (g, c->process);
    }
  if (c->root)
    {
      oci_gen_key (g, "root");
      yajl_gen_map_open (g);
      oci_gen_key_str (g, "path", c->root->path);
      if (c->root->readonly)
        oci_gen_key_bool (g, "readonly", true);
      yajl_gen_map_close (g);
    }
  oci_gen_key_str (g, "hostname", c->hostname);
  oci_gen_key_str (g, "domainname", c->domainname);
  gen_mounts (g, c);
  gen_hooks (g, c);
  oci_gen_key_kvs (g, "annotations", &c->annotations);
  if (c->linux_)
    {
      oci_gen_key (g, "linux");
      oci_gen_linux (g, c->linux_);
    }
  yajl_gen_map_close (g);
  return oci_gen_finish (g);
}

char *
oci_process_to_json (const struct oci_process *p, bool pretty)
{
  yajl_gen g = oci_gen_new (pretty);
  oci_gen_process (g, p);
  return oci_gen_finish (g);
}

struct oci_process *
oci_process_dup (const struct oci_process *p)
{
  hull_error_t err = NULL;
  cleanup_free char *json = oci_process_to_json (p, false);
  struct oci_process *copy = oci_process_parse (json, strlen (json), "process (copy)", &err);
  if (copy == NULL)
    {
      /* What we print always parses back (the round trip is fuzzed). */
      fprintf (stderr, "hull: internal error copying a process: %s\n", err->msg);
      abort ();
    }
  return copy;
}
