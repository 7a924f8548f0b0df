/* hull pause | resume ID: freeze and thaw every process of the container
 * through cgroup.freeze, waiting until the kernel says it is done. */
#include "runtime.h"
#include "../cgroups/cgroups.h"

#include <getopt.h>

static int
freeze_cmd (struct hull_context *ctx, int argc, char **argv, bool pause, hull_error_t *err)
{
  static const struct hull_cmd_help pause_help
      = { "pause", "CONTAINER_ID", "Freezes every process of a running container (cgroup.freeze).", NULL };
  static const struct hull_cmd_help resume_help
      = { "resume", "CONTAINER_ID", "Thaws a paused container.", NULL };
  const struct hull_cmd_help *help = pause ? &pause_help : &resume_help;
  static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
  int c;
  while ((c = getopt_long (argc, argv, "+h", opts, NULL)) != -1)
    {
      if (c == 'h')
        {
          hull_print_help (help);
          return 0;
        }
      return hull_make_error (err, 0, "%s: unknown option `%s`", help->name, argv[optind - 1]);
    }
  if (hull_expect_args (help, argc, argv, optind, 1, err) < 0)
    return -1;
  cleanup_container struct hull_container *ct = NULL;
  if (hull_container_load (ctx, argv[optind], true, &ct, err) < 0)
    return -1;
  enum oci_status st = hull_container_status (ct);
  enum oci_status want = pause ? OCI_STATUS_RUNNING : OCI_STATUS_PAUSED;
  if (st != want)
    return hull_make_error (err, 0, "cannot %s container `%s`: it is %s, not %s", help->name, ct->id,
                            oci_status_names[st], oci_status_names[want]);
  if (ct->state->cgroup_path == NULL)
    return hull_make_error (err, 0,
                            "cannot %s container `%s`: it has no cgroup (a rootless container "
                            "without a writable cgroup cannot be frozen)",
                            help->name, ct->id);
  if (cg_freeze (ct->state->cgroup_path, pause, err) < 0)
    return -1;
  ct->state->status = pause ? OCI_STATUS_PAUSED : OCI_STATUS_RUNNING;
  return hull_container_save (ct, err) < 0 ? -1 : 0;
}

int
hull_cmd_pause (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  return freeze_cmd (ctx, argc, argv, true, err);
}

int
hull_cmd_resume (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  return freeze_cmd (ctx, argc, argv, false, err);
}
