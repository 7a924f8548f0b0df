/* hull start | state | features: commands that take one id (or none). */
#include "runtime.h"

#include <getopt.h>

/* Parses just --help and checks the positional count. Returns 1 on help. */
static int
parse_no_options (const struct hull_cmd_help *h, int argc, char **argv, int nargs, hull_error_t *err)
{
  static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
  int c;
  while ((c = getopt_long (argc, argv, "+h", opts, NULL)) != -1)
    {
      if (c == 'h')
        return hull_print_help (h);
      return hull_make_error (err, 0, "%s: unknown option `%s` (see `hull %s --help`)", h->name, argv[optind - 1],
                              h->name);
    }
  return hull_expect_args (h, argc, argv, optind, nargs, err);
}

int
hull_cmd_start (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help
      = { "start", "CONTAINER_ID", "Starts the process of a created container.", NULL };
  int r = parse_no_options (&help, argc, argv, 1, err);
  if (r != 0)
    return r < 0 ? -1 : 0;
  return hull_start_container (ctx, argv[optind], err);
}

int
hull_cmd_state (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help
      = { "state", "CONTAINER_ID", "Prints the state of a container (runtime-spec state JSON).", NULL };
  int r = parse_no_options (&help, argc, argv, 1, err);
  if (r != 0)
    return r < 0 ? -1 : 0;
  cleanup_container struct hull_container *c = NULL;
  if (hull_container_load (ctx, argv[optind], false, &c, err) < 0)
    return -1;
  cleanup_free char *json = hull_state_json (c, hull_container_status (c), true);
  printf ("%s\n", json);
  return 0;
}

int
hull_cmd_features (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help
      = { "features", "", "Prints the runtime-spec features document of this build.", NULL };
  (void) ctx;
  int r = parse_no_options (&help, argc, argv, 0, err);
  if (r != 0)
    return r < 0 ? -1 : 0;
  cleanup_free char *json = oci_features_to_json ();
  printf ("%s\n", json);
  return 0;
}
