/* hull events [--stats] [--interval 5s] ID: the container's stats as
 * runc's JSON events, once (--stats) or every interval, plus an
 * {"type":"oom"} event whenever memory.events counts a new OOM kill
 * (noticed at once: kernfs files wake POLLPRI on change).  The stream
 * ends when the container stops. */
#include "runtime.h"
#include "../cgroups/cgroups.h"

#include <getopt.h>
#include <poll.h>

/* Go-style durations as runc accepts them: 5s, 100ms, 1m, 1m30s, 2h. */
static int
parse_duration (const char *s, uint64_t *ms, hull_error_t *err)
{
  static const struct { const char *unit; uint64_t ms; } units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
                                                                      { "h", 3600000 } };
  uint64_t total = 0;
  const char *p = s;
  while (*p)
    {
      char *end;
      errno = 0;
      /* strtoull takes "-3" and wraps it: only digits may start a term. */
      unsigned long long v = *p >= '0' && *p <= '9' ? strtoull (p, &end, 10) : (end = (char *) p, 0);
      if (errno || end == p)
        return hull_make_error (err, 0, "events: --interval `%s` is not a duration like 5s or 500ms", s);
      size_t i = 0; /* "ms" comes before "m" in units[], so it wins */
      while (i < 4 && !hull_str_has_prefix (end, units[i].unit))
        i++;
      if (i == 4)
        return hull_make_error (err, 0, "events: --interval `%s`: unknown unit (use ms, s, m or h)", s);
      total += v * units[i].ms;
      p = end + strlen (units[i].unit);
    }
  if (total == 0)
    return hull_make_error (err, 0, "events: --interval must be positive");
  *ms = total;
  return 0;
}

static int
print_stats (struct hull_container *c, hull_error_t *err)
{
  struct cg_stats st;
  if (cg_stats (c->state->cgroup_path, &st, err) < 0)
    return -1;
  cleanup_free char *json = cg_stats_to_json (&st, c->id);
  cg_stats_release (&st);
  printf ("%s\n", json);
  fflush (stdout);
  return 0;
}

static int
open_memory_events (struct hull_container *c)
{
  hull_error_t ignored = NULL;
  cleanup_close int dir = cg_open_dir (c->state->cgroup_path, &ignored);
  hull_error_release (&ignored);
  return dir < 0 ? -1 : openat (dir, "memory.events", O_RDONLY | O_CLOEXEC);
}

/* Prints one oom event per new OOM kill counted since *seen. */
static void
check_oom (struct hull_container *c, uint64_t *seen)
{
  uint64_t now = 0;
  hull_error_t ignored = NULL;
  if (cg_oom_events (c->state->cgroup_path, &now, &ignored) < 0)
    {
      hull_error_release (&ignored);
      return;
    }
  for (; *seen < now; (*seen)++)
    printf ("{\"type\":\"oom\",\"id\":\"%s\"}\n", c->id);
  fflush (stdout);
}

static int
stream (struct hull_container *c, uint64_t interval_ms, hull_error_t *err)
{
  cleanup_close int mem_events = open_memory_events (c);
  uint64_t seen = 0;
  hull_error_t ignored = NULL;
  if (cg_oom_events (c->state->cgroup_path, &seen, &ignored) < 0)
    hull_error_release (&ignored);
  uint64_t next = hull_now_ns ();
  for (;;)
    {
      enum oci_status st = hull_container_status (c);
      if (st == OCI_STATUS_STOPPED)
        return 0;
      uint64_t now = hull_now_ns ();
      if (now >= next)
        {
          if (print_stats (c, err) < 0)
            return hull_container_status (c) == OCI_STATUS_STOPPED ? (hull_error_release (err), 0) : -1;
          next = now + interval_ms * 1000000ull;
        }
      /* Wake at the next stats tick, on an OOM, or every second to notice
       * that the container stopped. */
      uint64_t wait_ms = (next - now) / 1000000ull;
      struct pollfd pfd = { .fd = mem_events, .events = POLLPRI };
      int r = poll (&pfd, mem_events >= 0 ? 1 : 0, (int) (wait_ms < 1000 ? wait_ms : 1000));
      if (r > 0 && (pfd.revents & POLLPRI))
        check_oom (c, &seen);
    }
}

int
hull_cmd_events (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help = {
    "events", "[--stats] [--interval DURATION] CONTAINER_ID",
    "Prints the container's stats as JSON events (runc's format) every interval, and OOM events as they\n"
    "happen, until the container stops.",
    "  --stats                 print the stats once and exit\n"
    "  --interval DURATION     time between stats events (default 5s)\n",
  };
  static const struct option opts[] = { { "stats", no_argument, NULL, 's' },
                                        { "interval", required_argument, NULL, 'i' },
                                        { "help", no_argument, NULL, 'h' },
                                        { NULL, 0, NULL, 0 } };
  bool once = false;
  uint64_t interval_ms = 5000;
  int c;
  while ((c = getopt_long (argc, argv, "+h", opts, NULL)) != -1)
    switch (c)
      {
      case 's': once = true; break;
      case 'i':
        if (parse_duration (optarg, &interval_ms, err) < 0)
          return -1;
        break;
      case 'h': hull_print_help (&help); return 0;
      default: return hull_make_error (err, 0, "events: unknown option `%s`", argv[optind - 1]);
      }
  if (hull_expect_args (&help, argc, argv, optind, 1, err) < 0)
    return -1;
  cleanup_container struct hull_container *ct = NULL;
  if (hull_container_load (ctx, argv[optind], false, &ct, err) < 0)
    return -1;
  if (hull_container_status (ct) == OCI_STATUS_STOPPED)
    return hull_make_error (err, 0, "container `%s` is stopped", ct->id);
  if (ct->state->cgroup_path == NULL)
    return hull_make_error (err, 0,
                            "events: container `%s` has no cgroup (a rootless container without a "
                            "writable cgroup)",
                            ct->id);
  return (once ? print_stats (ct, err) : stream (ct, interval_ms, err)) < 0 ? -1 : 0;
}
