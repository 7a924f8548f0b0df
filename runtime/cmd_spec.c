/* hull spec [--bundle DIR] [--rootless] */
#include "runtime.h"

#include <getopt.h>
#include <sys/stat.h>

int
hull_cmd_spec (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help = {
    "spec", "[options]", "Writes a default config.json (as runc's) into the bundle directory.",
    "  -b, --bundle DIR        where to write config.json (default: current directory)\n"
    "  --rootless              a config for an unprivileged user (user namespace)\n",
  };
  static const struct option opts[] = { { "bundle", required_argument, NULL, 'b' },
                                        { "rootless", no_argument, NULL, 'r' },
                                        { "help", no_argument, NULL, 'h' },
                                        { NULL, 0, NULL, 0 } };
  const char *bundle = ".";
  bool rootless = false;
  int c;
  (void) ctx;
  while ((c = getopt_long (argc, argv, "+b:h", opts, NULL)) != -1)
    switch (c)
      {
      case 'b': bundle = optarg; break;
      case 'r': rootless = true; break;
      case 'h': hull_print_help (&help); return 0;
      default: return hull_make_error (err, 0, "spec: unknown option `%s`", argv[optind - 1]);
      }
  if (hull_expect_args (&help, argc, argv, optind, 0, err) < 0)
    return -1;
  cleanup_close int dfd = open (bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return hull_make_error (err, errno, "spec: bundle `%s`", bundle);
  if (faccessat (dfd, "config.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return hull_make_error (err, EEXIST, "spec: `%s/config.json` exists; remove it first", bundle);
  struct oci_config *config = oci_config_default (rootless, geteuid (), getegid ());
  cleanup_free char *json = oci_config_to_json (config, true);
  oci_config_free (config);
  size_t len = strlen (json);
  json = xrealloc (json, len + 2);
  json[len] = '\n';
  json[len + 1] = '\0';
  return hull_write_file_atomic (dfd, "config.json", json, len + 1, 0644, err) < 0 ? -1 : 0;
}
