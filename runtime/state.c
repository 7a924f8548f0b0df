/* The state store: ROOT/ID/state.json, flock on ROOT/ID, live status. */
#include "runtime.h"
#include "../cgroups/cgroups.h"

#include <sys/file.h>
#include <sys/stat.h>

#define STATE_FILE "state.json"
#define STATE_MAX (4 << 20)

int
hull_validate_id (const char *id, hull_error_t *err)
{
  if (id == NULL || *id == '\0')
    return hull_make_error (err, 0, "container id must not be empty");
  if (strlen (id) > 1024)
    return hull_make_error (err, 0, "container id is too long (%zu bytes, at most 1024)", strlen (id));
  if (strcmp (id, ".") == 0 || strcmp (id, "..") == 0)
    return hull_make_error (err, 0, "invalid container id `%s`", id);
  /* runc's rule: [A-Za-z0-9_+.-] only, so an id is always a safe file name. */
  for (const char *p = id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'
          || *p == '+' || *p == '-' || *p == '.'))
      return hull_make_error (err, 0, "invalid container id `%s`: only letters, digits and `_+-.` are allowed",
                              id);
  return 0;
}

const char *
hull_root_hint (int saved_errno)
{
  return saved_errno == EACCES && geteuid () != 0 ? " (without root, set XDG_RUNTIME_DIR or pass --root)"
                                                  : "";
}

int
hull_open_root (struct hull_context *ctx, hull_error_t *err)
{
  if (mkdir (ctx->root, 0700) < 0 && errno != EEXIST)
    {
      /* Parents may be missing (e.g. /run/user/UID/hull). */
      cleanup_free char *copy = xstrdup (ctx->root);
      for (char *p = copy + 1; *p; p++)
        if (*p == '/')
          {
            *p = '\0';
            if (mkdir (copy, 0711) < 0 && errno != EEXIST)
              return hull_make_error (err, errno, "create state root `%s`%s", copy, hull_root_hint (errno));
            *p = '/';
          }
      if (mkdir (ctx->root, 0700) < 0 && errno != EEXIST)
        return hull_make_error (err, errno, "create state root `%s`%s", ctx->root, hull_root_hint (errno));
    }
  int fd = open (ctx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return hull_make_error (err, errno, "open state root `%s`%s", ctx->root, hull_root_hint (errno));
  return fd;
}

static int
lock_dir (int fd, const char *id, hull_error_t *err)
{
  while (flock (fd, LOCK_EX) < 0)
    if (errno != EINTR)
      return hull_make_error (err, errno, "lock container `%s`", id);
  /* The holder before us may have deleted the container. */
  struct stat st;
  if (fstat (fd, &st) < 0)
    return hull_make_error (err, errno, "stat container `%s`", id);
  if (st.st_nlink == 0)
    return hull_make_error_code (err, ENOENT, "container `%s` does not exist", id);
  return 0;
}

int
hull_container_new (struct hull_context *ctx, const char *id, struct hull_container **out, hull_error_t *err)
{
  if (hull_validate_id (id, err) < 0)
    return -1;
  cleanup_close int root = hull_open_root (ctx, err);
  if (root < 0)
    return -1;
  if (mkdirat (root, id, 0700) < 0)
    {
      if (errno == EEXIST)
        return hull_make_error (err, 0, "container `%s` already exists", id);
      return hull_make_error (err, errno, "create state directory `%s/%s`", ctx->root, id);
    }
  int fd = openat (root, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || flock (fd, LOCK_EX | LOCK_NB) < 0)
    {
      int saved_errno = errno;
      if (fd >= 0)
        close (fd);
      unlinkat (root, id, AT_REMOVEDIR);
      return hull_make_error (err, saved_errno, "lock new container `%s`", id);
    }
  struct hull_container *c = xmalloc0 (sizeof (*c));
  c->id = xstrdup (id);
  c->dir_fd = fd;
  c->locked = true;
  *out = c;
  return 0;
}

int
hull_container_load (struct hull_context *ctx, const char *id, bool lock, struct hull_container **out,
                     hull_error_t *err)
{
  if (hull_validate_id (id, err) < 0)
    return -1;
  cleanup_free char *path = hull_fmt ("%s/%s", ctx->root, id);
  cleanup_close int fd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return hull_make_error_code (err, ENOENT, "container `%s` does not exist", id);
      return hull_make_error (err, errno, "open state directory `%s`", path);
    }
  if (lock && lock_dir (fd, id, err) < 0)
    return -1;
  cleanup_free char *json = NULL;
  size_t len = 0;
  if (hull_read_file_at (fd, STATE_FILE, STATE_MAX, &json, &len, err) < 0)
    {
      if ((*err)->status == ENOENT)
        {
          hull_error_release (err);
          return hull_make_error_code (err, ENOENT, "container `%s` does not exist (it is being created or deleted)",
                                  id);
        }
      return hull_error_wrap (err, "container `%s`", id);
    }
  cleanup_free char *name = hull_fmt ("%s/%s", path, STATE_FILE);
  struct oci_state *s = oci_state_parse (json, len, name, err);
  if (s == NULL)
    return -1;
  struct hull_container *c = xmalloc0 (sizeof (*c));
  c->id = xstrdup (id);
  c->dir_fd = steal_fd (&fd);
  c->locked = lock;
  c->state = s;
  *out = c;
  return 0;
}

int
hull_container_save (struct hull_container *c, hull_error_t *err)
{
  cleanup_free char *json = oci_state_to_json (c->state, false, false);
  return hull_write_file_atomic (c->dir_fd, STATE_FILE, json, strlen (json), 0600, err);
}

int
hull_container_remove (struct hull_context *ctx, struct hull_container *c, hull_error_t *err)
{
  cleanup_close int root = open (ctx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return hull_make_error (err, errno, "open state root `%s`%s", ctx->root, hull_root_hint (errno));
  return hull_rm_rf_at (root, c->id, err);
}

void
hull_container_free (struct hull_container *c)
{
  if (c == NULL)
    return;
  if (c->dir_fd >= 0)
    close (c->dir_fd); /* drops the flock */
  oci_state_free (c->state);
  free (c->id);
  free (c);
}

void
hull_container_freep (struct hull_container **c)
{
  hull_container_free (*c);
}

uint64_t
hull_proc_start_time (pid_t pid)
{
  char path[64];
  cleanup_free char *buf = NULL;
  hull_error_t err = NULL;
  snprintf (path, sizeof (path), "/proc/%d/stat", pid);
  if (hull_read_file_at (AT_FDCWD, path, 65536, &buf, NULL, &err) < 0)
    {
      hull_error_release (&err);
      return 0;
    }
  /* comm may contain spaces and parentheses: parse after the last ')'. */
  char *p = strrchr (buf, ')');
  if (p == NULL || p[1] != ' ')
    return 0;
  char state = p[2];
  if (state == 'Z' || state == 'X')
    return 0; /* a zombie init has stopped */
  p += 2;
  for (int field = 3; field < 22 && p; field++)
    {
      p = strchr (p, ' ');
      if (p)
        p++;
    }
  return p ? strtoull (p, NULL, 10) : 0;
}

static bool
is_frozen (struct hull_container *c)
{
  bool frozen = false;
  hull_error_t err = NULL;
  if (c->state->cgroup_path && cg_is_frozen (c->state->cgroup_path, &frozen, &err) < 0)
    hull_error_release (&err); /* no cgroup left: not paused */
  return frozen;
}

enum oci_status
hull_container_status (struct hull_container *c)
{
  struct oci_state *s = c->state;
  if (s->status == OCI_STATUS_CREATING || s->pid <= 0)
    return s->status == OCI_STATUS_CREATING ? OCI_STATUS_CREATING : OCI_STATUS_STOPPED;
  uint64_t start = hull_proc_start_time (s->pid);
  if (start == 0 || (s->init_start_time && start != s->init_start_time))
    return OCI_STATUS_STOPPED;
  if (faccessat (c->dir_fd, "exec.fifo", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return OCI_STATUS_CREATED;
  return is_frozen (c) ? OCI_STATUS_PAUSED : OCI_STATUS_RUNNING;
}

char *
hull_state_json (struct hull_container *c, enum oci_status status, bool pretty)
{
  enum oci_status saved = c->state->status;
  pid_t saved_pid = c->state->pid;
  c->state->status = status;
  if (status == OCI_STATUS_STOPPED)
    c->state->pid = 0;
  char *json = oci_state_to_json (c->state, true, pretty);
  c->state->status = saved;
  c->state->pid = saved_pid;
  return json;
}
