/* image/: OCI image layouts and docker-archive tars imported into a
 * content-addressed layer store, layers unpacked safely (nothing inside a
 * tar is trusted), overlayfs rootfs and config.json per container.
 * See docs/images.md for the store's layout and atomicity rules. */
#ifndef HULL_IMAGE_H
#define HULL_IMAGE_H

#include "../common/common.h"
#include "../oci/oci.h"

#define IMG_DEFAULT_ROOT "/var/lib/hull"
/* "sha256:" + 64 hex digits + NUL */
#define IMG_DIGEST_LEN 72

/* The store root: $HULL_IMAGE_ROOT, else conf_root (hull.conf's
 * image_root, may be NULL), else IMG_DEFAULT_ROOT. */
const char *img_root_choose (const char *conf_root);

/* ---- layer unpacking (image/unpack.c, image/entry.c) --------------------- */
/* Tar-bomb bounds, per layer.  img_limits_default() reads the lowering
 * overrides HULL_IMAGE_MAX_ENTRIES and HULL_IMAGE_MAX_BYTES. */
struct img_limits
{
  uint64_t max_entries;
  uint64_t max_bytes; /* sum of the apparent sizes of regular files */
};
void img_limits_default (struct img_limits *l);

/* Reads up to len bytes; 0 at the end, -1 with errno on failure. */
typedef ssize_t (*img_read_fn) (void *data, void *buf, size_t len);

/* A hardlink whose target is not in its own layer, resolved once the
 * layers below are known (img_unpack_fixup). */
struct img_hardlink_fixup
{
  char *name, *target; /* normalised, relative to the layer */
};

struct img_unpack_result
{
  char digest[IMG_DIGEST_LEN];  /* sha256 of the bytes read (the blob) */
  char diff_id[IMG_DIGEST_LEN]; /* sha256 of the uncompressed tar */
  uint64_t blob_size, tar_size, entries, bytes;
  struct img_hardlink_fixup *fixups;
  size_t n_fixups;
  /* Directories the tar implied but never described (parents of entries;
   * "" for the root): they take the lower layers' metadata at fixup time. */
  char **implicit;
  size_t n_implicit;
};
void img_unpack_result_release (struct img_unpack_result *r);

struct img_unpack_opts
{
  struct img_limits limits;
  const char *what;   /* names the layer in errors ("layer sha256:…") */
  uint64_t *progress; /* atomically increased by the blob bytes read; may be NULL */
  const int *cancel;  /* non-zero (read atomically): stop with ECANCELED; may be NULL */
};

/* Unpacks one layer blob (tar, gzip or zstd, detected from the bytes) into
 * the empty directory dirfd, in overlayfs's format, hashing both the blob
 * and the tar.  Every entry is created relative to dirfd; whatever would
 * leave it is refused.  On failure dirfd's contents are undefined (the
 * caller removes the directory). */
int img_unpack_layer (int dirfd, img_read_fn read_fn, void *data, const struct img_unpack_opts *o,
                      struct img_unpack_result *res, hull_error_t *err);
/* Once the layers below are known (lower_fds, top first): resolves the
 * hardlinks that pointed below the layer by copying the file, and gives the
 * implicit directories the owner, mode and times they have below (as
 * `umoci unpack`, which writes into the lower layers' directories, leaves
 * them). */
int img_unpack_fixup (int dirfd, const struct img_unpack_result *res, const int *lower_fds, size_t n_lower,
                      hull_error_t *err);

/* ---- reading through layers without mounting (image/union.c) ------------ */
/* Opens path (absolute in the image) for reading, looked up through the
 * layers (top first) as overlayfs would: whiteouts, opaque directories,
 * symlinks resolved inside the image.  Returns an fd or -1 (ENOENT when
 * absent). */
int img_union_open (const int *layer_fds, size_t n, const char *path, hull_error_t *err);
/* The same, also for directories (the topmost layer's). */
int img_union_open_any (const int *layer_fds, size_t n, const char *path, hull_error_t *err);

/* ---- the runtime config (image/config.c) --------------------------------- */
/* config.json for a container of this image: oci_config_default(false,0,0)
 * with terminal false and a writable root, then Entrypoint+Cmd, Env,
 * WorkingDir, User (resolved through the layers' /etc/passwd and
 * /etc/group) and Labels as annotations. */
struct oci_config *img_runtime_config (const char *config_json, size_t len, const int *layer_fds, size_t n,
                                       hull_error_t *err);

/* ---- the store (image/store.c, image/import.c) --------------------------- */
struct img_store;
/* Opens (creating it 0700 when missing) the store at root.  Import, rm,
 * prune and bundles need root. */
int img_store_open (const char *root, struct img_store **out, hull_error_t *err);
void img_store_free (struct img_store *s);
void img_store_freep (struct img_store **s);
#define cleanup_store __attribute__ ((cleanup (img_store_freep)))

struct img_import_opts
{
  const char *source; /* OCI layout dir or tar, or docker-archive tar */
  const char *ref;    /* pick this org.opencontainers.image.ref.name / RepoTag; may be NULL */
  const char *name;   /* name to give the image; may be NULL */
  int jobs;           /* layers unpacked at once; 0: the number of CPUs */
  bool progress;      /* a progress line on stderr */
  struct img_limits limits;
};
/* Imports an image: every blob verified, layers not yet in the store
 * unpacked, all committed at once.  *id_out (may be NULL) gets the image id
 * (hex).  On failure the store is unchanged. */
int img_import (struct img_store *s, const struct img_import_opts *o, char **id_out, hull_error_t *err);

struct img_image
{
  char *id; /* 64 hex: sha256 of the config blob */
  char **names;
  size_t n_layers;
  char **diff_ids;       /* "sha256:…", bottom first */
  char **keys;           /* layers/KEY, bottom first */
  char *manifest_digest; /* NULL for docker-archive */
  char *imported;        /* RFC 3339 */
  uint64_t size;         /* bytes of file data in the layers */
  char *config_json;
  size_t config_len;
};
void img_image_free (struct img_image *im);
void img_image_freep (struct img_image **im);
#define cleanup_image __attribute__ ((cleanup (img_image_freep)))

/* All images, sorted by import time. */
int img_image_list (struct img_store *s, struct img_image ***out, size_t *n, hull_error_t *err);
void img_image_list_free (struct img_image **v, size_t n);
/* By name, or by an id prefix of at least 4 hex digits. */
int img_image_lookup (struct img_store *s, const char *ref, struct img_image **out, hull_error_t *err);
/* JSON for `image inspect` (record + the image config) and `image list
 * --format json`.  Caller frees. */
char *img_image_inspect_json (const struct img_image *im);
char *img_image_list_json (struct img_image *const *v, size_t n);
/* Removes the image and the layers nothing else uses. */
int img_image_remove (struct img_store *s, const char *ref, hull_error_t *err);

struct img_prune_report
{
  size_t layers, staging, bundles;
};
/* Removes leftovers of dead imports, records of bundles whose directory is
 * gone, and layers no image or bundle uses. */
int img_prune (struct img_store *s, struct img_prune_report *r, hull_error_t *err);

/* ---- bundles (image/bundle.c) --------------------------------------------- */
/* Makes DIR (created if missing, else empty) a bundle: config.json from the
 * image, and rootfs/ an overlay mount of its layers with a private upper
 * layer kept in the store. */
int img_bundle_create (struct img_store *s, const char *ref, const char *dir, hull_error_t *err);
/* The bundle for `run --image`: made inside the store; *dir_out gets its path. */
int img_bundle_create_for (struct img_store *s, const char *ref, const char *owner, char **dir_out,
                           hull_error_t *err);
/* Unmounts DIR/rootfs, removes the upper layer, config.json and rootfs/
 * (and DIR when the store made it), then collects unused layers. */
int img_bundle_remove (struct img_store *s, const char *dir, hull_error_t *err);

/* The lifecycle's hook (runtime/lifecycle.c): `create` records that the
 * container's bundle was made by `run --image`; `delete` removes it.
 * img_container_release is a no-op when nothing was recorded. */
int img_container_record (int state_dirfd, const char *bundle, hull_error_t *err);
int img_container_release (int state_dirfd, hull_error_t *err);

#endif
