/* Whether the host can enforce linux.resources, enabling controllers down
 * the tree, and executing the write plan. */
#include "cgroups-internal.h"

#include <inttypes.h>
#include <sys/stat.h>

#define R "linux.resources."

/* ---- checking ----------------------------------------------------------------- */

static int
require_controller (const char *field, const char *controller, bool warn_only, hull_error_t *err)
{
  if (cg_controller_available (controller))
    return 0;
  const char *mnt = "?";
  bool hybrid = false;
  hull_error_t ignored = NULL;
  cg_mount_point (&mnt, &hybrid, &ignored);
  hull_error_release (&ignored);
  const char *why = hybrid ? " (hybrid host: controllers bound to cgroup v1 are missing from cgroup2)" : "";
  if (warn_only)
    {
      cg_warn ("%s: the `%s` controller is not available in the cgroup2 hierarchy at %s%s: this limit is NOT "
               "enforced",
               field, controller, mnt, why);
      return 0;
    }
  return hull_make_error (
      err, 0,
      "%s: the `%s` controller is not available in the cgroup2 hierarchy at %s%s, so this "
      "limit cannot be enforced (`unenforceable_limits = warn` in /etc/hull/hull.conf runs without it)",
      field, controller, mnt, why);
}

/* "2MB" → "hugepages-2048kB", the name under /sys/kernel/mm/hugepages. */
static bool
hugepage_size_exists (const char *size)
{
  uint64_t n = strtoull (size, NULL, 10);
  const char *unit = size + strspn (size, "0123456789");
  uint64_t kb = strcmp (unit, "GB") == 0 ? n << 20 : strcmp (unit, "MB") == 0 ? n << 10 : n;
  cleanup_free char *p = hull_fmt ("/sys/kernel/mm/hugepages/hugepages-%" PRIu64 "kB", kb);
  return access (p, F_OK) == 0;
}

static int
check_hugetlb (const struct oci_resources *r, hull_error_t *err)
{
  for (size_t i = 0; i < r->n_hugepage_limits; i++)
    if (!hugepage_size_exists (r->hugepage_limits[i].page_size))
      return hull_make_error (err, 0,
                              R "hugepageLimits[%zu].pageSize: this host has no `%s` huge pages (see "
                                "/sys/kernel/mm/hugepages)",
                              i, r->hugepage_limits[i].page_size);
  return 0;
}

/* Fields runc accepts and cgroup v2 has no file for: ignored with a warning,
 * as runc does for kernel memory (it ignores the others silently). */
static void
warn_ignored (const struct oci_resources *r)
{
  bool leaf = r->block_io.leaf_weight.set;
  for (size_t i = 0; i < r->block_io.n_weight_device; i++)
    leaf = leaf || r->block_io.weight_device[i].leaf_weight.set;
  const struct
  {
    bool set;
    const char *msg;
  } ignored[] = {
    { r->memory.kernel.set || r->memory.kernel_tcp.set,
      R "memory.kernel/kernelTCP: kernel memory settings are ignored (cgroup v2 has none)" },
    { r->memory.swappiness.set, R "memory.swappiness: ignored (cgroup v2 has no per-cgroup swappiness)" },
    { r->cpu.realtime_runtime.set || r->cpu.realtime_period.set,
      R "cpu.realtimeRuntime/realtimePeriod: ignored (cgroup v2 has no realtime CPU bandwidth files)" },
    { leaf, R "blockIO leafWeight: ignored (cgroup v2 has no leaf weights)" },
    { r->network.class_id.set || r->network.n_priorities,
      R "network: ignored (net_cls and net_prio are cgroup v1 only)" },
  };
  for (size_t i = 0; i < sizeof (ignored) / sizeof (ignored[0]); i++)
    if (ignored[i].set)
      cg_warn ("%s", ignored[i].msg);
}

/* The controllers of the writes the plan makes: exactly what apply would
 * do, so nothing is checked that is not written and the reverse. */
static int
check_plan (const struct cg_plan *plan, bool warn_only, hull_error_t *err)
{
  cleanup_strv char **seen = NULL;
  for (size_t i = 0; i < plan->n; i++)
    {
      const struct cg_write *w = &plan->w[i];
      if (w->controller[0] == '\0')
        continue;
      cleanup_free char *field
          = w->unified_key ? hull_fmt (R "unified.\"%s\"", w->unified_key) : xstrdup (w->field);
      cleanup_free char *key = hull_fmt ("%s %s", field, w->controller);
      bool dup = false;
      for (size_t j = 0; seen && seen[j] && !dup; j++)
        dup = strcmp (seen[j], key) == 0;
      if (dup)
        continue;
      strv_append (&seen, key);
      if (require_controller (field, w->controller, warn_only, err) < 0)
        return -1;
    }
  return 0;
}

int
cg_check_resources (const struct oci_resources *r, bool warn_only, hull_error_t *err)
{
  if (r == NULL || !r->present)
    return 0;
  struct cg_plan plan;
  if (cg_validate_resources (r, err) < 0 || cg_plan_resources (r, &plan, err) < 0)
    return -1;
  int ret = check_plan (&plan, warn_only, err);
  cg_plan_release (&plan);
  if (ret < 0)
    return -1;
  if (r->n_hugepage_limits && cg_controller_available ("hugetlb") && check_hugetlb (r, err) < 0)
    return -1;
  warn_ignored (r);
  return 0;
}

/* ---- enabling controllers ------------------------------------------------------ */

/* Writes "+ctl" for each controller the cgroup does not delegate yet, one
 * at a time so an error names the controller.  Failures to enable an
 * optional one are ignored, as runc does when it enables everything. */
static int
enable_in (int dirfd, const char *dir, char *const *ctls, const bool *required, hull_error_t *err)
{
  cleanup_free char *cur = NULL;
  if (cg_read_at (dirfd, "cgroup.subtree_control", &cur, err) < 0)
    return hull_error_wrap (err, "cgroup `%s`", dir);
  for (size_t i = 0; ctls && ctls[i]; i++)
    {
      if (cg_word_in (cur, ctls[i]))
        continue;
      cleanup_free char *plus = hull_fmt ("+%s", ctls[i]);
      if (cg_write_at (dirfd, "cgroup.subtree_control", plus) == 0 || !required[i])
        continue;
      int saved_errno = errno;
      const char *hint = saved_errno == EBUSY ? " (cgroup v2 lets only a cgroup without processes of its own "
                                                "delegate controllers)"
                         : saved_errno == EOPNOTSUPP
                             ? " (a threaded subtree allows only threaded controllers)"
                             : "";
      return hull_make_error (err, saved_errno,
                              "enable the `%s` controller: write `%s/cgroup.subtree_control`%s", ctls[i], dir,
                              hint);
    }
  return 0;
}

/* From the mount root down to the parent of path. */
static int
enable_controllers (const char *mnt, const char *path, char *const *ctls, const bool *required,
                    hull_error_t *err)
{
  if (ctls == NULL)
    return 0;
  cleanup_close int cur = open (mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cur < 0)
    return hull_make_error (err, errno, "open `%s`", mnt);
  cleanup_free char *copy = xstrdup (path);
  cleanup_free char *dir = xstrdup (mnt);
  char *save = NULL;
  for (char *comp = strtok_r (copy, "/", &save); comp; comp = strtok_r (NULL, "/", &save))
    {
      if (enable_in (cur, dir, ctls, required, err) < 0)
        return -1;
      int next = openat (cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      char *d = hull_fmt ("%s/%s", dir, comp);
      free (dir);
      dir = d;
      if (next < 0)
        return hull_make_error (err, errno, "open cgroup `%s`", dir);
      close (cur);
      cur = next;
    }
  return 0;
}

/* The controllers to enable: those the plan writes to (only the ones the
 * hierarchy has: check refused or warned about the others) are required;
 * on a pure v2 host every other available one is enabled too if it can
 * be, as runc and crun do, so stats are complete and `update` can add
 * limits later.  A hybrid host's cgroup2 tree is left as it is. */
static char **
controllers_to_enable (const char *mnt, bool hybrid, const struct cg_plan *plan, bool **required)
{
  cleanup_free char *path = hull_fmt ("%s/cgroup.controllers", mnt);
  cleanup_free char *avail = NULL;
  hull_error_t ignored = NULL;
  *required = NULL;
  if (cg_read_at (AT_FDCWD, path, &avail, &ignored) < 0)
    {
      hull_error_release (&ignored);
      return NULL;
    }
  char **out = NULL;
  size_t n = 0;
  char *save = NULL;
  for (char *tok = strtok_r (avail, " \n", &save); tok; tok = strtok_r (NULL, " \n", &save))
    {
      bool in_plan = false;
      for (size_t i = 0; i < plan->n && !in_plan; i++)
        in_plan = strcmp (plan->w[i].controller, tok) == 0;
      if (!in_plan && hybrid)
        continue;
      strv_append (&out, tok);
      *required = xreallocarray (*required, n + 1, sizeof (bool));
      (*required)[n++] = in_plan;
    }
  return out;
}

/* ---- writing ------------------------------------------------------------------ */

static int
write_error (const struct cg_write *w, const char *file, int saved_errno, hull_error_t *err)
{
  if (w->unified_key)
    return hull_make_error (err, saved_errno, R "unified.\"%s\": write %s", w->unified_key, file);
  return hull_make_error (err, saved_errno, "%s: write %s", w->field, file);
}

/* Unified keys: the file must exist and be writable. */
static int
check_unified_file (int dirfd, const char *dir, const struct cg_write *w, hull_error_t *err)
{
  struct stat st;
  if (fstatat (dirfd, w->file, &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      int saved_errno = errno;
      return hull_make_error (err, saved_errno, R "unified.\"%s\": no such file in `%s`%s", w->unified_key,
                              dir,
                              saved_errno == ENOENT && w->controller[0]
                                  ? " (is it a file of the controller, and is the controller enabled?)"
                                  : "");
    }
  if (!S_ISREG (st.st_mode) || !(st.st_mode & S_IWUSR))
    return hull_make_error (err, 0, R "unified.\"%s\": `%s/%s` is read-only", w->unified_key, dir, w->file);
  return 0;
}

/* 1: deferred for a retry. */
static int
write_one (int dirfd, const char *dir, const struct cg_write *w, bool last_try, hull_error_t *err)
{
  if (w->unified_key && check_unified_file (dirfd, dir, w, err) < 0)
    return -1;
  if (cg_write_at (dirfd, w->file, w->value) == 0)
    return 0;
  int saved_errno = errno;
  if (saved_errno == ENOENT && w->alt_file)
    {
      if (cg_write_at (dirfd, w->alt_file, w->alt_value) == 0)
        return 0;
      return write_error (w, w->alt_file, errno, err);
    }
  if (saved_errno == ENOENT && w->missing_ok)
    return 0;
  if (saved_errno == EINVAL && w->retry_einval && !last_try)
    return 1;
  return write_error (w, w->file, saved_errno, err);
}

/* runc's checkBeforeUpdate: refuse a limit at or below the current usage
 * instead of letting the kernel OOM-kill the container. */
static int
check_memory_usage (int dirfd, const struct oci_resources *r, hull_error_t *err)
{
  uint64_t usage;
  hull_error_t ignored = NULL;
  if (!r->memory.check_before_update.set || !r->memory.check_before_update.v)
    return 0;
  if (cg_read_u64_at (dirfd, "memory.current", &usage, &ignored) < 0)
    {
      hull_error_release (&ignored); /* best effort, as runc */
      return 0;
    }
  if (r->memory.swap.set && r->memory.swap.v > 0 && (uint64_t)r->memory.swap.v <= usage)
    return hull_make_error (err, 0,
                            R "memory.swap: rejecting memory+swap limit %" PRId64 " <= usage %" PRIu64,
                            r->memory.swap.v, usage);
  if (r->memory.limit.set && r->memory.limit.v > 0 && (uint64_t)r->memory.limit.v <= usage)
    return hull_make_error (err, 0, R "memory.limit: rejecting memory limit %" PRId64 " <= usage %" PRIu64,
                            r->memory.limit.v, usage);
  return 0;
}

static int
run_plan (int dirfd, const char *dir, const struct cg_plan *plan, hull_error_t *err)
{
  cleanup_free char *enabled = NULL;
  if (cg_read_at (dirfd, "cgroup.controllers", &enabled, err) < 0)
    return hull_error_wrap (err, "cgroup `%s`", dir);
  cleanup_free bool *deferred = xmalloc0 (plan->n + 1);
  for (size_t i = 0; i < plan->n; i++)
    {
      const struct cg_write *w = &plan->w[i];
      /* Controllers missing from the hierarchy: refused or warned about by
       * cg_check_resources. */
      if (w->controller[0] && !cg_word_in (enabled, w->controller)
          && !cg_controller_available (w->controller))
        continue;
      int ret = write_one (dirfd, dir, w, false, err);
      if (ret < 0)
        return -1;
      deferred[i] = ret == 1;
    }
  for (size_t i = 0; i < plan->n; i++)
    if (deferred[i] && write_one (dirfd, dir, &plan->w[i], true, err) < 0)
      return -1;
  return 0;
}

int
cg_apply_resources (const char *path, const struct oci_resources *r, hull_error_t *err)
{
  const char *mnt;
  bool hybrid;
  if (cg_mount_point (&mnt, &hybrid, err) < 0)
    return -1;
  struct cg_plan plan;
  if (r && r->present && cg_validate_resources (r, err) < 0)
    return -1;
  if (cg_plan_resources (r, &plan, err) < 0)
    return -1;
  cleanup_free bool *required = NULL;
  cleanup_strv char **ctls = controllers_to_enable (mnt, hybrid, &plan, &required);
  cleanup_free char *dir = hull_fmt ("%s%s", mnt, path);
  cleanup_close int dirfd = -1;
  int ret = -1;
  if (enable_controllers (mnt, path, ctls, required, err) < 0)
    goto out;
  dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    {
      ret = hull_make_error (err, errno, "open cgroup `%s`", dir);
      goto out;
    }
  if ((r && r->present && check_memory_usage (dirfd, r, err) < 0) || run_plan (dirfd, dir, &plan, err) < 0)
    goto out;
  ret = 0;
out:
  cg_plan_release (&plan);
  return ret;
}
