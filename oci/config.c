/* config.json: the top level, root, mounts, hooks and annotations; the
 * process and linux sections live in their own files. */
#include "oci-internal.h"

#define CONFIG_MAX_SIZE (16u << 20)

const char *const oci_hook_kind_names[OCI_HOOK_KINDS] = {
  [OCI_HOOK_PRESTART] = "prestart",
  [OCI_HOOK_CREATE_RUNTIME] = "createRuntime",
  [OCI_HOOK_CREATE_CONTAINER] = "createContainer",
  [OCI_HOOK_START_CONTAINER] = "startContainer",
  [OCI_HOOK_POSTSTART] = "poststart",
  [OCI_HOOK_POSTSTOP] = "poststop",
};

static bool
parse_digits (const char **s, unsigned long *out)
{
  const char *p = *s;
  if (*p < '0' || *p > '9')
    return false;
  errno = 0;
  char *end;
  *out = strtoul (p, &end, 10);
  *s = end;
  return errno == 0;
}

/* "MAJOR.MINOR.PATCH" with an optional "-prerelease" or "+build" (semver),
 * as runc writes "1.0.2-dev". */
static int
check_version (const struct oci_ctx *cx, const struct oci_path *p, const char *v)
{
  const char *s = v;
  unsigned long major, minor, patch;
  cleanup_free char *q = oci_quote (v);
  if (!parse_digits (&s, &major) || *s++ != '.' || !parse_digits (&s, &minor) || *s++ != '.'
      || !parse_digits (&s, &patch) || (*s != '\0' && *s != '-' && *s != '+'))
    return oci_fail (cx, p, "invalid version %s (want MAJOR.MINOR.PATCH)", q);
  if (major != 1)
    return oci_fail (cx, p, "unsupported major version %s (want 1.x)", q);
  return 0;
}

int
oci_parse_id_mapping (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, void *dst)
{
  struct oci_id_mapping *m = dst;
  struct oci_path sp = OCI_KEY (p, "size");
  if (oci_get_u32 (cx, v, p, "containerID", true, &m->container_id) < 0
      || oci_get_u32 (cx, v, p, "hostID", true, &m->host_id) < 0
      || oci_get_u32 (cx, v, p, "size", true, &m->size) < 0)
    return -1;
  if (m->size == 0)
    return oci_fail (cx, &sp, "must be greater than zero");
  /* The kernel refuses ranges that wrap around the 32-bit id space. */
  if ((uint64_t)m->container_id + m->size > (uint64_t)UINT32_MAX + 1
      || (uint64_t)m->host_id + m->size > (uint64_t)UINT32_MAX + 1)
    return oci_fail (cx, &sp, "%u is out of range: the mapping passes 4294967295", m->size);
  return 0;
}

static int
parse_root (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, struct oci_config *c)
{
  const struct oci_jv *r;
  if (oci_get_obj (cx, v, p, "root", true, &r) < 0)
    return -1;
  struct oci_path rp = OCI_KEY (p, "root");
  c->root = xmalloc0 (sizeof (*c->root));
  if (oci_get_str (cx, r, &rp, "path", true, &c->root->path) < 0
      || oci_get_bool (cx, r, &rp, "readonly", false, &c->root->readonly) < 0)
    return -1;
  if (c->root->path[0] == '\0')
    {
      struct oci_path pp = OCI_KEY (&rp, "path");
      return oci_fail (cx, &pp, "must not be empty");
    }
  return 0;
}

static int
parse_mount (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, void *dst)
{
  struct oci_mount *m = dst;
  struct oci_path dp = OCI_KEY (p, "destination");
  if (oci_get_str (cx, v, p, "destination", true, &m->destination) < 0
      || oci_check_abs (cx, &dp, m->destination) < 0 || oci_get_str (cx, v, p, "type", false, &m->type) < 0
      || oci_get_str (cx, v, p, "source", false, &m->source) < 0
      || oci_get_strv (cx, v, p, "options", false, &m->options) < 0)
    return -1;
  if (oci_get_array_of (cx, v, p, "uidMappings", sizeof (struct oci_id_mapping), oci_parse_id_mapping,
                        (void **)&m->uid_mappings, &m->n_uid_mappings)
          < 0
      || oci_get_array_of (cx, v, p, "gidMappings", sizeof (struct oci_id_mapping), oci_parse_id_mapping,
                           (void **)&m->gid_mappings, &m->n_gid_mappings)
             < 0)
    return -1;
  return 0;
}

static int
parse_hook (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, void *dst)
{
  struct oci_hook *h = dst;
  struct oci_path pp = OCI_KEY (p, "path"), tp = OCI_KEY (p, "timeout");
  if (oci_get_str (cx, v, p, "path", true, &h->path) < 0 || oci_check_abs (cx, &pp, h->path) < 0
      || oci_get_strv (cx, v, p, "args", false, &h->args) < 0
      || oci_get_strv (cx, v, p, "env", false, &h->env) < 0
      || oci_get_opt_i64 (cx, v, p, "timeout", INT64_MIN, INT32_MAX, &h->timeout) < 0)
    return -1;
  if (h->timeout.set && h->timeout.v <= 0)
    return oci_fail (cx, &tp, "must be greater than zero");
  return 0;
}

static int
parse_hooks (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, struct oci_config *c)
{
  const struct oci_jv *h;
  int r = oci_get_obj (cx, v, p, "hooks", false, &h);
  if (r <= 0)
    return r;
  struct oci_path hp = OCI_KEY (p, "hooks");
  for (int k = 0; k < OCI_HOOK_KINDS; k++)
    if (oci_get_array_of (cx, h, &hp, oci_hook_kind_names[k], sizeof (struct oci_hook), parse_hook,
                          (void **)&c->hooks[k].v, &c->hooks[k].n)
        < 0)
      return -1;
  return 0;
}

static int
parse_sections (const struct oci_ctx *cx, const struct oci_jv *root, struct oci_config *c)
{
  const struct oci_jv *pv, *lv;
  struct oci_path pp = OCI_KEY (NULL, "process"), lp = OCI_KEY (NULL, "linux");
  if (oci_get_obj (cx, root, NULL, "process", false, &pv) < 0)
    return -1;
  if (pv)
    {
      c->process = xmalloc0 (sizeof (*c->process));
      if (oci_parse_process_into (cx, pv, &pp, c->process) < 0)
        return -1;
    }
  if (parse_root (cx, root, NULL, c) < 0 || oci_get_str (cx, root, NULL, "hostname", false, &c->hostname) < 0
      || oci_get_str (cx, root, NULL, "domainname", false, &c->domainname) < 0
      || oci_get_array_of (cx, root, NULL, "mounts", sizeof (struct oci_mount), parse_mount,
                           (void **)&c->mounts, &c->n_mounts)
             < 0
      || parse_hooks (cx, root, NULL, c) < 0
      || oci_get_kvs (cx, root, NULL, "annotations", &c->annotations) < 0
      || oci_get_obj (cx, root, NULL, "linux", false, &lv) < 0)
    return -1;
  if (lv)
    {
      c->linux_ = xmalloc0 (sizeof (*c->linux_));
      if (oci_parse_linux (cx, lv, &lp, c->linux_) < 0)
        return -1;
    }
  return 0;
}

struct oci_config *
oci_config_parse (const char *json, size_t len, const char *name, hull_error_t *err)
{
  struct oci_ctx cx = { .doc = name, .err = err };
  cleanup_jv struct oci_jv *root = NULL;
  if (oci_json_parse (json, len, name, &root, err) < 0)
    return NULL;
  if (oci_jv_expect (&cx, root, NULL, OCI_J_OBJECT) < 0)
    return NULL;
  struct oci_config *c = xmalloc0 (sizeof (*c));
  struct oci_path vp = OCI_KEY (NULL, "ociVersion");
  if (oci_get_str (&cx, root, NULL, "ociVersion", true, &c->oci_version) < 0
      || check_version (&cx, &vp, c->oci_version) < 0 || parse_sections (&cx, root, c) < 0)
    {
      oci_config_free (c);
      return NULL;
    }
  return c;
}

struct oci_config *
oci_config_parse_file (int dirfd, const char *path, hull_error_t *err)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  if (hull_read_file_at (dirfd, path, CONFIG_MAX_SIZE, &buf, &len, err) < 0)
    return NULL;
  return oci_config_parse (buf, len, path, err);
}

static void
id_mappings_free (struct oci_id_mapping *m)
{
  free (m);
}

static void
mount_release (struct oci_mount *m)
{
  free (m->destination);
  free (m->type);
  free (m->source);
  strv_free (m->options);
  id_mappings_free (m->uid_mappings);
  id_mappings_free (m->gid_mappings);
}

static void
hooks_release (struct oci_hooks_list *l)
{
  for (size_t i = 0; i < l->n; i++)
    {
      free (l->v[i].path);
      strv_free (l->v[i].args);
      strv_free (l->v[i].env);
    }
  free (l->v);
}

void
oci_config_free (struct oci_config *c)
{
  if (c == NULL)
    return;
  free (c->oci_version);
  oci_process_free (c->process);
  if (c->root)
    free (c->root->path);
  free (c->root);
  free (c->hostname);
  free (c->domainname);
  for (size_t i = 0; i < c->n_mounts; i++)
    mount_release (&c->mounts[i]);
  free (c->mounts);
  for (int k = 0; k < OCI_HOOK_KINDS; k++)
    hooks_release (&c->hooks[k]);
  oci_kvs_release (&c->annotations);
  oci_linux_free (c->linux_);
  free (c);
}

const struct oci_namespace *
oci_config_namespace_entry (const struct oci_config *c, enum oci_ns_type t)
{
  if (c == NULL || c->linux_ == NULL)
    return NULL;
  for (size_t i = 0; i < c->linux_->n_namespaces; i++)
    if (c->linux_->namespaces[i].type == t)
      return &c->linux_->namespaces[i];
  return NULL;
}

const struct oci_namespace *
oci_config_namespace (const struct oci_config *c, enum oci_ns_type t)
{
  const struct oci_namespace *ns = oci_config_namespace_entry (c, t);
  return ns && ns->path == NULL ? ns : NULL;
}
