/* Internal to image/: digests, bounded JSON, import sources, plans, store
 * helpers.  Nothing here is for other modules. */
#ifndef HULL_IMAGE_INTERNAL_H
#define HULL_IMAGE_INTERNAL_H

#include "image.h"

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

/* ---- sha256 (image/sha256.c) and digests (image/digest.c) ---------------- */
struct img_sha256
{
  uint32_t state[8];
  uint64_t len;            /* bytes hashed so far */
  unsigned char block[64]; /* the partial block: len % 64 bytes */
  bool sha_ni;             /* the CPU's SHA instructions */
};
void img_sha256_init (struct img_sha256 *h);
void img_sha256_update (struct img_sha256 *h, const void *buf, size_t len);
void img_sha256_final_raw (struct img_sha256 *h, unsigned char md[32]);
/* Writes "sha256:HEX". */
void img_sha256_final (struct img_sha256 *h, char out[IMG_DIGEST_LEN]);
/* For the tests: hash with the portable code only (from the next init),
 * even on a CPU with SHA instructions; returns whether it has them. */
bool img_sha256_force_portable (bool on);
void img_sha256_buf (const void *buf, size_t len, char out[IMG_DIGEST_LEN]);
/* "sha256:" + 64 lowercase hex digits. */
bool img_digest_valid (const char *d);
bool img_hex64_valid (const char *h);
/* Refuses anything but a valid sha256 digest, naming `what`. */
int img_digest_check (const char *d, const char *what, hull_error_t *err);
/* A random hex string of 2*n_bytes digits. */
char *img_random_hex (size_t n_bytes);

/* ---- JSON (image/json.c) --------------------------------------------------- */
/* A string value already checked with YAJL_IS_STRING. */
#define IMG_STR(v) ((const char *)(v)->u.string)
#define IMG_JSON_MAX 4194304 /* manifests, indexes and configs are far smaller */
/* Parses buf (len bytes, no NUL needed); refuses NULs, nesting deeper than
 * 64, and invalid JSON, naming doc. */
int img_json_parse (const char *buf, size_t len, const char *doc, yajl_val *out, hull_error_t *err);
void img_json_freep (yajl_val *v);
#define cleanup_json __attribute__ ((cleanup (img_json_freep)))
yajl_val img_json_get (yajl_val obj, const char *key);    /* NULL when absent or obj is no object */
const char *img_json_str (yajl_val obj, const char *key); /* NULL unless a string */
/* A required string member; the error names doc and key. */
int img_json_req_str (yajl_val obj, const char *key, const char *doc, const char **out, hull_error_t *err);
/* An optional non-negative integer member: -1 when absent. */
int img_json_size (yajl_val obj, const char *key, const char *doc, int64_t *out, hull_error_t *err);
/* The strings of an array (others skipped); never NULL. */
char **img_json_strv (yajl_val a);
/* Writing. */
yajl_gen img_gen_new (bool pretty);
void img_gen_str (yajl_gen g, const char *s);
void img_gen_kv (yajl_gen g, const char *k, const char *v); /* skipped when v is NULL */
void img_gen_strv (yajl_gen g, const char *k, char *const *v, size_t n);
char *img_gen_finish (yajl_gen g, size_t *len); /* frees g */
/* Writes an arbitrary yajl tree value. */
void img_gen_value (yajl_gen g, yajl_val v);

/* ---- files (image/store.c) ------------------------------------------------ */
/* Writes dirfd/name through a temp file, fsynced, renamed into place. */
int img_write_durable (int dirfd, const char *name, const char *data, size_t len, hull_error_t *err);
int img_fsync_dir (int dirfd, const char *what, hull_error_t *err);
char *img_now_rfc3339 (void);

/* ---- import sources (image/source.c) ---------------------------------------- */
struct img_source;
struct img_blob;
/* A directory (OCI layout) or a tar (OCI layout or docker-archive). */
int img_source_open (const char *path, struct img_source **out, hull_error_t *err);
void img_source_free (struct img_source *s);
bool img_source_has (struct img_source *s, const char *name);
/* A member's size as the source lists it, -1 when unknown (for progress). */
int64_t img_source_size (struct img_source *s, const char *name);
const char *img_source_path (struct img_source *s);
/* Reads a whole member (at most max bytes). */
int img_source_read (struct img_source *s, const char *name, size_t max, char **buf, size_t *len,
                     hull_error_t *err);
/* A member as a stream (for img_blob_read).  *size_out gets its size. */
int img_source_open_blob (struct img_source *s, const char *name, struct img_blob **out, uint64_t *size_out,
                          hull_error_t *err);
ssize_t img_blob_read (void *blob, void *buf, size_t len); /* an img_read_fn */
void img_blob_close (struct img_blob *b);
/* Reads a blob whole and checks it against digest (and size when >= 0). */
int img_source_read_verified (struct img_source *s, const char *digest, int64_t size, const char *what,
                              char **buf, size_t *len, hull_error_t *err);
/* blobs/sha256/HEX */
char *img_blob_name (const char *digest);

/* ---- the import plan (image/manifest.c) ----------------------------------- */
struct img_layer_plan
{
  char *blob;    /* member name in the source */
  char *digest;  /* the blob's digest; NULL when unknown (docker-archive) */
  int64_t size;  /* -1 when unknown */
  char *diff_id; /* from the config */
  char *media_type;
};

struct img_plan
{
  char *config_json;
  size_t config_len;
  char config_digest[IMG_DIGEST_LEN];
  char *manifest_digest; /* NULL for docker-archive */
  struct img_layer_plan *layers;
  size_t n_layers;
  char *name;          /* a name the source gives the image, or NULL */
  uint64_t total_size; /* of the layer blobs (known or measured) */
};
int img_plan_build (struct img_source *src, const char *ref, struct img_plan *plan, hull_error_t *err);
void img_plan_release (struct img_plan *p);
/* Checks the image config: os/architecture and rootfs.diff_ids (n of
 * them); fills diff_ids (borrowed from the tree). */
int img_config_check (yajl_val config, size_t n_layers, const char ***diff_ids, hull_error_t *err);

/* ---- the store (image/store.c) -------------------------------------------- */
struct img_store
{
  char *root;
  int root_fd, layers_fd, images_fd, bundles_fd, tmp_fd;
  int gc_lock_fd, commit_lock_fd;
};
/* flock helpers: LOCK_SH / LOCK_EX on the store's lock files. */
int img_store_lock (struct img_store *s, int fd, int op, hull_error_t *err);
void img_store_unlock (int fd);
/* Creates tmp/PREFIX-RANDOM and flocks it; returns its fd, *name_out its name. */
int img_store_staging (struct img_store *s, const char *prefix, char **name_out, hull_error_t *err);
/* Removes tmp/ entries whose owner died. */
void img_store_clean_staging (struct img_store *s, size_t *count);
/* Moves layers/KEY (or any dir) out of sight, then removes it. */
int img_store_remove_dir (struct img_store *s, int dirfd, const char *name, hull_error_t *err);
/* Loads images/ID. */
int img_image_load (struct img_store *s, const char *id, struct img_image **out, hull_error_t *err);
char *img_image_record_json (const struct img_image *im);
/* Collects layers no image or bundle uses; caller holds gc (EX). */
int img_store_gc (struct img_store *s, size_t *removed, hull_error_t *err);
/* Opens the layers of an image, top first. */
int img_open_layers (struct img_store *s, const struct img_image *im, int **fds, hull_error_t *err);
void img_close_layers (int *fds, size_t n);

/* The layer keys the bundles use, for gc (image/bundle.c).  With pruned
 * non-NULL, records of bundles whose directory is gone are removed first
 * (and counted). */
int img_bundles_keys (struct img_store *s, char ***keys, size_t *count, size_t *pruned, hull_error_t *err);

/* ---- the unpacker's entry handling (image/entry.c) ------------------------ */
struct archive;
struct archive_entry;
struct img_dir_time
{
  char *path;
  struct timespec ts[2];
};
struct img_unpacker
{
  int root_fd;
  const struct img_unpack_opts *o;
  struct img_unpack_result *res;
  char *cached_parent; /* the last parent opened, kept open */
  int cached_fd;
  struct img_dir_time *dirs; /* directory times, set at the end */
  size_t n_dirs, cap_dirs;
  char *entry;    /* the current entry's name, quoted, for errors */
  bool root_seen; /* the tar described "./" */
};
void img_unpacker_init (struct img_unpacker *u, int root_fd, const struct img_unpack_opts *o,
                        struct img_unpack_result *res);
int img_entry_apply (struct img_unpacker *u, struct archive *a, struct archive_entry *e, hull_error_t *err);
int img_unpacker_finish (struct img_unpacker *u, hull_error_t *err);
void img_unpacker_release (struct img_unpacker *u);
/* "./a//b/" -> "a/b", "./" -> "".  Refuses absolute names and `..`. */
int img_normalize_name (const char *in, char **out, const char **why);
/* A printable, bounded copy of an untrusted name for messages. */
char *img_quote (const char *s);

#endif
