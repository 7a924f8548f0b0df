/* Unit tests for cgroups/, the pure parts: runc's conversions, validation
 * messages, the field → file plan, the device program (run through a small
 * interpreter), cgroupsPath resolution, the stats JSON.  The tests on a real
 * cgroup are in test_cgroups_host.c. */
#include "../../cgroups/cgroups.h"
#include "unit.h"

#include <linux/bpf.h>

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
    { "{\"pids\":{\"limit\":0}}", "" }, /* 0 is "not set", as in runc */
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

RUN_TESTS ("cgroups")
