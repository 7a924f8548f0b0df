/* Unit tests of ns/seccomp.c: the translation of linux.seccomp (actions,
 * errnoRet, operators, architectures, flags, runc's rules about unknown
 * syscalls, redundant rules and ORed arguments), the -ENOSYS stub, the
 * listener message, and filters really loaded in forked children, the
 * SCMP_ACT_NOTIFY path with a listener and an agent answering included.
 * A child reports what it saw through a pipe; checks run in the parent. */
#include "../../ns/ns-internal.h"
#include "unit.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <yajl/yajl_tree.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

/* An errno no syscall returns by itself, to tell the filter's answer apart. */
#define FAKE_ERRNO 200

/* ---- helpers --------------------------------------------------------------- */

static struct oci_config *
parse_profile (const char *seccomp_json, hull_error_t *err)
{
  cleanup_free char *json = hull_fmt (
      "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\"},\"linux\":{\"seccomp\":%s}}", seccomp_json);
  return oci_config_parse (json, strlen (json), "config.json", err);
}

/* Parses and builds; NULL (with the error in *err) on failure. */
static scmp_filter_ctx
build_profile (const char *seccomp_json, struct oci_config **cfg, hull_error_t *err)
{
  scmp_filter_ctx ctx = NULL;
  *cfg = parse_profile (seccomp_json, err);
  if (*cfg == NULL)
    return NULL;
  if (ns_seccomp_build ((*cfg)->linux_->seccomp, &ctx, err) < 0)
    return NULL;
  return ctx;
}

typedef int (*child_fn) (void *arg, int out);

static void __attribute__ ((format (printf, 2, 3))) say (int fd, const char *fmt, ...)
{
  char buf[512];
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (buf, sizeof (buf), fmt, ap);
  va_end (ap);
  /* write(2) only: after the filter is loaded nothing else is allowed. */
  if (n > 0 && write (fd, buf, (size_t)n < sizeof (buf) ? (size_t)n : sizeof (buf) - 1) < 0)
    _exit (99);
}

/* Runs fn in a forked child and collects what it writes to `out`.  Returns
 * the child's exit code, or 128 + the signal that killed it. */
static int
run_child (child_fn fn, void *arg, char *buf, size_t len)
{
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return -1;
  fflush (NULL);
  pid_t pid = fork ();
  if (pid < 0)
    return -1;
  if (pid == 0)
    {
      struct rlimit no_core = { 0, 0 };
      setrlimit (RLIMIT_CORE, &no_core); /* SIGSYS would dump core */
      close (p[0]);
      /* Not _exit: ASan's no-return hook calls sigaltstack, which the
       * child's filter may refuse. */
      syscall (SYS_exit_group, fn (arg, p[1]));
    }
  close (p[1]);
  ssize_t n = hull_read_all (p[0], buf, len - 1);
  buf[n < 0 ? 0 : n] = '\0';
  close (p[0]);
  int status;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

/* Child side: builds the profile and loads it (we are root: no NNP needed). */
static int
load_profile (const char *json, int out)
{
  hull_error_t err = NULL;
  struct oci_config *c = NULL;
  scmp_filter_ctx ctx = build_profile (json, &c, &err);
  struct ns_seccomp_program prog;
  int notify_fd;
  if (ctx == NULL || ns_seccomp_program (ctx, c->linux_->seccomp, &prog, &err) < 0)
    {
      say (out, "ERR: %s", err ? err->msg : "?");
      return -1;
    }
  seccomp_release (ctx);
  oci_config_free (c);
  if (ns_seccomp_program_load (&prog, &notify_fd, &err) < 0)
    {
      say (out, "ERR: %s", err->msg);
      return -1;
    }
  return 0;
}

/* The result of a raw syscall as "<value>" or "e<errno>". */
static void
say_result (int out, long r)
{
  if (r < 0)
    say (out, "e%d ", errno);
  else
    say (out, "%ld ", r);
}

/* ---- translation ------------------------------------------------------------ */

TEST (actions_translate_as_runc)
{
  uint32_t a;
  oci_u64 none = { 0 }, e38 = { .set = true, .v = 38 };
  CHECK (ns_seccomp_action ("SCMP_ACT_KILL", none, &a) == 0 && a == SCMP_ACT_KILL_THREAD);
  CHECK (ns_seccomp_action ("SCMP_ACT_KILL_THREAD", none, &a) == 0 && a == SCMP_ACT_KILL_THREAD);
  CHECK (ns_seccomp_action ("SCMP_ACT_KILL_PROCESS", none, &a) == 0 && a == SCMP_ACT_KILL_PROCESS);
  CHECK (ns_seccomp_action ("SCMP_ACT_TRAP", none, &a) == 0 && a == SCMP_ACT_TRAP);
  CHECK (ns_seccomp_action ("SCMP_ACT_ERRNO", none, &a) == 0 && a == SCMP_ACT_ERRNO (EPERM));
  CHECK (ns_seccomp_action ("SCMP_ACT_ERRNO", e38, &a) == 0 && a == SCMP_ACT_ERRNO (38));
  CHECK (ns_seccomp_action ("SCMP_ACT_TRACE", none, &a) == 0 && a == SCMP_ACT_TRACE (EPERM));
  CHECK (ns_seccomp_action ("SCMP_ACT_TRACE", e38, &a) == 0 && a == SCMP_ACT_TRACE (38));
  CHECK (ns_seccomp_action ("SCMP_ACT_ALLOW", none, &a) == 0 && a == SCMP_ACT_ALLOW);
  CHECK (ns_seccomp_action ("SCMP_ACT_LOG", none, &a) == 0 && a == SCMP_ACT_LOG);
  CHECK (ns_seccomp_action ("SCMP_ACT_NOTIFY", none, &a) == 0 && a == SCMP_ACT_NOTIFY);
  CHECK (ns_seccomp_action ("SCMP_ACT_NOPE", none, &a) < 0);
  CHECK (ns_seccomp_action (NULL, none, &a) < 0);
}

TEST (architectures_translate)
{
  CHECK (ns_seccomp_arch ("SCMP_ARCH_X86_64") == SCMP_ARCH_X86_64);
  CHECK (ns_seccomp_arch ("SCMP_ARCH_X86") == SCMP_ARCH_X86);
  CHECK (ns_seccomp_arch ("SCMP_ARCH_X32") == SCMP_ARCH_X32);
  CHECK (ns_seccomp_arch ("SCMP_ARCH_AARCH64") == SCMP_ARCH_AARCH64);
  CHECK (ns_seccomp_arch ("SCMP_ARCH_ARM") == SCMP_ARCH_ARM);
  CHECK (ns_seccomp_arch ("SCMP_ARCH_MIPSEL64N32") == SCMP_ARCH_MIPSEL64N32);
  CHECK (ns_seccomp_arch ("SCMP_ARCH_PPC64LE") == SCMP_ARCH_PPC64LE);
  CHECK (ns_seccomp_arch ("SCMP_ARCH_S390X") == SCMP_ARCH_S390X);
  CHECK (ns_seccomp_arch ("SCMP_ARCH_RISCV64") == SCMP_ARCH_RISCV64);
  CHECK (ns_seccomp_arch ("SCMP_ARCH_Z80") == 0);
  CHECK (ns_seccomp_arch ("x86_64") == 0);
  CHECK (ns_seccomp_arch ("SCMP_ARCH_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") == 0);
}

TEST (every_architecture_of_the_spec_is_added_or_named)
{
  static const char *const archs[]
      = { "SCMP_ARCH_X86",         "SCMP_ARCH_X86_64",  "SCMP_ARCH_X32",         "SCMP_ARCH_ARM",
          "SCMP_ARCH_AARCH64",     "SCMP_ARCH_MIPS",    "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPSEL",
          "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",     "SCMP_ARCH_PPC64LE",     "SCMP_ARCH_S390X",
          "SCMP_ARCH_PARISC",      "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
          "SCMP_ARCH_SHEB" };
  for (size_t i = 0; i < sizeof (archs) / sizeof (archs[0]); i++)
    {
      hull_error_t err = NULL;
      struct oci_config *c = NULL;
      cleanup_free char *json
          = hull_fmt ("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"%s\"],"
                      "\"syscalls\":[{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\"}]}",
                      archs[i]);
      scmp_filter_ctx ctx = build_profile (json, &c, &err);
      uint32_t token = ns_seccomp_arch (archs[i]);
      if (token && ctx == NULL)
        {
          /* Big-endian ones cannot join a little-endian native (and back). */
          CHECK_CONTAINS (err->msg,
                          "cannot share a filter with the native architecture (another byte order)");
          hull_error_release (&err);
        }
      else if (token == 0)
        {
          /* Too new for this libseccomp: refused with a clear message. */
          CHECK (ctx == NULL);
          CHECK_CONTAINS (err->msg, "linux.seccomp.architectures[0]: ");
          CHECK_CONTAINS (err->msg, "is not supported by libseccomp");
          hull_error_release (&err);
        }
      else
        {
          CHECK (ctx != NULL);
          CHECK (seccomp_arch_exist (ctx, token) == 0);
          CHECK (seccomp_arch_exist (ctx, seccomp_arch_native ()) == 0);
          seccomp_release (ctx);
        }
      oci_config_free (c);
    }
}

TEST (flags_become_filter_attributes)
{
  hull_error_t err = NULL;
  struct oci_config *c = NULL;
  scmp_filter_ctx ctx = build_profile ("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":["
                                       "\"SECCOMP_FILTER_FLAG_TSYNC\",\"SECCOMP_FILTER_FLAG_LOG\","
                                       "\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"]}",
                                       &c, &err);
  CHECK (ctx != NULL);
  uint32_t v = 0;
  CHECK (seccomp_attr_get (ctx, SCMP_FLTATR_CTL_TSYNC, &v) == 0 && v == 1);
  CHECK (seccomp_attr_get (ctx, SCMP_FLTATR_CTL_LOG, &v) == 0 && v == 1);
  CHECK (seccomp_attr_get (ctx, SCMP_FLTATR_CTL_SSB, &v) == 0 && v == 1);
  /* no_new_privs is left to process.noNewPrivileges. */
  CHECK (seccomp_attr_get (ctx, SCMP_FLTATR_CTL_NNP, &v) == 0 && v == 0);
  struct ns_seccomp_program prog;
  CHECK (ns_seccomp_program (ctx, c->linux_->seccomp, &prog, &err) == 0);
  CHECK (prog.flags
         == (SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW));
  ns_seccomp_program_release (&prog);
  seccomp_release (ctx);
  oci_config_free (c);

  /* No flags: none set, and nothing asked of the kernel but the filter. */
  ctx = build_profile ("{\"defaultAction\":\"SCMP_ACT_ALLOW\"}", &c, &err);
  CHECK (ctx != NULL);
  CHECK (seccomp_attr_get (ctx, SCMP_FLTATR_CTL_TSYNC, &v) == 0 && v == 0);
  CHECK (ns_seccomp_program (ctx, c->linux_->seccomp, &prog, &err) == 0);
  CHECK (prog.flags == 0);
  ns_seccomp_program_release (&prog);
  seccomp_release (ctx);
  oci_config_free (c);
}

TEST (wait_killable_recv_goes_with_a_listener)
{
  hull_error_t err = NULL;
  struct oci_config *c = NULL;
  scmp_filter_ctx ctx = build_profile (
      "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"]}", &c,
      &err);
  CHECK (ctx == NULL);
  CHECK_CONTAINS (err->msg, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a SCMP_ACT_NOTIFY rule");
  hull_error_release (&err);
  oci_config_free (c);

  ctx = build_profile ("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/x\","
                       "\"flags\":[\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\",\"SECCOMP_FILTER_FLAG_TSYNC\"],"
                       "\"syscalls\":[{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
                       &c, &err);
  CHECK (ctx != NULL);
  struct ns_seccomp_program prog;
  CHECK (ns_seccomp_program (ctx, c->linux_->seccomp, &prog, &err) == 0);
  /* TSYNC with a listener needs TSYNC_ESRCH (1 << 4), or the kernel says EINVAL. */
  CHECK (prog.flags
         == (SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
             | SECCOMP_FILTER_FLAG_TSYNC | (1u << 4)));
  ns_seccomp_program_release (&prog);
  seccomp_release (ctx);
  oci_config_free (c);
}

TEST (refused_profiles_say_why)
{
  static const struct
  {
    const char *json, *msg;
  } cases[] = {
    /* The parser's checks (oci/seccomp.c). */
    { "{\"defaultAction\":\"SCMP_ACT_FOO\"}",
      "config.json: linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_FOO\"" },
    { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_BAR\"}"
      "]}",
      "config.json: linux.seccomp.syscalls[0].action: unknown seccomp action \"SCMP_ACT_BAR\"" },
    { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\",\"\"],\"action\":\"SCMP_ACT_"
      "ERRNO\"}]}",
      "config.json: linux.seccomp.syscalls[0].names[1]: empty syscall name" },
    { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_"
      "NOTIFY\"}]}",
      "config.json: linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used" },
    /* The translation's own (ns/seccomp.c). */
    { "{\"defaultAction\":\"SCMP_ACT_NOTIFY\",\"listenerPath\":\"/x\"}",
      "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action" },
    { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/x\","
      "\"syscalls\":[{\"names\":[\"read\",\"sendmsg\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
      "linux.seccomp.syscalls[0]: SCMP_ACT_NOTIFY cannot be used for sendmsg" },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      hull_error_t err = NULL;
      struct oci_config *c = NULL;
      scmp_filter_ctx ctx = build_profile (cases[i].json, &c, &err);
      CHECK (ctx == NULL);
      CHECK (err != NULL);
      CHECK_CONTAINS (err->msg, cases[i].msg);
      hull_error_release (&err);
      oci_config_free (c);
    }
}

TEST (validation_builds_the_filter_and_checks_the_listener_path)
{
  hull_error_t err = NULL;
  struct oci_config *c
      = parse_profile ("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"agent.sock\","
                       "\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
                       &err);
  CHECK (c != NULL);
  CHECK (ns_validate_seccomp (c, &err) < 0);
  CHECK_STR (err->msg, "linux.seccomp.listenerPath: `agent.sock` is not an absolute path");
  hull_error_release (&err);
  oci_config_free (c);

  c = parse_profile ("{\"defaultAction\":\"SCMP_ACT_NOTIFY\",\"listenerPath\":\"/a\"}", &err);
  CHECK (c != NULL);
  CHECK (ns_validate_seccomp (c, &err) < 0);
  CHECK_CONTAINS (err->msg, "cannot be the default action");
  hull_error_release (&err);
  oci_config_free (c);

  c = parse_profile ("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],"
                     "\"action\":\"SCMP_ACT_ALLOW\"}]}",
                     &err);
  CHECK (c != NULL);
  CHECK (ns_validate_seccomp (c, &err) == 0);
  oci_config_free (c);
}

TEST (unknown_syscalls_and_redundant_rules_are_skipped)
{
  hull_error_t err = NULL;
  struct oci_config *c = NULL;
  /* runc: a name libseccomp does not know is skipped, and so is a rule
   * with the default action (libseccomp would refuse it with EACCES). */
  scmp_filter_ctx ctx
      = build_profile ("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,\"syscalls\":["
                       "{\"names\":[\"no_such_syscall_ever\",\"read\"],\"action\":\"SCMP_ACT_ALLOW\"},"
                       "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1},"
                       "{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_ERRNO\"}]}",
                       &c, &err);
  CHECK (ctx != NULL);
  seccomp_release (ctx);
  oci_config_free (c);
  /* ...but the same errno with another errnoRet is a real rule. */
  ctx = build_profile ("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":["
                       "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":2}]}",
                       &c, &err);
  CHECK (ctx != NULL);
  seccomp_release (ctx);
  oci_config_free (c);
}

/* ---- filters loaded in a child ------------------------------------------------ */

struct op_case
{
  const char *op;
  uint64_t value, value_two;
  long probe[3];
  const char *expect; /* which probes got FAKE_ERRNO */
};

static int
child_op (void *arg, int out)
{
  const struct op_case *oc = arg;
  cleanup_free char *json = hull_fmt (
      "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_"
      "ERRNO\","
      "\"errnoRet\":%d,\"args\":[{\"index\":1,\"value\":%llu,\"valueTwo\":%llu,\"op\":\"%s\"}]}]}",
      FAKE_ERRNO, (unsigned long long)oc->value, (unsigned long long)oc->value_two, oc->op);
  if (load_profile (json, out) < 0)
    return 1;
  /* getppid takes no argument, but the filter sees the registers anyway. */
  for (int i = 0; i < 3; i++)
    say (out, "%c", syscall (SYS_getppid, 0L, oc->probe[i]) < 0 && errno == FAKE_ERRNO ? 'x' : '.');
  return 0;
}

TEST (every_operator_compares_as_libseccomp)
{
  static const struct op_case cases[] = {
    { "SCMP_CMP_NE", 10, 0, { 9, 10, 11 }, "x.x" },
    { "SCMP_CMP_LT", 10, 0, { 9, 10, 11 }, "x.." },
    { "SCMP_CMP_LE", 10, 0, { 9, 10, 11 }, "xx." },
    { "SCMP_CMP_EQ", 10, 0, { 9, 10, 11 }, ".x." },
    { "SCMP_CMP_GE", 10, 0, { 9, 10, 11 }, ".xx" },
    { "SCMP_CMP_GT", 10, 0, { 9, 10, 11 }, "..x" },
    /* value is the mask, valueTwo the datum (runc). */
    { "SCMP_CMP_MASKED_EQ", 0xf0, 0x10, { 0x10, 0x1f, 0x20 }, "xx." },
    { "SCMP_CMP_MASKED_EQ", 0xf0, 0, { 0x0f, 0x10, 0x100 }, "x.x" },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      char buf[256];
      int rc = run_child (child_op, (void *)&cases[i], buf, sizeof (buf));
      if (rc != 0 || strcmp (buf, cases[i].expect) != 0)
        fprintf (stderr, "  %s %#llx/%#llx: rc %d, got \"%s\", expected \"%s\"\n", cases[i].op,
                 (unsigned long long)cases[i].value, (unsigned long long)cases[i].value_two, rc, buf,
                 cases[i].expect);
      CHECK (rc == 0);
      CHECK_STR (buf, cases[i].expect);
    }
}

static int
child_args_or_and (void *arg, int out)
{
  (void)arg;
  /* Two conditions on arg 0: ORed (two rules).  arg 1 and arg 2: ANDed. */
  if (load_profile ("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
                    "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":200,\"args\":["
                    "{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"},{\"index\":0,\"value\":2,\"op\":\"SCMP_"
                    "CMP_EQ\"}]},"
                    "{\"names\":[\"getpgrp\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":200,\"args\":["
                    "{\"index\":1,\"value\":1,\"op\":\"SCMP_CMP_EQ\"},{\"index\":2,\"value\":2,\"op\":\"SCMP_"
                    "CMP_EQ\"}]}]}",
                    out)
      < 0)
    return 1;
  static const long or_probe[] = { 1, 2, 3 };
  for (int i = 0; i < 3; i++)
    say (out, "%c", syscall (SYS_getppid, or_probe[i]) < 0 && errno == FAKE_ERRNO ? 'x' : '.');
  say (out, " ");
  static const long and_probe[][2] = { { 1, 2 }, { 1, 3 }, { 0, 2 } };
  for (int i = 0; i < 3; i++)
    say (out, "%c",
         syscall (SYS_getpgrp, 0L, and_probe[i][0], and_probe[i][1]) < 0 && errno == FAKE_ERRNO ? 'x' : '.');
  return 0;
}

TEST (same_argument_twice_is_ored_distinct_ones_are_anded)
{
  char buf[256];
  CHECK (run_child (child_args_or_and, NULL, buf, sizeof (buf)) == 0);
  CHECK_STR (buf, "xx. x..");
}

static int
child_errno (void *arg, int out)
{
  (void)arg;
  if (load_profile ("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
                    "{\"names\":[\"uname\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":200},"
                    "{\"names\":[\"mkdirat\",\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\"},"
                    "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_TRACE\"},"
                    "{\"names\":[\"getpgrp\"],\"action\":\"SCMP_ACT_LOG\"}]}",
                    out)
      < 0)
    return 1;
  struct utsname u;
  say_result (out, uname (&u));
  say_result (out, mkdirat (AT_FDCWD, "/nonexistent/dir", 0700));
  /* TRACE with no tracer: the kernel answers ENOSYS. */
  say_result (out, syscall (SYS_getppid));
  /* LOG lets it through. */
  say_result (out, syscall (SYS_getpgrp) == getpgrp () ? 0 : -1);
  return 0;
}

TEST (errno_trace_and_log_actions)
{
  char buf[256];
  cleanup_free char *expect = hull_fmt ("e%d e%d e%d 0 ", FAKE_ERRNO, EPERM, ENOSYS);
  int rc = run_child (child_errno, NULL, buf, sizeof (buf));
  if (rc != 0)
    fprintf (stderr, "  child: %s\n", buf);
  CHECK (rc == 0);
  CHECK_STR (buf, expect);
}

static int
child_kill (void *arg, int out)
{
  cleanup_free char *json = hull_fmt ("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
                                      "{\"names\":[\"getppid\"],\"action\":\"%s\"}]}",
                                      (const char *)arg);
  if (load_profile (json, out) < 0)
    return 1;
  say (out, "before ");
  syscall (SYS_getppid);
  say (out, "survived");
  return 0;
}

TEST (kill_actions_kill)
{
  static const char *const kills[] = { "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL" };
  for (size_t i = 0; i < sizeof (kills) / sizeof (kills[0]); i++)
    {
      char buf[256];
      int rc = run_child (child_kill, (void *)kills[i], buf, sizeof (buf));
      CHECK (rc == 128 + SIGSYS);
      CHECK_STR (buf, "before ");
    }
}

static volatile sig_atomic_t trapped_nr = -1;

static void
on_sigsys (int sig, siginfo_t *si, void *uc)
{
  (void)sig;
  (void)uc;
  trapped_nr = si->si_syscall;
}

static int
child_trap (void *arg, int out)
{
  (void)arg;
  struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
  sigaction (SIGSYS, &sa, NULL);
  if (load_profile ("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
                    "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_TRAP\"}]}",
                    out)
      < 0)
    return 1;
  syscall (SYS_getppid);
  say (out, "%d", (int)trapped_nr);
  return 0;
}

TEST (trap_sends_sigsys)
{
  char buf[64];
  char expect[16];
  snprintf (expect, sizeof (expect), "%d", (int)SYS_getppid);
  CHECK (run_child (child_trap, NULL, buf, sizeof (buf)) == 0);
  CHECK_STR (buf, expect);
}

/* ---- the -ENOSYS stub -------------------------------------------------------- */

/* Only what the child needs after the filter: the highest of them is
 * exit_group, so anything above it must say ENOSYS, below it EPERM. */
#define SMALL_PROFILE(extra)                                                                                 \
  "{\"defaultAction\":\"SCMP_ACT_ERRNO\"" extra ",\"architectures\":[\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"],"  \
  "\"syscalls\":[{\"names\":[\"write\",\"exit\",\"exit_group\",\"getppid\"],\"action\":\"SCMP_ACT_ALLOW\"}]" \
  "}"

static int
child_enosys (void *arg, int out)
{
  if (load_profile (arg, out) < 0)
    return 1;
  say_result (out, syscall (SYS_getpid));                /* 39, below exit_group (231) */
  say_result (out, syscall (SYS_getrandom, NULL, 0, 0)); /* 318, above */
  say_result (out, syscall (1000));                      /* no such syscall at all */
  say_result (out, syscall (SYS_getppid) > 0 ? 0 : -1);
  return 0;
}

TEST (syscalls_newer_than_the_profile_get_enosys)
{
#if defined(__x86_64__)
  char buf[256];
  cleanup_free char *expect = hull_fmt ("e%d e%d e%d 0 ", EPERM, ENOSYS, ENOSYS);
  int rc = run_child (child_enosys, (void *)SMALL_PROFILE (""), buf, sizeof (buf));
  if (rc != 0)
    fprintf (stderr, "  child: %s\n", buf);
  CHECK (rc == 0);
  CHECK_STR (buf, expect);
  /* With defaultErrnoRet ENOSYS there is no stub (runc): all the same. */
  cleanup_free char *expect2 = hull_fmt ("e%d e%d e%d 0 ", ENOSYS, ENOSYS, ENOSYS);
  CHECK (run_child (child_enosys, (void *)SMALL_PROFILE (",\"defaultErrnoRet\":38"), buf, sizeof (buf)) == 0);
  CHECK_STR (buf, expect2);
#endif
}

TEST (stub_only_when_the_default_refuses)
{
  static const struct
  {
    const char *json;
    bool stub;
  } cases[]
      = { { SMALL_PROFILE (""), true },
          { SMALL_PROFILE (",\"defaultErrnoRet\":38"), false },
          { "{\"defaultAction\":\"SCMP_ACT_KILL\",\"syscalls\":[{\"names\":[\"getppid\"],\"action\":\"SCMP_"
            "ACT_ALLOW\"}]}",
            true },
          { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_"
            "KILL\"}]}",
            false },
          { "{\"defaultAction\":\"SCMP_ACT_LOG\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_"
            "KILL\"}]}",
            false },
          { "{\"defaultAction\":\"SCMP_ACT_TRACE\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_"
            "KILL\"}]}",
            false },
#if defined(__x86_64__)
          /* runc's rule: syscall 0 (read on x86_64) as the highest counts as none. */
          { "{\"defaultAction\":\"SCMP_ACT_KILL\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_"
            "ALLOW\"}]}",
            false },
#endif
          /* Nothing named that libseccomp knows: no highest syscall, no stub. */
          { "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"nope\"],\"action\":\"SCMP_ACT_"
            "ALLOW\"}]}",
            false },
        };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      hull_error_t err = NULL;
      struct oci_config *c = NULL;
      scmp_filter_ctx ctx = build_profile (cases[i].json, &c, &err);
      CHECK (ctx != NULL);
      struct ns_seccomp_program prog;
      CHECK (ns_seccomp_program (ctx, c->linux_->seccomp, &prog, &err) == 0);
      if ((prog.stub_len > 0) != cases[i].stub)
        fprintf (stderr, "  case %zu: stub of %zu instructions\n", i, prog.stub_len);
      CHECK ((prog.stub_len > 0) == cases[i].stub);
      CHECK (prog.len > prog.stub_len);
      /* The stub starts by loading the architecture, as libseccomp does. */
      CHECK (prog.insns[0].code == (BPF_LD | BPF_W | BPF_ABS) && prog.insns[0].k == 4);
      if (cases[i].stub)
        CHECK (prog.insns[prog.stub_len - 1].code == (BPF_RET | BPF_K)
               && prog.insns[prog.stub_len - 1].k == (SECCOMP_RET_ERRNO | ENOSYS));
      ns_seccomp_program_release (&prog);
      seccomp_release (ctx);
      oci_config_free (c);
    }
}

/* ---- the default profile of `hull spec` ----------------------------------------- */

static int
child_default_profile (void *arg, int out)
{
  (void)arg;
  hull_error_t err = NULL;
  struct oci_config *c = oci_config_default (false, 0, 0);
  struct ns_seccomp *sc = NULL;
  if (ns_seccomp_prepare (c, NULL, getpid (), &sc, &err) < 0 || ns_seccomp_load (sc, &err) < 0)
    {
      say (out, "ERR: %s", err->msg);
      return 1;
    }
  say_result (out, unshare (CLONE_NEWUSER));
  say_result (out, syscall (SYS_clone3, NULL, 0));
  say_result (out, syscall (SYS_keyctl, 0, 0, 0));
  say_result (out, socket (AF_VSOCK, SOCK_STREAM, 0));
  /* What is allowed: personality queries, plain sockets, fork. */
  say_result (out, personality (0xffffffff) >= 0 ? 0 : -1);
  say_result (out, personality (PER_LINUX | ADDR_NO_RANDOMIZE));
  int s = socket (AF_UNIX, SOCK_STREAM, 0);
  say_result (out, s >= 0 ? 0 : -1);
  pid_t pid = fork ();
  if (pid == 0)
    _exit (0);
  say_result (out, pid > 0 ? 0 : -1);
  return 0;
}

TEST (default_profile_blocks_what_docker_blocks)
{
  char buf[256];
  cleanup_free char *expect = hull_fmt ("e%d e%d e%d e%d 0 e%d 0 0 ", EPERM, ENOSYS, EPERM, EPERM, EPERM);
  int rc = run_child (child_default_profile, NULL, buf, sizeof (buf));
  if (rc != 0)
    fprintf (stderr, "  child: %s\n", buf);
  CHECK (rc == 0);
  CHECK_STR (buf, expect);
}

TEST (default_profile_is_docker_s)
{
  struct oci_config *c = oci_config_default (false, 0, 0);
  const struct oci_seccomp *s = c->linux_->seccomp;
  CHECK (s != NULL);
  CHECK_STR (s->default_action, "SCMP_ACT_ERRNO");
  CHECK (s->default_errno_ret.set && s->default_errno_ret.v == EPERM);
#if defined(__x86_64__)
  CHECK (strv_len (s->architectures) == 3);
  CHECK_STR (s->architectures[0], "SCMP_ARCH_X86_64");
#endif
  /* The default capabilities hold no CAP_SYS_ADMIN: no mount, the
   * namespace-less clone and clone3 as ENOSYS. */
  bool mount = false, clone_masked = false, clone3_enosys = false;
  for (size_t i = 0; i < s->n_syscalls; i++)
    {
      const struct oci_seccomp_syscall *sc = &s->syscalls[i];
      for (size_t k = 0; sc->names[k]; k++)
        {
          mount = mount || strcmp (sc->names[k], "mount") == 0;
          if (strcmp (sc->names[k], "clone") == 0)
            clone_masked = sc->n_args == 1 && sc->args[0].op == OCI_SCMP_CMP_MASKED_EQ
                           && sc->args[0].value == 0x7E020000;
          if (strcmp (sc->names[k], "clone3") == 0)
            clone3_enosys = strcmp (sc->action, "SCMP_ACT_ERRNO") == 0 && sc->errno_ret.v == ENOSYS;
        }
    }
  CHECK (!mount);
  CHECK (clone_masked);
  CHECK (clone3_enosys);

  /* It prints, parses back the same, and builds. */
  cleanup_free char *json = oci_config_to_json (c, false);
  hull_error_t err = NULL;
  struct oci_config *c2 = oci_config_parse (json, strlen (json), "spec", &err);
  CHECK (c2 != NULL);
  cleanup_free char *json2 = oci_config_to_json (c2, false);
  CHECK_STR (json2, json);
  CHECK (ns_validate_seccomp (c2, &err) == 0);
  size_t n_syscalls = s->n_syscalls;
  oci_config_free (c2);
  oci_config_free (c);

  /* Rootless keeps it. */
  c = oci_config_default (true, 1000, 1000);
  CHECK (c->linux_->seccomp != NULL && c->linux_->seccomp->n_syscalls == n_syscalls);
  oci_config_free (c);
}

/* ---- prepare / load_early / load ------------------------------------------------ */

struct early_case
{
  bool nnp;
  const char *effective; /* NULL: no capabilities object */
  bool early;
};

static int
child_early (void *arg, int out)
{
  const struct early_case *ec = arg;
  hull_error_t err = NULL;
  struct oci_config *c = parse_profile ("{\"defaultAction\":\"SCMP_ACT_ALLOW\"}", &err);
  struct ns_seccomp *sc = NULL;
  char *eff[] = { (char *)ec->effective, NULL };
  struct oci_capabilities caps = { .effective = eff };
  struct oci_process p = { .no_new_privileges = ec->nnp, .capabilities = ec->effective ? &caps : NULL };
  if (c == NULL || ns_seccomp_prepare (c, NULL, 1, &sc, &err) < 0 || ns_seccomp_load_early (sc, &p, &err) < 0)
    {
      say (out, "ERR: %s", err->msg);
      return 1;
    }
  say (out, "%d", prctl (PR_GET_SECCOMP));
  if (ns_seccomp_load (sc, &err) < 0 || ns_seccomp_load (sc, &err) < 0)
    {
      say (out, "ERR: %s", err->msg);
      return 1;
    }
  say (out, " %d", prctl (PR_GET_SECCOMP));
  ns_seccomp_free (sc);
  oci_config_free (c);
  return 0;
}

TEST (filter_loaded_before_the_capabilities_only_when_it_must)
{
  static const struct early_case cases[] = {
    { .nnp = false, .effective = NULL, .early = true },
    { .nnp = false, .effective = "CAP_KILL", .early = true },
    { .nnp = false, .effective = "CAP_SYS_ADMIN", .early = false },
    { .nnp = true, .effective = NULL, .early = false },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      char buf[256];
      CHECK (run_child (child_early, (void *)&cases[i], buf, sizeof (buf)) == 0);
      /* 2 is SECCOMP_MODE_FILTER; loading twice is a no-op. */
      CHECK_STR (buf, cases[i].early ? "2 2" : "0 2");
    }
}

TEST (no_seccomp_no_work)
{
  hull_error_t err = NULL;
  static const char json[] = "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{}}";
  struct oci_config *c = oci_config_parse (json, sizeof (json) - 1, "config.json", &err);
  CHECK (c != NULL);
  struct ns_seccomp *sc = (struct ns_seccomp *)1;
  CHECK (ns_seccomp_prepare (c, NULL, 1, &sc, &err) == 0);
  CHECK (sc == NULL);
  CHECK (ns_seccomp_load (NULL, &err) == 0);
  CHECK (ns_validate_seccomp (c, &err) == 0);
  oci_config_free (c);
}

/* ---- the listener -------------------------------------------------------------- */

static const char *
tree_str (yajl_val root, const char **path)
{
  yajl_val v = yajl_tree_get (root, path, yajl_t_string);
  return v ? YAJL_GET_STRING (v) : NULL;
}

TEST (listener_message_is_runc_s_container_process_state)
{
  struct oci_kv ann = { .key = (char *)"a", .value = (char *)"b" };
  struct oci_state st = { .oci_version = (char *)"1.2.0",
                          .id = (char *)"ctr-1",
                          .status = OCI_STATUS_CREATING,
                          .bundle = (char *)"/b",
                          .annotations = { .v = &ann, .n = 1 } };
  cleanup_free char *msg = ns_seccomp_listener_message (&st, 4242, "meta \"quoted\"");
  char errbuf[256];
  yajl_val root = yajl_tree_parse (msg, errbuf, sizeof (errbuf));
  CHECK (root != NULL);
  CHECK_STR (tree_str (root, (const char *[]){ "ociVersion", NULL }), "1.2.0");
  CHECK_STR (tree_str (root, (const char *[]){ "metadata", NULL }), "meta \"quoted\"");
  yajl_val fds = yajl_tree_get (root, (const char *[]){ "fds", NULL }, yajl_t_array);
  CHECK (fds && YAJL_GET_ARRAY (fds)->len == 1);
  CHECK_STR (YAJL_GET_STRING (YAJL_GET_ARRAY (fds)->values[0]), "seccompFd");
  yajl_val pid = yajl_tree_get (root, (const char *[]){ "pid", NULL }, yajl_t_number);
  CHECK (pid && YAJL_GET_INTEGER (pid) == 4242);
  pid = yajl_tree_get (root, (const char *[]){ "state", "pid", NULL }, yajl_t_number);
  CHECK (pid && YAJL_GET_INTEGER (pid) == 4242);
  CHECK_STR (tree_str (root, (const char *[]){ "state", "id", NULL }), "ctr-1");
  CHECK_STR (tree_str (root, (const char *[]){ "state", "status", NULL }), "creating");
  CHECK_STR (tree_str (root, (const char *[]){ "state", "bundle", NULL }), "/b");
  CHECK_STR (tree_str (root, (const char *[]){ "state", "annotations", "a", NULL }), "b");
  yajl_tree_free (root);
  /* No state, no metadata: still valid, metadata omitted (omitempty). */
  free (msg);
  msg = ns_seccomp_listener_message (NULL, 7, NULL);
  root = yajl_tree_parse (msg, errbuf, sizeof (errbuf));
  CHECK (root != NULL);
  CHECK (yajl_tree_get (root, (const char *[]){ "metadata", NULL }, yajl_t_any) == NULL);
  CHECK_STR (tree_str (root, (const char *[]){ "state", "status", NULL }), "creating");
  yajl_tree_free (root);
}

struct notify_ctx
{
  const char *sock_path;
};

static int
child_notify (void *arg, int out)
{
  const struct notify_ctx *nc = arg;
  hull_error_t err = NULL;
  cleanup_free char *json
      = hull_fmt ("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"%s\",\"listenerMetadata\":\"m1\","
                  "\"syscalls\":[{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
                  nc->sock_path);
  struct oci_config *c = parse_profile (json, &err);
  struct oci_state st
      = { .oci_version = (char *)"1.2.0", .id = (char *)"notify-test", .bundle = (char *)"/bundle" };
  struct ns_seccomp *sc = NULL;
  if (c == NULL || ns_seccomp_prepare (c, &st, getpid (), &sc, &err) < 0 || ns_seccomp_load (sc, &err) < 0)
    {
      say (out, "ERR: %s", err->msg);
      return 1;
    }
  /* The agent answers for the kernel. */
  say_result (out, syscall (SYS_getppid));
  return 0;
}

/* Receives the fd and the JSON the way a seccomp agent does. */
static int
agent_receive (int conn, char *buf, size_t len)
{
  union
  {
    struct cmsghdr h;
    char b[CMSG_SPACE (sizeof (int))];
  } u;
  struct iovec iov = { .iov_base = buf, .iov_len = len - 1 };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof (u.b) };
  ssize_t n = recvmsg (conn, &mh, MSG_CMSG_CLOEXEC);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  struct cmsghdr *cm = CMSG_FIRSTHDR (&mh);
  if (cm == NULL || cm->cmsg_type != SCM_RIGHTS)
    return -1;
  int fd;
  memcpy (&fd, CMSG_DATA (cm), sizeof (int));
  return fd;
}

static int
agent_answer (int notify_fd, long value, int *nr)
{
  struct seccomp_notif req;
  struct seccomp_notif_resp resp;
  memset (&req, 0, sizeof (req));
  if (ioctl (notify_fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
    return -1;
  *nr = req.data.nr;
  memset (&resp, 0, sizeof (resp));
  resp.id = req.id;
  resp.val = value;
  return ioctl (notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

TEST (notify_sends_the_fd_and_the_state_to_the_listener)
{
  char dir[] = "/tmp/hull-seccomp-test.XXXXXX";
  CHECK (mkdtemp (dir) != NULL);
  cleanup_free char *path = hull_fmt ("%s/agent.sock", dir);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  snprintf (addr.sun_path, sizeof (addr.sun_path), "%s", path);
  cleanup_close int lsock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK (lsock >= 0);
  CHECK (bind (lsock, (struct sockaddr *)&addr, sizeof (addr)) == 0);
  CHECK (listen (lsock, 1) == 0);

  int p[2];
  CHECK (pipe2 (p, O_CLOEXEC) == 0);
  fflush (NULL);
  struct notify_ctx nc = { .sock_path = path };
  pid_t pid = fork ();
  CHECK (pid >= 0);
  if (pid == 0)
    {
      close (p[0]);
      _exit (child_notify (&nc, p[1]));
    }
  close (p[1]);
  cleanup_close int conn = accept4 (lsock, NULL, NULL, SOCK_CLOEXEC);
  char msg[4096];
  cleanup_close int notify_fd = conn >= 0 ? agent_receive (conn, msg, sizeof (msg)) : -1;
  int nr = -1;
  int answered = notify_fd >= 0 ? agent_answer (notify_fd, 4242, &nr) : -1;
  char out[256];
  ssize_t n = hull_read_all (p[0], out, sizeof (out) - 1);
  out[n < 0 ? 0 : n] = '\0';
  close (p[0]);
  int status;
  waitpid (pid, &status, 0);
  unlink (path);
  rmdir (dir);

  CHECK (conn >= 0);
  if (notify_fd < 0)
    fprintf (stderr, "  child said: %s\n", out);
  CHECK (notify_fd >= 0);
  CHECK (answered == 0);
  CHECK (nr == SYS_getppid);
  CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  CHECK_STR (out, "4242 ");

  char errbuf[256];
  yajl_val root = yajl_tree_parse (msg, errbuf, sizeof (errbuf));
  CHECK (root != NULL);
  yajl_val jpid = yajl_tree_get (root, (const char *[]){ "pid", NULL }, yajl_t_number);
  bool pid_ok = jpid && YAJL_GET_INTEGER (jpid) == pid;
  const char *meta = tree_str (root, (const char *[]){ "metadata", NULL });
  const char *id = tree_str (root, (const char *[]){ "state", "id", NULL });
  bool ok = meta && strcmp (meta, "m1") == 0 && id && strcmp (id, "notify-test") == 0;
  yajl_tree_free (root);
  CHECK (pid_ok);
  CHECK (ok);
}

TEST (listener_that_is_not_there_is_an_error)
{
  hull_error_t err = NULL;
  struct oci_config *c
      = parse_profile ("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/nonexistent/a.sock\","
                       "\"syscalls\":[{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
                       &err);
  CHECK (c != NULL);
  struct ns_seccomp *sc = NULL;
  CHECK (ns_seccomp_prepare (c, NULL, 1, &sc, &err) < 0);
  CHECK (sc == NULL);
  CHECK_STR (err->msg,
             "connect to linux.seccomp.listenerPath `/nonexistent/a.sock`: No such file or directory");
  hull_error_release (&err);
  oci_config_free (c);
}

RUN_TESTS ("seccomp")
