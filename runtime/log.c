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

static void
format_time (char *buf, size_t len)
{
  struct timespec ts;
  struct tm tm;
  clock_gettime (CLOCK_REALTIME, &ts);
  gmtime_r (&ts.tv_sec, &tm);
  size_t n = strftime (buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (buf + n, len - n, ".%09ldZ", ts.tv_nsec);
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
  format_time (ts, sizeof (ts));
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
