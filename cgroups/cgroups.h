/* cgroups/: the cgroup v2 manager.  Containers always live in the unified
 * hierarchy — /sys/fs/cgroup on a pure v2 host, /sys/fs/cgroup/unified on a
 * hybrid one (see docs/cgroups.md). */
#ifndef HULL_CGROUPS_H
#define HULL_CGROUPS_H

#include "../common/common.h"
#include "../oci/oci.h"
#include <sys/types.h>

/* The cgroup2 mount point ("/sys/fs/cgroup" or "/sys/fs/cgroup/unified"),
 * and whether the host is hybrid (v1 controllers mounted too). */
int cg_mount_point (const char **path, bool *hybrid, hull_error_t *err);

/* Resolves linux.cgroupsPath as runc does: absolute paths are taken from the
 * root of the hierarchy, relative ones from hull's own cgroup; absent means
 * "<own cgroup>/<id>".  The result is relative to the mount, starting with
 * "/".  A path with ".." components is refused. */
int cg_resolve_path (const char *cgroups_path, const char *id, char **out, hull_error_t *err);

/* Refuses resources the host cannot enforce, naming the controller. */
int cg_check_resources (const struct oci_resources *r, hull_error_t *err);

/* Creates the cgroup (and its parents); returns an O_DIRECTORY fd on it.
 * *created tells whether the leaf was made by this call (so only that is
 * removed on failure). */
int cg_create (const char *path, bool *created, hull_error_t *err);

/* Sends sig to every process of the cgroup (cgroup.kill for SIGKILL). */
int cg_kill_all (const char *path, int sig, hull_error_t *err);
/* The pids in cgroup.procs. */
int cg_pids (const char *path, pid_t **pids, size_t *n, hull_error_t *err);
/* Removes the cgroup, retrying while the last processes exit.  A missing
 * cgroup is not an error. */
int cg_destroy (const char *path, hull_error_t *err);

#endif
