/* state.json: the runtime-spec state (what `hull state` prints, with the
 * extra keys `runc state` prints) plus hull's own fields, kept in the
 * state directory. */
#include "oci-internal.h"

const char *const oci_status_names[] = {
  [OCI_STATUS_CREATING] = "creating", [OCI_STATUS_CREATED] = "created", [OCI_STATUS_RUNNING] = "running",
  [OCI_STATUS_STOPPED] = "stopped",   [OCI_STATUS_PAUSED] = "paused",   NULL,
};

static int
parse_status (const struct oci_ctx *cx, const struct oci_jv *v, struct oci_state *s)
{
  cleanup_free char *status = NULL;
  struct oci_path sp = OCI_KEY (NULL, "status");
  if (oci_get_str (cx, v, NULL, "status", true, &status) < 0)
    return -1;
  for (int i = 0; oci_status_names[i]; i++)
    if (strcmp (oci_status_names[i], status) == 0)
      {
        s->status = i;
        return 0;
      }
  cleanup_free char *q = oci_quote (status);
  return oci_fail (cx, &sp, "unknown status %s", q);
}

static int
parse_private (const struct oci_ctx *cx, const struct oci_jv *v, struct oci_state *s)
{
  if (oci_get_u64 (cx, v, NULL, "initStartTime", false, UINT64_MAX, &s->init_start_time) < 0
      || oci_get_str (cx, v, NULL, "cgroupPath", false, &s->cgroup_path) < 0
      || oci_get_str (cx, v, NULL, "isolation", false, &s->isolation) < 0
      || oci_get_str (cx, v, NULL, "isolationSource", false, &s->isolation_source) < 0
      || oci_get_bool (cx, v, NULL, "systemdCgroup", false, &s->systemd_cgroup) < 0
      || oci_get_opt_bool (cx, v, NULL, "poststartHooks", &s->poststart_hooks) < 0
      || oci_get_opt_bool (cx, v, NULL, "poststopHooks", &s->poststop_hooks) < 0)
    return -1;
  return 0;
}

static int
parse_state (const struct oci_ctx *cx, const struct oci_jv *v, struct oci_state *s)
{
  int64_t pid = 0;
  struct oci_path vp = OCI_KEY (NULL, "ociVersion"), bp = OCI_KEY (NULL, "bundle");
  if (oci_jv_expect (cx, v, NULL, OCI_J_OBJECT) < 0
      || oci_get_str (cx, v, NULL, "ociVersion", true, &s->oci_version) < 0
      || oci_get_str (cx, v, NULL, "id", true, &s->id) < 0 || parse_status (cx, v, s) < 0
      || oci_get_i64 (cx, v, NULL, "pid", false, 0, INT32_MAX, &pid) < 0
      || oci_get_str (cx, v, NULL, "bundle", true, &s->bundle) < 0 || oci_check_abs (cx, &bp, s->bundle) < 0
      || oci_get_kvs (cx, v, NULL, "annotations", &s->annotations) < 0
      || oci_get_str (cx, v, NULL, "rootfs", false, &s->rootfs) < 0
      || oci_get_str (cx, v, NULL, "created", false, &s->created) < 0
      || oci_get_str (cx, v, NULL, "owner", false, &s->owner) < 0 || parse_private (cx, v, s) < 0)
    return -1;
  s->pid = (pid_t)pid;
  if (s->oci_version[0] == '\0')
    return oci_fail (cx, &vp, "must not be empty");
  return 0;
}

struct oci_state *
oci_state_parse (const char *json, size_t len, const char *name, hull_error_t *err)
{
  struct oci_ctx cx = { .doc = name, .err = err };
  cleanup_jv struct oci_jv *root = NULL;
  if (oci_json_parse (json, len, name, &root, err) < 0)
    return NULL;
  struct oci_state *s = xmalloc0 (sizeof (*s));
  if (parse_state (&cx, root, s) < 0)
    {
      oci_state_free (s);
      return NULL;
    }
  return s;
}

/* runc always prints these three, empty when unknown. */
static void
gen_str_always (yajl_gen g, const char *key, const char *s)
{
  oci_gen_key_str (g, key, s ? s : "");
}

char *
oci_state_to_json (const struct oci_state *s, bool public_only, bool pretty)
{
  yajl_gen g = oci_gen_new (pretty);
  yajl_gen_map_open (g);
  gen_str_always (g, "ociVersion", s->oci_version);
  gen_str_always (g, "id", s->id);
  oci_gen_key_i64 (g, "pid", s->pid);
  oci_gen_key_str (g, "status", s->status <= OCI_STATUS_PAUSED ? oci_status_names[s->status] : "unknown");
  gen_str_always (g, "bundle", s->bundle);
  gen_str_always (g, "rootfs", s->rootfs);
  gen_str_always (g, "created", s->created);
  oci_gen_key_kvs (g, "annotations", &s->annotations);
  gen_str_always (g, "owner", s->owner);
  if (!public_only)
    {
      oci_gen_key_u64 (g, "initStartTime", s->init_start_time);
      oci_gen_key_str (g, "cgroupPath", s->cgroup_path);
      oci_gen_key_str (g, "isolation", s->isolation);
      oci_gen_key_str (g, "isolationSource", s->isolation_source);
      oci_gen_key_bool (g, "systemdCgroup", s->systemd_cgroup);
      if (s->poststart_hooks.set)
        oci_gen_key_bool (g, "poststartHooks", s->poststart_hooks.v);
      if (s->poststop_hooks.set)
        oci_gen_key_bool (g, "poststopHooks", s->poststop_hooks.v);
    }
  yajl_gen_map_close (g);
  return oci_gen_finish (g);
}

void
oci_state_free (struct oci_state *s)
{
  if (s == NULL)
    return;
  free (s->oci_version);
  free (s->id);
  free (s->bundle);
  oci_kvs_release (&s->annotations);
  free (s->rootfs);
  free (s->created);
  free (s->owner);
  free (s->cgroup_path);
  free (s->isolation);
  free (s->isolation_source);
  free (s);
}
