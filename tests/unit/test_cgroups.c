/* Unit tests for cgroups/: runc's conversions, validation messages, the
 * field → file plan, the device program (run through a small interpreter),
 * cgroupsPath resolution, the stats JSON; then, on this host, a scratch
 * cgroup under hull's own (hull-unit-PID-NAME): freezing a process, the
 * device program denying a device to a process inside, unified writes and
 * stats.  Limits that need controllers run in the test host VM. */
#include "../../cgroups/cgroups.h"
#include "unit.h"

#include <inttypes.h>
#include <linux/bpf.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

/* ---- helpers ------------------------------------------------------------------- */

static int
parse_res (const char *json, struct oci_resources *r, hull_error_t *err)
{
  return oci_resources_parse (json, strlen (json), "resources", r, err);
}

/* The validation error for json, or NULL when it is accepted. */
static char *
validate_msg (const char *json)
{
  struct oci_resources r;
  hull_error_t err = NULL;
  if (parse_res (json, &r, &err) < 0)
    {
      char *m = hull_fmt ("parse: %s", err->msg);
      hull_error_release (&err);
      return m;
    }
  char *m = NULL;
  if (cg_validate_resources (&r, &err) < 0)
    {
      m = xstrdup (err->msg);
      hull_error_release (&err);
    }
  oci_resources_release (&r);
  return m;
}

/* "file=value [| alt=value] (field)" per write, one a line. */
static char *
plan_text (const char *json, bool with_fields)
{
  struct oci_resources r;
  hull_error_t err = NULL;
  struct cg_plan p;
  if (parse_res (json, &r, &err) < 0 || cg_validate_resources (&r, &err) < 0
      || cg_plan_resources (&r, &p, &err) < 0)
    {
      char *m = hull_fmt ("ERR %s", err->msg);
      hull_error_release (&err);
      oci_resources_release (&r);
      return m;
    }
  char *out = xstrdup ("");
  for (size_t i = 0; i < p.n; i++)
    {
      const struct cg_write *w = &p.w[i];
      char *alt = w->alt_file ? hull_fmt (" | %s=%s", w->alt_file, w->alt_value) : xstrdup ("");
      char *fld = with_fields ? hull_fmt (" (%s)", w->field) : xstrdup ("");
      char *n = hull_fmt ("%s%s=%s%s%s\n", out, w->file, w->value, alt, fld);
      free (out), free (alt), free (fld);
      out = n;
    }
  cg_plan_release (&p);
  oci_resources_release (&r);
  return out;
}

/* ---- conversions ----------------------------------------------------------------- */

TEST (cpu_shares_to_weight)
{
  CHECK (cg_cpu_shares_to_weight (0) == 0);
  CHECK (cg_cpu_shares_to_weight (2) == 1);
  CHECK (cg_cpu_shares_to_weight (512) == 20);
  CHECK (cg_cpu_shares_to_weight (1024) == 39);
  CHECK (cg_cpu_shares_to_weight (262144) == 10000);
}

TEST (blkio_weight_to_io_weight)
{
  CHECK (cg_blkio_weight_to_io_weight (0) == 0);
  CHECK (cg_blkio_weight_to_io_weight (10) == 1);
  CHECK (cg_blkio_weight_to_io_weight (300) == 2930);
  CHECK (cg_blkio_weight_to_io_weight (500) == 4950);
  CHECK (cg_blkio_weight_to_io_weight (1000) == 10000);
}

TEST (memory_swap_to_v2)
{
  int64_t v = 42;
  hull_error_t err = NULL;
  CHECK (cg_memory_swap_to_v2 (0, -1, &v, &err) == 0 && v == -1); /* unlimited memory: unlimited swap */
  CHECK (cg_memory_swap_to_v2 (-1, 100, &v, &err) == 0 && v == -1);
  CHECK (cg_memory_swap_to_v2 (0, 100, &v, &err) == 0 && v == 0);
  CHECK (cg_memory_swap_to_v2 (300, 100, &v, &err) == 0 && v == 200);
  CHECK (cg_memory_swap_to_v2 (100, 100, &v, &err) == 0 && v == 0);
  CHECK (cg_memory_swap_to_v2 (300, -1, &v, &err) == 0 && v == 300);
  CHECK (cg_memory_swap_to_v2 (50, 100, &v, &err) < 0);
  CHECK_CONTAINS (err->msg, "linux.resources.memory.swap: 50 is less than memory.limit 100");
  hull_error_release (&err);
  CHECK (cg_memory_swap_to_v2 (100, 0, &v, &err) < 0);
  CHECK_CONTAINS (err->msg, "cannot be set without memory.limit");
  hull_error_release (&err);
}

TEST (cpu_list_syntax)
{
  const char *good[] = { "", "0", "0-3,8", "0-7:2/4", "1\n", "0,2,4-5", "65535" };
  const char *bad[] = { "a", "3-1", "1,", ",1", "1-", "0-3:5/4", "1 2", "-1", "0-3:0/2", "65536", "1\n2" };
  for (size_t i = 0; i < sizeof (good) / sizeof (good[0]); i++)
    CHECK (cg_parse_cpu_list (good[i], NULL, 0) == 0);
  for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
    CHECK (cg_parse_cpu_list (bad[i], NULL, 0) < 0);
  uint8_t bits[2];
  CHECK (cg_parse_cpu_list ("0-7:2/4,9", bits, 16) == 0);
  CHECK (bits[0] == 0x33 && bits[1] == 0x02);
  CHECK (cg_parse_cpu_list ("16", bits, 16) < 0); /* beyond the bitmap */
}

/* ---- validation ----------------------------------------------------------------------- */

TEST (validate_accepts_typical)
{
  char *m
      = validate_msg ("{\"memory\":{\"limit\":1048576,\"swap\":2097152,\"reservation\":-1,"
                      "\"disableOOMKiller\":false},\"cpu\":{\"shares\":1024,\"quota\":-1,\"period\":100000,"
                      "\"cpus\":\"0-1\",\"mems\":\"\"},\"pids\":{\"limit\":-1},\"blockIO\":{\"weight\":0},"
                      "\"devices\":[{\"allow\":false,\"access\":\"rwm\"}],"
                      "\"unified\":{\"memory.high\":\"max\",\"cgroup.max.depth\":\"3\"}}");
  CHECK (m == NULL);
}

TEST (validate_errors_name_fields)
{
  const struct
  {
    const char *json, *want;
  } cases[] = {
    { "{\"cpu\":{\"shares\":1}}", "linux.resources.cpu.shares: 1 is out of range [2, 262144]" },
    { "{\"cpu\":{\"shares\":262145}}", "linux.resources.cpu.shares: 262145 is out of range" },
    { "{\"cpu\":{\"quota\":-2}}", "linux.resources.cpu.quota: -2 is invalid" },
    { "{\"cpu\":{\"quota\":999}}", "linux.resources.cpu.quota: 999 is invalid" },
    { "{\"cpu\":{\"period\":0}}", "linux.resources.cpu.period: 0 is out of range [1000, 1000000]" },
    { "{\"cpu\":{\"quota\":5000,\"burst\":6000}}",
      "linux.resources.cpu.burst: 6000 is larger than cpu.quota 5000" },
    { "{\"cpu\":{\"idle\":2}}", "linux.resources.cpu.idle: 2 is invalid" },
    { "{\"cpu\":{\"cpus\":\"0-\"}}", "linux.resources.cpu.cpus: `0-` is not a CPU list" },
    { "{\"cpu\":{\"mems\":\"x\"}}", "linux.resources.cpu.mems: `x` is not a memory node list" },
    { "{\"memory\":{\"limit\":-5}}", "linux.resources.memory.limit: -5 is not a valid limit" },
    { "{\"memory\":{\"reservation\":-2}}", "linux.resources.memory.reservation: -2 is not a valid limit" },
    { "{\"memory\":{\"limit\":200,\"swap\":100}}",
      "linux.resources.memory.swap: 100 is less than memory.limit 200" },
    { "{\"memory\":{\"swap\":100}}", "linux.resources.memory.swap: 100 cannot be set without memory.limit" },
    { "{\"memory\":{\"swappiness\":101}}",
      "linux.resources.memory.swappiness: 101 is out of range [0, 100]" },
    { "{\"memory\":{\"disableOOMKiller\":true}}",
      "linux.resources.memory.disableOOMKiller: cgroup v2 has no way" },
    { "{\"blockIO\":{\"weight\":5}}", "linux.resources.blockIO.weight: 5 is out of range [10, 1000]" },
    { "{\"blockIO\":{\"weight\":1001}}", "linux.resources.blockIO.weight: 1001 is out of range" },
    { "{\"blockIO\":{\"weightDevice\":[{\"major\":8,\"minor\":0,\"weight\":1}]}}",
      "linux.resources.blockIO.weightDevice[0].weight: 1 is out of range [10, 1000]" },
    { "{\"hugepageLimits\":[{\"pageSize\":\"2M\",\"limit\":1}]}",
      "linux.resources.hugepageLimits[0].pageSize: `2M` is not a page size" },
    { "{\"rdma\":{\"bad dev\":{\"hcaHandles\":1}}}",
      "linux.resources.rdma: `bad dev` is not an RDMA device name" },
    { "{\"unified\":{\"../memory.max\":\"1\"}}",
      "linux.resources.unified.\"../memory.max\": must be a plain file name" },
    { "{\"unified\":{\"memory/max\":\"1\"}}",
      "linux.resources.unified.\"memory/max\": must be a plain file name" },
    { "{\"unified\":{\"nodot\":\"1\"}}",
      "linux.resources.unified.\"nodot\": must have the form CONTROLLER.FILE" },
    { "{\"unified\":{\"cgroup.procs\":\"1\"}}",
      "linux.resources.unified.\"cgroup.procs\": hull manages this file" },
    { "{\"unified\":{\"cgroup.kill\":\"1\"}}",
      "linux.resources.unified.\"cgroup.kill\": hull manages this file" },
    { "{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},{\"allow\":true,\"type\":\"c\",\"major\":4,"
      "\"access\":\"rwm\"},{\"allow\":false,\"type\":\"c\",\"major\":4,\"minor\":1,\"access\":\"r\"}]}",
      "linux.resources.devices[2]: rule `c 4:1 r` would punch a hole in the earlier wildcard rule `c 4:* "
      "rwm`" },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      cleanup_free char *m = validate_msg (cases[i].json);
      if (m == NULL || strstr (m, cases[i].want) == NULL)
        fprintf (stderr, "  case %zu: %s\n", i, cases[i].json);
      CHECK_CONTAINS (m, cases[i].want);
    }
}

TEST (zero_means_unset_as_runc)
{
  /* runc treats 0 as "not set" for shares, blkio weight, memory limits. */
  cleanup_free char *m = validate_msg ("{\"cpu\":{\"shares\":0,\"quota\":0},\"blockIO\":{\"weight\":0},"
                                       "\"memory\":{\"limit\":0,\"reservation\":0}}");
  CHECK (m == NULL);
  cleanup_free char *p = plan_text ("{\"cpu\":{\"shares\":0,\"quota\":0},\"blockIO\":{\"weight\":0},"
                                    "\"memory\":{\"limit\":0,\"reservation\":0}}",
                                    false);
  CHECK_STR (p, "");
}

/* ---- the write plan --------------------------------------------------------------------- */

TEST (plan_every_field)
{
  cleanup_free char *p = plan_text (
      "{\"pids\":{\"limit\":100},"
      "\"memory\":{\"limit\":1048576,\"reservation\":524288,\"swap\":2097152,\"kernel\":1,\"swappiness\":10},"
      "\"blockIO\":{\"weight\":500,\"weightDevice\":[{\"major\":8,\"minor\":0,\"weight\":300},"
      "{\"major\":8,\"minor\":16,\"leafWeight\":20}],"
      "\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":1000}],"
      "\"throttleWriteBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":2000}],"
      "\"throttleReadIOPSDevice\":[{\"major\":8,\"minor\":0,\"rate\":30}],"
      "\"throttleWriteIOPSDevice\":[{\"major\":8,\"minor\":16,\"rate\":0}]},"
      "\"cpu\":{\"shares\":1024,\"quota\":50000,\"period\":200000,\"burst\":10000,\"idle\":0,\"cpus\":\"0-"
      "1\","
      "\"mems\":\"0\",\"realtimeRuntime\":5},"
      "\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":4194304}],"
      "\"rdma\":{\"mlx5_0\":{\"hcaHandles\":3,\"hcaObjects\":1000},\"mlx4_0\":{\"hcaObjects\":7}},"
      "\"network\":{\"classID\":1},"
      "\"unified\":{\"memory.high\":\"900000\",\"cgroup.max.descendants\":\"10\"}}",
      true);
  CHECK_STR (p, "pids.max=100 (linux.resources.pids.limit)\n"
                "memory.swap.max=1048576 (linux.resources.memory.swap)\n"
                "memory.max=1048576 (linux.resources.memory.limit)\n"
                "memory.low=524288 (linux.resources.memory.reservation)\n"
                "io.bfq.weight=500 | io.weight=4950 (linux.resources.blockIO.weight)\n"
                "io.bfq.weight=8:0 300 | io.weight=8:0 2930 (linux.resources.blockIO.weightDevice)\n"
                "io.max=8:0 rbps=1000 (linux.resources.blockIO.throttleReadBpsDevice)\n"
                "io.max=8:0 wbps=2000 (linux.resources.blockIO.throttleWriteBpsDevice)\n"
                "io.max=8:0 riops=30 (linux.resources.blockIO.throttleReadIOPSDevice)\n"
                "io.max=8:16 wiops=max (linux.resources.blockIO.throttleWriteIOPSDevice)\n"
                "cpu.idle=0 (linux.resources.cpu.idle)\n"
                "cpu.weight=39 (linux.resources.cpu.shares)\n"
                "cpu.max.burst=10000 (linux.resources.cpu.burst)\n"
                "cpu.max=50000 200000 (linux.resources.cpu.quota)\n"
                "cpuset.cpus=0-1 (linux.resources.cpu.cpus)\n"
                "cpuset.mems=0 (linux.resources.cpu.mems)\n"
                "hugetlb.2MB.max=4194304 (linux.resources.hugepageLimits)\n"
                "hugetlb.2MB.rsvd.max=4194304 (linux.resources.hugepageLimits)\n"
                "rdma.max=mlx5_0 hca_handle=3 hca_object=1000 (linux.resources.rdma)\n"
                "rdma.max=mlx4_0 hca_object=7 (linux.resources.rdma)\n"
                "memory.high=900000 (linux.resources.unified)\n"
                "cgroup.max.descendants=10 (linux.resources.unified)\n");
}

TEST (plan_special_values)
{
  const struct
  {
    const char *json, *want;
  } cases[] = {
    /* -1 is "max"; unlimited memory takes swap along (runc). */
    { "{\"memory\":{\"limit\":-1}}", "memory.swap.max=max\nmemory.max=max\n" },
    { "{\"memory\":{\"limit\":100,\"swap\":-1}}", "memory.swap.max=max\nmemory.max=100\n" },
    { "{\"memory\":{\"limit\":100,\"swap\":100}}", "memory.swap.max=0\nmemory.max=100\n" },
    { "{\"memory\":{\"limit\":100}}", "memory.max=100\n" },
    { "{\"memory\":{\"limit\":-1,\"swap\":300}}", "memory.swap.max=300\nmemory.max=max\n" },
    { "{\"pids\":{\"limit\":0}}", "pids.max=max\n" },
    { "{\"pids\":{\"limit\":-1}}", "pids.max=max\n" },
    { "{\"cpu\":{\"quota\":-1}}", "cpu.max=max 100000\n" },
    { "{\"cpu\":{\"quota\":20000}}", "cpu.max=20000 100000\n" },
    { "{\"cpu\":{\"period\":50000}}", "cpu.max=max 50000\n" },
    /* The kernel refuses cpu.weight on an idle cgroup. */
    { "{\"cpu\":{\"shares\":512,\"idle\":1}}", "cpu.idle=1\n" },
    { "{\"cpu\":{\"shares\":512,\"idle\":0}}", "cpu.idle=0\ncpu.weight=20\n" },
    { "{\"cpu\":{\"cpus\":\"\",\"mems\":\"\"}}", "" },
    { "{\"rdma\":{\"mlx5_0\":{}}}", "" },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      cleanup_free char *p = plan_text (cases[i].json, false);
      if (p == NULL || strcmp (p, cases[i].want) != 0)
        fprintf (stderr, "  case %zu: %s\n", i, cases[i].json);
      CHECK_STR (p, cases[i].want);
    }
}

TEST (plan_flags)
{
  struct oci_resources r;
  hull_error_t err = NULL;
  struct cg_plan p;
  CHECK (parse_res ("{\"memory\":{\"limit\":100,\"swap\":200},\"cpu\":{\"quota\":5000,\"burst\":100},"
                    "\"unified\":{\"memory.high\":\"5\",\"cgroup.max.depth\":\"2\"}}",
                    &r, &err)
         == 0);
  CHECK (cg_plan_resources (&r, &p, &err) == 0);
  oci_resources_release (&r);
  bool ok = p.n == 6 && !p.w[0].missing_ok /* swap.max=100 must be honoured */ && p.w[2].retry_einval
            && strcmp (p.w[2].file, "cpu.max.burst") == 0 && strcmp (p.w[4].controller, "memory") == 0
            && strcmp (p.w[4].unified_key, "memory.high") == 0 && p.w[5].controller[0] == '\0';
  cg_plan_release (&p);
  CHECK (ok);
  CHECK (parse_res ("{\"memory\":{\"limit\":-1}}", &r, &err) == 0);
  CHECK (cg_plan_resources (&r, &p, &err) == 0);
  oci_resources_release (&r);
  ok = p.n == 2 && p.w[0].missing_ok; /* "max" without swap accounting is harmless */
  cg_plan_release (&p);
  CHECK (ok);
}

/* ---- devices: the program, run through an interpreter ------------------------------------ */

struct dev_ctx
{
  uint32_t access_type, major, minor;
};

/* Executes the handful of opcodes the generator emits; -1 on anything else
 * (or a jump out of the program). */
static int
bpf_run (const struct bpf_insn *p, size_t n, const struct dev_ctx *ctx)
{
  uint64_t r[11] = { 0 };
  bool r1_ctx = true;
  for (size_t pc = 0, steps = 0; pc < n && steps < 10000; pc++, steps++)
    {
      const struct bpf_insn *i = &p[pc];
      uint32_t src = (uint32_t)r[i->src_reg], dst = (uint32_t)r[i->dst_reg];
      switch (i->code)
        {
        case BPF_LDX | BPF_MEM | BPF_W:
          if (i->src_reg != 1 || !r1_ctx || i->off < 0 || i->off > 8 || i->off % 4)
            return -1;
          r[i->dst_reg] = i->off == 0 ? ctx->access_type : i->off == 4 ? ctx->major : ctx->minor;
          break;
        case BPF_ALU | BPF_AND | BPF_K:
          r[i->dst_reg] = dst & (uint32_t)i->imm;
          break;
        case BPF_ALU | BPF_RSH | BPF_K:
          r[i->dst_reg] = dst >> i->imm;
          break;
        case BPF_ALU | BPF_MOV | BPF_X:
          r[i->dst_reg] = src;
          break;
        case BPF_ALU | BPF_MOV | BPF_K:
          r[i->dst_reg] = (uint32_t)i->imm;
          break;
        case BPF_JMP32 | BPF_JNE | BPF_K:
          if (dst != (uint32_t)i->imm)
            pc += i->off;
          break;
        case BPF_JMP32 | BPF_JNE | BPF_X:
          if (dst != src)
            pc += i->off;
          break;
        case BPF_JMP | BPF_EXIT:
          return (int)r[0];
        default:
          return -1;
        }
      if (i->dst_reg == 1 && i->code != (BPF_LDX | BPF_MEM | BPF_W))
        r1_ctx = false;
    }
  return -1;
}

/* "c 1 3 rw" → allowed (1), denied (0), or -1 when the program misbehaves. */
static int
query (const struct bpf_insn *p, size_t n, char type, uint32_t major, uint32_t minor, const char *acc)
{
  uint32_t a = 0;
  for (; *acc; acc++)
    a |= *acc == 'r' ? BPF_DEVCG_ACC_READ : *acc == 'w' ? BPF_DEVCG_ACC_WRITE : BPF_DEVCG_ACC_MKNOD;
  struct dev_ctx c = { a << 16 | (type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK), major, minor };
  return bpf_run (p, n, &c);
}

struct dq
{
  char type;
  uint32_t major, minor;
  const char *acc;
  int want;
};

static bool
decisions (const char *rules_json, const struct dq *q, size_t nq)
{
  struct oci_resources r;
  hull_error_t err = NULL;
  cleanup_free char *json = hull_fmt ("{\"devices\":%s}", rules_json);
  if (parse_res (json, &r, &err) < 0)
    {
      fprintf (stderr, "  parse: %s\n", err->msg);
      hull_error_release (&err);
      return false;
    }
  struct bpf_insn *p = NULL;
  size_t n = 0;
  int ret = cg_devices_program (r.devices, r.n_devices, &p, &n, &err);
  oci_resources_release (&r);
  if (ret < 0)
    {
      fprintf (stderr, "  program: %s\n", err->msg);
      hull_error_release (&err);
      return false;
    }
  bool ok = true;
  for (size_t i = 0; i < nq; i++)
    {
      int got = query (p, n, q[i].type, q[i].major, q[i].minor, q[i].acc);
      if (got != q[i].want)
        {
          fprintf (stderr, "  %s: %c %u:%u %s: got %d, want %d\n", rules_json, q[i].type, q[i].major,
                   q[i].minor, q[i].acc, got, q[i].want);
          ok = false;
        }
    }
  free (p);
  return ok;
}

TEST (devices_default_list)
{
  const struct dq q[] = {
    { 'c', 1, 3, "rw", 1 },   { 'c', 1, 3, "rwm", 1 },   { 'c', 1, 5, "r", 1 },
    { 'c', 1, 7, "w", 1 },    { 'c', 1, 8, "r", 1 },     { 'c', 1, 9, "r", 1 },
    { 'c', 5, 0, "rw", 1 },   { 'c', 5, 2, "rw", 1 },    { 'c', 136, 0, "rw", 1 },
    { 'c', 136, 77, "r", 1 }, { 'c', 10, 200, "rw", 1 }, { 'c', 1, 1, "r", 0 }, /* /dev/mem */
    { 'c', 5, 1, "rw", 0 }, /* /dev/console: not on runc's list */
    { 'b', 8, 0, "r", 0 },    { 'c', 10, 229, "rw", 0 }, { 'c', 99, 99, "m", 1 },
    { 'b', 8, 0, "m", 1 },    /* mknod of anything */
    { 'c', 99, 99, "rm", 0 }, /* one exception must cover every requested access */
  };
  CHECK (decisions ("[]", q, sizeof (q) / sizeof (q[0])));
  /* The usual config starts with "deny all": the same table. */
  CHECK (decisions ("[{\"allow\":false,\"access\":\"rwm\"}]", q, sizeof (q) / sizeof (q[0])));
}

TEST (devices_wildcards_and_later_rules)
{
  const struct dq wild[] = {
    { 'c', 4, 1, "rw", 1 }, { 'c', 4, 99, "r", 1 }, { 'c', 4, 1, "rwm", 0 }, { 'c', 5, 1, "r", 0 },
    { 'c', 7, 9, "r", 1 },  { 'c', 7, 9, "w", 0 },  { 'b', 7, 9, "r", 0 },
  };
  CHECK (decisions ("[{\"allow\":false,\"access\":\"rwm\"},"
                    "{\"allow\":true,\"type\":\"c\",\"major\":4,\"access\":\"rw\"},"
                    "{\"allow\":true,\"type\":\"c\",\"minor\":9,\"access\":\"r\"}]",
                    wild, sizeof (wild) / sizeof (wild[0])));
  /* An explicit deny after an allow of the same device wins. */
  const struct dq deny_after[] = { { 'c', 4, 1, "r", 1 }, { 'c', 4, 1, "w", 0 }, { 'c', 4, 1, "rw", 0 } };
  CHECK (decisions ("[{\"allow\":false,\"access\":\"rwm\"},"
                    "{\"allow\":true,\"type\":\"c\",\"major\":4,\"minor\":1,\"access\":\"rw\"},"
                    "{\"allow\":false,\"type\":\"c\",\"major\":4,\"minor\":1,\"access\":\"w\"}]",
                    deny_after, sizeof (deny_after) / sizeof (deny_after[0])));
  /* Privileged: allow all, then deny one block device. */
  const struct dq priv[] = { { 'b', 8, 0, "r", 0 },
                             { 'b', 8, 0, "m", 1 },
                             { 'b', 8, 1, "rw", 1 },
                             { 'c', 10, 229, "rw", 1 },
                             { 'c', 1, 3, "rw", 1 } };
  CHECK (decisions ("[{\"allow\":true,\"access\":\"rwm\"},"
                    "{\"allow\":false,\"type\":\"b\",\"major\":8,\"minor\":0,\"access\":\"rw\"}]",
                    priv, sizeof (priv) / sizeof (priv[0])));
  /* A later "a" rule forgets the earlier ones. */
  const struct dq reset[] = { { 'c', 4, 1, "r", 0 }, { 'c', 1, 3, "r", 1 } };
  CHECK (decisions ("[{\"allow\":true,\"type\":\"c\",\"major\":4,\"minor\":1,\"access\":\"rw\"},"
                    "{\"allow\":false,\"access\":\"rwm\"}]",
                    reset, sizeof (reset) / sizeof (reset[0])));
  /* Default devices cannot be revoked (runc appends its list). */
  const struct dq full[] = { { 'c', 1, 7, "rw", 1 } };
  CHECK (
      decisions ("[{\"allow\":false,\"type\":\"c\",\"major\":1,\"minor\":7,\"access\":\"rwm\"}]", full, 1));
  /* Device numbers beyond INT32_MAX compare as 32-bit values. */
  const struct dq big[] = { { 'c', 4000000000u, 1, "r", 1 }, { 'c', 4000000001u, 1, "r", 0 } };
  CHECK (decisions ("[{\"allow\":true,\"type\":\"c\",\"major\":4000000000,\"minor\":1,\"access\":\"r\"}]",
                    big, 2));
}

TEST (devices_program_shape)
{
  /* Privileged: the prologue, then "return 1" (runc's TestDeviceFilter_Privileged). */
  struct oci_device_cgroup all = { true, 'a', { false, 0 }, { false, 0 }, NULL };
  struct bpf_insn *p = NULL;
  size_t n = 0;
  hull_error_t err = NULL;
  CHECK (cg_devices_program (&all, 1, &p, &n, &err) == 0);
  bool ok = n == 8 && p[6].code == (BPF_ALU | BPF_MOV | BPF_K) && p[6].imm == 1
            && p[7].code == (BPF_JMP | BPF_EXIT);
  free (p);
  CHECK (ok);
}

/* ---- cgroupsPath ------------------------------------------------------------------------- */

static char *
own_cgroup (void)
{
  cleanup_free char *buf = NULL;
  hull_error_t err = NULL;
  if (hull_read_file_at (AT_FDCWD, "/proc/self/cgroup", 1 << 16, &buf, NULL, &err) < 0)
    {
      hull_error_release (&err);
      return NULL;
    }
  char *l = strstr (buf, "0::");
  if (l == NULL)
    return NULL;
  l += 3;
  l[strcspn (l, "\n")] = '\0';
  return xstrdup (l);
}

TEST (resolve_cgroups_path)
{
  hull_error_t err = NULL;
  cleanup_free char *own = own_cgroup ();
  CHECK (own != NULL);
  /* runc's rule: relative paths start at the parent of our own cgroup. */
  *strrchr (own, '/') = '\0';
  const char *base = own;
  char *out = NULL;
  CHECK (cg_resolve_path ("/a/b", "id", &out, &err) == 0);
  CHECK_STR (out, "/a/b");
  free (out);
  CHECK (cg_resolve_path ("//a//b/", "id", &out, &err) == 0);
  CHECK_STR (out, "/a/b");
  free (out);
  cleanup_free char *want_rel = hull_fmt ("%s/x/y", base);
  CHECK (cg_resolve_path ("x/y", "id", &out, &err) == 0);
  CHECK_STR (out, want_rel);
  free (out);
  cleanup_free char *want_id = hull_fmt ("%s/myid", base);
  CHECK (cg_resolve_path (NULL, "myid", &out, &err) == 0);
  CHECK_STR (out, want_id);
  free (out);
  CHECK (cg_resolve_path ("", "myid", &out, &err) == 0);
  CHECK_STR (out, want_id);
  free (out);
  CHECK (cg_resolve_path ("/a/../b", "id", &out, &err) < 0);
  CHECK_CONTAINS (err->msg, "linux.cgroupsPath: `/a/../b` must not contain `..`");
  hull_error_release (&err);
  CHECK (cg_resolve_path ("system.slice:hull:abc", "id", &out, &err) < 0);
  CHECK_CONTAINS (err->msg, "systemd cgroup driver is not supported");
  hull_error_release (&err);
  CHECK (cg_resolve_path ("/a..b/c..", "id", &out, &err) == 0); /* ".." only as a component */
  CHECK_STR (out, "/a..b/c..");
  free (out);
}

/* ---- stats JSON ------------------------------------------------------------------------- */

TEST (stats_json_shape)
{
  struct cg_u64_kv raw[] = { { (char *)"anon", 4096 }, { (char *)"file", 8192 } };
  struct cg_blkio_entry bytes[] = { { 8, 0, 512, "Read" }, { 8, 0, 0, "Write" } };
  struct cg_hugetlb_stat huge[] = { { "1GB", 0, 0, 0 }, { "2MB", 2097152, 0, 3 } };
  uint16_t cpus[] = { 0, 1 };
  struct cg_stats s;
  memset (&s, 0, sizeof (s));
  s.cpu.total = 9000, s.cpu.user = 6000, s.cpu.kernel = 3000, s.cpu.periods = 4, s.cpu.throttled_time = 0;
  s.cpuset.cpus = cpus, s.cpuset.n_cpus = 2;
  s.memory.cache = 8192, s.memory.raw = raw, s.memory.n_raw = 2;
  s.memory.usage = (struct cg_memory_entry){ UINT64_MAX, 12288, 0, 2 };
  s.memory.swap = (struct cg_memory_entry){ UINT64_MAX, 12288, 0, 0 };
  s.pids.current = 3;
  s.blkio.service_bytes = bytes, s.blkio.n_service_bytes = 2;
  s.hugetlb = huge, s.n_hugetlb = 2;
  cleanup_free char *j = cg_stats_to_json (&s, "c\"1");
  CHECK_STR (
      j, "{\"type\":\"stats\",\"id\":\"c\\\"1\",\"data\":{"
         "\"cpu\":{\"usage\":{\"total\":9000,\"kernel\":3000,\"user\":6000},\"throttling\":{\"periods\":4}},"
         "\"cpuset\":{\"cpus\":[0,1],\"cpu_exclusive\":0,\"mem_hardwall\":0,\"mem_exclusive\":0,"
         "\"memory_migrate\":0,\"memory_spread_page\":0,\"memory_spread_slab\":0,\"memory_pressure\":0,"
         "\"sched_load_balance\":0,\"sched_relax_domain_level\":0},"
         "\"memory\":{\"cache\":8192,"
         "\"usage\":{\"limit\":18446744073709551615,\"usage\":12288,\"failcnt\":2},"
         "\"swap\":{\"limit\":18446744073709551615,\"usage\":12288,\"failcnt\":0},"
         "\"kernel\":{\"limit\":0,\"failcnt\":0},\"kernelTCP\":{\"limit\":0,\"failcnt\":0},"
         "\"raw\":{\"anon\":4096,\"file\":8192}},"
         "\"pids\":{\"current\":3},"
         "\"blkio\":{\"ioServiceBytesRecursive\":[{\"major\":8,\"op\":\"Read\",\"value\":512},"
         "{\"major\":8,\"op\":\"Write\"}]},"
         "\"hugetlb\":{\"1GB\":{\"failcnt\":0},\"2MB\":{\"usage\":2097152,\"failcnt\":3}},"
         "\"intel_rdt\":{},\"network_interfaces\":null}}");
}

/* ---- on this host: a scratch cgroup ------------------------------------------------------ */

static bool
host_usable (const char *what)
{
  const char *mnt;
  hull_error_t err = NULL;
  if (geteuid () != 0 || cg_mount_point (&mnt, NULL, &err) < 0)
    {
      hull_error_release (&err);
      fprintf (stderr, "  SKIP %s: needs root and a cgroup2 hierarchy\n", what);
      return false;
    }
  return true;
}

struct scratch
{
  char *path; /* relative to the mount */
  int fd;
};

static bool
scratch_create (const char *name, struct scratch *s)
{
  hull_error_t err = NULL;
  cleanup_free char *id = hull_fmt ("hull-unit-%d-%s", (int)getpid (), name);
  bool created = false;
  s->fd = -1;
  if (cg_resolve_path (NULL, id, &s->path, &err) < 0 || (s->fd = cg_create (s->path, &created, &err)) < 0)
    {
      fprintf (stderr, "  scratch cgroup: %s\n", err->msg);
      hull_error_release (&err);
      return false;
    }
  return true;
}

static void
scratch_destroy (struct scratch *s)
{
  hull_error_t err = NULL;
  if (s->path)
    {
      cg_freeze (s->path, false, &err);
      hull_error_release (&err);
      cg_kill_all (s->path, SIGKILL, &err);
      hull_error_release (&err);
      if (cg_destroy (s->path, &err) < 0)
        {
          fprintf (stderr, "  could not remove the scratch cgroup: %s\n", err->msg);
          hull_error_release (&err);
        }
    }
  if (s->fd >= 0)
    close (s->fd);
  free (s->path);
}

/* A child that moves itself into the cgroup, reports 'j' on report_fd, then
 * runs fn; it never returns. */
static pid_t
spawn_in (int cgroup_fd, int report_fd, void (*fn) (void *), void *arg)
{
  pid_t pid = fork ();
  if (pid != 0)
    return pid;
  int fd = openat (cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
  char c = fd >= 0 && write (fd, "0", 1) == 1 ? 'j' : 'x';
  if (write (report_fd, &c, 1) != 1 || c != 'j')
    _exit (1);
  fn (arg);
  _exit (0);
}

static void
reap (pid_t pid)
{
  if (pid > 0)
    {
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
    }
}

static void
sleep_ms (long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep (&ts, NULL);
}

static char fail_msg[1024];

static const char *
failf (hull_error_t *err, const char *what)
{
  snprintf (fail_msg, sizeof (fail_msg), "%s%s%s", what, err && *err ? ": " : "",
            err && *err ? (*err)->msg : "");
  if (err)
    hull_error_release (err);
  return fail_msg;
}

static bool
root_has_controller (const char *name)
{
  const char *mnt;
  hull_error_t err = NULL;
  cleanup_free char *buf = NULL;
  if (cg_mount_point (&mnt, NULL, &err) < 0)
    {
      hull_error_release (&err);
      return false;
    }
  cleanup_free char *path = hull_fmt ("%s/cgroup.controllers", mnt);
  if (hull_read_file_at (AT_FDCWD, path, 1 << 16, &buf, NULL, &err) < 0)
    {
      hull_error_release (&err);
      return false;
    }
  for (char *save = NULL, *t = strtok_r (buf, " \n", &save); t; t = strtok_r (NULL, " \n", &save))
    if (strcmp (t, name) == 0)
      return true;
  return false;
}

/* ---- freezing ---------------------------------------------------------------------------- */

static void
spin (void *arg)
{
  volatile uint64_t *counter = arg;
  for (;;)
    (*counter)++;
}

/* Waits (bounded) until the counter passes `than`. */
static bool
progresses (volatile uint64_t *counter, uint64_t than)
{
  for (int i = 0; i < 5000; i++)
    {
      if (*counter > than)
        return true;
      sleep_ms (1);
    }
  return false;
}

static const char *
freeze_scenario (const struct scratch *s, int report, volatile uint64_t *counter)
{
  hull_error_t err = NULL;
  char c;
  bool frozen = true;
  if (read (report, &c, 1) != 1 || c != 'j')
    return failf (NULL, "the child could not join the scratch cgroup");
  if (!progresses (counter, 0))
    return failf (NULL, "the child never ran");
  if (cg_freeze (s->path, true, &err) < 0)
    return failf (&err, "freeze");
  if (cg_is_frozen (s->path, &frozen, &err) < 0 || !frozen)
    return failf (&err, "cgroup.events does not say frozen 1 after cg_freeze");
  /* /proc/PID/status keeps saying "S (sleeping)" for a frozen task (it
   * waits in the freezer trap); what shows the freeze is that it makes no
   * progress at all. */
  uint64_t before = *counter;
  sleep_ms (50);
  if (*counter != before)
    return failf (NULL, "the process kept running while frozen");
  if (cg_freeze (s->path, false, &err) < 0)
    return failf (&err, "thaw");
  if (cg_is_frozen (s->path, &frozen, &err) < 0 || frozen)
    return failf (&err, "cgroup.events still says frozen 1 after the thaw");
  if (!progresses (counter, before))
    return failf (NULL, "the process did not resume after the thaw");
  return NULL;
}

TEST (freeze_and_thaw_a_process)
{
  if (!host_usable ("freeze"))
    return;
  struct scratch s = { NULL, -1 };
  CHECK (scratch_create ("freeze", &s));
  volatile uint64_t *counter = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int pfd[2];
  const char *fail = "setup";
  pid_t pid = -1;
  if (counter != MAP_FAILED && pipe2 (pfd, O_CLOEXEC) == 0)
    {
      pid = spawn_in (s.fd, pfd[1], spin, (void *)counter);
      fail = pid < 0 ? "fork" : freeze_scenario (&s, pfd[0], counter);
      close (pfd[0]), close (pfd[1]);
    }
  reap (pid);
  scratch_destroy (&s);
  if (counter != MAP_FAILED)
    munmap ((void *)counter, 4096);
  if (fail)
    fprintf (stderr, "  %s\n", fail);
  CHECK (fail == NULL);
}

TEST (freeze_empty_cgroup_and_errors)
{
  if (!host_usable ("freeze"))
    return;
  struct scratch s = { NULL, -1 };
  CHECK (scratch_create ("freeze-empty", &s));
  hull_error_t err = NULL;
  bool frozen = false;
  int r1 = cg_freeze (s.path, true, &err);
  hull_error_release (&err);
  int r2 = cg_is_frozen (s.path, &frozen, &err);
  hull_error_release (&err);
  int r3 = cg_freeze (s.path, false, &err);
  hull_error_release (&err);
  scratch_destroy (&s);
  CHECK (r1 == 0 && r2 == 0 && frozen && r3 == 0);
  CHECK (cg_freeze ("/hull-unit-no-such-cgroup", true, &err) < 0);
  CHECK_CONTAINS (err->msg, "hull-unit-no-such-cgroup");
  hull_error_release (&err);
}

/* ---- the device program in the kernel ------------------------------------------------------ */

struct probe_fds
{
  int go, res;
};

/* Per 'g' on go: tries to open each device, reports an errno byte each. */
static const char *const probe_paths[] = { "/dev/null", "/dev/full", "/dev/kmsg" };

static void
probe_loop (void *arg)
{
  struct probe_fds *f = arg;
  char c;
  while (read (f->go, &c, 1) == 1 && c == 'g')
    {
      unsigned char res[3];
      for (int i = 0; i < 3; i++)
        {
          int fd = open (probe_paths[i], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
          res[i] = fd >= 0 ? 0 : (unsigned char)errno;
          if (fd >= 0)
            close (fd);
        }
      if (write (f->res, res, 3) != 3)
        _exit (1);
    }
}

static int
count_attached (int cgroup_fd)
{
  uint32_t ids[64];
  union bpf_attr q;
  memset (&q, 0, sizeof (q));
  q.query.target_fd = (uint32_t)cgroup_fd;
  q.query.attach_type = BPF_CGROUP_DEVICE;
  q.query.prog_ids = (uintptr_t)ids;
  q.query.prog_cnt = 64;
  if (syscall (__NR_bpf, BPF_PROG_QUERY, &q, sizeof (q)) < 0)
    return -1;
  return (int)q.query.prog_cnt;
}

/* Applies rules, then has the child open the probe devices. */
static const char *
device_round (const struct scratch *s, const struct probe_fds *f, const char *rules_json, const int want[3])
{
  struct oci_resources r;
  hull_error_t err = NULL;
  cleanup_free char *json = hull_fmt ("{\"devices\":%s}", rules_json);
  if (parse_res (json, &r, &err) < 0)
    return failf (&err, "parse");
  int ret = cg_apply_devices (s->fd, r.devices, r.n_devices, &err);
  oci_resources_release (&r);
  if (ret < 0)
    return failf (&err, "cg_apply_devices");
  unsigned char got[3];
  if (write (f->go, "g", 1) != 1 || read (f->res, got, 3) != 3)
    return failf (NULL, "the probe child died");
  for (int i = 0; i < 3; i++)
    if (got[i] != want[i])
      {
        snprintf (fail_msg, sizeof (fail_msg), "%s: open %s: got errno %d, want %d", rules_json,
                  probe_paths[i], got[i], want[i]);
        return fail_msg;
      }
  int n = count_attached (s->fd);
  if (n != 1)
    {
      snprintf (fail_msg, sizeof (fail_msg), "%s: %d device programs attached, want exactly 1", rules_json,
                n);
      return fail_msg;
    }
  return NULL;
}

static const char *
devices_scenario (const struct scratch *s, const struct probe_fds *f)
{
  char c;
  if (read (f->res, &c, 1) != 1 || c != 'j')
    return failf (NULL, "the child could not join the scratch cgroup");
  /* /dev/full is on runc's default allow list, so no config can deny it;
   * /dev/kmsg (c 1:11) is not. */
  const int defaults[3] = { 0, 0, EPERM }, all[3] = { 0, 0, 0 };
  const char *fail = device_round (s, f, "[{\"allow\":false,\"access\":\"rwm\"}]", defaults);
  if (fail == NULL) /* replacing the program: BPF_F_REPLACE */
    fail = device_round (s, f, "[{\"allow\":true,\"access\":\"rwm\"}]", all);
  if (fail == NULL)
    fail = device_round (s, f,
                         "[{\"allow\":true,\"access\":\"rwm\"},{\"allow\":false,\"type\":\"c\",\"major\":1,"
                         "\"minor\":11,\"access\":\"r\"}]",
                         defaults);
  return fail;
}

TEST (device_program_denies_in_the_kernel)
{
  if (!host_usable ("devices"))
    return;
  if (access ("/dev/kmsg", F_OK) < 0)
    {
      fprintf (stderr, "  SKIP: no /dev/kmsg to probe\n");
      return;
    }
  struct scratch s = { NULL, -1 };
  CHECK (scratch_create ("devices", &s));
  int go[2], res[2];
  const char *fail = "pipes";
  pid_t pid = -1;
  if (pipe2 (go, O_CLOEXEC) == 0 && pipe2 (res, O_CLOEXEC) == 0)
    {
      struct probe_fds child = { go[0], res[1] }, parent = { go[1], res[0] };
      pid = spawn_in (s.fd, res[1], probe_loop, &child);
      fail = pid < 0 ? "fork" : devices_scenario (&s, &parent);
      if (write (go[1], "q", 1) != 1)
        fail = fail ? fail : "quit";
      close (go[0]), close (go[1]), close (res[0]), close (res[1]);
    }
  reap (pid);
  scratch_destroy (&s);
  if (fail)
    fprintf (stderr, "  %s\n", fail);
  CHECK (fail == NULL);
}

/* ---- resources on this host ---------------------------------------------------------------- */

static char warnings[4096];

static void
capture_warning (const char *msg)
{
  size_t n = strlen (warnings);
  snprintf (warnings + n, sizeof (warnings) - n, "%s\n", msg);
}

/* cg_check_resources' error, "" when accepted; warnings land in `warnings`. */
static char *
check_msg (const char *json, bool warn_only)
{
  struct oci_resources r;
  hull_error_t err = NULL;
  warnings[0] = '\0';
  if (parse_res (json, &r, &err) < 0)
    return failf (&err, "parse") ? xstrdup (fail_msg) : NULL;
  cg_set_warn_fn (capture_warning);
  char *m = cg_check_resources (&r, warn_only, &err) < 0 ? xstrdup (err->msg) : xstrdup ("");
  cg_set_warn_fn (NULL);
  hull_error_release (&err);
  oci_resources_release (&r);
  return m;
}

TEST (check_refuses_or_warns_on_missing_controllers)
{
  if (!host_usable ("check"))
    return;
  char *m = check_msg ("{\"memory\":{\"kernel\":1,\"swappiness\":10},\"network\":{\"classID\":3}}", false);
  CHECK_STR (m, "");
  free (m);
  CHECK_CONTAINS (warnings, "linux.resources.memory.kernel/kernelTCP: kernel memory settings are ignored");
  CHECK_CONTAINS (warnings, "linux.resources.memory.swappiness");
  CHECK_CONTAINS (warnings, "linux.resources.network");
  if (root_has_controller ("memory"))
    {
      fprintf (stderr, "  (memory controller present: the refusal is for hybrid hosts)\n");
      return;
    }
  m = check_msg ("{\"memory\":{\"limit\":1048576}}", false);
  CHECK_CONTAINS (m, "linux.resources.memory.limit: the `memory` controller is not available in the cgroup2 "
                     "hierarchy at /sys/fs/cgroup");
  free (m);
  m = check_msg ("{\"memory\":{\"limit\":0,\"kernelTCP\":5}}",
                 false); /* 0 writes nothing: nothing to check */
  CHECK_STR (m, "");
  free (m);
  m = check_msg ("{\"unified\":{\"memory.high\":\"1\"}}", false);
  CHECK_CONTAINS (m, "linux.resources.unified.\"memory.high\": the `memory` controller is not available");
  free (m);
  m = check_msg ("{\"memory\":{\"limit\":1048576}}", true);
  CHECK_STR (m, "");
  free (m);
  CHECK_CONTAINS (warnings, "linux.resources.memory.limit: the `memory` controller is not available");
  CHECK_CONTAINS (warnings, "NOT enforced");
  /* Validation still refuses outright, even with warn_only. */
  m = check_msg ("{\"cpu\":{\"shares\":1}}", true);
  CHECK_CONTAINS (m, "linux.resources.cpu.shares");
  free (m);
}

TEST (check_hugepage_sizes)
{
  if (!host_usable ("hugetlb") || !root_has_controller ("hugetlb")
      || access ("/sys/kernel/mm/hugepages/hugepages-2048kB", F_OK) < 0)
    {
      fprintf (stderr, "  SKIP: needs the hugetlb controller and 2MB pages\n");
      return;
    }
  char *m = check_msg ("{\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":0}]}", false);
  CHECK_STR (m, "");
  free (m);
  m = check_msg ("{\"hugepageLimits\":[{\"pageSize\":\"3MB\",\"limit\":0}]}", false);
  CHECK_CONTAINS (m, "linux.resources.hugepageLimits[0].pageSize: this host has no `3MB` huge pages");
  free (m);
}

static const char *
apply_json (const struct scratch *s, const char *json)
{
  struct oci_resources r;
  hull_error_t err = NULL;
  if (parse_res (json, &r, &err) < 0)
    return failf (&err, "parse");
  int ret = cg_apply_resources (s->path, &r, &err);
  oci_resources_release (&r);
  return ret < 0 ? failf (&err, "apply") : NULL;
}

static char *
read_cg_file (const struct scratch *s, const char *file)
{
  char *buf = NULL;
  hull_error_t err = NULL;
  if (hull_read_file_at (s->fd, file, 1 << 16, &buf, NULL, &err) < 0)
    hull_error_release (&err);
  return buf;
}

TEST (apply_unified_and_skipped_limits)
{
  if (!host_usable ("apply"))
    return;
  struct scratch s = { NULL, -1 };
  CHECK (scratch_create ("apply", &s));
  const char *mnt;
  hull_error_t err = NULL;
  cg_mount_point (&mnt, NULL, &err);
  cleanup_free char *root_ctl = hull_fmt ("%s/cgroup.subtree_control", mnt);
  cleanup_free char *before = NULL, *after = NULL;
  hull_read_file_at (AT_FDCWD, root_ctl, 1 << 16, &before, NULL, &err);
  const char *f1 = apply_json (&s, "{\"unified\":{\"cgroup.max.descendants\":\"7\"}}");
  cleanup_free char *desc = read_cg_file (&s, "cgroup.max.descendants");
  cleanup_free char *f2 = xstrdup (apply_json (&s, "{\"unified\":{\"cgroup.nosuch\":\"1\"}}") ?: "accepted");
  const char *f3 = apply_json (&s, "{}");
  /* Without the controllers (hybrid host) these are skipped: check refused or
   * warned about them first. */
  const char *f4 = root_has_controller ("pids") ? NULL : apply_json (&s, "{\"pids\":{\"limit\":5}}");
  hull_read_file_at (AT_FDCWD, root_ctl, 1 << 16, &after, NULL, &err);
  hull_error_release (&err);
  scratch_destroy (&s);
  CHECK (f1 == NULL);
  CHECK_STR (desc, "7\n");
  CHECK_CONTAINS (f2, "linux.resources.unified.\"cgroup.nosuch\": no such file in `");
  CHECK (f3 == NULL);
  CHECK (f4 == NULL);
  CHECK_STR (after, before); /* nothing needed a controller here */
}

static void
hog (void *arg)
{
  (void)arg;
  for (;;)
    {
      char *p = malloc (1 << 20);
      if (p)
        memset (p, 1, 1 << 20);
    }
}

/* A process allocating past memory.max is OOM-killed and counted. */
static const char *
oom_scenario (const struct scratch *s)
{
  int pfd[2];
  if (pipe2 (pfd, O_CLOEXEC) < 0)
    return failf (NULL, "pipe");
  pid_t pid = spawn_in (s->fd, pfd[1], hog, NULL);
  close (pfd[0]), close (pfd[1]);
  int status = 0;
  if (pid < 0 || waitpid (pid, &status, 0) != pid)
    return failf (NULL, "the memory hog");
  uint64_t kills = 0;
  hull_error_t err = NULL;
  if (cg_oom_events (s->path, &kills, &err) < 0)
    return failf (&err, "cg_oom_events");
  if (!WIFSIGNALED (status) || WTERMSIG (status) != SIGKILL || kills < 1)
    return failf (NULL, "the memory hog was not OOM-killed, or memory.events did not count it");
  return NULL;
}

/* Needs the controllers: runs in the test host VM (pure cgroup v2). */
static const char *
limits_scenario (const struct scratch *s)
{
  const char *fail
      = apply_json (s, "{\"memory\":{\"limit\":67108864,\"reservation\":1048576,\"swap\":134217728},"
                       "\"cpu\":{\"shares\":1024,\"quota\":50000,\"period\":100000,\"cpus\":\"0\"},"
                       "\"pids\":{\"limit\":42},\"blockIO\":{\"weight\":500},"
                       "\"unified\":{\"memory.high\":\"62914560\"}}");
  if (fail)
    return fail;
  const struct
  {
    const char *file, *want;
  } files[] = {
    { "memory.max", "67108864\n" }, { "memory.low", "1048576\n" },   { "memory.high", "62914560\n" },
    { "cpu.weight", "39\n" },       { "cpu.max", "50000 100000\n" }, { "pids.max", "42\n" },
    { "cpuset.cpus", "0\n" },
  };
  for (size_t i = 0; i < sizeof (files) / sizeof (files[0]); i++)
    {
      cleanup_free char *got = read_cg_file (s, files[i].file);
      if (got == NULL || strcmp (got, files[i].want) != 0)
        {
          snprintf (fail_msg, sizeof (fail_msg), "%s: got `%s`, want `%s`", files[i].file,
                    got ? got : "(none)", files[i].want);
          return fail_msg;
        }
    }
  /* Without swap accounting there is no memory.swap.max to check. */
  cleanup_free char *swap = read_cg_file (s, "memory.swap.max");
  if (swap && strcmp (swap, "67108864\n") != 0)
    return failf (NULL, "memory.swap.max is not swap - limit");
  /* A refused write names the field and the file. */
  struct oci_resources r;
  hull_error_t err = NULL;
  if (parse_res ("{\"cpu\":{\"cpus\":\"4095\"}}", &r, &err) < 0)
    return failf (&err, "parse");
  int ret = cg_apply_resources (s->path, &r, &err);
  oci_resources_release (&r);
  if (ret == 0 || strstr (err->msg, "linux.resources.cpu.cpus: write cpuset.cpus: ") == NULL)
    return failf (&err, "an impossible cpuset was not refused with the field and file named");
  hull_error_release (&err);
  struct cg_stats st;
  if (cg_stats (s->path, &st, &err) < 0)
    return failf (&err, "cg_stats");
  bool ok = st.memory.usage.limit == 67108864 && st.pids.limit == 42;
  cg_stats_release (&st);
  if (!ok)
    return failf (NULL, "stats do not show the limits");
  return oom_scenario (s);
}

TEST (apply_limits_with_controllers)
{
  if (!host_usable ("limits"))
    return;
  const char *need[] = { "memory", "cpu", "pids", "cpuset", "io" };
  for (size_t i = 0; i < sizeof (need) / sizeof (need[0]); i++)
    if (!root_has_controller (need[i]))
      {
        fprintf (stderr, "  SKIP: no `%s` controller in cgroup2 (runs in the test host VM)\n", need[i]);
        return;
      }
  struct scratch s = { NULL, -1 };
  CHECK (scratch_create ("limits", &s));
  const char *fail = limits_scenario (&s);
  scratch_destroy (&s);
  if (fail)
    fprintf (stderr, "  %s\n", fail);
  CHECK (fail == NULL);
}

static void
pause_forever (void *arg)
{
  (void)arg;
  for (;;)
    pause ();
}

TEST (stats_of_a_scratch_cgroup)
{
  if (!host_usable ("stats"))
    return;
  struct scratch s = { NULL, -1 };
  CHECK (scratch_create ("stats", &s));
  int pfd[2];
  pid_t pid = -1;
  struct cg_stats st;
  memset (&st, 0, sizeof (st));
  hull_error_t err = NULL;
  const char *fail = "setup";
  char c;
  uint64_t oom = 0;
  int oom_ret = 0, oom_status = 0;
  if (pipe2 (pfd, O_CLOEXEC) == 0)
    {
      pid = spawn_in (s.fd, pfd[1], pause_forever, NULL);
      fail = read (pfd[0], &c, 1) != 1          ? "join"
             : cg_stats (s.path, &st, &err) < 0 ? failf (&err, "cg_stats")
                                                : NULL;
      oom_ret = cg_oom_events (s.path, &oom, &err);
      oom_status = err ? err->status : 0;
      hull_error_release (&err);
      close (pfd[0]), close (pfd[1]);
    }
  reap (pid);
  scratch_destroy (&s);
  cleanup_free char *json = fail ? NULL : cg_stats_to_json (&st, "stats-test");
  cg_stats_release (&st);
  if (fail)
    fprintf (stderr, "  %s\n", fail);
  CHECK (fail == NULL);
  CHECK_CONTAINS (json, "{\"type\":\"stats\",\"id\":\"stats-test\",\"data\":{\"cpu\":{\"usage\":{");
  CHECK_CONTAINS (json, "\"pids\":{\"current\":1");
  if (root_has_controller ("memory"))
    CHECK (oom_ret == 0 && oom == 0);
  else
    CHECK (oom_ret < 0 && oom_status == ENOENT);
}

RUN_TESTS ("cgroups")
