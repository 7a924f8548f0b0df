/* A JSON tree built with yajl's callback parser.  yajl_tree would do, but it
 * needs a NUL-terminated buffer, keeps duplicate keys, has no depth limit
 * and reports no line numbers; this builder does all four. */
#include "oci-internal.h"

#include <yajl/yajl_parse.h>

struct builder
{
  struct oci_jv *root;
  struct oci_jv *stack[OCI_JSON_MAX_DEPTH];
  size_t depth;
  char *msg; /* why a callback cancelled the parse */
};

void
oci_json_free (struct oci_jv *v)
{
  if (v == NULL)
    return;
  for (size_t i = 0; i < v->n; i++)
    {
      if (v->keys)
        free (v->keys[i]);
      oci_json_free (v->items[i]);
    }
  free (v->keys);
  free (v->items);
  free (v->s);
  free (v);
}

void
oci_json_freep (struct oci_jv **v)
{
  oci_json_free (*v);
}

static struct oci_jv *
jv_new (enum oci_jtype t)
{
  struct oci_jv *v = xmalloc0 (sizeof (*v));
  v->type = t;
  return v;
}

static void
jv_grow (struct oci_jv *c)
{
  if (c->n < c->cap)
    return;
  c->cap = c->cap ? c->cap * 2 : 4;
  c->items = xreallocarray (c->items, c->cap, sizeof (*c->items));
  if (c->type == OCI_J_OBJECT)
    c->keys = xreallocarray (c->keys, c->cap, sizeof (*c->keys));
}

static int
cancel (struct builder *b, const char *msg)
{
  free (b->msg);
  b->msg = xstrdup (msg);
  return 0;
}

/* Links v into the current container (its key was added by map_key). */
static int
attach (struct builder *b, struct oci_jv *v)
{
  if (b->depth == 0)
    {
      if (b->root != NULL)
        {
          oci_json_free (v);
          return cancel (b, "more than one top-level value");
        }
      b->root = v;
      return 1;
    }
  struct oci_jv *c = b->stack[b->depth - 1];
  if (c->type == OCI_J_OBJECT)
    c->items[c->n - 1] = v;
  else
    {
      jv_grow (c);
      c->items[c->n++] = v;
    }
  return 1;
}

static int
on_null (void *ctx)
{
  return attach (ctx, jv_new (OCI_J_NULL));
}

static int
on_bool (void *ctx, int val)
{
  struct oci_jv *v = jv_new (OCI_J_BOOL);
  v->b = val != 0;
  return attach (ctx, v);
}

static int
on_number (void *ctx, const char *s, size_t len)
{
  struct oci_jv *v = jv_new (OCI_J_NUMBER);
  v->s = xstrndup (s, len);
  return attach (ctx, v);
}

/* A NUL inside a string would silently cut paths and names short. */
static char *
dup_string (struct builder *b, const unsigned char *s, size_t len)
{
  if (memchr (s, '\0', len) != NULL)
    {
      cancel (b, "string contains a NUL character");
      return NULL;
    }
  return xstrndup ((const char *)s, len);
}

static int
on_string (void *ctx, const unsigned char *s, size_t len)
{
  char *str = dup_string (ctx, s, len);
  if (str == NULL)
    return 0;
  struct oci_jv *v = jv_new (OCI_J_STRING);
  v->s = str;
  return attach (ctx, v);
}

static int
push (struct builder *b, enum oci_jtype t)
{
  if (b->depth == OCI_JSON_MAX_DEPTH)
    return cancel (b, "nesting too deep");
  struct oci_jv *v = jv_new (t);
  if (!attach (b, v))
    return 0;
  b->stack[b->depth++] = v;
  return 1;
}

static int
on_start_map (void *ctx)
{
  return push (ctx, OCI_J_OBJECT);
}

static int
on_start_array (void *ctx)
{
  return push (ctx, OCI_J_ARRAY);
}

static int
on_map_key (void *ctx, const unsigned char *s, size_t len)
{
  struct builder *b = ctx;
  struct oci_jv *c = b->stack[b->depth - 1];
  char *key = dup_string (b, s, len);
  if (key == NULL)
    return 0;
  jv_grow (c);
  c->keys[c->n] = key;
  c->items[c->n++] = NULL;
  return 1;
}

static int
cmp_keys (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* Duplicate keys are refused: parsers disagree on which one wins, and a
 * config must mean the same thing to every tool that reads it. */
static int
on_end_map (void *ctx)
{
  struct builder *b = ctx;
  struct oci_jv *c = b->stack[--b->depth];
  if (c->n < 2)
    return 1;
  cleanup_free char **sorted = xmalloc (c->n * sizeof (char *));
  memcpy (sorted, c->keys, c->n * sizeof (char *));
  qsort (sorted, c->n, sizeof (char *), cmp_keys);
  for (size_t i = 1; i < c->n; i++)
    if (strcmp (sorted[i - 1], sorted[i]) == 0)
      {
        cleanup_free char *q = oci_quote (sorted[i]);
        cleanup_free char *msg = hull_fmt ("duplicate key %s", q);
        return cancel (b, msg);
      }
  return 1;
}

static int
on_end_array (void *ctx)
{
  struct builder *b = ctx;
  b->depth--;
  return 1;
}

static const yajl_callbacks callbacks = {
  .yajl_null = on_null,
  .yajl_boolean = on_bool,
  .yajl_number = on_number,
  .yajl_string = on_string,
  .yajl_start_map = on_start_map,
  .yajl_map_key = on_map_key,
  .yajl_end_map = on_end_map,
  .yajl_start_array = on_start_array,
  .yajl_end_array = on_end_array,
};

static unsigned
line_at (const char *buf, size_t off)
{
  unsigned line = 1;
  for (size_t i = 0; i < off; i++)
    if (buf[i] == '\n')
      line++;
  return line;
}

static int
parse_error (yajl_handle h, struct builder *b, const char *buf, size_t off, const char *doc,
             hull_error_t *err)
{
  unsigned line = line_at (buf, off);
  if (b->msg)
    return hull_make_error (err, 0, "%s: line %u: %s", doc, line, b->msg);
  unsigned char *text = yajl_get_error (h, 0, NULL, 0);
  size_t tl = strlen ((char *)text);
  while (tl > 0 && (text[tl - 1] == '\n' || text[tl - 1] == ' '))
    text[--tl] = '\0';
  hull_make_error (err, 0, "%s: line %u: %s", doc, line, (char *)text);
  yajl_free_error (h, text);
  return -1;
}

static bool
is_blank (const char *buf, size_t len)
{
  for (size_t i = 0; i < len; i++)
    if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r' && buf[i] != '\n')
      return false;
  return true;
}

int
oci_json_parse (const char *buf, size_t len, const char *doc, struct oci_jv **out, hull_error_t *err)
{
  struct builder b = { 0 };
  int ret = 0;
  if (is_blank (buf, len))
    return hull_make_error (err, 0, "%s: empty document", doc);
  yajl_handle h = yajl_alloc (&callbacks, NULL, &b);
  if (h == NULL)
    abort ();
  yajl_status st = yajl_parse (h, (const unsigned char *)buf, len);
  if (st != yajl_status_ok)
    {
      size_t off = yajl_get_bytes_consumed (h);
      ret = parse_error (h, &b, buf, off > len ? len : off, doc, err);
    }
  else if (yajl_complete_parse (h) != yajl_status_ok)
    ret = parse_error (h, &b, buf, len, doc, err);
  yajl_free (h);
  free (b.msg);
  if (ret < 0)
    {
      oci_json_free (b.root);
      return ret;
    }
  *out = b.root;
  return 0;
}

/* ---- paths and messages ---------------------------------------------------- */

static bool
is_identifier (const char *k)
{
  if (*k == '\0' || (*k >= '0' && *k <= '9'))
    return false;
  for (; *k; k++)
    if (!(*k == '_' || (*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9')))
      return false;
  return true;
}

static void
path_write (FILE *f, const struct oci_path *p)
{
  if (p == NULL)
    return;
  path_write (f, p->up);
  if (p->key == NULL)
    fprintf (f, "[%zu]", p->index);
  else if (is_identifier (p->key))
    fprintf (f, "%s%s", p->up ? "." : "", p->key);
  else
    {
      cleanup_free char *q = oci_quote (p->key);
      fprintf (f, "[%s]", q);
    }
}

char *
oci_path_string (const struct oci_path *p)
{
  char *s = NULL;
  size_t sz = 0;
  FILE *f = open_memstream (&s, &sz);
  if (f == NULL)
    abort ();
  path_write (f, p);
  fclose (f);
  return s;
}

int
oci_fail (const struct oci_ctx *cx, const struct oci_path *p, const char *fmt, ...)
{
  cleanup_free char *msg = NULL;
  va_list ap;
  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) < 0)
    abort ();
  va_end (ap);
  if (p == NULL)
    return hull_make_error (cx->err, 0, "%s: %s", cx->doc, msg);
  cleanup_free char *path = oci_path_string (p);
  return hull_make_error (cx->err, 0, "%s: %s: %s", cx->doc, path, msg);
}

#define QUOTE_MAX 80

char *
oci_quote (const char *s)
{
  size_t len = strlen (s), n = len > QUOTE_MAX ? QUOTE_MAX : len;
  char *out = xmalloc (n * 4 + 8), *o = out;
  *o++ = '"';
  for (size_t i = 0; i < n; i++)
    {
      unsigned char c = (unsigned char)s[i];
      if (c == '"' || c == '\\')
        o += sprintf (o, "\\%c", c);
      else if (c < 0x20 || c == 0x7f)
        o += sprintf (o, "\\x%02x", c);
      else
        *o++ = (char)c;
    }
  *o++ = '"';
  if (len > n)
    o += sprintf (o, "...");
  *o = '\0';
  return out;
}

const char *
oci_jtype_name (enum oci_jtype t)
{
  switch (t)
    {
    case OCI_J_NULL:
      return "null";
    case OCI_J_BOOL:
      return "a boolean";
    case OCI_J_NUMBER:
      return "a number";
    case OCI_J_STRING:
      return "a string";
    case OCI_J_OBJECT:
      return "an object";
    case OCI_J_ARRAY:
      return "an array";
    }
  return "?";
}

const struct oci_jv *
oci_jv_member (const struct oci_jv *obj, const char *key)
{
  if (obj == NULL || obj->type != OCI_J_OBJECT)
    return NULL;
  for (size_t i = 0; i < obj->n; i++)
    if (strcmp (obj->keys[i], key) == 0)
      return obj->items[i]->type == OCI_J_NULL ? NULL : obj->items[i];
  return NULL;
}

int
oci_name_lookup (const struct oci_name *table, const char *name)
{
  for (; table->name; table++)
    if (strcmp (table->name, name) == 0)
      return table->value;
  return -1;
}

const char *
oci_name_of (const struct oci_name *table, int value)
{
  for (; table->name; table++)
    if (table->value == value)
      return table->name;
  return NULL;
}

int
oci_check_abs (const struct oci_ctx *cx, const struct oci_path *p, const char *path)
{
  if (path[0] == '/')
    return 0;
  cleanup_free char *q = oci_quote (path);
  return oci_fail (cx, p, "%s is not an absolute path", q);
}
