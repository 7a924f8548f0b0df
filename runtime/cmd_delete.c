/* hull delete [--force] ID */
#include "runtime.h"

#include <getopt.h>

int
hull_cmd_delete (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help = {
    "delete", "[--force] CONTAINER_ID",
    "Deletes a stopped (or created) container: its cgroup, state and poststop hooks.",
    "  -f, --force             kill a running container first\n",
  };
  static const struct option opts[]
      = { { "force", no_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
  bool force = false;
  int c;
  while ((c = getopt_long (argc, argv, "+fh", opts, NULL)) != -1)
    switch (c)
      {
      case 'f': force = true; break;
      case 'h': hull_print_help (&help); return 0;
      default: return hull_make_error (err, 0, "delete: unknown option `%s`", argv[optind - 1]);
      }
  if (hull_expect_args (&help, argc, argv, optind, 1, err) < 0)
    return -1;
  int r = hull_delete_container (ctx, argv[optind], force, err);
  /* runc: `delete --force` of a container that does not exist succeeds. */
  if (r < 0 && force && (*err)->status == ENOENT)
    {
      hull_error_release (err);
      return 0;
    }
  return r < 0 ? -1 : 0;
}
