/* Internal to oci/: a small JSON tree built with yajl's callback parser,
 * typed getters that report errors with the document name and JSON path,
 * the per-section parsers and printers, and yajl_gen helpers. */
#ifndef HULL_OCI_INTERNAL_H
#define HULL_OCI_INTERNAL_H

#include "oci.h"

#include <yajl/yajl_gen.h>

/* ---- JSON tree (oci/json.c) ---------------------------------------------- */
/* Deeper documents are refused: config.json nests about 6 levels, and a
 * bound keeps every recursive walk over the tree safe. */
#define OCI_JSON_MAX_DEPTH 64

enum oci_jtype
{
  OCI_J_NULL,
  OCI_J_BOOL,
  OCI_J_NUMBER,
  OCI_J_STRING,
  OCI_J_OBJECT,
  OCI_J_ARRAY
};

struct oci_jv
{
  enum oci_jtype type;
  bool b;
  char *s;               /* string value, or a number's text as written */
  size_t n, cap;         /* members or elements */
  char **keys;           /* object member names (unique) */
  struct oci_jv **items; /* object member values, or array elements */
};

/* Parses buf[0..len) (no NUL needed).  Refuses invalid JSON, NUL characters
 * in strings, duplicate keys and nesting deeper than OCI_JSON_MAX_DEPTH;
 * errors read "DOC: line N: parse error: ...". */
int oci_json_parse (const char *buf, size_t len, const char *doc, struct oci_jv **out, hull_error_t *err);
void oci_json_free (struct oci_jv *v);
void oci_json_freep (struct oci_jv **v);
#define cleanup_jv __attribute__ ((cleanup (oci_json_freep)))

/* A JSON path as a chain of stack frames: no allocation unless an error is
 * reported.  `key` NULL means an array index. */
struct oci_path
{
  const struct oci_path *up;
  const char *key;
  size_t index;
};
#define OCI_KEY(upp, k) ((struct oci_path){ .up = (upp), .key = (k) })
#define OCI_IDX(upp, i) ((struct oci_path){ .up = (upp), .index = (i) })

struct oci_ctx
{
  const char *doc; /* "config.json" */
  hull_error_t *err;
};

/* "a.b[2].c" (keys that are not identifiers are written ["com.example"]). */
char *oci_path_string (const struct oci_path *p);
/* Fills the error with "DOC: PATH: message".  Returns -1. */
int oci_fail (const struct oci_ctx *cx, const struct oci_path *p, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
/* A quoted, escaped and length-bounded copy of s for messages. */
char *oci_quote (const char *s);

/* A member's value, or NULL when absent or null (the spec treats both the same). */
const struct oci_jv *oci_jv_member (const struct oci_jv *obj, const char *key);
const char *oci_jtype_name (enum oci_jtype t);

/* Value-level conversions: v is never NULL; p is v's path. */
int oci_jv_expect (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                   enum oci_jtype t);
int oci_jv_str (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, char **out);
int oci_jv_bool (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, bool *out);
int oci_jv_i64 (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, int64_t min,
                int64_t max, int64_t *out);
int oci_jv_u64 (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, uint64_t max,
                uint64_t *out);
int oci_jv_strv (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, char ***out);
int oci_jv_kvs (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                struct oci_kvs *out);

/* Member-level getters: return 1 when the member is present, 0 when it is
 * absent (an error if `required`), -1 on error.  `p` is obj's path. */
int oci_get_str (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p,
                 const char *key, bool required, char **out);
int oci_get_bool (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p,
                  const char *key, bool required, bool *out);
int oci_get_i64 (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p,
                 const char *key, bool required, int64_t min, int64_t max, int64_t *out);
int oci_get_u64 (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p,
                 const char *key, bool required, uint64_t max, uint64_t *out);
int oci_get_u32 (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p,
                 const char *key, bool required, uint32_t *out);
int oci_get_opt_i64 (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p,
                     const char *key, int64_t min, int64_t max, oci_i64 *out);
int oci_get_opt_u64 (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p,
                     const char *key, uint64_t max, oci_u64 *out);
int oci_get_opt_bool (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p,
                      const char *key, oci_bool *out);
int oci_get_strv (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p,
                  const char *key, bool required, char ***out);
int oci_get_kvs (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p,
                 const char *key, struct oci_kvs *out);
/* Type-checked object or array member. */
int oci_get_obj (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p,
                 const char *key, bool required, const struct oci_jv **out);
int oci_get_arr (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p,
                 const char *key, bool required, const struct oci_jv **out);

/* Parses an array member of objects into a zeroed array of `size`-byte
 * elements with `fn` (called with the element, already checked to be an
 * object, and its path).  On failure *out and *n still hold what was
 * allocated, so the caller's free function releases it. */
typedef int (*oci_elem_fn) (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                            void *dst);
int oci_get_array_of (const struct oci_ctx *cx, const struct oci_jv *obj, const struct oci_path *p,
                      const char *key, size_t size, oci_elem_fn fn, void **out, size_t *n);

/* In a parser with `cx`, `v` (an object) and `p` in scope: parses the
 * optional object member KEY with FN into a freshly allocated OUT. */
#define OCI_SUB_OBJECT(KEY, OUT, FN)                                                                         \
  do                                                                                                         \
    {                                                                                                        \
      const struct oci_jv *sv_;                                                                              \
      int r_ = oci_get_obj (cx, v, p, KEY, false, &sv_);                                                     \
      if (r_ < 0)                                                                                            \
        return -1;                                                                                           \
      if (r_ > 0)                                                                                            \
        {                                                                                                    \
          struct oci_path sp_ = OCI_KEY (p, KEY);                                                            \
          OUT = xmalloc0 (sizeof (*OUT));                                                                    \
          if (FN (cx, sv_, &sp_, OUT) < 0)                                                                   \
            return -1;                                                                                       \
        }                                                                                                    \
    }                                                                                                        \
  while (0)

/* Checks that a path value is absolute. */
int oci_check_abs (const struct oci_ctx *cx, const struct oci_path *p, const char *path);

/* Name <-> value tables for the enums of the spec. */
struct oci_name
{
  const char *name;
  int value;
};
int oci_name_lookup (const struct oci_name *table, const char *name); /* -1 when unknown */
const char *oci_name_of (const struct oci_name *table, int value);    /* NULL when unknown */

/* ---- sections (oci/config*.c, oci/process.c, oci/resources.c, oci/seccomp.c) - */
int oci_parse_process_into (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                            struct oci_process *out);
void oci_process_release (struct oci_process *p);
int oci_parse_id_mapping (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                          void *dst);
int oci_parse_linux (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                     struct oci_linux *out);
void oci_linux_free (struct oci_linux *l);
/* "rslave" etc. as written in linux.rootfsPropagation. */
const char *oci_propagation_name (enum oci_propagation p, bool recursive);
int oci_parse_resources_into (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                              struct oci_resources *out);
int oci_parse_seccomp (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                       struct oci_seccomp *out);
void oci_seccomp_free (struct oci_seccomp *s);
void oci_kvs_release (struct oci_kvs *kvs);
void oci_kvs_add (struct oci_kvs *kvs, const char *key, const char *value);

/* Seccomp name tables, shared with features. */
extern const struct oci_name oci_seccomp_actions[];
extern const struct oci_name oci_seccomp_ops[];
extern const char *const oci_seccomp_archs[];
extern const char *const oci_seccomp_flags[];

/* ---- printing (oci/gen.c, oci/print*.c) ----------------------------------------- */
yajl_gen oci_gen_new (bool pretty);
/* Returns the generated text (caller frees) and frees g. */
char *oci_gen_finish (yajl_gen g);
void oci_gen_str (yajl_gen g, const char *s);
void oci_gen_key (yajl_gen g, const char *key);
void oci_gen_key_str (yajl_gen g, const char *key, const char *s); /* skipped when s is NULL */
void oci_gen_key_i64 (yajl_gen g, const char *key, int64_t v);
void oci_gen_key_u64 (yajl_gen g, const char *key, uint64_t v);
void oci_gen_key_bool (yajl_gen g, const char *key, bool v);
void oci_gen_key_opt_i64 (yajl_gen g, const char *key, oci_i64 v);
void oci_gen_key_opt_u64 (yajl_gen g, const char *key, oci_u64 v);
void oci_gen_key_opt_bool (yajl_gen g, const char *key, oci_bool v);
void oci_gen_u64 (yajl_gen g, uint64_t v);
void oci_gen_key_strv (yajl_gen g, const char *key, char *const *v);           /* skipped when v is NULL */
void oci_gen_key_kvs (yajl_gen g, const char *key, const struct oci_kvs *kvs); /* skipped when empty */

void oci_gen_process (yajl_gen g, const struct oci_process *p);
void oci_gen_id_mappings (yajl_gen g, const char *key, const struct oci_id_mapping *m, size_t n);
void oci_gen_linux (yajl_gen g, const struct oci_linux *l);
void oci_gen_resources (yajl_gen g, const struct oci_resources *r);
void oci_gen_seccomp (yajl_gen g, const struct oci_seccomp *s);

#endif
