/* uid_map / gid_map of a new user namespace, written by the parent (the
 * runtime, outside that namespace) once the child exists. */
#include "ns-internal.h"

/* The "containerID hostID size\n" lines of a map. */
static char *
format_id_map (const struct oci_id_mapping *m, size_t n)
{
  char *out = xstrdup ("");
  for (size_t i = 0; i < n; i++)
    {
      char *next = hull_fmt ("%s%u %u %u\n", out, m[i].container_id, m[i].host_id, m[i].size);
      free (out);
      out = next;
    }
  return out;
}

/* The kernel takes a map in a single write(2) only, and only once. */
static int
write_proc_file (int proc_fd, pid_t pid, const char *name, const char *data, hull_error_t *err)
{
  cleanup_close int fd = openat (proc_fd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return hull_make_error (err, errno, "open `/proc/%d/%s`", (int)pid, name);
  size_t len = strlen (data);
  ssize_t r = write (fd, data, len);
  if (r >= 0 && (size_t)r == len)
    return 0;
  int saved_errno = r < 0 ? errno : EIO;
  cleanup_free char *shown = xstrdup (data);
  for (char *s = shown; *s; s++)
    if (*s == '\n')
      *s = s[1] ? ';' : '\0';
  return hull_make_error (err, saved_errno, "write `/proc/%d/%s` (\"%s\")", (int)pid, name, shown);
}

int
ns_write_id_maps (pid_t pid, const struct oci_linux *l, hull_error_t *err)
{
  if (l == NULL || (l->n_uid_mappings == 0 && l->n_gid_mappings == 0))
    return 0;
  char path[32];
  snprintf (path, sizeof (path), "/proc/%d", (int)pid);
  /* One directory fd for the three files: if the child dies and its pid is
   * reused after this open, the writes fail instead of reaching another
   * process. */
  cleanup_close int proc_fd = open (path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (proc_fd < 0)
    return hull_make_error (err, errno, "open `%s`", path);

  /* An unprivileged writer may only map its own gid, and only once
   * setgroups is denied (else dropping groups could grant access).  Root
   * keeps setgroups allowed so that additionalGids work. */
  if (geteuid () != 0 && l->n_gid_mappings == 1 && l->gid_mappings[0].size == 1
      && write_proc_file (proc_fd, pid, "setgroups", "deny", err) < 0)
    return -1;
  if (l->n_uid_mappings > 0)
    {
      cleanup_free char *map = format_id_map (l->uid_mappings, l->n_uid_mappings);
      if (write_proc_file (proc_fd, pid, "uid_map", map, err) < 0)
        return -1;
    }
  if (l->n_gid_mappings > 0)
    {
      cleanup_free char *map = format_id_map (l->gid_mappings, l->n_gid_mappings);
      if (write_proc_file (proc_fd, pid, "gid_map", map, err) < 0)
        return -1;
    }
  return 0;
}
