/* Help text and positional-argument checks shared by the commands. */
#include "runtime.h"

int
hull_print_help (const struct hull_cmd_help *h)
{
  printf ("Usage: hull %s %s\n\n%s\n", h->name, h->usage, h->summary);
  if (h->options && *h->options)
    printf ("\nOptions:\n%s", h->options);
  printf ("  -h, --help              show this help\n");
  return 1;
}

int
hull_expect_args (const struct hull_cmd_help *h, int argc, char **argv, int optind_, int n, hull_error_t *err)
{
  (void) argv;
  int have = argc - optind_;
  if (have == n)
    return 0;
  if (have < n)
    return hull_make_error (err, 0, "%s: missing argument (usage: hull %s %s)", h->name, h->name, h->usage);
  return hull_make_error (err, 0, "%s: unexpected argument `%s` (usage: hull %s %s)", h->name, argv[optind_ + n],
                          h->name, h->usage);
}
