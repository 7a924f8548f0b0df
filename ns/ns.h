/* ns/: everything that builds the inside of a container — namespaces, the
 * rootfs and its mounts, /dev, pivot_root, masked/read-only paths, hostname,
 * sysctl, rlimits, user and capabilities, the console, loopback — and the
 * spawn of the container init with its create/start synchronisation.
 * ns/ knows nothing about the CLI or the state directory. */
#ifndef HULL_NS_H
#define HULL_NS_H

#include "../common/common.h"
#include "../oci/oci.h"
#include <sys/types.h>

/* ---- validation (before anything is created) ------------------------------ */
/* Checks what only the kernel side knows: sysctl names that are not
 * namespaced or whose namespace is not new, mount option names, device
 * types, rlimit names, capability names, namespace combinations. */
int ns_validate_config (const struct oci_config *c, hull_error_t *err);

/* ---- spawn (ns/spawn.c) ----------------------------------------------------- */
enum ns_child_stage
{
  NS_STAGE_CREATE_CONTAINER, /* in the container namespaces, before pivot_root */
  NS_STAGE_START_CONTAINER,  /* after `start` released the init, before execve */
};

struct ns_spawn_opts
{
  const struct oci_config *config;
  const char *rootfs;        /* absolute host path of the rootfs */
  int exec_fifo_fd;          /* read end, O_NONBLOCK; init blocks on it before execve; -1: no wait */
  int console_socket_fd;     /* connected AF_UNIX socket for the pty master, or -1 */
  int preserve_fds;          /* fds 3 .. 3+N-1 are passed to the process */
  int cgroup_fd;             /* O_DIRECTORY fd of the container cgroup, or -1 */
  bool no_pivot;
  bool no_new_keyring;
  /* Parent side, once the namespaces exist and the init's pid is known
   * (oom_score_adj, id maps done): prestart and createRuntime hooks. */
  int (*on_namespaces_ready) (void *data, pid_t pid, hull_error_t *err);
  /* Child side, at each ns_child_stage; host_pid is the init's pid as seen
   * from the runtime (for the hooks' state). */
  int (*on_child_stage) (void *data, enum ns_child_stage stage, pid_t host_pid, hull_error_t *err);
  void *data;
  /* The container's state as `hull state` shows it (id, bundle,
   * annotations, status "creating"), for a linux.seccomp listener; the pid
   * is filled in.  May be NULL: the listener then gets no id or bundle. */
  const struct oci_state *seccomp_state;
};

/* Clones the container init into its namespaces (and cgroup), builds its
 * rootfs and process state, and returns once it is blocked on exec_fifo_fd
 * (or, with exec_fifo_fd == -1, once it has exec'd).  Errors from the child
 * come back over the sync socket as hull errors.  On failure the child has
 * been killed and reaped and nothing of it is left. */
int ns_spawn_container (const struct ns_spawn_opts *opts, pid_t *pid_out, hull_error_t *err);

/* ---- exec (ns/exec.c) --------------------------------------------------------- */
struct ns_exec_opts
{
  pid_t init_pid;                      /* the container's init (its namespaces) */
  const struct oci_config *config;     /* the container's config: which namespaces it has */
  const struct oci_process *process;   /* what to run */
  int cgroup_fd;                       /* the container's cgroup, or -1 */
  int console_socket_fd;               /* with process->terminal */
  int preserve_fds;
  const struct oci_state *seccomp_state; /* for a linux.seccomp listener, or NULL */
};
/* Starts process inside the container: its namespaces, cgroup, rlimits,
 * user, capabilities (and the config's seccomp) — as a child of the caller,
 * which can wait for it.  Returns once the process has exec'd; a setup
 * error (missing binary, bad cwd...) is returned as a hull error.  The
 * caller's pid namespace for children changes to the container's. */
int ns_exec_spawn (const struct ns_exec_opts *o, pid_t *pid, hull_error_t *err);

/* ---- rootfs (ns/rootfs.c, ns/mounts.c, ns/dev.c) — run in the child ------------ */
/* In the new mount namespace: makes "/" rslave/rprivate per
 * linux.rootfsPropagation, bind-mounts the rootfs onto itself, performs
 * config.mounts in order (destinations resolved inside the rootfs, missing
 * mount points created), and populates /dev (default devices, symlinks,
 * /dev/pts/ptmx, linux.devices).  Returns an O_PATH fd on the rootfs.
 * cgroup_tree: NULL, or a detached clone of what a new cgroup2 mount would
 * show the container (ns_cgroup_tree), taken (set to -1) by its cgroup mount. */
int ns_rootfs_prepare (const struct oci_config *c, const char *rootfs, int *cgroup_tree, hull_error_t *err);
/* pivot_root into rootfs_fd (or MS_MOVE + chroot with no_pivot), then the
 * masked and read-only paths, root.readonly and the final propagation. */
int ns_rootfs_finalize (const struct oci_config *c, int rootfs_fd, bool no_pivot, hull_error_t *err);

/* ---- process setup (ns/process.c, ns/user.c, ns/console.c, ns/net.c) --------- */
int ns_set_hostname (const struct oci_config *c, hull_error_t *err);  /* hostname + domainname */
/* In the container's namespaces, before ns_rootfs_finalize makes /proc/sys
 * read-only. */
int ns_apply_sysctl (const struct oci_config *c, hull_error_t *err);
int ns_apply_rlimits (const struct oci_process *p, hull_error_t *err);
int ns_apply_personality (const struct oci_config *c, hull_error_t *err);
/* Creates a pty in the container's devpts (after pivot_root), sends the
 * master over console_socket_fd with SCM_RIGHTS as runc does, makes the
 * slave the controlling terminal and stdio; with dev_console (the init, not
 * exec) also bind-mounts it onto /dev/console. */
int ns_console_setup (const struct oci_process *p, int console_socket_fd, bool dev_console, hull_error_t *err);
/* Brings up "lo" in the current (new) network namespace, with libmnl. */
int ns_loopback_up (hull_error_t *err);
/* setgroups/setresgid/setresuid/umask, keeping the capabilities asked for
 * across the switch, then the five capability sets and no_new_privs. */
int ns_apply_user_and_caps (const struct oci_process *p, bool in_new_userns, hull_error_t *err);
/* Checks, before the init blocks waiting for `start`, that args[0] resolves
 * to an executable on the process's PATH (runc reports this from create). */
int ns_check_executable (const struct oci_process *p, hull_error_t *err);
/* chdir(cwd), resolves args[0] on the process's PATH, closes every fd above
 * 2 + preserve_fds, execve.  Returns only on failure. */
int ns_exec_process (const struct oci_process *p, int preserve_fds, hull_error_t *err);
/* The same, with the seccomp filter of ns_seccomp_prepare loaded right
 * before execve (unless ns_seccomp_load_early already did); sc may be NULL. */
struct ns_seccomp;
int ns_exec_process_seccomp (const struct oci_process *p, int preserve_fds, struct ns_seccomp *sc,
                             hull_error_t *err);

/* ---- seccomp (ns/seccomp.c) — run in the child ------------------------------ */
/* The three steps of linux.seccomp, for the init (ns/spawn.c) and exec:
 *  1. ns_seccomp_prepare, while host paths are still reachable (before
 *     pivot_root): builds the BPF program and, with SCMP_ACT_NOTIFY,
 *     connects to listenerPath and makes the message for it (`state` with
 *     `pid` filled in, see ns_spawn_opts.seccomp_state; NULL is allowed).
 *     *out is NULL when the config has no linux.seccomp.
 *  2. ns_seccomp_load_early (p = the process about to run), just before
 *     ns_apply_user_and_caps: loads the filter now if it could not be
 *     loaded later (noNewPrivileges false and CAP_SYS_ADMIN not kept).
 *  3. ns_exec_process_seccomp: loads it (if not done yet) as the last step
 *     before execve and sends the notify fd to the listener.
 * ns_seccomp_free releases what was not consumed (for callers that fail
 * before execve and do not exit). */
int ns_seccomp_prepare (const struct oci_config *c, const struct oci_state *state, pid_t pid,
                        struct ns_seccomp **out, hull_error_t *err);
int ns_seccomp_load_early (struct ns_seccomp *sc, const struct oci_process *p, hull_error_t *err);
int ns_seccomp_load (struct ns_seccomp *sc, hull_error_t *err);
void ns_seccomp_free (struct ns_seccomp *sc);

/* ---- small shared helpers -------------------------------------------------- */
/* Writes uid_map / gid_map (and "deny" to setgroups when not root) for pid. */
int ns_write_id_maps (pid_t pid, const struct oci_linux *l, hull_error_t *err);
/* Sends / receives one fd over an AF_UNIX socket (SCM_RIGHTS). */
int ns_send_fd (int sock, int fd, const char *name, hull_error_t *err);
int ns_recv_fd (int sock, hull_error_t *err);

#endif
