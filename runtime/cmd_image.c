/* hull image import|list|inspect|rm|prune|bundle|unbundle: the CLI over
 * image/.  The store is at $HULL_IMAGE_ROOT, else hull.conf's image_root,
 * else /var/lib/hull (docs/images.md). */
#include "runtime.h"
#include "../image/image.h"

#include <getopt.h>
#include <locale.h>

static int
open_store (struct img_store **s, hull_error_t *err)
{
  struct hull_conf conf;
  if (hull_conf_load (&conf, err) < 0)
    return -1;
  return img_store_open (img_root_choose (conf.image_root), s, err);
}

static int
unknown_option (const char *cmd, char **argv, hull_error_t *err)
{
  return hull_make_error (err, 0, "image %s: unknown option `%s` (see `hull image %s --help`)", cmd,
                          argv[optind - 1], cmd);
}

static int
cmd_import (int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help = {
    "image import", "[options] SOURCE",
    "Imports an OCI image layout (a directory or its tar) or a docker-archive tar (docker save,\n"
    "podman save).  Every blob is verified; the layers not yet stored are unpacked; on any error\n"
    "nothing is stored.  Prints the image id.",
    "  --name NAME             name the image (default: its RepoTag or OCI ref name)\n"
    "  --ref REF               pick this org.opencontainers.image.ref.name / RepoTag in the source\n"
    "  -j, --jobs N            layers unpacked at once (default: the number of CPUs)\n"
    "  -q, --quiet             no progress line\n",
  };
  static const struct option opts[] = { { "name", required_argument, NULL, 'n' },
                                        { "ref", required_argument, NULL, 'r' },
                                        { "jobs", required_argument, NULL, 'j' },
                                        { "quiet", no_argument, NULL, 'q' },
                                        { "help", no_argument, NULL, 'h' },
                                        { NULL, 0, NULL, 0 } };
  struct img_import_opts o = { .progress = isatty (STDERR_FILENO) };
  img_limits_default (&o.limits);
  uint64_t n;
  int c;
  while ((c = getopt_long (argc, argv, "+j:qh", opts, NULL)) != -1)
    switch (c)
      {
      case 'n': o.name = optarg; break;
      case 'r': o.ref = optarg; break;
      case 'j':
        if (hull_parse_u64 (optarg, &n) < 0 || n == 0 || n > 64)
          return hull_make_error (err, 0, "image import: --jobs `%s` is not a number between 1 and 64", optarg);
        o.jobs = (int) n;
        break;
      case 'q': o.progress = false; break;
      case 'h': hull_print_help (&help); return 0;
      default: return unknown_option ("import", argv, err);
      }
  if (hull_expect_args (&help, argc, argv, optind, 1, err) < 0)
    return -1;
  o.source = argv[optind];
  cleanup_store struct img_store *s = NULL;
  cleanup_free char *id = NULL;
  if (open_store (&s, err) < 0 || img_import (s, &o, &id, err) < 0)
    return -1;
  printf ("%s\n", id);
  return 0;
}

static void
print_table (struct img_image **v, size_t n)
{
  printf ("%-12s  %-32s  %6s  %10s  %s\n", "ID", "NAMES", "LAYERS", "SIZE", "IMPORTED");
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *names = xstrdup ("");
      for (size_t j = 0; v[i]->names[j]; j++)
        {
          char *x = hull_fmt ("%s%s%s", names, j ? "," : "", v[i]->names[j]);
          free (names);
          names = x;
        }
      char imported[20] = "";
      snprintf (imported, sizeof (imported), "%s", v[i]->imported ? v[i]->imported : "");
      printf ("%.12s  %-32s  %6zu  %7.1f MB  %s\n", v[i]->id, *names ? names : "<none>", v[i]->n_layers,
              v[i]->size / 1e6, imported);
    }
}

static int
cmd_list (int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help = {
    "image list", "[options]", "Lists the images in the store (SIZE: the layer blobs).",
    "  --format table|json     output format (default table)\n"
    "  -q, --quiet             ids only\n",
  };
  static const struct option opts[] = { { "format", required_argument, NULL, 'f' },
                                        { "quiet", no_argument, NULL, 'q' },
                                        { "help", no_argument, NULL, 'h' },
                                        { NULL, 0, NULL, 0 } };
  bool json = false, quiet = false;
  int c;
  while ((c = getopt_long (argc, argv, "+f:qh", opts, NULL)) != -1)
    switch (c)
      {
      case 'f':
        if (strcmp (optarg, "json") != 0 && strcmp (optarg, "table") != 0)
          return hull_make_error (err, 0, "image list: --format `%s` is not `table` or `json`", optarg);
        json = strcmp (optarg, "json") == 0;
        break;
      case 'q': quiet = true; break;
      case 'h': hull_print_help (&help); return 0;
      default: return unknown_option ("list", argv, err);
      }
  if (hull_expect_args (&help, argc, argv, optind, 0, err) < 0)
    return -1;
  cleanup_store struct img_store *s = NULL;
  struct img_image **v = NULL;
  size_t n = 0;
  if (open_store (&s, err) < 0 || img_image_list (s, &v, &n, err) < 0)
    return -1;
  if (json)
    {
      cleanup_free char *out = img_image_list_json (v, n);
      printf ("%s\n", out);
    }
  else if (quiet)
    for (size_t i = 0; i < n; i++)
      printf ("%s\n", v[i]->id);
  else
    print_table (v, n);
  img_image_list_free (v, n);
  return 0;
}

/* The commands that take only positional arguments. */
static int
simple_args (const struct hull_cmd_help *h, int argc, char **argv, int min, int max, hull_error_t *err)
{
  static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
  int c;
  while ((c = getopt_long (argc, argv, "+h", opts, NULL)) != -1)
    {
      if (c == 'h')
        return hull_print_help (h);
      return hull_make_error (err, 0, "%s: unknown option `%s`", h->name, argv[optind - 1]);
    }
  int have = argc - optind;
  if (have < min || have > max)
    return hull_expect_args (h, argc, argv, optind, have < min ? min : max, err);
  return 0;
}

static int
cmd_inspect (int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help = { "image inspect", "IMAGE",
                                             "Prints an image's record and its config as JSON.", "" };
  int r = simple_args (&help, argc, argv, 1, 1, err);
  if (r != 0)
    return r < 0 ? -1 : 0;
  cleanup_store struct img_store *s = NULL;
  struct img_image *im = NULL;
  if (open_store (&s, err) < 0 || img_image_lookup (s, argv[optind], &im, err) < 0)
    return -1;
  cleanup_free char *out = img_image_inspect_json (im);
  img_image_free (im);
  printf ("%s\n", out);
  return 0;
}

static int
cmd_rm (int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help = {
    "image rm", "IMAGE...", "Removes images, and the layers no other image or bundle uses.", ""
  };
  int r = simple_args (&help, argc, argv, 1, 1 << 20, err);
  if (r != 0)
    return r < 0 ? -1 : 0;
  cleanup_store struct img_store *s = NULL;
  if (open_store (&s, err) < 0)
    return -1;
  for (int i = optind; i < argc; i++)
    if (img_image_remove (s, argv[i], err) < 0)
      return -1;
  return 0;
}

static int
cmd_prune (int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help = {
    "image prune", "",
    "Removes what interrupted imports left, records of bundles whose directory is gone, and\n"
    "layers no image or bundle uses.", ""
  };
  int r = simple_args (&help, argc, argv, 0, 0, err);
  if (r != 0)
    return r < 0 ? -1 : 0;
  cleanup_store struct img_store *s = NULL;
  struct img_prune_report rep;
  if (open_store (&s, err) < 0 || img_prune (s, &rep, err) < 0)
    return -1;
  printf ("removed %zu layer%s, %zu stale bundle record%s, %zu interrupted import%s\n", rep.layers,
          rep.layers == 1 ? "" : "s", rep.bundles, rep.bundles == 1 ? "" : "s", rep.staging,
          rep.staging == 1 ? "" : "s");
  return 0;
}

static int
cmd_bundle (int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help = {
    "image bundle", "IMAGE DIR",
    "Makes DIR a bundle: config.json from the image, rootfs/ an overlay mount of its layers with a\n"
    "private upper layer.  `hull image unbundle DIR` undoes it.", ""
  };
  int r = simple_args (&help, argc, argv, 2, 2, err);
  if (r != 0)
    return r < 0 ? -1 : 0;
  cleanup_store struct img_store *s = NULL;
  if (open_store (&s, err) < 0)
    return -1;
  return img_bundle_create (s, argv[optind], argv[optind + 1], err);
}

static int
cmd_unbundle (int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help = {
    "image unbundle", "DIR",
    "Unmounts DIR/rootfs, removes its upper layer, config.json and rootfs/ (and DIR when empty).", ""
  };
  int r = simple_args (&help, argc, argv, 1, 1, err);
  if (r != 0)
    return r < 0 ? -1 : 0;
  cleanup_store struct img_store *s = NULL;
  if (open_store (&s, err) < 0)
    return -1;
  return img_bundle_remove (s, argv[optind], err);
}

int
hull_image_bundle (struct hull_context *ctx, const char *image, const char *id, char **bundle, hull_error_t *err)
{
  (void) ctx;
  if (hull_validate_id (id, err) < 0)
    return -1;
  cleanup_store struct img_store *s = NULL;
  if (open_store (&s, err) < 0 || img_bundle_create_for (s, image, id, bundle, err) < 0)
    return hull_error_wrap (err, "--image `%s`", image);
  return 0;
}

void
hull_image_bundle_remove (struct hull_context *ctx, const char *id, const char *bundle)
{
  hull_error_t ignored = NULL;
  /* While a container holds the bundle, its delete removes it. */
  cleanup_container struct hull_container *c = NULL;
  if (hull_container_load (ctx, id, false, &c, &ignored) == 0)
    return;
  hull_error_release (&ignored);
  cleanup_store struct img_store *s = NULL;
  if (open_store (&s, &ignored) == 0)
    img_bundle_remove (s, bundle, &ignored);
  hull_error_release (&ignored);
}

static const struct
{
  const char *name;
  int (*fn) (int, char **, hull_error_t *);
  const char *summary;
} subcommands[] = {
  { "import", cmd_import, "import an OCI layout (dir or tar) or a docker-archive tar" },
  { "list", cmd_list, "list the images" },
  { "inspect", cmd_inspect, "print an image's record and config as JSON" },
  { "rm", cmd_rm, "remove images (and layers nothing else uses)" },
  { "prune", cmd_prune, "remove unused layers and leftovers of interrupted imports" },
  { "bundle", cmd_bundle, "make a bundle (config.json + overlay rootfs) from an image" },
  { "unbundle", cmd_unbundle, "unmount and remove a bundle made by `image bundle`" },
};

int
hull_cmd_image (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  (void) ctx;
  size_t n = sizeof (subcommands) / sizeof (subcommands[0]);
  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      FILE *out = argc < 2 ? stderr : stdout;
      fprintf (out, "Usage: hull image COMMAND [options] [args]\n\nImages (docs/images.md):\n");
      for (size_t i = 0; i < n; i++)
        fprintf (out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
      return argc < 2 ? hull_make_error (err, 0, "image: missing command") : 0;
    }
  /* Tar names are UTF-8: let libarchive hand them over unconverted. */
  setlocale (LC_CTYPE, "C.UTF-8");
  for (size_t i = 0; i < n; i++)
    if (strcmp (argv[1], subcommands[i].name) == 0)
      {
        optind = 0;
        return subcommands[i].fn (argc - 1, argv + 1, err);
      }
  return hull_make_error (err, 0, "image: unknown command `%s` (see `hull image --help`)", argv[1]);
}
