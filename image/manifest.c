/* From a source to an import plan: index.json (following nested indexes,
 * choosing by --ref and linux/amd64), the manifest and the config, each
 * verified against the digest and size that refer to it; or docker's
 * manifest.json, whose layers are checked later against the config's
 * diff-ids. */
#include "image-internal.h"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define REF_ANNOTATION "org.opencontainers.image.ref.name"
#define MAX_INDEX_DEPTH 4

static const char *const layer_types[] = {
  "application/vnd.oci.image.layer.v1.tar",
  "application/vnd.oci.image.layer.v1.tar+gzip",
  "application/vnd.oci.image.layer.v1.tar+zstd",
  "application/vnd.oci.image.layer.nondistributable.v1.tar",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  "application/vnd.docker.image.rootfs.diff.tar.gzip",
  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  "application/vnd.docker.image.rootfs.diff.tar",
  NULL,
};

struct cand
{
  char *digest, *ref, *os, *arch;
  int64_t size;
};

struct cands
{
  struct cand *v;
  size_t n;
};

static void
cands_release (struct cands *c)
{
  for (size_t i = 0; i < c->n; i++)
    {
      free (c->v[i].digest);
      free (c->v[i].ref);
      free (c->v[i].os);
      free (c->v[i].arch);
    }
  free (c->v);
}

static int
collect (struct img_source *src, yajl_val index, const char *doc, const char *parent_ref, int depth,
         struct cands *out, hull_error_t *err)
{
  yajl_val ms = img_json_get (index, "manifests");
  if (ms == NULL || !YAJL_IS_ARRAY (ms))
    return hull_make_error (err, 0, "%s: `manifests` must be an array", doc);
  for (size_t i = 0; i < ms->u.array.len; i++)
    {
      yajl_val m = ms->u.array.values[i];
      const char *digest, *mt = img_json_str (m, "mediaType");
      int64_t size;
      cleanup_free char *what = hull_fmt ("%s: manifests[%zu]", doc, i);
      if (img_json_req_str (m, "digest", what, &digest, err) < 0 || img_digest_check (digest, what, err) < 0
          || img_json_size (m, "size", what, &size, err) < 0)
        return -1;
      const char *ref = img_json_str (img_json_get (m, "annotations"), REF_ANNOTATION);
      if (ref == NULL)
        ref = parent_ref;
      if (mt && (strcmp (mt, MT_OCI_INDEX) == 0 || strcmp (mt, MT_DOCKER_LIST) == 0))
        {
          if (depth >= MAX_INDEX_DEPTH)
            return hull_make_error (err, 0, "%s: indexes nested deeper than %d", what, MAX_INDEX_DEPTH);
          cleanup_free char *buf = NULL;
          size_t len;
          cleanup_json yajl_val sub = NULL;
          cleanup_free char *subdoc = hull_fmt ("index %s", digest);
          if (img_source_read_verified (src, digest, size, "index", &buf, &len, err) < 0
              || img_json_parse (buf, len, subdoc, &sub, err) < 0
              || collect (src, sub, subdoc, ref, depth + 1, out, err) < 0)
            return -1;
          continue;
        }
      if (mt && strcmp (mt, MT_OCI_MANIFEST) != 0 && strcmp (mt, MT_DOCKER_MANIFEST) != 0)
        continue; /* not an image (signatures, attestations, other artifacts) */
      yajl_val plat = img_json_get (m, "platform");
      out->v = xreallocarray (out->v, out->n + 1, sizeof (struct cand));
      out->v[out->n++] = (struct cand){ xstrdup (digest), xstrdup (ref), xstrdup (img_json_str (plat, "os")),
                                        xstrdup (img_json_str (plat, "architecture")), size };
    }
  return 0;
}

static bool
platform_ok (const struct cand *c)
{
  return (c->os == NULL || strcmp (c->os, "linux") == 0)
         && (c->arch == NULL || strcmp (c->arch, "amd64") == 0);
}

static int
choose (struct cands *c, const char *ref, const char *src, size_t *pick, hull_error_t *err)
{
  size_t found = 0, n_ref = 0;
  for (size_t i = 0; i < c->n; i++)
    {
      if (ref && (c->v[i].ref == NULL || strcmp (c->v[i].ref, ref) != 0))
        continue;
      n_ref++;
      if (!platform_ok (&c->v[i]))
        continue;
      if (found && strcmp (c->v[*pick].digest, c->v[i].digest) == 0)
        continue;
      *pick = i;
      found++;
    }
  if (found == 1)
    return 0;
  if (ref && n_ref == 0)
    return hull_make_error (err, 0, "`%s`: no image is named `%s` in its index.json", src, ref);
  if (found == 0)
    return hull_make_error (err, 0, "`%s`: no linux/amd64 image in its index.json (%zu other%s)", src, n_ref,
                            n_ref == 1 ? "" : "s");
  return hull_make_error (err, 0, "`%s`: %zu images in index.json; choose one with --ref NAME", src, found);
}

int
img_config_check (yajl_val config, size_t n_layers, const char ***diff_ids, hull_error_t *err)
{
  const char *os = img_json_str (config, "os"), *arch = img_json_str (config, "architecture");
  if (os == NULL || strcmp (os, "linux") != 0 || arch == NULL || strcmp (arch, "amd64") != 0)
    return hull_make_error (err, 0, "image config: the image is for %s/%s; this host runs linux/amd64",
                            os ? os : "?", arch ? arch : "?");
  yajl_val rootfs = img_json_get (config, "rootfs");
  const char *type = img_json_str (rootfs, "type");
  yajl_val ids = img_json_get (rootfs, "diff_ids");
  if (type == NULL || strcmp (type, "layers") != 0 || ids == NULL || !YAJL_IS_ARRAY (ids))
    return hull_make_error (err, 0,
                            "image config: `rootfs` must be {\"type\": \"layers\", \"diff_ids\": [...]}");
  if (ids->u.array.len != n_layers)
    return hull_make_error (err, 0, "image config: %zu diff_ids for %zu layers", ids->u.array.len, n_layers);
  const char **v = xmalloc0 ((n_layers + 1) * sizeof (char *));
  for (size_t i = 0; i < n_layers; i++)
    {
      yajl_val d = ids->u.array.values[i];
      if (!YAJL_IS_STRING (d) || img_digest_check (IMG_STR (d), "image config: rootfs.diff_ids", err) < 0)
        {
          free (v);
          return YAJL_IS_STRING (d) ? -1 : hull_make_error (err, 0, "image config: rootfs.diff_ids[%zu]", i);
        }
      v[i] = IMG_STR (d);
    }
  *diff_ids = v;
  return 0;
}

/* Fills plan->config_* and the layers' diff-ids from the config bytes. */
static int
load_config (struct img_plan *p, hull_error_t *err)
{
  cleanup_json yajl_val cfg = NULL;
  cleanup_free const char **ids = NULL;
  if (img_json_parse (p->config_json, p->config_len, "image config", &cfg, err) < 0
      || img_config_check (cfg, p->n_layers, &ids, err) < 0)
    return -1;
  for (size_t i = 0; i < p->n_layers; i++)
    p->layers[i].diff_id = xstrdup (ids[i]);
  return 0;
}

static bool
known_layer_type (const char *mt)
{
  for (size_t i = 0; layer_types[i]; i++)
    if (strcmp (mt, layer_types[i]) == 0)
      return true;
  return false;
}

static int
oci_manifest (struct img_source *src, const struct cand *c, struct img_plan *p, hull_error_t *err)
{
  cleanup_free char *buf = NULL;
  size_t len;
  cleanup_json yajl_val m = NULL;
  cleanup_free char *doc = hull_fmt ("manifest %s", c->digest);
  if (img_source_read_verified (src, c->digest, c->size, "manifest", &buf, &len, err) < 0
      || img_json_parse (buf, len, doc, &m, err) < 0)
    return -1;
  const char *mt = img_json_str (m, "mediaType");
  if (mt && strcmp (mt, MT_OCI_MANIFEST) != 0 && strcmp (mt, MT_DOCKER_MANIFEST) != 0)
    return hull_make_error (err, 0, "%s: media type `%.100s` is not an image manifest", doc, mt);
  yajl_val config = img_json_get (m, "config"), layers = img_json_get (m, "layers");
  const char *cdigest;
  int64_t csize;
  if (img_json_req_str (config, "digest", doc, &cdigest, err) < 0
      || img_json_size (config, "size", doc, &csize, err) < 0)
    return -1;
  const char *cmt = img_json_str (config, "mediaType");
  if (cmt && strcmp (cmt, MT_OCI_CONFIG) != 0 && strcmp (cmt, MT_DOCKER_CONFIG) != 0)
    return hull_make_error (err, 0, "%s: config media type `%.100s` is not an image config", doc, cmt);
  if (layers == NULL || !YAJL_IS_ARRAY (layers))
    return hull_make_error (err, 0, "%s: `layers` must be an array", doc);
  p->manifest_digest = xstrdup (c->digest);
  p->n_layers = layers->u.array.len;
  p->layers = xmalloc0 ((p->n_layers + 1) * sizeof (*p->layers));
  for (size_t i = 0; i < p->n_layers; i++)
    {
      yajl_val l = layers->u.array.values[i];
      const char *d, *lmt;
      cleanup_free char *what = hull_fmt ("%s: layers[%zu]", doc, i);
      if (img_json_req_str (l, "mediaType", what, &lmt, err) < 0
          || img_json_req_str (l, "digest", what, &d, err) < 0 || img_digest_check (d, what, err) < 0
          || img_json_size (l, "size", what, &p->layers[i].size, err) < 0)
        return -1;
      if (!known_layer_type (lmt))
        return hull_make_error (err, 0, "%s: media type `%.100s` is not supported (tar, tar+gzip, tar+zstd)",
                                what, lmt);
      p->layers[i].digest = xstrdup (d);
      p->layers[i].blob = img_blob_name (d);
      p->layers[i].media_type = xstrdup (lmt);
    }
  if (img_source_read_verified (src, cdigest, csize, "config", &p->config_json, &p->config_len, err) < 0)
    return -1;
  memcpy (p->config_digest, cdigest, IMG_DIGEST_LEN);
  p->name = xstrdup (c->ref);
  return load_config (p, err);
}

static int
plan_oci (struct img_source *src, const char *ref, struct img_plan *p, hull_error_t *err)
{
  cleanup_free char *buf = NULL;
  size_t len;
  cleanup_json yajl_val index = NULL;
  if (img_source_read (src, "index.json", IMG_JSON_MAX, &buf, &len, err) < 0
      || img_json_parse (buf, len, "index.json", &index, err) < 0)
    return -1;
  struct cands c = { 0 };
  size_t pick = 0;
  int r = collect (src, index, "index.json", NULL, 0, &c, err);
  if (r == 0)
    r = choose (&c, ref, img_source_path (src), &pick, err);
  if (r == 0)
    r = oci_manifest (src, &c.v[pick], p, err);
  cands_release (&c);
  return r;
}

/* docker's Config is "HEX.json" (docker <= 24, skopeo, podman) or
 * "blobs/sha256/HEX" (docker 25): then the name is its digest. */
static const char *
hex_in_name (const char *name)
{
  const char *b = strrchr (name, '/');
  b = b ? b + 1 : name;
  static __thread char hex[65];
  if (strlen (b) < 64)
    return NULL;
  memcpy (hex, b, 64);
  hex[64] = '\0';
  if (!img_hex64_valid (hex)
      || !(b[64] == '\0' || strcmp (b + 64, ".json") == 0 || strcmp (b + 64, ".tar") == 0))
    return NULL;
  return hex;
}

static yajl_val
docker_pick (yajl_val list, const char *ref, hull_error_t *err)
{
  if (list == NULL || !YAJL_IS_ARRAY (list) || list->u.array.len == 0)
    return hull_make_error (err, 0, "manifest.json: expected a non-empty array"), NULL;
  if (ref == NULL)
    {
      if (list->u.array.len > 1)
        return hull_make_error (err, 0, "manifest.json: %zu images; choose one with --ref NAME:TAG",
                                list->u.array.len),
               NULL;
      return list->u.array.values[0];
    }
  for (size_t i = 0; i < list->u.array.len; i++)
    {
      yajl_val tags = img_json_get (list->u.array.values[i], "RepoTags");
      for (size_t j = 0; tags && YAJL_IS_ARRAY (tags) && j < tags->u.array.len; j++)
        if (YAJL_IS_STRING (tags->u.array.values[j]) && strcmp (IMG_STR (tags->u.array.values[j]), ref) == 0)
          return list->u.array.values[i];
    }
  return hull_make_error (err, 0, "manifest.json: no image is tagged `%s`", ref), NULL;
}

static int
plan_docker (struct img_source *src, const char *ref, struct img_plan *p, hull_error_t *err)
{
  cleanup_free char *buf = NULL;
  size_t len;
  cleanup_json yajl_val list = NULL;
  if (img_source_read (src, "manifest.json", IMG_JSON_MAX, &buf, &len, err) < 0
      || img_json_parse (buf, len, "manifest.json", &list, err) < 0)
    return -1;
  yajl_val m = docker_pick (list, ref, err);
  const char *config;
  if (m == NULL || img_json_req_str (m, "Config", "manifest.json", &config, err) < 0)
    return -1;
  yajl_val layers = img_json_get (m, "Layers");
  if (layers == NULL || !YAJL_IS_ARRAY (layers))
    return hull_make_error (err, 0, "manifest.json: `Layers` must be an array");
  p->n_layers = layers->u.array.len;
  p->layers = xmalloc0 ((p->n_layers + 1) * sizeof (*p->layers));
  for (size_t i = 0; i < p->n_layers; i++)
    {
      yajl_val l = layers->u.array.values[i];
      if (!YAJL_IS_STRING (l))
        return hull_make_error (err, 0, "manifest.json: Layers[%zu]: expected a string", i);
      const char *hex = hex_in_name (IMG_STR (l));
      p->layers[i].blob = xstrdup (IMG_STR (l));
      p->layers[i].size = -1;
      /* docker 25 names layer blobs by digest; older formats carry none. */
      p->layers[i].digest
          = hex && hull_str_has_prefix (IMG_STR (l), "blobs/sha256/") ? hull_fmt ("sha256:%s", hex) : NULL;
      p->layers[i].media_type = xstrdup ("application/vnd.docker.image.rootfs.diff.tar");
    }
  if (img_source_read (src, config, IMG_JSON_MAX, &p->config_json, &p->config_len, err) < 0)
    return hull_error_wrap (err, "manifest.json: Config");
  img_sha256_buf (p->config_json, p->config_len, p->config_digest);
  const char *hex = hex_in_name (config);
  if (hex && strcmp (hex, p->config_digest + 7) != 0)
    return hull_make_error (err, 0, "config `%s`: digest mismatch: its name says sha256:%s, its bytes are %s",
                            config, hex, p->config_digest);
  yajl_val tags = img_json_get (m, "RepoTags");
  if (tags && YAJL_IS_ARRAY (tags) && tags->u.array.len && YAJL_IS_STRING (tags->u.array.values[0]))
    p->name = xstrdup (ref ? ref : IMG_STR (tags->u.array.values[0]));
  return load_config (p, err);
}

int
img_plan_build (struct img_source *src, const char *ref, struct img_plan *plan, hull_error_t *err)
{
  memset (plan, 0, sizeof (*plan));
  int r;
  if (img_source_has (src, "index.json"))
    r = plan_oci (src, ref, plan, err);
  else if (img_source_has (src, "manifest.json"))
    r = plan_docker (src, ref, plan, err);
  else
    return hull_make_error (err, 0,
                            "`%s`: neither an OCI image layout (index.json) nor a docker-archive "
                            "(manifest.json)",
                            img_source_path (src));
  if (r < 0)
    img_plan_release (plan);
  return r;
}

void
img_plan_release (struct img_plan *p)
{
  free (p->config_json);
  free (p->manifest_digest);
  free (p->name);
  for (size_t i = 0; i < p->n_layers && p->layers; i++)
    {
      free (p->layers[i].blob);
      free (p->layers[i].digest);
      free (p->layers[i].diff_id);
      free (p->layers[i].media_type);
    }
  free (p->layers);
  memset (p, 0, sizeof (*p));
}
