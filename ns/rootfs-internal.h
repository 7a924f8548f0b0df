/* Private to ns/rootfs.c, ns/mounts.c and ns/dev.c: path resolution inside
 * the rootfs and the mount helpers they share.  Every mount is built
 * detached (open_tree/fsmount) and attached with move_mount onto an fd that
 * was resolved inside the rootfs, so no path string is ever re-resolved
 * between the check and the mount (CVE-2021-30465). */
#ifndef HULL_NS_ROOTFS_INTERNAL_H
#define HULL_NS_ROOTFS_INTERNAL_H

#include "ns-internal.h"
#include <sys/mount.h>

/* ---- ns/rootfs.c: resolution ---------------------------------------------- */
enum ns_create
{
  NS_CREATE_NONE, /* everything must exist */
  NS_CREATE_DIR,  /* missing components become directories */
  NS_CREATE_FILE, /* same, but a missing last component becomes an empty file */
};
/* The last component must not be a symlink (proc and sysfs destinations). */
#define NS_RESOLVE_NOFOLLOW_LAST 0x1u

/* Walks path inside root_fd one component at a time: ".." never climbs above
 * root_fd and symlinks (absolute or relative) are resolved as if root_fd were
 * "/", as runc's securejoin does, with missing components created per
 * `create`.  Returns an O_PATH fd on the result; *resolved (if not NULL) gets
 * the canonical path inside the root ("/a/b").  On failure (*err)->status
 * holds the errno, so callers can tell ENOENT apart; with ENOENT, *resolved
 * still gets the path the missing part would have (the caller frees it). */
int ns_resolve_in_root (int root_fd, const char *path, enum ns_create create, unsigned flags, char **resolved,
                        hull_error_t *err);
/* Lexical clean-up: "/a/./b//../c/" -> "/a/c"; always starts with "/". */
char *ns_path_clean (const char *path);
/* Whether this process runs in a user namespace that is not the identity
 * mapping "0 0 4294967295" (so mknod and some mounts are not allowed). */
bool ns_in_user_namespace (void);

/* ---- ns/mounts.c: building and attaching mounts ---------------------------- */
/* A detached mount of a new `fstype` file system: sb_flags are MS_RDONLY,
 * MS_SYNCHRONOUS, MS_DIRSYNC, MS_MANDLOCK, MS_LAZYTIME; data holds fs
 * options ("size=64k" or "mode=755,size=1m"); attrs are MOUNT_ATTR_*.
 * `dest` only names the mount in errors. */
int ns_fs_tree (const char *fstype, const char *source, unsigned long sb_flags, char *const *data,
                uint64_t attrs, const char *dest, hull_error_t *err);
/* A detached bind of the host path (or of fd when path is NULL). */
int ns_bind_tree (int fd, const char *path, bool recursive, const char *dest, hull_error_t *err);
/* move_mount(tree_fd -> target_fd); `what` and `dest` name it in errors. */
int ns_attach_tree (int tree_fd, int target_fd, const char *what, const char *dest, hull_error_t *err);
/* mount_setattr on a mount fd; recursive applies to the whole tree. */
int ns_set_mount_attr (int fd, uint64_t set, uint64_t clr, bool recursive, const char *dest,
                       hull_error_t *err);
/* A detached clone of what a new cgroup2 mount would show the container:
 * its own cgroup directory (cgroup_fd) when it has a cgroup namespace of its
 * own, else the hierarchy's root, when the caller is in the initial cgroup
 * namespace and its mount of the hierarchy reaches the root.  -1 otherwise. */
int ns_cgroup_tree (int cgroup_fd, bool own_cgroupns);
/* Performs config.mounts in order, relative to rootfs_fd.  *cgroup_tree,
 * when >= 0, is ns_cgroup_tree's clone, which the first cgroup mount takes
 * (and sets to -1) instead of a new cgroup2. */
int ns_mounts_apply (const struct oci_config *c, int rootfs_fd, bool userns, int *cgroup_tree,
                     hull_error_t *err);
/* False when a config mount bind-mounts something on /dev (runc then leaves
 * /dev alone). */
bool ns_mounts_need_dev_setup (const struct oci_config *c);

/* ---- ns/dev.c ------------------------------------------------------------------ */
/* Default devices, linux.devices, /dev/pts and /dev/shm, /dev/ptmx and the
 * /dev/fd, stdin, stdout, stderr (and core) symlinks. */
int ns_dev_setup (const struct oci_config *c, int rootfs_fd, bool userns, hull_error_t *err);

#endif
