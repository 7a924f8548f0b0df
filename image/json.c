/* Bounded JSON for image documents: yajl_tree after a depth check (its
 * tree free is recursive), and yajl_gen for writing. */
#include "image-internal.h"

#define MAX_DEPTH 64

/* Nesting depth outside strings; also refuses NUL bytes. */
static int
check_shape (const char *buf, size_t len, const char *doc, hull_error_t *err)
{
  int depth = 0;
  bool in_str = false;
  for (size_t i = 0; i < len; i++)
    {
      char c = buf[i];
      if (c == '\0')
        return hull_make_error (err, 0, "%s: a NUL byte at offset %zu", doc, i);
      if (in_str)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_str = false;
          continue;
        }
      if (c == '"')
        in_str = true;
      else if (c == '{' || c == '[')
        {
          if (++depth > MAX_DEPTH)
            return hull_make_error (err, 0, "%s: nested deeper than %d levels", doc, MAX_DEPTH);
        }
      else if (c == '}' || c == ']')
        depth--;
    }
  return 0;
}

int
img_json_parse (const char *buf, size_t len, const char *doc, yajl_val *out, hull_error_t *err)
{
  if (check_shape (buf, len, doc, err) < 0)
    return -1;
  cleanup_free char *copy = xstrndup (buf, len);
  char msg[256] = "";
  yajl_val v = yajl_tree_parse (copy, msg, sizeof (msg));
  if (v == NULL)
    {
      char *nl = strchr (msg, '\n');
      if (nl)
        *nl = '\0';
      return hull_make_error (err, 0, "%s: invalid JSON: %s", doc, msg[0] ? msg : "parse error");
    }
  *out = v;
  return 0;
}

void
img_json_freep (yajl_val *v)
{
  if (*v)
    yajl_tree_free (*v);
}

yajl_val
img_json_get (yajl_val obj, const char *key)
{
  if (obj == NULL || !YAJL_IS_OBJECT (obj))
    return NULL;
  for (size_t i = 0; i < obj->u.object.len; i++)
    if (strcmp (obj->u.object.keys[i], key) == 0)
      return YAJL_IS_NULL (obj->u.object.values[i]) ? NULL : obj->u.object.values[i];
  return NULL;
}

const char *
img_json_str (yajl_val obj, const char *key)
{
  yajl_val v = img_json_get (obj, key);
  return v && YAJL_IS_STRING (v) ? IMG_STR (v) : NULL;
}

int
img_json_req_str (yajl_val obj, const char *key, const char *doc, const char **out, hull_error_t *err)
{
  yajl_val v = img_json_get (obj, key);
  if (v == NULL)
    return hull_make_error (err, 0, "%s: `%s` is missing", doc, key);
  if (!YAJL_IS_STRING (v))
    return hull_make_error (err, 0, "%s: `%s`: expected a string", doc, key);
  *out = IMG_STR (v);
  return 0;
}

int
img_json_size (yajl_val obj, const char *key, const char *doc, int64_t *out, hull_error_t *err)
{
  yajl_val v = img_json_get (obj, key);
  *out = -1;
  if (v == NULL)
    return 0;
  if (!YAJL_IS_INTEGER (v) || YAJL_GET_INTEGER (v) < 0)
    return hull_make_error (err, 0, "%s: `%s`: expected a non-negative integer", doc, key);
  *out = YAJL_GET_INTEGER (v);
  return 0;
}

yajl_gen
img_gen_new (bool pretty)
{
  yajl_gen g = yajl_gen_alloc (NULL);
  if (g == NULL)
    abort ();
  yajl_gen_config (g, yajl_gen_beautify, pretty ? 1 : 0);
  yajl_gen_config (g, yajl_gen_validate_utf8, 0);
  return g;
}

void
img_gen_str (yajl_gen g, const char *s)
{
  yajl_gen_string (g, (const unsigned char *)s, strlen (s));
}

void
img_gen_kv (yajl_gen g, const char *k, const char *v)
{
  if (v == NULL)
    return;
  img_gen_str (g, k);
  img_gen_str (g, v);
}

void
img_gen_strv (yajl_gen g, const char *k, char *const *v, size_t n)
{
  img_gen_str (g, k);
  yajl_gen_array_open (g);
  for (size_t i = 0; i < n; i++)
    img_gen_str (g, v[i]);
  yajl_gen_array_close (g);
}

void
img_gen_value (yajl_gen g, yajl_val v)
{
  if (v == NULL || YAJL_IS_NULL (v))
    yajl_gen_null (g);
  else if (YAJL_IS_STRING (v))
    img_gen_str (g, IMG_STR (v));
  else if (YAJL_IS_NUMBER (v))
    yajl_gen_number (g, YAJL_GET_NUMBER (v), strlen (YAJL_GET_NUMBER (v)));
  else if (YAJL_IS_TRUE (v))
    yajl_gen_bool (g, 1);
  else if (YAJL_IS_FALSE (v))
    yajl_gen_bool (g, 0);
  else if (YAJL_IS_OBJECT (v))
    {
      yajl_gen_map_open (g);
      for (size_t i = 0; i < v->u.object.len; i++)
        {
          img_gen_str (g, v->u.object.keys[i]);
          img_gen_value (g, v->u.object.values[i]);
        }
      yajl_gen_map_close (g);
    }
  else if (YAJL_IS_ARRAY (v))
    {
      yajl_gen_array_open (g);
      for (size_t i = 0; i < v->u.array.len; i++)
        img_gen_value (g, v->u.array.values[i]);
      yajl_gen_array_close (g);
    }
}

char *
img_gen_finish (yajl_gen g, size_t *len)
{
  const unsigned char *buf;
  size_t n;
  yajl_gen_get_buf (g, &buf, &n);
  char *out = xstrndup ((const char *)buf, n);
  if (len)
    *len = n;
  yajl_gen_free (g);
  return out;
}

char **
img_json_strv (yajl_val a)
{
  char **v = xmalloc0 (sizeof (char *));
  for (size_t i = 0; a && YAJL_IS_ARRAY (a) && i < a->u.array.len; i++)
    if (YAJL_IS_STRING (a->u.array.values[i]))
      strv_append (&v, IMG_STR (a->u.array.values[i]));
  return v;
}
