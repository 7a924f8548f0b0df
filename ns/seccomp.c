/* linux.seccomp: the OCI object turned into a libseccomp filter, then into
 * the BPF program the kernel gets, then loaded as the last step before
 * execve, with the notify fd sent to the listener as runc does.
 *
 * What follows runc (libcontainer/seccomp) on purpose:
 *  - SCMP_ACT_KILL is KILL_THREAD; ERRNO and TRACE without errnoRet use EPERM;
 *  - a syscall name libseccomp does not know is skipped (a profile newer
 *    than the library or the kernel must still load);
 *  - a rule whose action equals the default action is skipped (libseccomp
 *    refuses it with EACCES);
 *  - args: when two conditions compare the same argument, each condition
 *    becomes a rule of its own (ORed), else one rule ANDs them all;
 *  - SCMP_CMP_MASKED_EQ takes value as the mask and valueTwo as the datum;
 *  - the -ENOSYS stub (runc's patchbpf): unless the default action lets
 *    syscalls through, a syscall whose number is above the highest one the
 *    profile names for that architecture gets ENOSYS instead of the default
 *    action, so that a profile older than a syscall (clone3, fchmodat2...)
 *    makes libc fall back instead of failing with EPERM;
 *  - SCMP_ACT_NOTIFY is refused as the default action.
 * Where hull differs: it sends the notify fd to the listener from the
 * container's init itself (runc hands it to its parent first), so the
 * profile may not SCMP_ACT_NOTIFY sendmsg, the one syscall that needs (runc
 * refuses write for the same reason); the native architecture is always
 * part of the -ENOSYS stub; SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is
 * passed to the kernel (runc 1.1 does not know it). */
#include "ns-internal.h"

#include <inttypes.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <yajl/yajl_gen.h>

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef BPF_MAXINSNS
#define BPF_MAXINSNS 4096
#endif

/* runc's name for the fd in the ContainerProcessState (specs.SeccompFdName). */
#define SECCOMP_FD_NAME "seccompFd"
/* The runtime-spec version hull implements (`hull features`). */
#define SPEC_VERSION "1.2.0"

static void
filter_releasep (scmp_filter_ctx *ctx)
{
  if (*ctx)
    seccomp_release (*ctx);
}
#define cleanup_filter __attribute__ ((cleanup (filter_releasep)))

/* ---- translation ----------------------------------------------------------- */

int
ns_seccomp_action (const char *name, oci_u64 errno_ret, uint32_t *out)
{
  uint16_t data = errno_ret.set ? (uint16_t)errno_ret.v : EPERM;
  if (name == NULL)
    return -1;
  if (strcmp (name, "SCMP_ACT_KILL") == 0 || strcmp (name, "SCMP_ACT_KILL_THREAD") == 0)
    *out = SCMP_ACT_KILL_THREAD;
  else if (strcmp (name, "SCMP_ACT_KILL_PROCESS") == 0)
    *out = SCMP_ACT_KILL_PROCESS;
  else if (strcmp (name, "SCMP_ACT_TRAP") == 0)
    *out = SCMP_ACT_TRAP;
  else if (strcmp (name, "SCMP_ACT_ERRNO") == 0)
    *out = SCMP_ACT_ERRNO (data);
  else if (strcmp (name, "SCMP_ACT_TRACE") == 0)
    *out = SCMP_ACT_TRACE (data);
  else if (strcmp (name, "SCMP_ACT_ALLOW") == 0)
    *out = SCMP_ACT_ALLOW;
  else if (strcmp (name, "SCMP_ACT_LOG") == 0)
    *out = SCMP_ACT_LOG;
  else if (strcmp (name, "SCMP_ACT_NOTIFY") == 0)
    *out = SCMP_ACT_NOTIFY;
  else
    return -1;
  return 0;
}

static const enum scmp_compare cmp_ops[] = {
  [OCI_SCMP_CMP_NE] = SCMP_CMP_NE,
  [OCI_SCMP_CMP_LT] = SCMP_CMP_LT,
  [OCI_SCMP_CMP_LE] = SCMP_CMP_LE,
  [OCI_SCMP_CMP_EQ] = SCMP_CMP_EQ,
  [OCI_SCMP_CMP_GE] = SCMP_CMP_GE,
  [OCI_SCMP_CMP_GT] = SCMP_CMP_GT,
  [OCI_SCMP_CMP_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
};

/* "SCMP_ARCH_X86_64" -> libseccomp's token, 0 when libseccomp does not know it. */
uint32_t
ns_seccomp_arch (const char *name)
{
  char buf[32];
  size_t n = 0;
  if (name == NULL || !hull_str_has_prefix (name, "SCMP_ARCH_") || strlen (name + 10) >= sizeof (buf))
    return 0;
  for (const char *s = name + 10; *s; s++)
    buf[n++] = (*s >= 'A' && *s <= 'Z') ? (char)(*s - 'A' + 'a') : *s;
  buf[n] = '\0';
  return seccomp_arch_resolve_name (buf);
}

static bool
action_is (const char *action, const char *name)
{
  return action && strcmp (action, name) == 0;
}

bool
ns_seccomp_uses_notify (const struct oci_seccomp *s)
{
  if (action_is (s->default_action, "SCMP_ACT_NOTIFY"))
    return true;
  for (size_t i = 0; i < s->n_syscalls; i++)
    if (action_is (s->syscalls[i].action, "SCMP_ACT_NOTIFY"))
      return true;
  return false;
}

static bool
has_flag (const struct oci_seccomp *s, const char *flag)
{
  for (size_t i = 0; s->flags && s->flags[i]; i++)
    if (strcmp (s->flags[i], flag) == 0)
      return true;
  return false;
}

static int
add_architectures (scmp_filter_ctx ctx, const struct oci_seccomp *s, hull_error_t *err)
{
  for (size_t i = 0; s->architectures && s->architectures[i]; i++)
    {
      uint32_t arch = ns_seccomp_arch (s->architectures[i]);
      if (arch == 0)
        return hull_make_error (
            err, 0, "linux.seccomp.architectures[%zu]: %s is not supported by libseccomp %u.%u.%u", i,
            s->architectures[i], seccomp_version ()->major, seccomp_version ()->minor,
            seccomp_version ()->micro);
      if (seccomp_arch_exist (ctx, arch) == 0)
        continue; /* the native one is already there */
      int rc = seccomp_arch_add (ctx, arch);
      if (rc == -EDOM)
        return hull_make_error (err, 0,
                                "linux.seccomp.architectures[%zu]: %s cannot share a filter with the native "
                                "architecture (another byte order)",
                                i, s->architectures[i]);
      if (rc < 0)
        return hull_make_error (err, -rc, "linux.seccomp.architectures[%zu]: add %s", i, s->architectures[i]);
    }
  return 0;
}

static int
set_attr (scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value, const char *what,
          hull_error_t *err)
{
  int rc = seccomp_attr_set (ctx, attr, value);
  if (rc < 0)
    return hull_make_error (err, -rc, "linux.seccomp.flags: %s is not supported by libseccomp or the kernel",
                            what);
  return 0;
}

/* TSYNC, LOG and SPEC_ALLOW are filter attributes; WAIT_KILLABLE_RECV, which
 * libseccomp 2.5 does not know, is added when the program is loaded. */
static int
set_flags (scmp_filter_ctx ctx, const struct oci_seccomp *s, hull_error_t *err)
{
  if (has_flag (s, "SECCOMP_FILTER_FLAG_TSYNC")
      && set_attr (ctx, SCMP_FLTATR_CTL_TSYNC, 1, "SECCOMP_FILTER_FLAG_TSYNC", err) < 0)
    return -1;
  if (has_flag (s, "SECCOMP_FILTER_FLAG_LOG")
      && set_attr (ctx, SCMP_FLTATR_CTL_LOG, 1, "SECCOMP_FILTER_FLAG_LOG", err) < 0)
    return -1;
  if (has_flag (s, "SECCOMP_FILTER_FLAG_SPEC_ALLOW")
      && set_attr (ctx, SCMP_FLTATR_CTL_SSB, 1, "SECCOMP_FILTER_FLAG_SPEC_ALLOW", err) < 0)
    return -1;
  if (has_flag (s, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") && !ns_seccomp_uses_notify (s))
    return hull_make_error (err, 0,
                            "linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a "
                            "SCMP_ACT_NOTIFY rule (the kernel refuses it without a listener)");
  /* no_new_privs is process.noNewPrivileges' business, not the filter's. */
  if (set_attr (ctx, SCMP_FLTATR_CTL_NNP, 0, "clearing no_new_privs", err) < 0)
    return -1;
  /* runc: a binary tree of syscalls for long profiles (libseccomp <= 2.5.4
   * misbehaves with it on an empty one); not fatal when unavailable. */
  size_t n_names = 0;
  for (size_t i = 0; i < s->n_syscalls; i++)
    n_names += strv_len (s->syscalls[i].names);
  if (n_names > 32)
    seccomp_attr_set (ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  return 0;
}

/* runc's rule: conditions on distinct arguments AND together in one rule;
 * as soon as one argument is compared twice, every condition is a rule of
 * its own (ORed), which is how profiles allow a syscall for a list of
 * values (personality). */
static bool
args_share_an_index (const struct oci_seccomp_syscall *sc)
{
  unsigned seen = 0;
  for (size_t j = 0; j < sc->n_args; j++)
    {
      unsigned bit = 1u << (sc->args[j].index & 31);
      if (seen & bit)
        return true;
      seen |= bit;
    }
  return false;
}

static int
add_rule_for (scmp_filter_ctx ctx, uint32_t act, int nr, const struct scmp_arg_cmp *conds, size_t n,
              bool split, const char *name, size_t i, hull_error_t *err)
{
  int rc = 0;
  if (!split)
    rc = seccomp_rule_add_array (ctx, act, nr, (unsigned)n, n ? conds : NULL);
  for (size_t j = 0; split && j < n && rc == 0; j++)
    rc = seccomp_rule_add_array (ctx, act, nr, 1, &conds[j]);
  if (rc < 0)
    return hull_make_error (err, -rc, "linux.seccomp.syscalls[%zu]: add the rule for `%s`", i, name);
  return 0;
}

static int
add_syscall (scmp_filter_ctx ctx, const struct oci_seccomp_syscall *sc, size_t i, uint32_t def,
             hull_error_t *err)
{
  uint32_t act;
  if (ns_seccomp_action (sc->action, sc->errno_ret, &act) < 0)
    return hull_make_error (err, 0, "linux.seccomp.syscalls[%zu].action: unknown action \"%s\"", i,
                            sc->action ? sc->action : "");
  for (size_t k = 0; act == SCMP_ACT_NOTIFY && sc->names && sc->names[k]; k++)
    if (strcmp (sc->names[k], "sendmsg") == 0)
      return hull_make_error (err, 0,
                              "linux.seccomp.syscalls[%zu]: SCMP_ACT_NOTIFY cannot be used for sendmsg: "
                              "the container's init sends the notify fd to the listener with it",
                              i);
  if (act == def)
    return 0;
  cleanup_free struct scmp_arg_cmp *conds = xmalloc0 ((sc->n_args ? sc->n_args : 1) * sizeof (*conds));
  for (size_t j = 0; j < sc->n_args; j++)
    {
      const struct oci_seccomp_arg *a = &sc->args[j];
      if (a->index > 5 || (size_t)a->op >= sizeof (cmp_ops) / sizeof (cmp_ops[0]))
        return hull_make_error (err, 0, "linux.seccomp.syscalls[%zu].args[%zu]: invalid index or operator", i,
                                j);
      conds[j] = (struct scmp_arg_cmp){
        .arg = a->index, .op = cmp_ops[a->op], .datum_a = a->value, .datum_b = a->value_two
      };
    }
  bool split = args_share_an_index (sc);
  for (size_t k = 0; sc->names && sc->names[k]; k++)
    {
      int nr = seccomp_syscall_resolve_name (sc->names[k]);
      if (nr == __NR_SCMP_ERROR)
        continue; /* unknown to libseccomp: runc skips it too */
      if (add_rule_for (ctx, act, nr, conds, sc->n_args, split, sc->names[k], i, err) < 0)
        return -1;
    }
  return 0;
}

int
ns_seccomp_build (const struct oci_seccomp *s, scmp_filter_ctx *out, hull_error_t *err)
{
  uint32_t def;
  *out = NULL;
  if (ns_seccomp_action (s->default_action, s->default_errno_ret, &def) < 0)
    return hull_make_error (err, 0, "linux.seccomp.defaultAction: unknown action \"%s\"",
                            s->default_action ? s->default_action : "");
  /* As runc: every syscall would wait for the agent, the ones the init
   * still makes to reach it included. */
  if (def == SCMP_ACT_NOTIFY)
    return hull_make_error (err, 0,
                            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
  if (ns_seccomp_uses_notify (s) && seccomp_api_get () < 6)
    return hull_make_error (err, 0,
                            "linux.seccomp: SCMP_ACT_NOTIFY needs libseccomp API level 6 (libseccomp >= 2.5, "
                            "Linux >= 5.7), this one has %u",
                            seccomp_api_get ());
  cleanup_filter scmp_filter_ctx ctx = seccomp_init (def);
  if (ctx == NULL)
    return hull_make_error (err, 0,
                            "linux.seccomp.defaultAction: %s is not supported by libseccomp or the kernel",
                            s->default_action);
  if (add_architectures (ctx, s, err) < 0 || set_flags (ctx, s, err) < 0)
    return -1;
  for (size_t i = 0; i < s->n_syscalls; i++)
    if (add_syscall (ctx, &s->syscalls[i], i, def, err) < 0)
      return -1;
  *out = steal_pointer (&ctx);
  return 0;
}

/* ---- the BPF program: libseccomp's, behind the -ENOSYS stub --------------- */

/* A tiny assembler: instructions are appended, forward `ja` jumps name a
 * label and are patched once every label has its place.  Conditional
 * jumps only ever skip the next instruction, so their 8-bit offsets never
 * overflow. */
enum
{
  LBL_ENOSYS,
  LBL_FILTER,
  LBL_FIRST_FREE
};

struct bpf_asm
{
  struct sock_filter *v;
  size_t n, cap;
  struct
  {
    size_t at;
    int label;
  } * fix;
  size_t n_fix, cap_fix;
  size_t *label_at;
  int n_labels;
};

static void
asm_emit (struct bpf_asm *a, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
  if (a->n == a->cap)
    {
      a->cap = a->cap ? a->cap * 2 : 64;
      a->v = xreallocarray (a->v, a->cap, sizeof (*a->v));
    }
  a->v[a->n++] = (struct sock_filter){ .code = code, .jt = jt, .jf = jf, .k = k };
}

static void
asm_jump (struct bpf_asm *a, int label)
{
  if (a->n_fix == a->cap_fix)
    {
      a->cap_fix = a->cap_fix ? a->cap_fix * 2 : 32;
      a->fix = xreallocarray (a->fix, a->cap_fix, sizeof (*a->fix));
    }
  a->fix[a->n_fix].at = a->n;
  a->fix[a->n_fix++].label = label;
  asm_emit (a, BPF_JMP | BPF_JA, 0, 0, 0);
}

static int
asm_new_label (struct bpf_asm *a)
{
  a->label_at = xreallocarray (a->label_at, (size_t)a->n_labels + 1, sizeof (*a->label_at));
  a->label_at[a->n_labels] = SIZE_MAX;
  return a->n_labels++;
}

static void
asm_place (struct bpf_asm *a, int label)
{
  a->label_at[label] = a->n;
}

static void
asm_release (struct bpf_asm *a)
{
  free (a->v);
  free (a->fix);
  free (a->label_at);
}

/* Jumps go forward only, so every offset is label - (at + 1). */
static void
asm_resolve (struct bpf_asm *a)
{
  for (size_t i = 0; i < a->n_fix; i++)
    a->v[a->fix[i].at].k = (uint32_t)(a->label_at[a->fix[i].label] - (a->fix[i].at + 1));
}

/* One native architecture of the stub: x86_64 carries two syscall tables,
 * the x32 one being numbers with bit 30 set. */
struct stub_arch
{
  uint32_t audit;
  int main_max, x32_max; /* highest syscall the profile names; 0: none */
};

static int
highest_syscall (const struct oci_seccomp *s, uint32_t arch)
{
  int max = 0;
  for (size_t i = 0; i < s->n_syscalls; i++)
    for (size_t k = 0; s->syscalls[i].names && s->syscalls[i].names[k]; k++)
      {
        /* Negative numbers are libseccomp's pseudo-syscalls (socketcall
         * multiplexing): nothing the kernel sees as such. */
        int nr = seccomp_syscall_resolve_name_arch (arch, s->syscalls[i].names[k]);
        if (nr > max)
          max = nr;
      }
  return max;
}

static void
stub_arch_add (struct stub_arch *v, size_t *n, const struct oci_seccomp *s, uint32_t arch)
{
  uint32_t audit = arch == SCMP_ARCH_X32 ? AUDIT_ARCH_X86_64 : arch;
  size_t i;
  for (i = 0; i < *n && v[i].audit != audit; i++)
    ;
  if (i == *n)
    v[(*n)++] = (struct stub_arch){ .audit = audit };
  int max = highest_syscall (s, arch);
  if (arch == SCMP_ARCH_X32)
    v[i].x32_max = max;
  else
    v[i].main_max = max;
}

/* ENOSYS above max, the real filter otherwise.  The accumulator holds the
 * syscall number. */
static void
emit_max_check (struct bpf_asm *a, int max)
{
  if (max > 0)
    {
      asm_emit (a, BPF_JMP | BPF_JGT | BPF_K, 0, 1, (uint32_t)max);
      asm_jump (a, LBL_ENOSYS);
    }
  asm_jump (a, LBL_FILTER);
}

static void
emit_arch_section (struct bpf_asm *a, const struct stub_arch *sa)
{
  asm_emit (a, BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)offsetof (struct seccomp_data, nr));
  /* s390: an unknown syscall is left as number 0, setup(2), which nothing
   * uses any more: ENOSYS as well. */
  if (sa->audit == AUDIT_ARCH_S390 || sa->audit == AUDIT_ARCH_S390X)
    {
      asm_emit (a, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
      asm_jump (a, LBL_ENOSYS);
    }
  if (sa->audit != AUDIT_ARCH_X86_64)
    {
      emit_max_check (a, sa->main_max);
      return;
    }
  int x32 = asm_new_label (a);
  asm_emit (a, BPF_JMP | BPF_JSET | BPF_K, 0, 1, 0x40000000u);
  asm_jump (a, x32);
  emit_max_check (a, sa->main_max);
  asm_place (a, x32);
  emit_max_check (a, sa->x32_max);
}

static bool
stub_wanted (const struct oci_seccomp *s)
{
  /* runc: allow-like defaults (a tracer should handle new syscalls itself)
   * and a default errno that already is ENOSYS need no stub. */
  if (action_is (s->default_action, "SCMP_ACT_ALLOW") || action_is (s->default_action, "SCMP_ACT_LOG")
      || action_is (s->default_action, "SCMP_ACT_TRACE"))
    return false;
  return !(s->default_errno_ret.set && s->default_errno_ret.v == ENOSYS);
}

/* The stub for the native architecture plus the profile's, empty when
 * nothing needs it. */
static void
emit_enosys_stub (struct bpf_asm *a, const struct oci_seccomp *s)
{
  size_t n_arch = 0, cap = 1 + strv_len (s->architectures);
  cleanup_free struct stub_arch *archs = xmalloc0 (cap * sizeof (*archs));
  if (!stub_wanted (s))
    return;
  stub_arch_add (archs, &n_arch, s, seccomp_arch_native ());
  for (size_t i = 0; s->architectures && s->architectures[i]; i++)
    {
      uint32_t arch = ns_seccomp_arch (s->architectures[i]);
      if (arch && arch != seccomp_arch_native ())
        stub_arch_add (archs, &n_arch, s, arch);
    }
  bool any = false;
  for (size_t i = 0; i < n_arch; i++)
    any = any || archs[i].main_max > 0 || archs[i].x32_max > 0;
  if (!any)
    return;
  cleanup_free int *sections = xmalloc0 (n_arch * sizeof (int));
  asm_emit (a, BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)offsetof (struct seccomp_data, arch));
  for (size_t i = 0; i < n_arch; i++)
    {
      sections[i] = asm_new_label (a);
      asm_emit (a, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, archs[i].audit);
      asm_jump (a, sections[i]);
    }
  asm_jump (a, LBL_FILTER); /* other architectures: libseccomp's bad-arch action */
  for (size_t i = 0; i < n_arch; i++)
    {
      asm_place (a, sections[i]);
      emit_arch_section (a, &archs[i]);
    }
  asm_place (a, LBL_ENOSYS);
  asm_emit (a, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
}

/* libseccomp 2.5 exports to an fd only. */
static int
export_bpf (scmp_filter_ctx ctx, struct sock_filter **out, size_t *n, hull_error_t *err)
{
  cleanup_close int fd = memfd_create ("hull-seccomp-bpf", MFD_CLOEXEC);
  struct stat st;
  if (fd < 0)
    return hull_make_error (err, errno, "seccomp: memfd_create for the BPF program");
  int rc = seccomp_export_bpf (ctx, fd);
  if (rc < 0)
    return hull_make_error (err, -rc, "seccomp: generate the BPF program");
  if (fstat (fd, &st) < 0)
    return hull_make_error (err, errno, "seccomp: fstat the BPF program");
  if (st.st_size <= 0 || st.st_size % sizeof (struct sock_filter) != 0 || st.st_size > (1 << 24))
    return hull_make_error (err, 0, "seccomp: libseccomp exported a BPF program of %lld bytes",
                            (long long)st.st_size);
  *n = (size_t)st.st_size / sizeof (struct sock_filter);
  *out = xmalloc (*n * sizeof (struct sock_filter));
  ssize_t r = pread (fd, *out, (size_t)st.st_size, 0);
  if (r != st.st_size)
    {
      int saved_errno = r < 0 ? errno : EIO;
      free (steal_pointer (out));
      return hull_make_error (err, saved_errno, "seccomp: read the BPF program back");
    }
  return 0;
}

static uint32_t
attr_get (scmp_filter_ctx ctx, enum scmp_filter_attr attr)
{
  uint32_t v = 0;
  return seccomp_attr_get (ctx, attr, &v) == 0 ? v : 0;
}

static unsigned int
program_flags (scmp_filter_ctx ctx, const struct oci_seccomp *s)
{
  unsigned int flags = 0;
  bool notify = ns_seccomp_uses_notify (s);
  if (attr_get (ctx, SCMP_FLTATR_CTL_TSYNC))
    /* The kernel refuses TSYNC with a listener unless told to report a
     * thread that cannot sync as ESRCH. */
    flags |= SECCOMP_FILTER_FLAG_TSYNC | (notify ? SECCOMP_FILTER_FLAG_TSYNC_ESRCH : 0);
  if (attr_get (ctx, SCMP_FLTATR_CTL_LOG))
    flags |= SECCOMP_FILTER_FLAG_LOG;
  if (attr_get (ctx, SCMP_FLTATR_CTL_SSB))
    flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
  if (notify)
    flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
  if (notify && has_flag (s, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"))
    flags |= SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  return flags;
}

int
ns_seccomp_program (scmp_filter_ctx ctx, const struct oci_seccomp *s, struct ns_seccomp_program *out,
                    hull_error_t *err)
{
  struct bpf_asm a = { 0 };
  cleanup_free struct sock_filter *filter = NULL;
  size_t n_filter = 0;
  memset (out, 0, sizeof (*out));
  if (export_bpf (ctx, &filter, &n_filter, err) < 0)
    return -1;
  asm_new_label (&a); /* LBL_ENOSYS */
  asm_new_label (&a); /* LBL_FILTER */
  emit_enosys_stub (&a, s);
  asm_place (&a, LBL_FILTER);
  asm_resolve (&a);
  if (a.n + n_filter > BPF_MAXINSNS)
    {
      size_t total = a.n + n_filter;
      asm_release (&a);
      return hull_make_error (err, 0,
                              "linux.seccomp: the filter needs %zu BPF instructions, the kernel takes %d",
                              total, BPF_MAXINSNS);
    }
  out->insns = xreallocarray (a.v, a.n + n_filter, sizeof (struct sock_filter));
  a.v = NULL;
  memcpy (out->insns + a.n, filter, n_filter * sizeof (struct sock_filter));
  out->len = a.n + n_filter;
  out->stub_len = a.n;
  out->flags = program_flags (ctx, s);
  asm_release (&a);
  return 0;
}

void
ns_seccomp_program_release (struct ns_seccomp_program *p)
{
  free (p->insns);
  memset (p, 0, sizeof (*p));
}

int
ns_seccomp_program_load (const struct ns_seccomp_program *p, int *notify_fd, hull_error_t *err)
{
  struct sock_fprog fprog = { .len = (unsigned short)p->len, .filter = p->insns };
  *notify_fd = -1;
  long r = syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->flags, &fprog);
  if (r < 0)
    {
      int saved_errno = errno;
      return hull_make_error (err, saved_errno, "load the seccomp filter (flags %#x)%s", p->flags,
                              saved_errno == EACCES ? " (without no_new_privs it needs CAP_SYS_ADMIN)" : "");
    }
  if (p->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)
    *notify_fd = (int)r;
  return 0;
}

/* ---- the listener ------------------------------------------------------------ */

static char *
json_string (const char *s)
{
  yajl_gen g = yajl_gen_alloc (NULL);
  const unsigned char *buf;
  size_t len;
  yajl_gen_string (g, (const unsigned char *)s, strlen (s));
  yajl_gen_get_buf (g, &buf, &len);
  char *r = xstrndup ((const char *)buf, len);
  yajl_gen_free (g);
  return r;
}

/* runc's specs.ContainerProcessState: the state of the container with the
 * pid filled in, the listener's metadata and the names of the fds sent. */
char *
ns_seccomp_listener_message (const struct oci_state *state, pid_t pid, const char *metadata)
{
  struct oci_state st = { 0 };
  if (state)
    st = *state;
  else
    st.status = OCI_STATUS_CREATING;
  st.pid = pid;
  cleanup_free char *version = xstrdup (st.oci_version ? st.oci_version : SPEC_VERSION);
  st.oci_version = version;
  cleanup_free char *state_json = oci_state_to_json (&st, true, false);
  cleanup_free char *meta = metadata && metadata[0] ? json_string (metadata) : NULL;
  return hull_fmt ("{\"ociVersion\":\"" SPEC_VERSION "\",\"fds\":[\"" SECCOMP_FD_NAME "\"],\"pid\":%d%s%s,"
                   "\"state\":%s}",
                   (int)pid, meta ? ",\"metadata\":" : "", meta ? meta : "", state_json);
}

static int
connect_listener (const char *path, hull_error_t *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen (path) >= sizeof (addr.sun_path))
    return hull_make_error (err, ENAMETOOLONG, "linux.seccomp.listenerPath `%s`", path);
  memcpy (addr.sun_path, path, strlen (path) + 1);
  cleanup_close int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return hull_make_error (err, errno, "socket for linux.seccomp.listenerPath");
  if (connect (fd, (struct sockaddr *)&addr, sizeof (addr)) < 0)
    return hull_make_error (err, errno, "connect to linux.seccomp.listenerPath `%s`", path);
  return steal_fd (&fd);
}

/* runc's utils.SendFds: the JSON as payload, the fd in SCM_RIGHTS. */
int
ns_seccomp_send_to_listener (int sock, int notify_fd, const char *msg, hull_error_t *err)
{
  union
  {
    struct cmsghdr h;
    char buf[CMSG_SPACE (sizeof (int))];
  } u;
  size_t len = strlen (msg), done = 0;
  memset (&u, 0, sizeof (u));
  struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
  struct msghdr mh
      = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof (u.buf) };
  struct cmsghdr *cm = CMSG_FIRSTHDR (&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cm), &notify_fd, sizeof (int));
  ssize_t r;
  do
    r = sendmsg (sock, &mh, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return hull_make_error (err, errno, "send the seccomp notify fd to linux.seccomp.listenerPath");
  /* The fd went with the first byte; a stream socket may take the rest later. */
  for (done = (size_t)r; done < len; done += (size_t)r)
    {
      do
        r = send (sock, msg + done, len - done, MSG_NOSIGNAL);
      while (r < 0 && errno == EINTR);
      if (r <= 0)
        return hull_make_error (err, r < 0 ? errno : EPIPE,
                                "send the container state to linux.seccomp.listenerPath");
    }
  return 0;
}

/* ---- what spawn and exec use ------------------------------------------------ */

struct ns_seccomp
{
  struct ns_seccomp_program prog;
  int listener_fd;    /* connected to listenerPath, -1 without SCMP_ACT_NOTIFY */
  char *listener_msg; /* what the listener gets with the notify fd */
  bool loaded;
};

void
ns_seccomp_free (struct ns_seccomp *sc)
{
  if (sc == NULL)
    return;
  ns_seccomp_program_release (&sc->prog);
  if (sc->listener_fd >= 0)
    close (sc->listener_fd);
  free (sc->listener_msg);
  free (sc);
}

/* Everything of a profile that shapes its program, unambiguously
 * (length-prefixed strings): the key of the cache below. */
static char *
profile_key (const struct oci_seccomp *s)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);
  if (f == NULL)
    return NULL;
#define KEY_STR(x) fprintf (f, "%zu:%s", (x) ? strlen (x) : (size_t)0, (x) ? (x) : "")
#define KEY_STRV(v)                                                                                          \
  do                                                                                                         \
    {                                                                                                        \
      fprintf (f, "[%zu", strv_len (v));                                                                     \
      for (size_t k_ = 0; (v) && (v)[k_]; k_++)                                                              \
        KEY_STR ((v)[k_]);                                                                                   \
    }                                                                                                        \
  while (0)
  KEY_STR (s->default_action);
  fprintf (f, "%d,%" PRIu64, s->default_errno_ret.set, s->default_errno_ret.v);
  KEY_STRV (s->architectures);
  KEY_STRV (s->flags);
  fprintf (f, "%d%zu", ns_seccomp_uses_notify (s), s->n_syscalls);
  for (size_t i = 0; i < s->n_syscalls; i++)
    {
      const struct oci_seccomp_syscall *sc = &s->syscalls[i];
      KEY_STRV (sc->names);
      KEY_STR (sc->action);
      fprintf (f, "%d,%" PRIu64 ",%zu", sc->errno_ret.set, sc->errno_ret.v, sc->n_args);
      for (size_t j = 0; j < sc->n_args; j++)
        fprintf (f, ";%u,%d,%" PRIu64 ",%" PRIu64, sc->args[j].index, (int)sc->args[j].op, sc->args[j].value,
                 sc->args[j].value_two);
    }
#undef KEY_STRV
#undef KEY_STR
  if (fclose (f) != 0)
    {
      free (buf);
      return NULL;
    }
  return buf;
}

/* libseccomp takes several milliseconds to turn a Docker-sized profile into
 * BPF.  The runtime validates the config (which compiles it) and then forks
 * the container's init, which gets a copy of this cache and does not
 * compile the same profile again. */
static struct
{
  char *key;
  struct ns_seccomp_program prog;
} program_cache;

static void
program_copy (struct ns_seccomp_program *dst, const struct ns_seccomp_program *src)
{
  *dst = *src;
  dst->insns = xmalloc (src->len * sizeof (*src->insns));
  memcpy (dst->insns, src->insns, src->len * sizeof (*src->insns));
}

static int
build_program (const struct oci_seccomp *s, struct ns_seccomp_program *prog, hull_error_t *err)
{
  cleanup_filter scmp_filter_ctx ctx = NULL;
  cleanup_free char *key = profile_key (s);
  if (key && program_cache.key && strcmp (key, program_cache.key) == 0)
    {
      program_copy (prog, &program_cache.prog);
      return 0;
    }
  if (ns_seccomp_build (s, &ctx, err) < 0 || ns_seccomp_program (ctx, s, prog, err) < 0)
    return -1;
  if (key)
    {
      free (program_cache.key);
      ns_seccomp_program_release (&program_cache.prog);
      program_cache.key = steal_pointer (&key);
      program_copy (&program_cache.prog, prog);
    }
  return 0;
}

int
ns_validate_seccomp (const struct oci_config *c, hull_error_t *err)
{
  const struct oci_seccomp *s = c->linux_ ? c->linux_->seccomp : NULL;
  struct ns_seccomp_program prog;
  if (s == NULL)
    return 0;
  if (s->listener_path && s->listener_path[0] != '/' && ns_seccomp_uses_notify (s))
    return hull_make_error (err, 0, "linux.seccomp.listenerPath: `%s` is not an absolute path",
                            s->listener_path);
  if (build_program (s, &prog, err) < 0)
    return -1;
  ns_seccomp_program_release (&prog);
  return 0;
}

int
ns_seccomp_prepare (const struct oci_config *c, const struct oci_state *state, pid_t pid,
                    struct ns_seccomp **out, hull_error_t *err)
{
  const struct oci_seccomp *s = c->linux_ ? c->linux_->seccomp : NULL;
  *out = NULL;
  if (s == NULL)
    return 0;
  struct ns_seccomp *sc = xmalloc0 (sizeof (*sc));
  sc->listener_fd = -1;
  if (build_program (s, &sc->prog, err) < 0)
    {
      ns_seccomp_free (sc);
      return -1;
    }
  if (ns_seccomp_uses_notify (s))
    {
      sc->listener_msg = ns_seccomp_listener_message (state, pid, s->listener_metadata);
      sc->listener_fd = connect_listener (s->listener_path, err);
      if (sc->listener_fd < 0)
        {
          ns_seccomp_free (sc);
          return -1;
        }
    }
  *out = sc;
  return 0;
}

int
ns_seccomp_load (struct ns_seccomp *sc, hull_error_t *err)
{
  cleanup_close int notify_fd = -1;
  if (sc == NULL || sc->loaded)
    return 0;
  /* Nothing between here and the send may allocate: a notified mmap or
   * brk would wait for an agent that has no fd yet. */
  if (ns_seccomp_program_load (&sc->prog, &notify_fd, err) < 0)
    return -1;
  sc->loaded = true;
  if (notify_fd >= 0 && ns_seccomp_send_to_listener (sc->listener_fd, notify_fd, sc->listener_msg, err) < 0)
    return -1;
  if (sc->listener_fd >= 0)
    close (steal_fd (&sc->listener_fd));
  return 0;
}

static bool
keeps_sys_admin (const struct oci_process *p)
{
  for (size_t i = 0; p->capabilities && p->capabilities->effective && p->capabilities->effective[i]; i++)
    if (strcmp (p->capabilities->effective[i], "CAP_SYS_ADMIN") == 0)
      return true;
  return false;
}

int
ns_seccomp_load_early (struct ns_seccomp *sc, const struct oci_process *p, hull_error_t *err)
{
  /* seccomp(2) needs no_new_privs or CAP_SYS_ADMIN.  runc loads the filter
   * before dropping capabilities whenever noNewPrivileges is false; hull
   * only does so when the process will not keep CAP_SYS_ADMIN, and loads
   * it just before execve otherwise. */
  if (sc == NULL || p->no_new_privileges || keeps_sys_admin (p))
    return 0;
  return ns_seccomp_load (sc, err);
}
