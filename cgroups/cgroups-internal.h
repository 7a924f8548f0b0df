/* Internal to cgroups/: file helpers shared by the resource, freezer, stats
 * and device code. */
#ifndef HULL_CGROUPS_INTERNAL_H
#define HULL_CGROUPS_INTERNAL_H
#include "cgroups.h"

/* Cgroup files are small; a few are per-device or per-key lists. */
#define CG_FILE_MAX (1 << 20)

void cg_warn (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/* "<mount><path>", e.g. "/sys/fs/cgroup/unified/hull/abc". */
char *cg_abs_path (const char *path, hull_error_t *err);

/* Reads dirfd/file whole; the error names `file` only (callers add the
 * cgroup).  Status ENOENT when the file does not exist. */
int cg_read_at (int dirfd, const char *file, char **out, hull_error_t *err);
/* Writes value with a single write(2), as cgroup files require.  Returns 0,
 * or -1 with errno set (callers build the message: they know the field). */
int cg_write_at (int dirfd, const char *file, const char *value);
/* Reads a file holding one number or "max" (→ UINT64_MAX). */
int cg_read_u64_at (int dirfd, const char *file, uint64_t *out, hull_error_t *err);
/* The value of `key` in a flat-keyed buffer ("key value\n" lines); -1 when
 * absent or not a number. */
int cg_keyed_u64 (const char *buf, const char *key, uint64_t *out);

/* Whether `word` is one of the space/newline-separated words of list. */
bool cg_word_in (const char *list, const char *word);
/* Whether the controller is listed in the root's cgroup.controllers. */
bool cg_controller_available (const char *name);

#endif
