/* Logging: text lines or runc's JSON lines ({"level","msg","time"}), which
 * containerd's shim reads back from --log to report the runtime's error. */
#include "runtime.h"

#include <sys/stat.h>
#include <time.h>

static struct
{
  int fd;
  bool json;
  bool debug;
} log_state = { .fd = STDERR_FILENO };

static const char *const level_names[] = { "debug", "info", "warning", "error" };

int
hull_log_init (struct hull_context *ctx, hull_error_t *err)
{
  log_state.json = ctx->log_json;
  log_state.debug = ctx->debug;
  if (ctx->log_path && *ctx->log_path)
    {
      int fd = open (ctx->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0)
        return hull_make_error (err, errno, "open log file `%s`", ctx->log_path);
      log_state.fd = fd;
    }
  return 0;
}

static void
json_escape (FILE *f, const char *s)
{
  for (; *s; s++)
    {
      unsigned char ch = (unsigned char) *s;
      if (ch == '"' || ch == '\\')
        fprintf (f, "\\%c", ch);
      else if (ch == '\n')
        fputs ("\\n", f);
      else if (ch == '\t')
        fputs ("\\t", f);
      else if (ch < 0x20)
        fprintf (f, "\\u%04x", ch);
      else
        fputc (ch, f);
    }
}

/* The civil date of a day counted from 1970-01-01 (Howard Hinnant's
 * days_from_civil inverse): glibc's gmtime_r loads /etc/localtime first. */
static void
civil_from_days (int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);                          /* [0, 146096] */
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
  unsigned mp = (5 * doy + 2) / 153;                                    /* March = 0 */
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void
hull_format_time (char *buf, size_t len)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  int64_t days = ts.tv_sec / 86400, secs = ts.tv_sec % 86400, y;
  if (secs < 0)
    {
      secs += 86400;
      days--;
    }
  unsigned m, d;
  civil_from_days (days, &y, &m, &d);
  snprintf (buf, len, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%09ldZ", (long long)y, m, d,
            (long long)(secs / 3600), (long long)(secs / 60 % 60), (long long)(secs % 60), ts.tv_nsec);
}

static void
log_line (int fd, bool json, enum hull_log_level level, const char *msg)
{
  char *out = NULL;
  size_t out_len = 0;
  FILE *f = open_memstream (&out, &out_len);
  if (f == NULL)
    return;
  char ts[64];
  hull_format_time (ts, sizeof (ts));
  if (json)
    {
      fprintf (f, "{\"level\":\"%s\",\"msg\":\"", level_names[level]);
      json_escape (f, msg);
      fprintf (f, "\",\"time\":\"%s\"}\n", ts);
    }
  else if (fd == STDERR_FILENO)
    fprintf (f, "%s%s\n", level == HULL_LOG_ERROR ? "hull: " : "", msg);
  else
    fprintf (f, "%s %s: %s\n", ts, level_names[level], msg);
  fclose (f);
  hull_write_all (fd, out, out_len);
  free (out);
}

void
hull_log (enum hull_log_level level, const char *fmt, ...)
{
  if (level == HULL_LOG_DEBUG && !log_state.debug)
    return;
  cleanup_free char *msg = NULL;
  va_list ap;
  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  va_end (ap);
  if (msg == NULL)
    return;
  int saved_errno = errno;
  log_line (log_state.fd, log_state.json, level, msg);
  errno = saved_errno;
}

void
hull_log_error (hull_error_t err)
{
  const char *msg = err && err->msg ? err->msg : "unknown error";
  log_line (log_state.fd, log_state.json, HULL_LOG_ERROR, msg);
  /* As runc: the error always reaches stderr too, in plain text. */
  if (log_state.fd != STDERR_FILENO || log_state.json)
    log_line (STDERR_FILENO, false, HULL_LOG_ERROR, msg);
}
