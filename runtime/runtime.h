/* runtime/: the runc-compatible `hull` CLI, the container lifecycle, the
 * state store under --root, locking, hooks and logging.  No mount or
 * namespace code lives here: that is ns/. */
#ifndef HULL_RUNTIME_H
#define HULL_RUNTIME_H

#include "../common/common.h"
#include "../oci/oci.h"
#include <sys/types.h>

/* ---- global options -------------------------------------------------------- */
struct hull_context
{
  const char *root;        /* state directory (--root) */
  const char *log_path;    /* --log, NULL for stderr */
  bool log_json;           /* --log-format json */
  bool debug;
  bool systemd_cgroup;
  /* --rootless (default: euid != 0): a cgroup that cannot be created for
   * lack of permission is skipped when the container asks for no limit. */
  bool rootless;
  const char *program;     /* basename of argv[0] */
};

/* ---- host configuration (runtime/conf.c): /etc/hull/hull.conf ------------ */
struct hull_conf
{
  /* unenforceable_limits = warn: a resource limit whose controller the host's
   * cgroup2 hierarchy lacks (hybrid hosts) is a warning instead of an error. */
  bool limits_warn_only;
  /* image_root = DIR: the image store (image/; default /var/lib/hull). */
  char image_root[1024];
};
int hull_conf_load (struct hull_conf *conf, hull_error_t *err);

/* ---- logging (runtime/log.c) ---------------------------------------------- */
enum hull_log_level { HULL_LOG_DEBUG, HULL_LOG_INFO, HULL_LOG_WARNING, HULL_LOG_ERROR };
int hull_log_init (struct hull_context *ctx, hull_error_t *err);
void hull_log (enum hull_log_level level, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
#define hull_debug(...) hull_log (HULL_LOG_DEBUG, __VA_ARGS__)
#define hull_warn(...) hull_log (HULL_LOG_WARNING, __VA_ARGS__)
/* Reports a fatal error: to the log (text or runc's JSON line) and stderr. */
void hull_log_error (hull_error_t err);
/* The time now in RFC 3339 with nanoseconds, UTC, as runc writes it; by
 * hand, since gmtime_r and strftime read /etc/localtime (7 system calls,
 * about 25 us). */
void hull_format_time (char *buf, size_t len);

/* ---- the state store (runtime/state.c) ------------------------------------ */
/* A locked container: the directory ROOT/ID holding state.json (and
 * exec.fifo while created).  flock on the directory serialises commands on
 * one id; `state` and `list` read state.json without the lock (it is
 * replaced atomically). */
struct hull_container
{
  char *id;
  int dir_fd;  /* ROOT/ID, flocked when `locked` */
  bool locked;
  struct oci_state *state;
};

int hull_validate_id (const char *id, hull_error_t *err);
/* Opens (creating it 0700 if needed) the root directory. */
int hull_open_root (struct hull_context *ctx, hull_error_t *err);
/* " (without root, set XDG_RUNTIME_DIR or pass --root)" after EACCES when
 * not root (the default root is then /run/hull unless XDG_RUNTIME_DIR is
 * set), else "". */
const char *hull_root_hint (int saved_errno);
/* Creates ROOT/ID exclusively and locks it; fails if it exists. */
int hull_container_new (struct hull_context *ctx, const char *id, struct hull_container **out, hull_error_t *err);
/* Opens and loads ROOT/ID, with the lock when `lock`. */
int hull_container_load (struct hull_context *ctx, const char *id, bool lock, struct hull_container **out,
                         hull_error_t *err);
int hull_container_save (struct hull_container *c, hull_error_t *err);
/* Removes ROOT/ID (the lock dies with the directory). */
int hull_container_remove (struct hull_context *ctx, struct hull_container *c, hull_error_t *err);
void hull_container_free (struct hull_container *c);
#define cleanup_container __attribute__ ((cleanup (hull_container_freep)))
void hull_container_freep (struct hull_container **c);

/* The live status: stopped when the init is gone (or its pid was reused),
 * created while the exec fifo exists, paused when frozen, else running. */
enum oci_status hull_container_status (struct hull_container *c);
/* /proc/PID/stat start time (field 22), 0 if the process is gone. */
uint64_t hull_proc_start_time (pid_t pid);
/* The runtime-spec state JSON for hooks and `state`, with the live status. */
char *hull_state_json (struct hull_container *c, enum oci_status status, bool pretty);

/* ---- hooks (runtime/hooks.c) --------------------------------------------- */
/* Runs each hook with state_json on stdin, honouring its timeout.  The error
 * names the hook kind, index and path.  poststart and poststop failures are
 * only warnings and the remaining hooks still run (runtime-spec). */
int hull_run_hooks (const struct oci_hooks_list *hooks, enum oci_hook_kind kind, const char *state_json,
                    hull_error_t *err);

/* ---- lifecycle (runtime/lifecycle.c) -------------------------------------- */
struct hull_create_opts
{
  const char *id;
  const char *bundle;
  const char *pid_file;
  const char *console_socket;
  int console_socket_fd; /* used instead of console_socket when >= 0 */
  int preserve_fds;
  bool no_pivot;
  bool no_new_keyring;
  /* `run` in the foreground with process.terminal and no console socket:
   * create makes the pty and hands its master back, for the relay. */
  bool foreground;
  /* run --image: the bundle was made from this image; create records it so
   * that delete removes it (img_container_record/release). */
  const char *image;
};
/* create: returns with the init blocked, the state saved as created.
 * *console_master (may be NULL) gets the pty master of a foreground run, or -1. */
int hull_create_container (struct hull_context *ctx, const struct hull_create_opts *o, pid_t *pid,
                           int *console_master, hull_error_t *err);
int hull_start_container (struct hull_context *ctx, const char *id, hull_error_t *err);
/* delete: kills first with `force`; runs poststop hooks; removes the cgroup
 * and the state. */
int hull_delete_container (struct hull_context *ctx, const char *id, bool force, hull_error_t *err);
int hull_parse_signal (const char *s, int *sig, hull_error_t *err);
/* The config saved in the state directory at create time. */
struct oci_config *hull_container_config (struct hull_container *c, hull_error_t *err);
int hull_connect_console_socket (const char *path, hull_error_t *err);
/* Writes the pid atomically (temp file + rename), as runc. */
int hull_write_pid_file (const char *path, pid_t pid, hull_error_t *err);

struct hull_cmd_help;
/* create/run share their options (runtime/cmd_create.c).  Returns 1 when
 * help was printed. */
int hull_parse_create_opts (const struct hull_cmd_help *h, int argc, char **argv, bool is_run,
                            struct hull_create_opts *o, bool *detach, hull_error_t *err);
extern const char hull_create_options_help[];

/* ---- foreground processes (runtime/foreground.c) ------------------------- */
#include <signal.h>
struct hull_fg
{
  sigset_t old_mask;
  int sigfd;
};
/* Before the process is started: blocks the forwarded signals and SIGCHLD
 * into a signalfd, and makes us a subreaper. */
int hull_fg_prepare (struct hull_fg *fg, hull_error_t *err);
/* Relays the pty (master >= 0; raw mode when stdin is a terminal), forwards
 * signals, reaps, and returns pid's exit status (128+N for signal N). */
int hull_fg_wait (struct hull_fg *fg, pid_t pid, int master);
void hull_fg_release (struct hull_fg *fg);

/* ---- commands (one file each) --------------------------------------------- */
typedef int (*hull_command_fn) (struct hull_context *ctx, int argc, char **argv, hull_error_t *err);
int hull_cmd_create (struct hull_context *, int, char **, hull_error_t *);
int hull_cmd_start (struct hull_context *, int, char **, hull_error_t *);
int hull_cmd_run (struct hull_context *, int, char **, hull_error_t *);
int hull_cmd_state (struct hull_context *, int, char **, hull_error_t *);
int hull_cmd_kill (struct hull_context *, int, char **, hull_error_t *);
int hull_cmd_delete (struct hull_context *, int, char **, hull_error_t *);
int hull_cmd_list (struct hull_context *, int, char **, hull_error_t *);
int hull_cmd_spec (struct hull_context *, int, char **, hull_error_t *);
int hull_cmd_features (struct hull_context *, int, char **, hull_error_t *);
int hull_cmd_ps (struct hull_context *, int, char **, hull_error_t *);
int hull_cmd_exec (struct hull_context *, int, char **, hull_error_t *);
int hull_cmd_pause (struct hull_context *, int, char **, hull_error_t *);
int hull_cmd_resume (struct hull_context *, int, char **, hull_error_t *);
int hull_cmd_update (struct hull_context *, int, char **, hull_error_t *);
int hull_cmd_events (struct hull_context *, int, char **, hull_error_t *);
int hull_cmd_image (struct hull_context *, int, char **, hull_error_t *);
int hull_cmd_vm_run (struct hull_context *, int, char **, hull_error_t *);
/* run --image (runtime/cmd_image.c): the bundle image/ makes for container
 * id, and its removal when create fails (delete removes it otherwise). */
int hull_image_bundle (struct hull_context *ctx, const char *image, const char *id, char **bundle,
                       hull_error_t *err);
void hull_image_bundle_remove (struct hull_context *ctx, const char *id, const char *bundle);

/* ---- option parsing helper (runtime/opts.c) -------------------------------- */
/* Prints usage for `cmd` when -h/--help is among argv and returns 1; the
 * caller then returns 0. */
struct hull_cmd_help { const char *name, *usage, *summary, *options; };
int hull_print_help (const struct hull_cmd_help *h);
/* Exactly n positional arguments left after options, else an error naming
 * the command's usage. */
int hull_expect_args (const struct hull_cmd_help *h, int argc, char **argv, int optind_, int n, hull_error_t *err);

#endif
