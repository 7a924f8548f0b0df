/* Reading the statistics runc's `events --stats` reports from the cgroup v2
 * files (runc's fs2 stat* functions).  A file that does not exist (its
 * controller is not enabled) leaves its fields zero. */
#include "cgroups-internal.h"

#include <dirent.h>
#include <inttypes.h>

/* 1: the file does not exist. */
static int
read_opt (int dirfd, const char *file, char **out, hull_error_t *err)
{
  if (cg_read_at (dirfd, file, out, err) == 0)
    return 0;
  if ((*err)->status != ENOENT)
    return -1;
  hull_error_release (err);
  return 1;
}

static int
read_u64_opt (int dirfd, const char *file, uint64_t *out, hull_error_t *err)
{
  cleanup_free char *buf = NULL;
  int ret = read_opt (dirfd, file, &buf, err);
  if (ret != 0)
    return ret;
  buf[strcspn (buf, "\n")] = '\0';
  if (strcmp (buf, "max") == 0)
    *out = UINT64_MAX;
  else if (hull_parse_u64 (buf, out) < 0)
    return hull_make_error (err, 0, "`%s`: expected a number or `max`, got `%.32s`", file, buf);
  return 0;
}

static int
stat_cpu (int dirfd, struct cg_stats *s, hull_error_t *err)
{
  cleanup_free char *buf = NULL;
  int ret = read_opt (dirfd, "cpu.stat", &buf, err);
  if (ret != 0)
    return ret < 0 ? -1 : 0;
  uint64_t v;
  /* runc reports nanoseconds; cgroup v2 counts microseconds. */
  if (cg_keyed_u64 (buf, "usage_usec", &v) == 0)
    s->cpu.total = v * 1000;
  if (cg_keyed_u64 (buf, "user_usec", &v) == 0)
    s->cpu.user = v * 1000;
  if (cg_keyed_u64 (buf, "system_usec", &v) == 0)
    s->cpu.kernel = v * 1000;
  if (cg_keyed_u64 (buf, "nr_periods", &v) == 0)
    s->cpu.periods = v;
  if (cg_keyed_u64 (buf, "nr_throttled", &v) == 0)
    s->cpu.throttled_periods = v;
  if (cg_keyed_u64 (buf, "throttled_usec", &v) == 0)
    s->cpu.throttled_time = v * 1000;
  return 0;
}

static int
cpu_list (int dirfd, const char *file, uint16_t **out, size_t *n, hull_error_t *err)
{
  cleanup_free char *buf = NULL;
  int ret = read_opt (dirfd, file, &buf, err);
  if (ret != 0)
    return ret < 0 ? -1 : 0;
  enum
  {
    MAX_BITS = 65536
  };
  cleanup_free uint8_t *bits = xmalloc0 (MAX_BITS / 8);
  if (cg_parse_cpu_list (buf, bits, MAX_BITS) < 0)
    return hull_make_error (err, 0, "`%s`: not a list: `%.64s`", file, buf);
  for (size_t i = 0; i < MAX_BITS; i++)
    if (bits[i / 8] & (1u << (i % 8)))
      {
        *out = xreallocarray (*out, *n + 1, sizeof (**out));
        (*out)[(*n)++] = (uint16_t)i;
      }
  return 0;
}

static int
kv_cmp (const void *a, const void *b)
{
  return strcmp (((const struct cg_u64_kv *)a)->key, ((const struct cg_u64_kv *)b)->key);
}

static int
stat_memory_raw (int dirfd, struct cg_stats *s, hull_error_t *err)
{
  cleanup_free char *buf = NULL;
  int ret = read_opt (dirfd, "memory.stat", &buf, err);
  if (ret != 0)
    return ret < 0 ? -1 : 0;
  char *save = NULL;
  for (char *line = strtok_r (buf, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      char *sp = strchr (line, ' ');
      uint64_t v;
      if (sp == NULL)
        continue;
      *sp = '\0';
      if (hull_parse_u64 (sp + 1, &v) < 0)
        return hull_make_error (err, 0, "`memory.stat`: bad value for `%s`", line);
      s->memory.raw = xreallocarray (s->memory.raw, s->memory.n_raw + 1, sizeof (*s->memory.raw));
      s->memory.raw[s->memory.n_raw++] = (struct cg_u64_kv){ xstrdup (line), v };
      if (strcmp (line, "file") == 0)
        s->memory.cache = v;
    }
  /* Go encodes maps with sorted keys; keep the same order. */
  qsort (s->memory.raw, s->memory.n_raw, sizeof (*s->memory.raw), kv_cmp);
  return 0;
}

static int
stat_memory_events (int dirfd, struct cg_stats *s, hull_error_t *err)
{
  cleanup_free char *buf = NULL;
  int ret = read_opt (dirfd, "memory.events", &buf, err);
  if (ret != 0)
    return ret < 0 ? -1 : 0;
  cg_keyed_u64 (buf, "low", &s->memory.events.low);
  cg_keyed_u64 (buf, "high", &s->memory.events.high);
  cg_keyed_u64 (buf, "max", &s->memory.events.max);
  cg_keyed_u64 (buf, "oom", &s->memory.events.oom);
  cg_keyed_u64 (buf, "oom_kill", &s->memory.events.oom_kill);
  /* v1's failcnt counted hits of the limit: memory.events "max" is that. */
  s->memory.usage.failcnt = s->memory.events.max;
  return 0;
}

static int
stat_memory (int dirfd, struct cg_stats *s, hull_error_t *err)
{
  struct cg_memory_entry *u = &s->memory.usage, *w = &s->memory.swap;
  uint64_t swap_usage = 0, swap_limit = 0;
  if (stat_memory_raw (dirfd, s, err) < 0 || read_u64_opt (dirfd, "memory.current", &u->usage, err) < 0
      || read_u64_opt (dirfd, "memory.max", &u->limit, err) < 0
      || read_u64_opt (dirfd, "memory.peak", &u->max, err) < 0 || stat_memory_events (dirfd, s, err) < 0)
    return -1;
  int ret = read_u64_opt (dirfd, "memory.swap.current", &swap_usage, err);
  if (ret < 0 || (ret == 0 && read_u64_opt (dirfd, "memory.swap.max", &swap_limit, err) < 0))
    return -1;
  /* runc reports swap as memory+swap, as cgroup v1 did (without swap
   * accounting: the memory figures alone). */
  w->usage = swap_usage + u->usage;
  w->limit = swap_limit == UINT64_MAX || u->limit == UINT64_MAX || swap_limit + u->limit < swap_limit
                 ? UINT64_MAX
                 : swap_limit + u->limit;
  return 0;
}

static int
stat_pids (int dirfd, struct cg_stats *s, hull_error_t *err)
{
  int ret = read_u64_opt (dirfd, "pids.current", &s->pids.current, err);
  if (ret < 0)
    return -1;
  if (ret == 1)
    {
      /* No pids controller: count the processes, as runc does. */
      cleanup_free char *buf = NULL;
      if (cg_read_at (dirfd, "cgroup.procs", &buf, err) < 0)
        return -1;
      for (char *p = buf; (p = strchr (p, '\n')); p++)
        s->pids.current++;
      return 0;
    }
  if (read_u64_opt (dirfd, "pids.max", &s->pids.limit, err) < 0)
    return -1;
  if (s->pids.limit == UINT64_MAX)
    s->pids.limit = 0; /* runc: 0 is "no limit" */
  return 0;
}

static void
add_blkio (struct cg_blkio_entry **v, size_t *n, uint64_t major, uint64_t minor, const char *op,
           uint64_t value)
{
  *v = xreallocarray (*v, *n + 1, sizeof (**v));
  (*v)[(*n)++] = (struct cg_blkio_entry){ major, minor, value, op };
}

/* "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" per device. */
static int
stat_io (int dirfd, struct cg_stats *s, hull_error_t *err)
{
  cleanup_free char *buf = NULL;
  int ret = read_opt (dirfd, "io.stat", &buf, err);
  if (ret != 0)
    return ret < 0 ? -1 : 0;
  char *save = NULL;
  for (char *line = strtok_r (buf, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      unsigned long long major, minor;
      int off = 0;
      if (sscanf (line, "%llu:%llu%n", &major, &minor, &off) != 2)
        continue;
      char *save2 = NULL;
      for (char *kv = strtok_r (line + off, " ", &save2); kv; kv = strtok_r (NULL, " ", &save2))
        {
          char *eq = strchr (kv, '=');
          uint64_t v;
          if (eq == NULL || hull_parse_u64 (eq + 1, &v) < 0)
            continue;
          *eq = '\0';
          if (strcmp (kv, "rbytes") == 0 || strcmp (kv, "wbytes") == 0)
            add_blkio (&s->blkio.service_bytes, &s->blkio.n_service_bytes, major, minor,
                       kv[0] == 'r' ? "Read" : "Write", v);
          else if (strcmp (kv, "rios") == 0 || strcmp (kv, "wios") == 0)
            add_blkio (&s->blkio.serviced, &s->blkio.n_serviced, major, minor,
                       kv[0] == 'r' ? "Read" : "Write", v);
        }
    }
  return 0;
}

/* "hugepages-2048kB" → "2MB", runc's names (cgroups.GetHugePageSize). */
static bool
page_size_name (const char *dirent, char out[16])
{
  unsigned long long kb;
  char unit[4];
  if (sscanf (dirent, "hugepages-%llu%3s", &kb, unit) != 2 || strcmp (unit, "kB") != 0 || kb == 0)
    return false;
  const char *units[] = { "KB", "MB", "GB", "TB" };
  int u = 0;
  while (kb % 1024 == 0 && u < 3)
    kb /= 1024, u++;
  snprintf (out, 16, "%llu%s", kb, units[u]);
  return true;
}

static int
hugetlb_cmp (const void *a, const void *b)
{
  return strcmp (((const struct cg_hugetlb_stat *)a)->page_size,
                 ((const struct cg_hugetlb_stat *)b)->page_size);
}

static int
stat_hugetlb (int dirfd, struct cg_stats *s, hull_error_t *err)
{
  DIR *d = opendir ("/sys/kernel/mm/hugepages");
  if (d == NULL)
    return 0;
  int ret = 0;
  for (struct dirent *de; ret == 0 && (de = readdir (d));)
    {
      struct cg_hugetlb_stat h = { 0 };
      if (!page_size_name (de->d_name, h.page_size))
        continue;
      cleanup_free char *cur = hull_fmt ("hugetlb.%s.current", h.page_size);
      cleanup_free char *ev = hull_fmt ("hugetlb.%s.events", h.page_size);
      cleanup_free char *events = NULL;
      int r = read_u64_opt (dirfd, cur, &h.usage, err);
      if (r == 0)
        r = read_opt (dirfd, ev, &events, err);
      if (r < 0)
        ret = -1;
      if (r != 0)
        continue;
      cg_keyed_u64 (events, "max", &h.failcnt);
      s->hugetlb = xreallocarray (s->hugetlb, s->n_hugetlb + 1, sizeof (*s->hugetlb));
      s->hugetlb[s->n_hugetlb++] = h;
    }
  closedir (d);
  if (s->n_hugetlb)
    qsort (s->hugetlb, s->n_hugetlb, sizeof (*s->hugetlb), hugetlb_cmp);
  return ret;
}

int
cg_stats (const char *path, struct cg_stats *out, hull_error_t *err)
{
  memset (out, 0, sizeof (*out));
  cleanup_free char *dir = cg_abs_path (path, err);
  if (dir == NULL)
    return -1;
  cleanup_close int dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return hull_make_error (err, errno, "open cgroup `%s`", dir);
  if (stat_cpu (dirfd, out, err) < 0
      || cpu_list (dirfd, "cpuset.cpus.effective", &out->cpuset.cpus, &out->cpuset.n_cpus, err) < 0
      || cpu_list (dirfd, "cpuset.mems.effective", &out->cpuset.mems, &out->cpuset.n_mems, err) < 0
      || stat_memory (dirfd, out, err) < 0 || stat_pids (dirfd, out, err) < 0 || stat_io (dirfd, out, err) < 0
      || stat_hugetlb (dirfd, out, err) < 0)
    {
      cg_stats_release (out);
      return hull_error_wrap (err, "stats of cgroup `%s`", dir);
    }
  return 0;
}

void
cg_stats_release (struct cg_stats *s)
{
  free (s->cpuset.cpus);
  free (s->cpuset.mems);
  for (size_t i = 0; i < s->memory.n_raw; i++)
    free (s->memory.raw[i].key);
  free (s->memory.raw);
  free (s->blkio.service_bytes);
  free (s->blkio.serviced);
  free (s->hugetlb);
  memset (s, 0, sizeof (*s));
}

int
cg_oom_events (const char *path, uint64_t *oom_kill, hull_error_t *err)
{
  cleanup_free char *dir = cg_abs_path (path, err);
  if (dir == NULL)
    return -1;
  cleanup_free char *file = hull_fmt ("%s/memory.events", dir);
  cleanup_free char *buf = NULL;
  if (cg_read_at (AT_FDCWD, file, &buf, err) < 0)
    return -1;
  if (cg_keyed_u64 (buf, "oom_kill", oom_kill) < 0)
    return hull_make_error (err, 0, "`%s`: no `oom_kill` count", file);
  return 0;
}
