/* vm_host_check: hosts where a Linux guest cannot run get a message, not a
 * hang.  On a kvm_pvm host (the project's bare machines) the paravirtual
 * path is the one exercised; on a host with hardware KVM, success. */
#include "test_vm_fixture.h"
#include "unit.h"

#include <sys/stat.h>

static bool
is_pvm_host (void)
{
  struct stat st;
  return stat ("/sys/module/kvm_pvm", &st) == 0;
}

TEST (no_dev_kvm_says_so)
{
  hull_error_t err = NULL;
  CHECK (vm_host_check ("/nonexistent/kvm", &err) < 0);
  CHECK_STR (err->msg, "/nonexistent/kvm does not exist: this host has no KVM (load kvm_intel or kvm_amd); "
                       "VM isolation needs hardware virtualization");
  CHECK (err->status == ENOENT);
  hull_error_release (&err);
}

TEST (a_device_that_is_not_kvm_is_refused)
{
  hull_error_t err = NULL;
  CHECK (vm_host_check ("/dev/null", &err) < 0);
  CHECK_CONTAINS (err->msg, "/dev/null: KVM_GET_API_VERSION (is it a KVM device?)");
  hull_error_release (&err);
}

TEST (this_host)
{
  if (!vmt_have_kvm ())
    return;
  hull_error_t err = NULL;
  int ret = vm_host_check (NULL, &err);
  if (is_pvm_host ())
    {
      CHECK (ret < 0);
      CHECK_CONTAINS (err->msg,
                      "this host's /dev/kvm is a paravirtual KVM (kvm_pvm) that emulates guest kernel "
                      "mode; VM isolation needs hardware virtualization (guest kernel mode ran at ");
      CHECK_CONTAINS (err->msg, " million instructions/s)");
      printf ("  (%s)\n", err->msg);
      hull_error_release (&err);
    }
  else
    {
      CHECK (err == NULL);
      CHECK (ret == 0);
    }
}

static char *
fake_sys_module (const char *module)
{
  char *dir = vmt_tmpdir ();
  if (module)
    {
      cleanup_free char *p = hull_fmt ("%s/%s", dir, module);
      mkdir (p, 0755);
    }
  return dir;
}

TEST (hardware_kvm_module_skips_the_calibration)
{
  if (!vmt_have_kvm ())
    return;
  char *dir = fake_sys_module ("kvm_intel");
  hull_error_t err = NULL;
  /* Succeeds even on a kvm_pvm host: no guest was timed. */
  int ret = vm_host_check_at ("/dev/kvm", dir, &err);
  vmt_cleanup (dir);
  CHECK (ret == 0);
}

TEST (unknown_kvm_is_calibrated)
{
  if (!vmt_have_kvm ())
    return;
  char *dir = fake_sys_module (NULL);
  hull_error_t err = NULL;
  int ret = vm_host_check_at ("/dev/kvm", dir, &err);
  vmt_cleanup (dir);
  if (is_pvm_host ())
    {
      CHECK (ret < 0);
      CHECK_CONTAINS (err->msg, "this host's /dev/kvm runs guest kernel mode at ");
      CHECK_CONTAINS (err->msg, "not at hardware speed");
      hull_error_release (&err);
    }
  else
    CHECK (ret == 0);
}

TEST (calibration_runs_a_guest)
{
  if (!vmt_have_kvm ())
    return;
  uint64_t ns = 0;
  hull_error_t err = NULL;
  int before = vmt_count_fds ();
  CHECK (vm_host_calibrate ("/dev/kvm", &ns, &err) == 0);
  CHECK (ns > 0);
  CHECK (vmt_count_fds () == before);
}

RUN_TESTS ("vm_host")
