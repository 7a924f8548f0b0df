/* linux.resources.devices → a BPF_PROG_TYPE_CGROUP_DEVICE program, as runc's
 * devicefilter (libcontainer/cgroups/devices): the rules are first run
 * through an emulation of the cgroup v1 devices controller, which yields a
 * default (allow or deny) plus a set of exceptions, and the program checks
 * the exceptions in a fixed order then returns the default.  Pure: loading
 * and attaching is bpf.c. */
#include "cgroups-internal.h"

#include <inttypes.h>
#include <linux/bpf.h>

#define ACC_M BPF_DEVCG_ACC_MKNOD
#define ACC_R BPF_DEVCG_ACC_READ
#define ACC_W BPF_DEVCG_ACC_WRITE
#define ACC_ALL (ACC_M | ACC_R | ACC_W)

/* An exception of the emulated v1 cgroup: type 'b' or 'c', -1 wildcards. */
struct dev_exc
{
  char type;
  int64_t major, minor;
  unsigned perms;
};

struct dev_emu
{
  bool default_allow;
  struct dev_exc *exc;
  size_t n;
};

/* runc's specconv.AllowedDevices, appended after the user's rules (so they
 * cannot be revoked, as with runc). */
static const struct oci_device_cgroup default_rules[] = {
  { true, 'c', { false, -1 }, { false, -1 }, (char *)"m" },
  { true, 'b', { false, -1 }, { false, -1 }, (char *)"m" },
  { true, 'c', { true, 1 }, { true, 3 }, (char *)"rwm" },     /* /dev/null */
  { true, 'c', { true, 1 }, { true, 8 }, (char *)"rwm" },     /* /dev/random */
  { true, 'c', { true, 1 }, { true, 7 }, (char *)"rwm" },     /* /dev/full */
  { true, 'c', { true, 5 }, { true, 0 }, (char *)"rwm" },     /* /dev/tty */
  { true, 'c', { true, 1 }, { true, 5 }, (char *)"rwm" },     /* /dev/zero */
  { true, 'c', { true, 1 }, { true, 9 }, (char *)"rwm" },     /* /dev/urandom */
  { true, 'c', { true, 136 }, { false, -1 }, (char *)"rwm" }, /* /dev/pts/N */
  { true, 'c', { true, 5 }, { true, 2 }, (char *)"rwm" },     /* /dev/ptmx */
  { true,
    'c',
    { true, 10 },
    { true, 200 },
    (char *)"rwm" }, /* /dev/net/tun, kept by runc for compatibility */
};

static unsigned
perms_of (const char *access)
{
  unsigned p = 0;
  for (const char *a = access ? access : "rwm"; *a; a++)
    p |= *a == 'r' ? ACC_R : *a == 'w' ? ACC_W : *a == 'm' ? ACC_M : 0;
  return p;
}

static struct dev_exc *
find_exc (struct dev_emu *e, char type, int64_t major, int64_t minor)
{
  for (size_t i = 0; i < e->n; i++)
    if (e->exc[i].type == type && e->exc[i].major == major && e->exc[i].minor == minor)
      return &e->exc[i];
  return NULL;
}

static void
add_exc (struct dev_emu *e, const struct dev_exc *x)
{
  struct dev_exc *old = find_exc (e, x->type, x->major, x->minor);
  if (old)
    {
      old->perms |= x->perms;
      return;
    }
  e->exc = xreallocarray (e->exc, e->n + 1, sizeof (*e->exc));
  e->exc[e->n++] = *x;
}

static void
fmt_num (char *buf, size_t len, int64_t v)
{
  if (v < 0)
    snprintf (buf, len, "*");
  else
    snprintf (buf, len, "%" PRId64, v);
}

static void
fmt_perms (char *buf, unsigned p)
{
  char *w = buf;
  if (p & ACC_R)
    *w++ = 'r';
  if (p & ACC_W)
    *w++ = 'w';
  if (p & ACC_M)
    *w++ = 'm';
  *w = '\0';
}

/* Removing an exception that a broader (wildcard) exception also covers
 * would not take effect: refused, as runc does, rather than giving a false
 * sense of security. */
static int
rm_exc (struct dev_emu *e, const struct dev_exc *x, const char *label, hull_error_t *err)
{
  const int64_t partial[3][2] = { { -1, x->minor }, { x->major, -1 }, { -1, -1 } };
  for (int i = 0; i < 3; i++)
    {
      if (partial[i][0] == x->major && partial[i][1] == x->minor)
        continue;
      struct dev_exc *w = find_exc (e, x->type, partial[i][0], partial[i][1]);
      if (w && (w->perms & x->perms))
        {
          char ma[24], mi[24], wma[24], wmi[24], p[4], wp[4];
          fmt_num (ma, sizeof (ma), x->major), fmt_num (mi, sizeof (mi), x->minor);
          fmt_num (wma, sizeof (wma), w->major), fmt_num (wmi, sizeof (wmi), w->minor);
          fmt_perms (p, x->perms), fmt_perms (wp, w->perms);
          return hull_make_error (err, 0,
                                  "%s: rule `%c %s:%s %s` would punch a hole in the earlier wildcard rule "
                                  "`%c %s:%s %s`, which the devices cgroup cannot express",
                                  label, x->type, ma, mi, p, w->type, wma, wmi, wp);
        }
    }
  struct dev_exc *old = find_exc (e, x->type, x->major, x->minor);
  if (old)
    {
      old->perms &= ~x->perms;
      if (old->perms == 0)
        *old = e->exc[--e->n];
    }
  return 0;
}

static int
emu_apply (struct dev_emu *e, const struct oci_device_cgroup *rule, const char *label, hull_error_t *err)
{
  if (rule->type == 'a')
    {
      /* "a" means every device and every access: the cgroup switches to
       * allow-all or deny-all, forgetting what came before. */
      e->default_allow = rule->allow;
      e->n = 0;
      return 0;
    }
  struct dev_exc x = { rule->type, rule->major.set ? rule->major.v : -1, rule->minor.set ? rule->minor.v : -1,
                       perms_of (rule->access) };
  if (x.major < -1 || x.minor < -1)
    return hull_make_error (err, 0, "%s: invalid device number", label);
  /* A rule agreeing with the default removes an exception; one disagreeing
   * adds an exception. */
  if (rule->allow == e->default_allow)
    return rm_exc (e, &x, label, err);
  add_exc (e, &x);
  return 0;
}

/* runc emits the exceptions sorted by (major, minor, type), wildcards
 * (-1) first; with one polarity the order does not change the result, but
 * a stable program is easier to test and compare. */
static int
exc_cmp (const void *a, const void *b)
{
  const struct dev_exc *x = a, *y = b;
  if (x->major != y->major)
    return x->major < y->major ? -1 : 1;
  if (x->minor != y->minor)
    return x->minor < y->minor ? -1 : 1;
  return (x->type > y->type) - (x->type < y->type);
}

/* ---- code generation ------------------------------------------------------------ */

struct prog
{
  struct bpf_insn *v;
  size_t n;
};

static size_t
emit (struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
  p->v = xreallocarray (p->v, p->n + 1, sizeof (*p->v));
  p->v[p->n] = (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
  return p->n++;
}

/* r2 = device type, r3 = access, r4 = major, r5 = minor, from struct
 * bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; }. */
static void
emit_prologue (struct prog *p)
{
  emit (p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0);
  emit (p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xFFFF);
  emit (p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 0, 0);
  emit (p, BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
  emit (p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0);
  emit (p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0);
}

static void
emit_return (struct prog *p, bool allow)
{
  emit (p, BPF_ALU | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, allow ? 1 : 0);
  emit (p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

/* if (type != T) goto next; if ((access & P) != access) goto next;
 * if (major != M) goto next; if (minor != m) goto next; return allow;
 * JMP32 compares the 32-bit values, so numbers above INT32_MAX work too. */
static void
emit_exception (struct prog *p, const struct dev_exc *x, bool allow)
{
  size_t jumps[4], nj = 0;
  jumps[nj++] = emit (p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_2, 0, 0,
                      x->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK);
  if (x->perms != ACC_ALL)
    {
      emit (p, BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
      emit (p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, (int32_t)x->perms);
      jumps[nj++] = emit (p, BPF_JMP32 | BPF_JNE | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
    }
  if (x->major >= 0)
    jumps[nj++] = emit (p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, (int32_t)(uint32_t)x->major);
  if (x->minor >= 0)
    jumps[nj++] = emit (p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (int32_t)(uint32_t)x->minor);
  emit_return (p, allow);
  for (size_t i = 0; i < nj; i++)
    p->v[jumps[i]].off = (int16_t)(p->n - jumps[i] - 1);
}

int
cg_devices_program (const struct oci_device_cgroup *rules, size_t n, struct bpf_insn **out, size_t *n_insns,
                    hull_error_t *err)
{
  /* A fresh cgroup v2 program starts from deny-all (runc's emulator). */
  struct dev_emu e = { false, NULL, 0 };
  size_t n_default = sizeof (default_rules) / sizeof (default_rules[0]);
  for (size_t i = 0; i < n + n_default; i++)
    {
      const struct oci_device_cgroup *rule = i < n ? &rules[i] : &default_rules[i - n];
      char label[64];
      if (i < n)
        snprintf (label, sizeof (label), "linux.resources.devices[%zu]", i);
      else
        snprintf (label, sizeof (label), "runc's default device rule %zu", i - n);
      if (emu_apply (&e, rule, label, err) < 0)
        {
          free (e.exc);
          return -1;
        }
    }
  if (e.n)
    qsort (e.exc, e.n, sizeof (*e.exc), exc_cmp);
  struct prog p = { NULL, 0 };
  emit_prologue (&p);
  for (size_t i = 0; i < e.n; i++)
    emit_exception (&p, &e.exc[i], !e.default_allow);
  emit_return (&p, e.default_allow);
  free (e.exc);
  *out = p.v;
  *n_insns = p.n;
  return 0;
}
