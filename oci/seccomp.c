/* linux.seccomp: names are checked here against the lists of the spec and
 * libseccomp; ns/ turns the result into a filter. */
#include "oci-internal.h"

/* Values are only used to tell which actions take an errno. */
enum
{
  ACT_PLAIN,
  ACT_WITH_ERRNO,
  ACT_NOTIFY
};
const struct oci_name oci_seccomp_actions[] = {
  { "SCMP_ACT_KILL", ACT_PLAIN },        { "SCMP_ACT_KILL_PROCESS", ACT_PLAIN },
  { "SCMP_ACT_KILL_THREAD", ACT_PLAIN }, { "SCMP_ACT_TRAP", ACT_PLAIN },
  { "SCMP_ACT_ERRNO", ACT_WITH_ERRNO },  { "SCMP_ACT_TRACE", ACT_WITH_ERRNO },
  { "SCMP_ACT_ALLOW", ACT_PLAIN },       { "SCMP_ACT_LOG", ACT_PLAIN },
  { "SCMP_ACT_NOTIFY", ACT_NOTIFY },     { NULL, 0 },
};

const struct oci_name oci_seccomp_ops[] = {
  { "SCMP_CMP_NE", OCI_SCMP_CMP_NE },
  { "SCMP_CMP_LT", OCI_SCMP_CMP_LT },
  { "SCMP_CMP_LE", OCI_SCMP_CMP_LE },
  { "SCMP_CMP_EQ", OCI_SCMP_CMP_EQ },
  { "SCMP_CMP_GE", OCI_SCMP_CMP_GE },
  { "SCMP_CMP_GT", OCI_SCMP_CMP_GT },
  { "SCMP_CMP_MASKED_EQ", OCI_SCMP_CMP_MASKED_EQ },
  { NULL, 0 },
};

/* The architectures the spec names (config-linux.md). */
const char *const oci_seccomp_archs[] = {
  "SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",   "SCMP_ARCH_X32",         "SCMP_ARCH_ARM",
  "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",
  "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
  "SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",  "SCMP_ARCH_S390",        "SCMP_ARCH_S390X",
  "SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",     "SCMP_ARCH_LOONGARCH64",
  "SCMP_ARCH_M68K",    "SCMP_ARCH_SH",       "SCMP_ARCH_SHEB",        NULL,
};

const char *const oci_seccomp_flags[] = {
  "SECCOMP_FILTER_FLAG_TSYNC",
  "SECCOMP_FILTER_FLAG_LOG",
  "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
  NULL,
};

/* The errno (or trace value) lands in the 16-bit data of the filter's
 * return value; anything wider would be cut silently. */
#define ERRNO_RET_MAX 65535

static int
check_in_list (const struct oci_ctx *cx, const struct oci_path *p, const char *const *list, const char *what,
               char **values)
{
  for (size_t i = 0; values && values[i]; i++)
    {
      size_t j;
      for (j = 0; list[j]; j++)
        if (strcmp (list[j], values[i]) == 0)
          break;
      if (list[j] == NULL)
        {
          struct oci_path ep = OCI_IDX (p, i);
          cleanup_free char *q = oci_quote (values[i]);
          return oci_fail (cx, &ep, "unknown %s %s", what, q);
        }
    }
  return 0;
}

/* Returns the action's kind, or -1 after an error. */
static int
check_action (const struct oci_ctx *cx, const struct oci_path *p, const char *action, bool has_errno,
              const struct oci_path *errno_path)
{
  int kind = oci_name_lookup (oci_seccomp_actions, action);
  if (kind < 0)
    {
      cleanup_free char *q = oci_quote (action);
      return oci_fail (cx, p, "unknown seccomp action %s", q);
    }
  if (has_errno && kind != ACT_WITH_ERRNO)
    return oci_fail (cx, errno_path, "not allowed with %s (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE)", action);
  return kind;
}

static int
parse_arg (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, void *dst)
{
  struct oci_seccomp_arg *a = dst;
  uint64_t index;
  struct oci_path op = OCI_KEY (p, "op");
  if (oci_get_u64 (cx, v, p, "index", true, 5, &index) < 0
      || oci_get_u64 (cx, v, p, "value", true, UINT64_MAX, &a->value) < 0
      || oci_get_u64 (cx, v, p, "valueTwo", false, UINT64_MAX, &a->value_two) < 0
      || oci_get_str (cx, v, p, "op", true, &a->op_name) < 0)
    return -1;
  a->index = (uint32_t)index;
  int op_value = oci_name_lookup (oci_seccomp_ops, a->op_name);
  if (op_value < 0)
    {
      cleanup_free char *q = oci_quote (a->op_name);
      return oci_fail (cx, &op, "unknown seccomp operator %s", q);
    }
  a->op = op_value;
  return 0;
}

static int
parse_syscall (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p, void *dst)
{
  struct oci_seccomp_syscall *s = dst;
  struct oci_path np = OCI_KEY (p, "names"), ap = OCI_KEY (p, "action"), ep = OCI_KEY (p, "errnoRet");
  if (oci_get_strv (cx, v, p, "names", true, &s->names) < 0)
    return -1;
  if (s->names[0] == NULL)
    return oci_fail (cx, &np, "must not be empty");
  for (size_t i = 0; s->names[i]; i++)
    if (s->names[i][0] == '\0')
      {
        /* runc refuses it too: it names no syscall, so it is a mistake. */
        struct oci_path ip = OCI_IDX (&np, i);
        return oci_fail (cx, &ip, "empty syscall name");
      }
  if (oci_get_str (cx, v, p, "action", true, &s->action) < 0
      || oci_get_opt_u64 (cx, v, p, "errnoRet", ERRNO_RET_MAX, &s->errno_ret) < 0
      || check_action (cx, &ap, s->action, s->errno_ret.set, &ep) < 0)
    return -1;
  if (oci_get_array_of (cx, v, p, "args", sizeof (struct oci_seccomp_arg), parse_arg, (void **)&s->args,
                        &s->n_args)
      < 0)
    return -1;
  return 0;
}

static bool
uses_notify (const struct oci_seccomp *s)
{
  if (strcmp (s->default_action, "SCMP_ACT_NOTIFY") == 0)
    return true;
  for (size_t i = 0; i < s->n_syscalls; i++)
    if (strcmp (s->syscalls[i].action, "SCMP_ACT_NOTIFY") == 0)
      return true;
  return false;
}

int
oci_parse_seccomp (const struct oci_ctx *cx, const struct oci_jv *v, const struct oci_path *p,
                   struct oci_seccomp *out)
{
  struct oci_path dp = OCI_KEY (p, "defaultAction"), ep = OCI_KEY (p, "defaultErrnoRet");
  struct oci_path archp = OCI_KEY (p, "architectures"), fp = OCI_KEY (p, "flags");
  if (oci_get_str (cx, v, p, "defaultAction", true, &out->default_action) < 0
      || oci_get_opt_u64 (cx, v, p, "defaultErrnoRet", ERRNO_RET_MAX, &out->default_errno_ret) < 0
      || check_action (cx, &dp, out->default_action, out->default_errno_ret.set, &ep) < 0)
    return -1;
  if (oci_get_strv (cx, v, p, "architectures", false, &out->architectures) < 0
      || check_in_list (cx, &archp, oci_seccomp_archs, "architecture", out->architectures) < 0
      || oci_get_strv (cx, v, p, "flags", false, &out->flags) < 0
      || check_in_list (cx, &fp, oci_seccomp_flags, "seccomp flag", out->flags) < 0
      || oci_get_str (cx, v, p, "listenerPath", false, &out->listener_path) < 0
      || oci_get_str (cx, v, p, "listenerMetadata", false, &out->listener_metadata) < 0)
    return -1;
  if (oci_get_array_of (cx, v, p, "syscalls", sizeof (struct oci_seccomp_syscall), parse_syscall,
                        (void **)&out->syscalls, &out->n_syscalls)
      < 0)
    return -1;
  if (out->listener_path == NULL && uses_notify (out))
    {
      struct oci_path lp = OCI_KEY (p, "listenerPath");
      return oci_fail (cx, &lp, "required when SCMP_ACT_NOTIFY is used");
    }
  return 0;
}

void
oci_seccomp_free (struct oci_seccomp *s)
{
  if (s == NULL)
    return;
  free (s->default_action);
  strv_free (s->architectures);
  strv_free (s->flags);
  free (s->listener_path);
  free (s->listener_metadata);
  for (size_t i = 0; i < s->n_syscalls; i++)
    {
      strv_free (s->syscalls[i].names);
      free (s->syscalls[i].action);
      for (size_t j = 0; j < s->syscalls[i].n_args; j++)
        free (s->syscalls[i].args[j].op_name);
      free (s->syscalls[i].args);
    }
  free (s->syscalls);
  free (s);
}
