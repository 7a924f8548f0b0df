/* Helpers shared by the vm-shim unit tests: a temporary directory for the
 * serial log, fd counting, and running a raw guest to its stop. */
#ifndef HULL_TEST_VM_FIXTURE_H
#define HULL_TEST_VM_FIXTURE_H

#include "../../vm-shim/vm-internal.h"

#include <dirent.h>

static inline int
vmt_count_fds (void)
{
  int n = 0;
  DIR *d = opendir ("/proc/self/fd");
  if (d == NULL)
    return -1;
  for (struct dirent *e; (e = readdir (d)) != NULL;)
    if (e->d_name[0] != '.')
      n++;
  closedir (d);
  return n - 1; /* the directory's own fd */
}

static inline bool
vmt_have_kvm (void)
{
  return access ("/dev/kvm", R_OK | W_OK) == 0;
}

/* A fresh directory under /tmp; rmdir'd by vmt_cleanup. */
static inline char *
vmt_tmpdir (void)
{
  char *d = xstrdup ("/tmp/hull-test-vm.XXXXXX");
  if (mkdtemp (d) == NULL)
    abort ();
  return d;
}

static inline void
vmt_cleanup (char *dir)
{
  hull_error_t err = NULL;
  hull_rm_rf_at (AT_FDCWD, dir, &err);
  hull_error_release (&err);
  free (dir);
}

/* Reads the whole serial log ("" if it was never written). */
static inline char *
vmt_read_log (const char *path)
{
  char *data = NULL;
  size_t len;
  hull_error_t err = NULL;
  if (hull_read_file_at (AT_FDCWD, path, 1 << 20, &data, &len, &err) < 0)
    {
      hull_error_release (&err);
      return xstrdup ("");
    }
  return data;
}

/* Creates, runs and destroys a VM; returns vm_run's result. */
static inline int
vmt_run (const struct vm_config *cfg, struct vm_stop_info *info, hull_error_t *err)
{
  struct vm *vm = NULL;
  if (vm_create (cfg, &vm, err) < 0)
    return -2;
  int ret = vm_run (vm, info, err);
  vm_destroy (vm);
  return ret;
}

#endif
