/* hull: the pieces every module shares — one error type, allocation that
 * aborts on failure, cleanup attributes, and fd-relative path helpers. */
#ifndef HULL_COMMON_H
#define HULL_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- errors ------------------------------------------------------------
 * A fallible function takes `hull_error_t *err` last and returns a negative
 * value (or NULL) on failure after filling *err.  Call sites read
 *     if (ret < 0) return ret;
 * and add context at module boundaries with hull_error_wrap(). */
struct hull_error_s
{
  int status; /* errno value, 0 when not a system error */
  char *msg;
};
typedef struct hull_error_s *hull_error_t;

/* Fills *err with the formatted message plus ": strerror(status)" when status
 * is non-zero.  Returns -1 (so `return hull_make_error (...)` works). */
int hull_make_error (hull_error_t *err, int status, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
/* Like hull_make_error, but the message stands alone (no strerror appended);
 * status is still kept for callers that test it (ENOENT: "does not exist"). */
int hull_make_error_code (hull_error_t *err, int status, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
/* Prefixes context ("config.json: ") to an existing error.  Returns -1. */
int hull_error_wrap (hull_error_t *err, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
void hull_error_release (hull_error_t *err);

/* ---- allocation: failure aborts here, callers never check ---------------- */
void *xmalloc (size_t size);
void *xmalloc0 (size_t size);
void *xrealloc (void *ptr, size_t size);
void *xreallocarray (void *ptr, size_t n, size_t size);
char *xstrdup (const char *s);
char *xstrndup (const char *s, size_t n);
int xasprintf (char **out, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
char *hull_fmt (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/* ---- cleanup attributes -------------------------------------------------- */
void hull_cleanup_freep (void *p);
void hull_cleanup_closep (int *fd);
void hull_cleanup_fclosep (FILE **f);
void hull_cleanup_strvp (char ***v);
#define cleanup_free __attribute__ ((cleanup (hull_cleanup_freep)))
#define cleanup_close __attribute__ ((cleanup (hull_cleanup_closep)))
#define cleanup_fclose __attribute__ ((cleanup (hull_cleanup_fclosep)))
#define cleanup_strv __attribute__ ((cleanup (hull_cleanup_strvp)))

static inline void *
hull_steal_ptr (void *pp)
{
  void **p = (void **) pp;
  void *r = *p;
  *p = NULL;
  return r;
}
#define steal_pointer(pp) ((__typeof__ (*(pp))) hull_steal_ptr (pp))
static inline int
steal_fd (int *fd)
{
  int r = *fd;
  *fd = -1;
  return r;
}

/* ---- NULL-terminated string vectors -------------------------------------- */
size_t strv_len (char *const *v);
char **strv_dup (char *const *v);
void strv_free (char **v);
/* Appends a copy of s; *v may be NULL. */
void strv_append (char ***v, const char *s);

/* ---- I/O helpers --------------------------------------------------------- */
ssize_t hull_write_all (int fd, const void *buf, size_t len);
ssize_t hull_read_all (int fd, void *buf, size_t len); /* until EOF or len */
/* Reads fd to EOF into a NUL-terminated buffer (name is for errors). */
int hull_read_fd_all (int fd, const char *name, size_t max_size, char **out, size_t *len, hull_error_t *err);
/* Reads a whole file (relative to dirfd, may be AT_FDCWD) into a NUL-terminated
 * buffer.  Refuses files larger than max_size. */
int hull_read_file_at (int dirfd, const char *path, size_t max_size, char **out, size_t *len,
                       hull_error_t *err);
/* Writes a string to an existing file (cgroup, /proc files). */
int hull_write_file_at (int dirfd, const char *path, const char *data, size_t len, hull_error_t *err);
/* Atomically replaces dirfd/name with data (write to a temp name, fsync, rename). */
int hull_write_file_atomic (int dirfd, const char *name, const char *data, size_t len, mode_t mode,
                            hull_error_t *err);

/* ---- fd-relative path resolution ------------------------------------------
 * Every path inside a rootfs is resolved with openat2(RESOLVE_IN_ROOT) so
 * that no symlink (or "..") can lead outside root_fd. */
int hull_openat2 (int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve);
int hull_open_in_root (int root_fd, const char *path, int flags, mode_t mode, hull_error_t *err);
/* Recursive removal of dirfd/name (does not follow symlinks, stays on the
 * same file system). */
int hull_rm_rf_at (int dirfd, const char *name, hull_error_t *err);

/* "/proc/self/fd/N" for mount(2) calls that need a path for an fd. */
#define HULL_PROC_FD_PATH_MAX 32
const char *hull_proc_fd_path (int fd, char buf[HULL_PROC_FD_PATH_MAX]);

/* ---- misc ---------------------------------------------------------------- */
int hull_parse_u64 (const char *s, uint64_t *out);
int hull_parse_i64 (const char *s, int64_t *out);
bool hull_str_has_prefix (const char *s, const char *prefix);
/* Monotonic nanoseconds. */
uint64_t hull_now_ns (void);

#endif
