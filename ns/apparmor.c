/* AppArmor: process.apparmorProfile is applied to the next execve, as runc
 * does (write "exec PROFILE" to the process's attr file).  Asking for a
 * profile on a host without AppArmor is an error, not a silent no-op: the
 * workload would run unconfined.  The init writes the attr file before it
 * reports ready, so a profile that is not loaded fails `create` (as with
 * runc), and startContainer hooks, which it forks, run under the profile
 * too (as with runc). */
#include "ns-internal.h"

bool
ns_apparmor_enabled (void)
{
  char c = 0;
  int fd = open ("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  ssize_t r = read (fd, &c, 1);
  close (fd);
  return r == 1 && c == 'Y';
}

int
ns_validate_apparmor (const struct oci_process *p, hull_error_t *err)
{
  if (p == NULL || p->apparmor_profile == NULL || p->apparmor_profile[0] == '\0')
    return 0;
  if (!ns_apparmor_enabled ())
    return hull_make_error (err, 0,
                            "process.apparmorProfile: `%s` was requested but AppArmor is not enabled on this host",
                            p->apparmor_profile);
  return 0;
}

int
ns_apparmor_apply (const struct oci_process *p, hull_error_t *err)
{
  if (p->apparmor_profile == NULL || p->apparmor_profile[0] == '\0')
    return 0;
  /* Linux 5.8+ has the per-LSM file; the generic one is for older kernels. */
  int fd = open ("/proc/self/attr/apparmor/exec", O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    fd = open ("/proc/self/attr/exec", O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return hull_make_error (err, errno, "process.apparmorProfile: open the AppArmor attr file (is /proc mounted?)");
  cleanup_free char *cmd = hull_fmt ("exec %s", p->apparmor_profile);
  ssize_t w = write (fd, cmd, strlen (cmd));
  int saved_errno = errno;
  close (fd);
  if (w < 0 && saved_errno == ENOENT)
    return hull_make_error_code (err, saved_errno,
                                 "process.apparmorProfile: AppArmor profile `%s` is not loaded (apparmor_parser loads profiles)",
                                 p->apparmor_profile);
  if (w < 0)
    return hull_make_error (err, saved_errno, "process.apparmorProfile: change to profile `%s`", p->apparmor_profile);
  return 0;
}
