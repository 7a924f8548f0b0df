/* oci/: the OCI runtime-spec documents (config.json, state.json, features)
 * parsed with yajl into typed structs, validated, and printed.  Nothing here
 * touches the system.  Every parse error names the JSON path:
 *     config.json: process.args[1]: expected a string, got a number */
#ifndef HULL_OCI_H
#define HULL_OCI_H

#include "../common/common.h"
#include <sys/types.h>

/* Optional scalars: `set` is false when the key is absent or null. */
typedef struct { bool set; int64_t v; } oci_i64;
typedef struct { bool set; uint64_t v; } oci_u64;
typedef struct { bool set; bool v; } oci_bool;

struct oci_kv { char *key; char *value; };
struct oci_kvs { struct oci_kv *v; size_t n; };
/* Returns the value for key, or NULL. */
const char *oci_kvs_get (const struct oci_kvs *kvs, const char *key);

/* ---- process --------------------------------------------------------------- */
struct oci_rlimit
{
  char *type;      /* "RLIMIT_NOFILE" as written */
  int resource;    /* RLIMIT_NOFILE; validated against the known names */
  uint64_t soft, hard;
};

struct oci_user
{
  uint32_t uid, gid;
  oci_u64 umask;
  uint32_t *additional_gids;
  size_t n_additional_gids;
  char *username; /* Windows only; kept for round trips */
};

struct oci_capabilities
{
  char **bounding, **effective, **inheritable, **permitted, **ambient; /* NULL-terminated; NULL when absent */
};

struct oci_io_priority
{
  char *class_name; /* IOPRIO_CLASS_RT | IOPRIO_CLASS_BE | IOPRIO_CLASS_IDLE */
  int class_value;  /* 1, 2, 3 as the kernel's IOPRIO_CLASS_* */
  int64_t priority; /* 0..7 */
};

struct oci_scheduler
{
  char *policy; /* SCHED_OTHER ... */
  int policy_value;
  oci_i64 nice, priority;
  char **flags; /* SCHED_FLAG_* names */
  oci_u64 runtime, deadline, period;
};

struct oci_exec_cpu_affinity { char *initial, *final; };

struct oci_process
{
  bool terminal;
  bool has_console_size;
  uint32_t console_height, console_width;
  struct oci_user user;
  char **args;       /* NULL-terminated; required non-empty (unless command_line) */
  char *command_line; /* Windows */
  char **env;        /* NULL-terminated, may be NULL */
  char *cwd;         /* required, absolute */
  struct oci_capabilities *capabilities; /* NULL when absent */
  struct oci_rlimit *rlimits;
  size_t n_rlimits;
  bool no_new_privileges;
  char *apparmor_profile;
  oci_i64 oom_score_adj;
  char *selinux_label;
  struct oci_io_priority *io_priority;
  struct oci_scheduler *scheduler;
  struct oci_exec_cpu_affinity *exec_cpu_affinity;
};

/* ---- root, mounts, hooks -------------------------------------------------- */
struct oci_root { char *path; bool readonly; };

struct oci_id_mapping { uint32_t container_id, host_id, size; };

struct oci_mount
{
  char *destination; /* required, absolute */
  char *type;        /* may be NULL (bind mounts) */
  char *source;      /* may be NULL */
  char **options;    /* NULL-terminated, may be NULL */
  struct oci_id_mapping *uid_mappings, *gid_mappings;
  size_t n_uid_mappings, n_gid_mappings;
};

struct oci_hook
{
  char *path; /* required, absolute */
  char **args, **env;
  oci_i64 timeout; /* seconds, > 0 when set */
};
struct oci_hooks_list { struct oci_hook *v; size_t n; };

enum oci_hook_kind
{
  OCI_HOOK_PRESTART,
  OCI_HOOK_CREATE_RUNTIME,
  OCI_HOOK_CREATE_CONTAINER,
  OCI_HOOK_START_CONTAINER,
  OCI_HOOK_POSTSTART,
  OCI_HOOK_POSTSTOP,
  OCI_HOOK_KINDS
};
extern const char *const oci_hook_kind_names[OCI_HOOK_KINDS]; /* "prestart", "createRuntime", ... */

/* ---- linux ----------------------------------------------------------------- */
enum oci_ns_type
{
  OCI_NS_PID, OCI_NS_NETWORK, OCI_NS_MOUNT, OCI_NS_IPC, OCI_NS_UTS, OCI_NS_USER, OCI_NS_CGROUP, OCI_NS_TIME,
  OCI_NS_TYPES
};
extern const char *const oci_ns_type_names[OCI_NS_TYPES]; /* "pid", "network", "mount", ... */
int oci_ns_clone_flag (enum oci_ns_type t);                /* CLONE_NEWPID, ... */

struct oci_namespace { enum oci_ns_type type; char *path; /* NULL: create a new one */ };

struct oci_time_offset { int64_t secs; uint32_t nanosecs; };

struct oci_device
{
  char type;       /* 'c', 'b', 'u', 'p' */
  char *path;      /* required, absolute */
  int64_t major, minor; /* required for c/b/u */
  oci_u64 file_mode;
  oci_u64 uid, gid;
};

struct oci_device_cgroup
{
  bool allow;
  char type;       /* 'a', 'c', 'b'; 'a' when absent */
  oci_i64 major, minor; /* absent = wildcard */
  char *access;    /* subset of "rwm"; NULL = "rwm" */
};

struct oci_weight_device { int64_t major, minor; oci_u64 weight, leaf_weight; };
struct oci_throttle_device { int64_t major, minor; uint64_t rate; };

struct oci_resources
{
  struct oci_device_cgroup *devices;
  size_t n_devices;
  struct
  {
    oci_i64 limit, reservation, swap, kernel, kernel_tcp;
    oci_u64 swappiness;
    oci_bool disable_oom_killer, use_hierarchy, check_before_update;
  } memory;
  struct
  {
    oci_u64 shares, period, realtime_period;
    oci_i64 quota, burst, realtime_runtime, idle;
    char *cpus, *mems;
  } cpu;
  struct
  {
    oci_u64 weight, leaf_weight;
    struct oci_weight_device *weight_device;
    size_t n_weight_device;
    struct oci_throttle_device *throttle_read_bps, *throttle_write_bps, *throttle_read_iops, *throttle_write_iops;
    size_t n_throttle_read_bps, n_throttle_write_bps, n_throttle_read_iops, n_throttle_write_iops;
  } block_io;
  struct oci_hugepage_limit { char *page_size; uint64_t limit; } *hugepage_limits;
  size_t n_hugepage_limits;
  struct
  {
    oci_u64 class_id;
    struct oci_kv *priorities; /* value is the decimal priority */
    size_t n_priorities;
  } network;
  struct { oci_i64 limit; } pids;
  struct oci_rdma { char *device; oci_u64 hca_handles, hca_objects; } *rdma;
  size_t n_rdma;
  struct oci_kvs unified;
  bool present; /* linux.resources was in the document */
};

enum oci_seccomp_op
{
  OCI_SCMP_CMP_NE, OCI_SCMP_CMP_LT, OCI_SCMP_CMP_LE, OCI_SCMP_CMP_EQ,
  OCI_SCMP_CMP_GE, OCI_SCMP_CMP_GT, OCI_SCMP_CMP_MASKED_EQ
};
struct oci_seccomp_arg { uint32_t index; uint64_t value, value_two; enum oci_seccomp_op op; char *op_name; };

struct oci_seccomp_syscall
{
  char **names;      /* required, non-empty */
  char *action;      /* SCMP_ACT_* as written; validated */
  oci_u64 errno_ret;
  struct oci_seccomp_arg *args;
  size_t n_args;
};

struct oci_seccomp
{
  char *default_action; /* required */
  oci_u64 default_errno_ret;
  char **architectures; /* SCMP_ARCH_* */
  char **flags;         /* SECCOMP_FILTER_FLAG_* */
  char *listener_path, *listener_metadata;
  struct oci_seccomp_syscall *syscalls;
  size_t n_syscalls;
};

struct oci_personality { char *domain; char **flags; };
struct oci_intel_rdt { char *clos_id, *l3_cache_schema, *mem_bw_schema; bool enable_cmt, enable_mbm; };

enum oci_propagation { OCI_PROPAGATION_UNSET, OCI_PROPAGATION_PRIVATE, OCI_PROPAGATION_SHARED,
                       OCI_PROPAGATION_SLAVE, OCI_PROPAGATION_UNBINDABLE };

struct oci_linux
{
  struct oci_namespace *namespaces;
  size_t n_namespaces;
  struct oci_id_mapping *uid_mappings, *gid_mappings;
  size_t n_uid_mappings, n_gid_mappings;
  bool has_time_offsets;
  struct oci_time_offset time_monotonic, time_boottime;
  bool has_time_monotonic, has_time_boottime;
  struct oci_device *devices;
  size_t n_devices;
  char *cgroups_path;
  struct oci_resources resources;
  enum oci_propagation rootfs_propagation;
  struct oci_seccomp *seccomp;
  struct oci_kvs sysctl;
  char **masked_paths, **readonly_paths;
  char *mount_label;
  struct oci_personality *personality;
  struct oci_intel_rdt *intel_rdt;
  /* The "r" forms runc accepts ("rslave"): apply the propagation with MS_REC. */
  bool rootfs_propagation_recursive;
};

struct oci_config
{
  char *oci_version; /* required; major must be 1 */
  struct oci_process *process; /* required for create/run */
  struct oci_root *root;       /* required on Linux */
  char *hostname, *domainname;
  struct oci_mount *mounts;
  size_t n_mounts;
  struct oci_hooks_list hooks[OCI_HOOK_KINDS];
  struct oci_kvs annotations;
  struct oci_linux *linux_; /* NULL when absent */
};

/* Parses and validates a whole config.json.  `name` prefixes every error
 * ("config.json").  Unknown keys are ignored, as runc does; wrong types,
 * out-of-range numbers, missing required fields, invalid enum values and an
 * ociVersion whose major is not 1 are refused. */
struct oci_config *oci_config_parse (const char *json, size_t len, const char *name, hull_error_t *err);
struct oci_config *oci_config_parse_file (int dirfd, const char *path, hull_error_t *err);
void oci_config_free (struct oci_config *c);
/* Whether the config asks for a new namespace of this type (not a path join). */
const struct oci_namespace *oci_config_namespace (const struct oci_config *c, enum oci_ns_type t);
/* The linux.namespaces entry of this type, new or joined by path; NULL when absent. */
const struct oci_namespace *oci_config_namespace_entry (const struct oci_config *c, enum oci_ns_type t);
/* Serialises a config back to JSON (used by `hull spec`). Caller frees. */
char *oci_config_to_json (const struct oci_config *c, bool pretty);

/* The default config `hull spec` prints, as runc's: busybox-friendly `sh`,
 * terminal true, the default mounts, masked and read-only paths, namespaces
 * (pid, network, ipc, uts, mount, cgroup); with rootless, a user namespace
 * mapping the caller's uid/gid, no network namespace, and the rootless mount
 * changes runc makes. */
struct oci_config *oci_config_default (bool rootless, uid_t uid, gid_t gid);

/* Parses a process.json as accepted by `exec --process`. */
struct oci_process *oci_process_parse (const char *json, size_t len, const char *name, hull_error_t *err);
void oci_process_free (struct oci_process *p);
char *oci_process_to_json (const struct oci_process *p, bool pretty);
/* A deep copy (what `exec` starts from: the container's process). */
struct oci_process *oci_process_dup (const struct oci_process *p);

/* Parses the JSON form of linux.resources (`update --resources`). */
int oci_resources_parse (const char *json, size_t len, const char *name, struct oci_resources *out,
                         hull_error_t *err);
void oci_resources_release (struct oci_resources *r);
/* What `update` does: every field set in src replaces dst's (arrays as a
 * whole; unified key by key).  Moves memory out of src, which stays safe to
 * release. */
void oci_resources_merge (struct oci_resources *dst, struct oci_resources *src);

/* ---- state.json ---------------------------------------------------------- */
enum oci_status { OCI_STATUS_CREATING, OCI_STATUS_CREATED, OCI_STATUS_RUNNING, OCI_STATUS_STOPPED,
                  OCI_STATUS_PAUSED };
extern const char *const oci_status_names[]; /* "creating", ... */

/* The runtime-spec state plus hull's own fields, kept in the state directory.
 * oci_state_to_json(..., public=true) prints only what `hull state` shows. */
struct oci_state
{
  char *oci_version;
  char *id;
  enum oci_status status;
  pid_t pid;            /* 0 when none */
  char *bundle;         /* absolute */
  struct oci_kvs annotations;
  /* hull's own */
  char *rootfs;             /* absolute */
  char *created;            /* RFC 3339 */
  char *owner;
  uint64_t init_start_time; /* /proc/PID/stat field 22, to detect pid reuse */
  char *cgroup_path;        /* relative to the cgroup2 mount */
  char *isolation;          /* "container" | "vm" */
  char *isolation_source;   /* "annotation", "flag", "program", "config", "default" */
  bool systemd_cgroup;
  /* Whether the config has poststart / poststop hooks, noted at create so
   * that start and delete need not parse the saved config.  Unset in a
   * state from before: read the config. */
  oci_bool poststart_hooks, poststop_hooks;
};
struct oci_state *oci_state_parse (const char *json, size_t len, const char *name, hull_error_t *err);
char *oci_state_to_json (const struct oci_state *s, bool public_only, bool pretty);
void oci_state_free (struct oci_state *s);

/* ---- features ------------------------------------------------------------ */
/* The runtime-spec "features" document (`hull features`), describing what
 * this build supports. Caller frees. */
char *oci_features_to_json (void);

#endif
