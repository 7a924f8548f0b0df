/* Typed getters over the JSON tree: each checks the type and the range and
 * names the JSON path in its error. */
#include "oci-internal.h"

#include <inttypes.h>

int
oci_jv_expect (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, enum oci_jtype t)
{
  if (v->type == t)
    return 0;
  return oci_fail (cx, p, "expected %s, got %s", oci_jtype_name (t), oci_jtype_name (v->type));
}

int
oci_jv_str (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, char **out)
{
  if (oci_jv_expect (cx, v, p, OCI_J_STRING) < 0)
    return -1;
  free (*out);
  *out = xstrdup (v->s);
  return 0;
}

int
oci_jv_bool (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, bool *out)
{
  if (oci_jv_expect (cx, v, p, OCI_J_BOOL) < 0)
    return -1;
  *out = v->b;
  return 0;
}

/* A number as written, cut short for messages. */
#define NUM_SHOWN 40
static const char *
shown (const struct oci_jv *v, char buf[NUM_SHOWN + 4])
{
  if (strlen (v->s) <= NUM_SHOWN)
    return v->s;
  snprintf (buf, NUM_SHOWN + 4, "%.*s...", NUM_SHOWN, v->s);
  return buf;
}

/* yajl hands numbers over as written; fractions and exponents are refused
 * rather than rounded, as Go's encoding/json does for integer fields. */
static int
expect_integer (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p)
{
  if (v->type != OCI_J_NUMBER)
    return oci_fail (cx, p, "expected an integer, got %s", oci_jtype_name (v->type));
  char buf[NUM_SHOWN + 4];
  if (strpbrk (v->s, ".eE") != NULL)
    return oci_fail (cx, p, "expected an integer, got %s", shown (v, buf));
  return 0;
}

int
oci_jv_i64 (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, int64_t min,
            int64_t max, int64_t *out)
{
  if (expect_integer (cx, v, p) < 0)
    return -1;
  char *end;
  errno = 0;
  long long r = strtoll (v->s, &end, 10);
  char buf[NUM_SHOWN + 4];
  if (errno != 0 || *end != '\0' || r < min || r > max)
    return oci_fail (cx, p, "%s is out of range (%" PRId64 "..%" PRId64 ")", shown (v, buf), min, max);
  *out = r;
  return 0;
}

int
oci_jv_u64 (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, uint64_t max,
            uint64_t *out)
{
  if (expect_integer (cx, v, p) < 0)
    return -1;
  char *end;
  errno = 0;
  unsigned long long r = strtoull (v->s, &end, 10);
  /* strtoull accepts "-1" as ULLONG_MAX; "-0" is the only negative allowed. */
  bool negative = v->s[0] == '-' && r != 0;
  char buf[NUM_SHOWN + 4];
  if (negative || errno != 0 || *end != '\0' || r > max)
    return oci_fail (cx, p, "%s is out of range (0..%" PRIu64 ")", shown (v, buf), max);
  *out = r;
  return 0;
}

int
oci_jv_strv (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, char ***out)
{
  if (oci_jv_expect (cx, v, p, OCI_J_ARRAY) < 0)
    return -1;
  strv_free (*out);
  *out = xmalloc0 ((v->n + 1) * sizeof (char *));
  for (size_t i = 0; i < v->n; i++)
    {
      struct oci_path ep = OCI_IDX (p, i);
      if (oci_jv_str (cx, v->items[i], &ep, &(*out)[i]) < 0)
        return -1;
    }
  return 0;
}

void
oci_kvs_add (struct oci_kvs *kvs, const char *key, const char *value)
{
  kvs->v = xreallocarray (kvs->v, kvs->n + 1, sizeof (*kvs->v));
  kvs->v[kvs->n].key = xstrdup (key);
  kvs->v[kvs->n].value = xstrdup (value);
  kvs->n++;
}

void
oci_kvs_release (struct oci_kvs *kvs)
{
  for (size_t i = 0; i < kvs->n; i++)
    {
      free (kvs->v[i].key);
      free (kvs->v[i].value);
    }
  free (kvs->v);
  kvs->v = NULL;
  kvs->n = 0;
}

const char *
oci_kvs_get (const struct oci_kvs *kvs, const char *key)
{
  for (size_t i = 0; kvs && i < kvs->n; i++)
    if (strcmp (kvs->v[i].key, key) == 0)
      return kvs->v[i].value;
  return NULL;
}

int
oci_jv_kvs (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, struct oci_kvs *out)
{
  if (oci_jv_expect (cx, v, p, OCI_J_OBJECT) < 0)
    return -1;
  oci_kvs_release (out);
  for (size_t i = 0; i < v->n; i++)
    {
      struct oci_path ep = OCI_KEY (p, v->keys[i]);
      if (oci_jv_expect (cx, v->items[i], &ep, OCI_J_STRING) < 0)
        return -1;
      oci_kvs_add (out, v->keys[i], v->items[i]->s);
    }
  return 0;
}

/* ---- member getters ----------------------------------------------------- */

static const struct oci_jv *
member (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p, const char *key,
        bool required, int *ret)
{
  const struct oci_jv *v = oci_jv_member (obj, key);
  *ret = v ? 1 : 0;
  if (v == NULL && required)
    {
      struct oci_path kp = OCI_KEY (p, key);
      *ret = oci_fail (cx, &kp, "required field missing");
    }
  return v;
}

/* Looks the member up and runs CONVERT (an expression using v and kp) on it. */
#define GET_MEMBER(CONVERT)                                                                                  \
  do                                                                                                         \
    {                                                                                                        \
      int ret_;                                                                                              \
      const struct oci_jv *v = member (cx, obj, p, key, required, &ret_);                                    \
      if (v == NULL)                                                                                         \
        return ret_;                                                                                         \
      struct oci_path kp = OCI_KEY (p, key);                                                                 \
      return (CONVERT) < 0 ? -1 : 1;                                                                         \
    }                                                                                                        \
  while (0)

int
oci_get_str (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p, const char *key,
             bool required, char **out)
{
  GET_MEMBER (oci_jv_str (cx, v, &kp, out));
}

int
oci_get_bool (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p, const char *key,
              bool required, bool *out)
{
  GET_MEMBER (oci_jv_bool (cx, v, &kp, out));
}

int
oci_get_i64 (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p, const char *key,
             bool required, int64_t min, int64_t max, int64_t *out)
{
  GET_MEMBER (oci_jv_i64 (cx, v, &kp, min, max, out));
}

int
oci_get_u64 (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p, const char *key,
             bool required, uint64_t max, uint64_t *out)
{
  GET_MEMBER (oci_jv_u64 (cx, v, &kp, max, out));
}

int
oci_get_u32 (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p, const char *key,
             bool required, uint32_t *out)
{
  uint64_t v = 0;
  int r = oci_get_u64 (cx, obj, p, key, required, UINT32_MAX, &v);
  if (r > 0)
    *out = (uint32_t)v;
  return r;
}

int
oci_get_strv (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p, const char *key,
              bool required, char ***out)
{
  GET_MEMBER (oci_jv_strv (cx, v, &kp, out));
}

int
oci_get_kvs (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p, const char *key,
             struct oci_kvs *out)
{
  bool required = false;
  GET_MEMBER (oci_jv_kvs (cx, v, &kp, out));
}

int
oci_get_obj (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p, const char *key,
             bool required, const struct oci_jv **out)
{
  *out = NULL;
  GET_MEMBER (oci_jv_expect (cx, v, &kp, OCI_J_OBJECT) < 0 ? -1 : (*out = v, 0));
}

int
oci_get_arr (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p, const char *key,
             bool required, const struct oci_jv **out)
{
  *out = NULL;
  GET_MEMBER (oci_jv_expect (cx, v, &kp, OCI_J_ARRAY) < 0 ? -1 : (*out = v, 0));
}

int
oci_get_opt_i64 (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p,
                 const char *key, int64_t min, int64_t max, oci_i64 *out)
{
  int r = oci_get_i64 (cx, obj, p, key, false, min, max, &out->v);
  out->set = r > 0;
  return r;
}

int
oci_get_opt_u64 (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p,
                 const char *key, uint64_t max, oci_u64 *out)
{
  int r = oci_get_u64 (cx, obj, p, key, false, max, &out->v);
  out->set = r > 0;
  return r;
}

int
oci_get_opt_bool (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p,
                  const char *key, oci_bool *out)
{
  int r = oci_get_bool (cx, obj, p, key, false, &out->v);
  out->set = r > 0;
  return r;
}

int
oci_get_array_of (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p,
                  const char *key, size_t size, oci_elem_fn fn, void **out, size_t *n)
{
  const struct oci_jv *arr;
  int r = oci_get_arr (cx, obj, p, key, false, &arr);
  if (r <= 0)
    return r;
  struct oci_path kp = OCI_KEY (p, key);
  *out = xmalloc0 (arr->n * size);
  *n = arr->n;
  for (size_t i = 0; i < arr->n; i++)
    {
      struct oci_path ep = OCI_IDX (&kp, i);
      if (oci_jv_expect (cx, arr->items[i], &ep, OCI_J_OBJECT) < 0)
        return -1;
      if (fn (cx, arr->items[i], &ep, (char *)*out + i * size) < 0)
        return -1;
    }
  return 1;
}
