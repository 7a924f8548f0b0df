/* The config `hull spec` writes: runc's `runc spec` (libcontainer/specconv
 * Example, runc 1.1) with hostname "hull", and its ToRootless changes, plus
 * the Docker/containerd default seccomp profile (runc spec has none). */
#include "oci-internal.h"

/* Kept as JSON so that the default goes through the same parser and
 * validation as any config. */
static const char default_config[]
    = "{\"ociVersion\":\"1.2.0\","
      "\"process\":{\"terminal\":true,\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"sh\"],"
      "\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"TERM=xterm\"],"
      "\"cwd\":\"/\","
      "\"capabilities\":{"
      "\"bounding\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
      "\"effective\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
      "\"permitted\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"]},"
      "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],"
      "\"noNewPrivileges\":true},"
      "\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
      "\"hostname\":\"hull\","
      "\"mounts\":["
      "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
      "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
      "\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
      "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
      "\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]},"
      "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\","
      "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
      "{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\","
      "\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
      "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\","
      "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"
      "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\","
      "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]}],"
      "\"linux\":{"
      "\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},"
      "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},"
      "{\"type\":\"mount\"},{\"type\":\"cgroup\"}],"
      "\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/proc/kcore\",\"/proc/keys\","
      "\"/proc/latency_stats\",\"/proc/timer_list\",\"/proc/timer_stats\",\"/proc/sched_debug\","
      "\"/sys/firmware\",\"/proc/scsi\"],"
      "\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]}}";

/* ---- the default seccomp profile ------------------------------------------
 * moby's profiles/seccomp/default.json (Docker 25, the one containerd's
 * contrib/seccomp follows), resolved the way moby and containerd's
 * DefaultProfile(spec) resolve it: for the architecture hull was built for
 * and the config's bounding capabilities.  minKernel conditions are taken as
 * met (4.8; hull needs far newer).  A syscall libseccomp or the kernel does
 * not know is skipped when the filter is built, and ns/'s -ENOSYS stub makes
 * the ones newer than this list fail with ENOSYS rather than EPERM. */

enum
{
  ARCH_AMD64 = 1 << 0,
  ARCH_X32 = 1 << 1,
  ARCH_X86 = 1 << 2,
  ARCH_ARM = 1 << 3,
  ARCH_ARM64 = 1 << 4,
  ARCH_S390 = 1 << 5,
  ARCH_S390X = 1 << 6,
  ARCH_PPC64LE = 1 << 7,
  ARCH_RISCV64 = 1 << 8,
};

/* moby's archMap: the native architecture and the ones its kernel also runs. */
#if defined(__x86_64__)
#define NATIVE_ARCH ARCH_AMD64
static const char *const default_archs[] = { "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", NULL };
#elif defined(__aarch64__)
#define NATIVE_ARCH ARCH_ARM64
static const char *const default_archs[] = { "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", NULL };
#elif defined(__s390x__)
#define NATIVE_ARCH ARCH_S390X
static const char *const default_archs[] = { "SCMP_ARCH_S390X", "SCMP_ARCH_S390", NULL };
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH ARCH_RISCV64
static const char *const default_archs[] = { "SCMP_ARCH_RISCV64", NULL };
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_ARCH ARCH_PPC64LE
static const char *const default_archs[] = { NULL };
#elif defined(__i386__)
#define NATIVE_ARCH ARCH_X86
static const char *const default_archs[] = { NULL };
#elif defined(__arm__)
#define NATIVE_ARCH ARCH_ARM
static const char *const default_archs[] = { NULL };
#else
#define NATIVE_ARCH 0
static const char *const default_archs[] = { NULL };
#endif

/* Kept compact: one name per line would make this list 400 lines long. */
// clang-format off
static const char *const default_allowed[] = {
  "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget", "capset", "chdir",
  "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64",
  "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range",
  "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl",
  "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
  "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
  "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
  "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr",
  "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
  "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd",
  "getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
  "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
  "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list",
  "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid",
  "getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
  "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get",
  "ioprio_set", "io_setup", "io_submit", "io_uring_enter", "io_uring_register", "io_uring_setup", "ipc",
  "kill", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32",
  "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek",
  "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack", "membarrier", "memfd_create",
  "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap",
  "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64",
  "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd",
  "msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "_newselect",
  "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc",
  "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2",
  "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read",
  "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64",
  "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir",
  "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
  "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity",
  "sched_getattr", "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
  "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
  "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop",
  "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
  "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32",
  "setitimer", "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
  "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid", "setsockopt",
  "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt",
  "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall",
  "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync",
  "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
  "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
  "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
  "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime",
  "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
  "writev", NULL,
};
// clang-format on

/* Namespace flags clone(2) may not be given without CAP_SYS_ADMIN:
 * CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET. */
#define CLONE_NS_FLAGS 2114060288ULL

#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* One entry of default.json: "includes"/"excludes" are a capability in
 * the bounding set and architectures; an action of NULL is SCMP_ACT_ALLOW. */
struct default_rule
{
  const char *const *names;
  const char *action;
  uint64_t errno_ret;
  const char *op; /* one argument condition when set */
  uint32_t index;
  uint64_t value;
  const char *include_cap, *exclude_cap;
  unsigned arches, exclude_arches;
};

static const struct default_rule default_rules[] = {
  { .names = default_allowed },
  { .names = NAMES ("process_vm_readv", "process_vm_writev", "ptrace") },      /* minKernel 4.8 */
  { .names = NAMES ("socket"), .op = "SCMP_CMP_NE", .index = 0, .value = 40 }, /* not AF_VSOCK */
  { .names = NAMES ("personality"), .op = "SCMP_CMP_EQ", .value = 0 },
  { .names = NAMES ("personality"), .op = "SCMP_CMP_EQ", .value = 8 },
  { .names = NAMES ("personality"), .op = "SCMP_CMP_EQ", .value = 131072 },
  { .names = NAMES ("personality"), .op = "SCMP_CMP_EQ", .value = 131080 },
  { .names = NAMES ("personality"), .op = "SCMP_CMP_EQ", .value = 4294967295 },
  { .names = NAMES ("sync_file_range2", "swapcontext"), .arches = ARCH_PPC64LE },
  { .names = NAMES ("arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush",
                    "set_tls"),
    .arches = ARCH_ARM | ARCH_ARM64 },
  { .names = NAMES ("arch_prctl"), .arches = ARCH_AMD64 | ARCH_X32 },
  { .names = NAMES ("modify_ldt"), .arches = ARCH_AMD64 | ARCH_X32 | ARCH_X86 },
  { .names = NAMES ("s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"),
    .arches = ARCH_S390 | ARCH_S390X },
  { .names = NAMES ("riscv_flush_icache"), .arches = ARCH_RISCV64 },
  { .names = NAMES ("open_by_handle_at"), .include_cap = "CAP_DAC_READ_SEARCH" },
  { .names = NAMES ("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
                    "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open",
                    "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount",
                    "umount2", "unshare"),
    .include_cap = "CAP_SYS_ADMIN" },
  /* Without CAP_SYS_ADMIN: clone without namespace flags only (s390 has
   * the flags second), and clone3, whose flags BPF cannot see, says ENOSYS
   * so that libc falls back to clone. */
  { .names = NAMES ("clone"),
    .op = "SCMP_CMP_MASKED_EQ",
    .index = 0,
    .value = CLONE_NS_FLAGS,
    .exclude_cap = "CAP_SYS_ADMIN",
    .exclude_arches = ARCH_S390 | ARCH_S390X },
  { .names = NAMES ("clone"),
    .op = "SCMP_CMP_MASKED_EQ",
    .index = 1,
    .value = CLONE_NS_FLAGS,
    .exclude_cap = "CAP_SYS_ADMIN",
    .arches = ARCH_S390 | ARCH_S390X },
  { .names = NAMES ("clone3"), .action = "SCMP_ACT_ERRNO", .errno_ret = 38, .exclude_cap = "CAP_SYS_ADMIN" },
  { .names = NAMES ("reboot"), .include_cap = "CAP_SYS_BOOT" },
  { .names = NAMES ("chroot"), .include_cap = "CAP_SYS_CHROOT" },
  { .names = NAMES ("delete_module", "init_module", "finit_module"), .include_cap = "CAP_SYS_MODULE" },
  { .names = NAMES ("acct"), .include_cap = "CAP_SYS_PACCT" },
  { .names
    = NAMES ("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"),
    .include_cap = "CAP_SYS_PTRACE" },
  { .names = NAMES ("iopl", "ioperm"), .include_cap = "CAP_SYS_RAWIO" },
  { .names = NAMES ("settimeofday", "stime", "clock_settime", "clock_settime64"),
    .include_cap = "CAP_SYS_TIME" },
  { .names = NAMES ("vhangup"), .include_cap = "CAP_SYS_TTY_CONFIG" },
  { .names = NAMES ("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"),
    .include_cap = "CAP_SYS_NICE" },
  { .names = NAMES ("syslog"), .include_cap = "CAP_SYSLOG" },
  { .names = NAMES ("bpf"), .include_cap = "CAP_BPF" },
  { .names = NAMES ("perf_event_open"), .include_cap = "CAP_PERFMON" },
};

static bool
strv_has (char *const *v, const char *s)
{
  for (size_t i = 0; v && v[i]; i++)
    if (strcmp (v[i], s) == 0)
      return true;
  return false;
}

static bool
rule_applies (const struct default_rule *r, char *const *bounding)
{
  if ((r->arches && !(r->arches & NATIVE_ARCH)) || (r->exclude_arches & NATIVE_ARCH))
    return false;
  if (r->include_cap && !strv_has (bounding, r->include_cap))
    return false;
  return !(r->exclude_cap && strv_has (bounding, r->exclude_cap));
}

static void
add_default_rule (struct oci_seccomp *s, const struct default_rule *r)
{
  struct oci_seccomp_syscall *sc = &s->syscalls[s->n_syscalls++];
  memset (sc, 0, sizeof (*sc));
  sc->names = strv_dup ((char *const *)r->names);
  sc->action = xstrdup (r->action ? r->action : "SCMP_ACT_ALLOW");
  if (r->errno_ret)
    sc->errno_ret = (oci_u64){ .set = true, .v = r->errno_ret };
  if (r->op == NULL)
    return;
  sc->args = xmalloc0 (sizeof (*sc->args));
  sc->n_args = 1;
  sc->args[0] = (struct oci_seccomp_arg){ .index = r->index,
                                          .value = r->value,
                                          .op = oci_name_lookup (oci_seccomp_ops, r->op),
                                          .op_name = xstrdup (r->op) };
}

/* The profile for the config's bounding set, as containerd's
 * DefaultProfile(spec) makes it. */
static struct oci_seccomp *
default_seccomp (const struct oci_process *p)
{
  const size_t n_rules = sizeof (default_rules) / sizeof (default_rules[0]);
  char *const *bounding = p && p->capabilities ? p->capabilities->bounding : NULL;
  struct oci_seccomp *s = xmalloc0 (sizeof (*s));
  s->default_action = xstrdup ("SCMP_ACT_ERRNO");
  s->default_errno_ret = (oci_u64){ .set = true, .v = EPERM };
  if (default_archs[0])
    s->architectures = strv_dup ((char *const *)default_archs);
  s->syscalls = xmalloc0 (n_rules * sizeof (*s->syscalls));
  for (size_t i = 0; i < n_rules; i++)
    if (rule_applies (&default_rules[i], bounding))
      add_default_rule (s, &default_rules[i]);
  return s;
}

static void
rootless_namespaces (struct oci_linux *l)
{
  size_t n = 0;
  for (size_t i = 0; i < l->n_namespaces; i++)
    {
      struct oci_namespace *ns = &l->namespaces[i];
      if (ns->type == OCI_NS_NETWORK || ns->type == OCI_NS_USER)
        {
          free (ns->path);
          continue;
        }
      l->namespaces[n++] = *ns;
    }
  l->namespaces = xreallocarray (l->namespaces, n + 1, sizeof (*l->namespaces));
  l->namespaces[n++] = (struct oci_namespace){ .type = OCI_NS_USER };
  l->n_namespaces = n;
}

static struct oci_id_mapping *
single_mapping (uint32_t host_id)
{
  struct oci_id_mapping *m = xmalloc0 (sizeof (*m));
  *m = (struct oci_id_mapping){ .container_id = 0, .host_id = host_id, .size = 1 };
  return m;
}

/* uid= and gid= options name ids that do not exist in a one-id user namespace. */
static void
drop_id_options (char **options)
{
  size_t n = 0;
  for (size_t i = 0; options && options[i]; i++)
    {
      if (hull_str_has_prefix (options[i], "uid=") || hull_str_has_prefix (options[i], "gid="))
        free (options[i]);
      else
        options[n++] = options[i];
    }
  if (options)
    options[n] = NULL;
}

/* sysfs cannot be mounted without a network namespace of our own: bind the host's. */
static void
rootless_sys_mount (struct oci_mount *m)
{
  static const char *const opts[] = { "rbind", "nosuid", "noexec", "nodev", "ro", NULL };
  free (m->type);
  free (m->source);
  strv_free (m->options);
  m->type = xstrdup ("none");
  m->source = xstrdup ("/sys");
  m->options = strv_dup ((char *const *)opts);
}

static void
to_rootless (struct oci_config *c, uid_t uid, gid_t gid)
{
  struct oci_linux *l = c->linux_;
  rootless_namespaces (l);
  free (l->uid_mappings);
  free (l->gid_mappings);
  l->uid_mappings = single_mapping (uid);
  l->gid_mappings = single_mapping (gid);
  l->n_uid_mappings = l->n_gid_mappings = 1;
  for (size_t i = 0; i < c->n_mounts; i++)
    {
      if (strcmp (c->mounts[i].destination, "/sys") == 0)
        rootless_sys_mount (&c->mounts[i]);
      else
        drop_id_options (c->mounts[i].options);
    }
  /* No cgroup settings: an unprivileged user may not own a cgroup. */
  oci_resources_release (&l->resources);
}

struct oci_config *
oci_config_default (bool rootless, uid_t uid, gid_t gid)
{
  hull_error_t err = NULL;
  struct oci_config *c
      = oci_config_parse (default_config, sizeof (default_config) - 1, "default config", &err);
  if (c == NULL)
    {
      /* Only a bug in the template above can get here. */
      fprintf (stderr, "hull: %s\n", err->msg);
      abort ();
    }
  if (rootless)
    to_rootless (c, uid, gid);
  /* The same profile rootless: it keeps the same capabilities. */
  c->linux_->seccomp = default_seccomp (c->process);
  return c;
}
